"""Errors of the federation (edge <-> broker <-> central)."""

from __future__ import annotations

from api.errors import ConflictError, WinkWatchError


class FederationError(WinkWatchError):
    """Root of federation errors: bad configuration, refused command, malformed message."""


class CommandFailed(FederationError):
    """A command sent to an edge gateway was refused, or no acknowledgement came in time."""


class GatewayTooOld(ConflictError, FederationError):
    """The gateway's WinkWatch is older than the central server's: it does not know the command
    (or a value in it) it was sent. Updating WinkWatch there is the cure; sending it again is
    not. A 409 for the API."""

    def __init__(
        self, gateway_id: str, action: str, answer: str, outcome: str = "Nothing changed."
    ) -> None:
        self.gateway_id, self.action, self.answer = gateway_id, action, answer
        super().__init__(
            f"gateway {gateway_id} runs an older WinkWatch that cannot take {action} (it "
            f"answered: {answer}): update WinkWatch on {gateway_id}. {outcome}"
        )

    def with_outcome(self, outcome: str) -> GatewayTooOld:
        """The same refusal, saying what was done about it instead of 'Nothing changed.'"""
        return GatewayTooOld(self.gateway_id, self.action, self.answer, outcome)
