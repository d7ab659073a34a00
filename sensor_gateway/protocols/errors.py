"""Errors of the protocol layer (decoders and command encoders)."""

from __future__ import annotations

from sensor_gateway.errors import GatewayError


class ProtocolError(GatewayError, ValueError):
    """A notification could not be decoded.

    `reason` is a short, stable code (e.g. "truncated", "bad_version") used to count drops;
    the message says what was wrong with the bytes. Streaming decoders catch this, count it
    and drop the packet: it never reaches the gateway's event loop.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class UnsupportedRateError(GatewayError, ValueError):
    """A sensor cannot stream at the requested rate; the message lists the rates it can."""
