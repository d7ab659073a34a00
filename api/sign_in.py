"""Signing a phone in: a dashboard link carrying a token, as a QR code (segno).

The token rides in the URL's fragment (`/#token=...`): browsers never send a fragment to the
server, and the dashboard moves it into its storage and off the address bar at once.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import segno

QR_ERROR_LEVEL = "m"  # survives ~15 % damage: a phone camera on a glossy or dim screen


def sign_in_url(base_url: str, secret: str) -> str:
    """The dashboard at `base_url` (e.g. http://192.168.1.20:8000) opening signed in."""
    return f"{base_url.rstrip('/')}/#token={quote(secret, safe='')}"


def qr_svg(url: str) -> str:
    """`url` as a QR code: a standalone SVG document (dark modules on white, 4-module border)."""
    return segno.make(url, error=QR_ERROR_LEVEL).svg_inline(scale=5, dark="#000", light="#fff")


def qr_terminal(url: str) -> str:
    """`url` as a QR code drawn with block characters for a terminal (two rows per line)."""
    out = io.StringIO()
    segno.make(url, error=QR_ERROR_LEVEL).terminal(out=out, compact=True)
    return out.getvalue()
