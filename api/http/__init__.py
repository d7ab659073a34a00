"""HTTP API (FastAPI): REST resources, CSV export, live streams. Build it with `create_app`."""

from api.http.app import create_app

__all__ = ["create_app"]
