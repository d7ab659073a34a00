"""Bearer tokens: created and revoked with `winkwatch token`; only a SHA-256 is stored.

A token is `ww_` + 32 random bytes (base64url). Such a secret is too long to guess, so a
plain SHA-256 (not a slow password hash) is enough and keeps per-request checks cheap.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.storage.db import get_or_not_found
from api.storage.models import ApiToken, utc_now
from api.vocab import TokenRole

TOKEN_PREFIX = "ww_"
TOKEN_BYTES = 32


@dataclass(frozen=True)
class Principal:
    """Who made a request."""

    token_id: int
    name: str
    role: TokenRole

    @property
    def is_admin(self) -> bool:
        return self.role is TokenRole.ADMIN


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(db: Session, name: str, role: TokenRole) -> tuple[ApiToken, str]:
    """Store a new token; returns the row and the secret (shown once, never stored)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken(name=name, role=TokenRole(role).value, secret_sha256=hash_secret(secret))
    db.add(token)
    db.flush()
    return token, secret


def revoke_token(db: Session, token_id: int) -> ApiToken:
    token = get_or_not_found(db, ApiToken, token_id, "token")
    if token.revoked_at is None:
        token.revoked_at = utc_now()
    db.flush()
    return token


def list_tokens(db: Session) -> list[ApiToken]:
    return list(db.scalars(select(ApiToken).order_by(ApiToken.id)))


def authenticate(db: Session, secret: str) -> Principal | None:
    """The principal for a presented secret, or None if unknown or revoked."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    digest = hash_secret(secret)
    token = db.scalar(select(ApiToken).where(ApiToken.secret_sha256 == digest))
    if token is None or token.revoked_at is not None:
        return None
    return Principal(token_id=token.id, name=token.name, role=TokenRole(token.role))
