"""The phone dashboard: static files served at `/`, plus the one endpoint only it needs.

`install_dashboard(app)` mounts the page (`/`), its assets (`/dashboard/static/...`,
shipped in the package, no CDN: it works with no internet) and
`GET /dashboard/sets/{set_id}/angles` (a set's angles through time, for rep detail).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

STATIC_DIR = Path(__file__).parent / "static"


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard on `app` (call once, from the app factory)."""
    from fastapi.staticfiles import StaticFiles

    from api.dashboard.routes import router

    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
