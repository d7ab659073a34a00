"""Exceptions of the composition layer (storage, HTTP, service). Messages say what to do."""

from __future__ import annotations


class WinkWatchError(Exception):
    """Root of every error raised by `api`."""


class NotFoundError(WinkWatchError):
    """A referenced record (athlete, sensor, session, set, rep, token) does not exist."""

    def __init__(self, kind: str, ident: object) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(f"{kind} {ident} does not exist; list them to find a valid id")


class ConflictError(WinkWatchError):
    """The request contradicts the stored state (set already stopped, address taken...)."""


class InvalidInputError(WinkWatchError):
    """A value is out of range or inconsistent with the others."""


class StorageError(WinkWatchError):
    """The database cannot be opened or upgraded."""
