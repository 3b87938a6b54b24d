"""Debian's Chromium driven by Playwright, for the browser tests (``tests/book/test_browser.py``,
``tests/book/test_interactive.py``): never a browser of Playwright's own, and no request to another origin.

Example:
    >>> with sync_playwright() as playwright:  # doctest: +SKIP
    ...     context = chromium_context(playwright, "/usr/bin/chromium", tmp_path)
    ...     page = context.new_page()
    ...     blocked = block_other_origins(page, "http://127.0.0.1:8000/")
    ...     errors = script_errors(page)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, Playwright, Route

#: Headless, and nothing of Chromium's own on the network (updates, sync, first-run pages).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_context(playwright: Playwright, executable: str, profile: Path) -> BrowserContext:
    """A headless Chromium (the browser at ``executable``) with a fresh profile in the folder ``profile``."""
    return playwright.chromium.launch_persistent_context(profile, executable_path=executable, args=CHROMIUM_ARGS,
                                                         headless=True)


def block_other_origins(page: Page, base_url: str) -> list[str]:
    """Let ``page`` fetch from ``base_url``'s host and port only.

    Returns:
        The list to which the URL of every other request is appended (each is aborted), e.g. a CDN's.
    """
    origin = urlsplit(base_url).netloc
    blocked: list[str] = []

    def route(route: Route) -> None:
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    page.route("**/*", route)
    return blocked


def script_errors(page: Page) -> list[str]:
    """The list to which every uncaught exception and console error of ``page`` is appended, with its script."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"uncaught {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text} ({message.location.get('url')})")
            if message.type == "error" else None)
    return errors
