"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright through
`executable_path` (never a browser download). One browser per test module (the `browser`
fixture in tests/conftest.py), a fresh context and page per test from `open_page`, and every
uncaught page error fails the test that caused it.

A test module marks itself with `pytestmark = BROWSER_MARKS` and asks for `browser`.
"""

from __future__ import annotations

import os
import shutil
import time
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
    timeout. 30 s: the suite shares two cores with the emulated arm64 image build."""
    try:
        page.wait_for_selector("#app:not([hidden])", timeout=timeout_ms)
    except Exception as exc:  # playwright's TimeoutError
        said = page.evaluate(
            "() => { const e = document.getElementById('signin-error');"
            " return e ? e.textContent : '(no sign-in card)'; }"
        )
        pytest.fail(f"the dashboard did not sign in within {timeout_ms} ms: {said!r} ({exc})")


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
