"""Errors of the federation (edge <-> broker <-> central)."""

from __future__ import annotations

from api.errors import WinkWatchError


class FederationError(WinkWatchError):
    """Root of federation errors: bad configuration, refused command, malformed message."""


class CommandFailed(FederationError):
    """A command sent to an edge gateway was refused, or no acknowledgement came in time."""
