"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright through
`executable_path` (never a browser download). One browser per test module (the `browser`
fixture in tests/conftest.py), a fresh context and page per test from `open_page`, and every
uncaught page error fails the test that caused it.

A test module marks itself with `pytestmark = BROWSER_MARKS` and asks for `browser`.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
NARROW_PHONE = {"width": 360, "height": 740}  # the narrowest common Android phones
DESKTOP = {"width": 1280, "height": 800}
VIEWPORTS = {"phone": PHONE, "narrow_phone": NARROW_PHONE, "desktop": DESKTOP}
PHONE_VIEWPORTS = ("phone", "narrow_phone")
BROWSER_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="needs Debian chromium (.ci/install-system-packages)"
    ),
]


@contextmanager
def launched() -> Iterator[Any]:
    """A headless Debian Chromium under Playwright's sync API, closed afterwards."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(
    browser: Any, viewport: str = "phone", *, enforce_csp: bool = False, **options: Any
) -> Iterator[Any]:
    """A page in a fresh context at `viewport` ("phone": 390x844 at 2x with touch,
    "narrow_phone": the same at 360x740, or "desktop": 1280x800). The page carries `errors` (uncaught page errors, asserted empty at
    the end) and `viewport_name`.

    The dashboard's CSP is bypassed unless `enforce_csp`: Playwright's `wait_for_function`
    evaluates strings in the page, which the CSP forbids (the CSP test enforces it and polls
    from outside with `poll`)."""
    phone = viewport in PHONE_VIEWPORTS
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        bypass_csp=not enforce_csp,
        **options,
    )
    page = context.new_page()
    page.set_default_timeout(60_000)  # two cores, often shared with other runs
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    pending: dict[Any, float] = {}  # requests sent and not yet answered, for `signed_in`
    page.on("request", lambda request: pending.__setitem__(request, time.monotonic()))
    page.on("requestfinished", lambda request: pending.pop(request, None))
    page.on("requestfailed", lambda request: pending.pop(request, None))
    page.pending_requests = pending
    refused: list[str] = []  # requests that failed or got an error status, for `signed_in`
    page.on("requestfailed", lambda request: refused.append(f"{request.url}: {request.failure}"))
    page.on(
        "response",
        lambda response: (
            refused.append(f"{response.url}: {response.status}") if response.status >= 400 else None
        ),
    )
    page.refused_requests = refused
    page.viewport_name = viewport
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors


def requests_made(page: Any, method: str, path_suffix: str) -> list[str]:
    """A list that fills with the URL of every `method` request the page makes from now on
    whose path ends with `path_suffix` (to count the requests a tap sent)."""
    made: list[str] = []

    def seen(request: Any) -> None:
        path = request.url.split("?", 1)[0]
        if request.method == method and path.endswith(path_suffix):
            made.append(request.url)

    page.on("request", seen)
    return made


def painted(page: Any, canvas_id: str) -> bool:
    """True when the canvas has coloured (series) pixels, not just the dark background and grid."""
    return page.evaluate(
        """(id) => {
        const c = document.getElementById(id), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let coloured = 0;
        for (let i = 0; i < d.length; i += 4) {
            const spread = Math.max(d[i], d[i+1], d[i+2]) - Math.min(d[i], d[i+1], d[i+2]);
            if (d[i+3] > 0 && spread > 80) coloured++;
        }
        return coloured > 50;
    }""",
        canvas_id,
    )


def poll(page: Any, expression: str, timeout_ms: int = 45_000) -> None:
    """Wait until `expression` is truthy, evaluated from outside the page (not subject to
    the page's CSP, unlike wait_for_function)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


def signed_in(page: Any, timeout_ms: int = 30_000) -> None:
    """Wait for the dashboard's app to show after a sign-in; if it does not, fail with what
    the sign-in card says (an unknown token, the gateway unreachable) instead of a bare
    timeout. 30 s: the suite shares two cores with the emulated arm64 image build.

    Once (in a CI run, 1 of ~1,200 tests) the page stayed blank for the whole 30 s with no
    error: app.js had not even taken the token off the address. So a page still blank (no
    error on its sign-in card) is reloaded once, with a warning that says what it was
    waiting for (requests unanswered, page errors, the process's threads), and fails if it
    stays blank; a sign-in card with an error fails at once."""
    for attempt in (1, 2):
        try:
            page.wait_for_selector("#app:not([hidden])", timeout=timeout_ms)
            return
        except Exception as exc:  # playwright's TimeoutError
            said = page.evaluate(
                "() => { const e = document.getElementById('signin-error');"
                " return e ? e.textContent : '(no sign-in card)'; }"
            )
            stuck = _stuck_page(page)
            if said or attempt == 2:
                pytest.fail(
                    f"the dashboard did not sign in within {timeout_ms} ms: {said!r} ({exc}); "
                    f"{stuck}"
                )
            warnings.warn(f"the dashboard stayed blank, reloading it once: {stuck}", stacklevel=2)
            page.reload()


def _stuck_page(page: Any) -> str:
    """What a page that did not sign in was waiting for, and where this process's threads
    were (the test server runs in one of them)."""
    now_s = time.monotonic()
    pending = getattr(page, "pending_requests", {})
    unanswered = [f"{r.method} {r.url} ({now_s - t:.1f} s)" for r, t in list(pending.items())]
    frames = sys._current_frames()
    threads = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        where = traceback.format_stack(frame, limit=3) if frame is not None else []
        threads.append(f"{thread.name}: {' | '.join(line.strip() for line in where)}")
    return (
        f"url {page.url!r}; unanswered requests {unanswered}; refused requests "
        f"{getattr(page, 'refused_requests', [])}; page errors "
        f"{getattr(page, 'errors', [])}; {len(threads)} threads: {threads}"
    )


def screenshot(page: Any, folder: Path, name: str, *, full_page: bool = True) -> Path:
    """A screenshot named after the test's step and the page's viewport, in `folder` (the
    test's temp dir) and copied to $WINKWATCH_SCREENSHOTS when that is set (to look at)."""
    file = folder / f"{name}_{page.viewport_name}.png"
    page.screenshot(path=str(file), full_page=full_page)
    extra = os.environ.get("WINKWATCH_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(file, Path(extra) / file.name)
    return file
