"""Who is signed in (`GET /me`), and signing another phone in (`POST /sign-in-codes`)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from api.auth import create_token
from api.http.deps import Admin, DbDep, Reader
from api.http.schemas import Me, SignInCode, SignInCodeCreate
from api.sign_in import qr_svg, sign_in_url

router = APIRouter(tags=["access"])


@router.get("/me", response_model=Me)
def me(principal: Reader) -> Me:
    """The token's name and role: the dashboard shows a read-only token no controls it
    cannot use."""
    return Me(name=principal.name, role=principal.role)


@router.post("/sign-in-codes", response_model=SignInCode, status_code=status.HTTP_201_CREATED)
def create_sign_in_code(body: SignInCodeCreate, request: Request, db: DbDep, _: Admin):
    """A new token (`role`) as a dashboard link that opens signed in, and as a QR code for a
    phone's camera. The secret is shown this once; revoke it with `winkwatch token revoke`."""
    token, secret = create_token(db, body.name, body.role)
    url = sign_in_url(str(request.base_url), secret)
    return SignInCode(token_id=token.id, role=body.role, url=url, qr_svg=qr_svg(url))
