"""Keep secrets out of logs: a logging filter that masks tokens wherever they appear.

The API never asks for a token in a URL, but a client may still put one there (an old
dashboard, a hand-typed link) and uvicorn's access log prints the path with its query. The
filter replaces `token=...` query values, `Bearer ...` credentials and anything shaped like
a WinkWatch secret (`ww_` + base64url) with `[redacted]` before a record is written.
"""

from __future__ import annotations

import logging
import re

from api.auth import TOKEN_PREFIX

REDACTED = "[redacted]"
_PATTERNS = (
    re.compile(r"(?i)(\btoken=)[^&\s\"']+"),
    re.compile(r"(?i)(\bbearer\s+)[^\s\"',]+"),
    re.compile(rf"()\b{re.escape(TOKEN_PREFIX)}[A-Za-z0-9_\-]{{8,}}"),
)
# The loggers uvicorn writes request lines to (a logger's filters see only its own records).
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class SecretRedactingFilter(logging.Filter):
    """Rewrites a record's message (with its arguments merged in) without any secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_FILTER = SecretRedactingFilter()


def install_secret_redaction() -> None:
    """Attach the filter to uvicorn's request loggers (idempotent)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
