"""Every page of the built book in headless Chromium, served offline from 127.0.0.1.

Images load, scripts raise nothing and log no error, nothing is fetched from another origin (the book must
render without CDNs), every chapter shows a figure or a table, every page of ``_toc.yml`` is there, and saved
ipywidgets render. A full-page screenshot of every page is kept in ``book/_build/screenshots/``.

Chromium is Debian's (``.ci/run`` installs it), driven by Playwright; Playwright's own browser is never used.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from corrrelax_lib.paths import repository_root
from corrrelax_lib.testing.browser import block_other_origins, chromium_context, script_errors

pytestmark = pytest.mark.book

SCREENSHOTS = repository_root() / "book" / "_build" / "screenshots"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# Loads every image now (lazy ones too), waits for each to finish, returns the sources of those that failed.
BROKEN_IMAGES_JS = """async () => {
  const images = Array.from(document.images);
  images.forEach(image => { image.loading = "eager"; });
  const settled = image => image.complete ? null : new Promise(done => {
    image.addEventListener("load", done); image.addEventListener("error", done); });
  const timeout = new Promise(done => setTimeout(done, 15000));
  await Promise.race([Promise.all(images.map(settled)), timeout]);
  return images.filter(image => !image.complete || image.naturalWidth === 0)
               .map(image => image.currentSrc || image.src || image.outerHTML.slice(0, 120));
}"""

# [widget views saved in the page, those rendered]: html-manager puts a div.widget-subarea before each view.
WIDGET_VIEWS_JS = """() => {
  const views = Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  const rendered = views.filter(view => {
    const area = view.previousElementSibling;
    return area !== null && area.classList.contains("widget-subarea") && area.querySelector(".jupyter-widgets");
  });
  return [views.length, rendered.length];
}"""

WIDGETS_RENDERED_JS = f"""() => {{
  const [views, rendered] = ({WIDGET_VIEWS_JS})();
  return views > 0 && views === rendered;
}}"""

# Figures and tables in the page's article (not the theme's navigation).
CONTENT_JS = """() => {
  const article = document.querySelector("article.bd-article");
  return article === null ? [0, 0] : [article.querySelectorAll("img").length, article.querySelectorAll("table").length];
}"""


@dataclass
class PageVisit:
    """What Chromium saw on one page (``path`` relative to the HTML root, e.g. ``chapters/02_dataset.html``)."""

    path: str
    status: int | None = None
    errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    other_origin: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    images: int = 0
    tables: int = 0
    widget_views: int = 0
    rendered_widgets: int = 0
    has_widget_state: bool = False


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log on stderr."""


@pytest.fixture(scope="module")
def served_book(built_html: Path) -> Iterator[str]:
    """The built HTML served by ``http.server`` on 127.0.0.1 (a free port); yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(built_html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def html_pages(html_dir: Path) -> list[str]:
    """Every page of the built book, relative to ``html_dir`` (not the theme's fragments in ``_static/``)."""
    return sorted(path.relative_to(html_dir).as_posix() for path in html_dir.rglob("*.html")
                  if not path.relative_to(html_dir).parts[0].startswith("_"))


def toc_pages(toc: dict) -> list[str]:
    """``<file>.html`` for the root and every ``file:`` entry of a ``_toc.yml``, at any depth."""
    pages = [f"{toc['root']}.html"]
    stack = [toc]
    while stack:
        entry = stack.pop()
        for key in ("parts", "chapters", "sections"):
            for child in entry.get(key, []):
                if "file" in child:
                    pages.append(f"{child['file']}.html")
                stack.append(child)
    return pages


def visit(page: Page, base_url: str, path: str, screenshot: Path) -> PageVisit:
    """Open one page, let its scripts and widgets settle, screenshot it, and record what went wrong."""
    seen = PageVisit(path)
    origin = urlsplit(base_url).netloc
    seen.other_origin = block_other_origins(page, base_url)
    seen.errors = script_errors(page)
    page.on("requestfailed", lambda request: seen.failed_requests.append(f"{request.url} ({request.failure})")
            if urlsplit(request.url).netloc == origin else None)
    page.on("response", lambda response: seen.failed_requests.append(f"{response.url} (HTTP {response.status})")
            if response.status >= 400 else None)
    response = page.goto(base_url + path, wait_until="load")
    seen.status = response.status if response else None
    page.wait_for_load_state("networkidle")
    seen.has_widget_state = page.locator(f'script[type="{WIDGET_STATE}"]').count() > 0
    if seen.has_widget_state:
        # html-manager renders after the load event; on a timeout the counts below tell what is missing.
        with contextlib.suppress(PlaywrightTimeoutError):
            page.wait_for_function(WIDGETS_RENDERED_JS, timeout=30_000)
        page.wait_for_load_state("networkidle")
    seen.widget_views, seen.rendered_widgets = page.evaluate(WIDGET_VIEWS_JS)
    seen.broken_images = page.evaluate(BROKEN_IMAGES_JS)
    seen.images, seen.tables = page.evaluate(CONTENT_JS)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=screenshot, full_page=True)
    return seen


@pytest.fixture(scope="module")
def visits(chromium: str, built_html: Path, served_book: str, tmp_path_factory) -> dict[str, PageVisit]:
    """Every page opened once in a fresh Chromium profile; screenshots go to ``book/_build/screenshots/``."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    profile = tmp_path_factory.mktemp("chromium-profile")
    results = {}
    with sync_playwright() as playwright:
        browser = chromium_context(playwright, chromium, profile)
        browser.set_default_timeout(60_000)
        try:
            for path in html_pages(built_html):
                page = browser.new_page()
                results[path] = visit(page, served_book, path, SCREENSHOTS / Path(path).with_suffix(".png"))
                page.close()
        finally:
            browser.close()
    return results


def problems(visits: dict[str, PageVisit], attribute: str) -> dict[str, list[str]]:
    """``{page: [what went wrong]}`` for the pages where ``attribute`` is a non-empty list."""
    return {path: getattr(seen, attribute) for path, seen in visits.items() if getattr(seen, attribute)}


def test_every_page_of_the_toc_is_built_and_served(visits):
    toc = yaml.safe_load((repository_root() / "book" / "_toc.yml").read_text())
    missing = [path for path in toc_pages(toc) if path not in visits or visits[path].status != 200]
    assert not missing, f"pages of _toc.yml missing from the built book: {missing}"


def test_every_page_has_a_screenshot(visits):
    assert all((SCREENSHOTS / Path(path).with_suffix(".png")).stat().st_size > 0 for path in visits)


def test_no_page_raises_or_logs_a_script_error(visits):
    assert not problems(visits, "errors")


def test_every_image_and_same_origin_request_loads(visits):
    assert not problems(visits, "broken_images")
    assert not problems(visits, "failed_requests")


def test_nothing_is_fetched_from_another_origin(visits):
    assert not problems(visits, "other_origin")


def test_every_chapter_shows_a_figure_or_a_table(visits):
    chapters = {path: seen for path, seen in visits.items() if path.startswith("chapters/")}
    assert chapters, "no chapter pages in the built book"
    empty = [path for path, seen in chapters.items() if seen.images + seen.tables == 0]
    assert not empty, f"chapters without an <img> or a <table>: {empty}"


def test_saved_widgets_render_offline(visits):
    with_widgets = {path: seen for path, seen in visits.items() if seen.has_widget_state}
    assert "chapters/05_correlax_maps.html" in with_widgets, "the CorRELAX panel's widget state was not saved"
    unrendered = {path: f"{seen.rendered_widgets} of {seen.widget_views} widget views rendered"
                  for path, seen in with_widgets.items()
                  if seen.widget_views == 0 or seen.rendered_widgets < seen.widget_views}
    assert not unrendered, unrendered
