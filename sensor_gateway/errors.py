"""Root exception of the gateway package (`sensor_gateway`).

Subpackages raise subclasses (or their own errors with a message for the user); a single
sensor's failure is reported as a status, never raised into the gateway's event loop.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of the gateway's errors; the message says what to do."""


class ConfigError(GatewayError):
    """The gateway configuration (file or settings) is invalid or cannot be written."""


class SetError(GatewayError):
    """A set cannot be started or stopped as asked (unknown athlete, no set running...)."""
