"""JupyterLab and Voilà as ``make lab`` and ``make voila`` start them (:mod:`corrrelax_lib.book.interactive`), on
127.0.0.1 with a token.

Without a browser: JupyterLab's settings open a ``.py`` file as a Jupytext notebook, and every chapter saved
through its contents API, with the kernel metadata that JupyterLab sets, keeps its text (a copy of the chapters
is served). In Debian's headless Chromium, a student's path once the book is built (marked ``book``):

- JupyterLab opens chapters 05 and 10 from their plain URLs as notebooks and runs all cells (from the cache the
  book build filled) without an error output; chapter 05's CorRELAX panel redraws its map when its label
  changes, and saving the chapter leaves its file as it was.
- Voilà serves chapter 10; the neuron explorer's controls can be used (a size, content that fits, not covered),
  and its window slider and label button change what they show.

No page may fetch from another origin, nor raise or log a script error in Voilà. Screenshots, and the seconds of
Run All (chapters 05 and 10), of the panel's redraw and of Voilà's page (``seconds.json``), are written to
``book/_build/interactive/``.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from corrrelax_lib.book.build import notebook_sources
from corrrelax_lib.book.interactive import (
    JUPYTER_DIR,
    chapter_path,
    jupyter_environment,
    lab_command,
    main,
    voila_command,
    voila_url,
)
from corrrelax_lib.paths import repository_root
from corrrelax_lib.testing.browser import block_other_origins, chromium_context, script_errors
from corrrelax_lib.testing.jupyter import JupyterServer, running_jupyter

OUTPUT = repository_root() / "book" / "_build" / "interactive"
RUN_ALL_TIMEOUT = 600_000  # ms; about 15 s from the cache
RENDER_TIMEOUT = 600_000  # ms; Voilà sends the page once every cell has run
REDRAW_TIMEOUT = 60_000  # ms

# Starts Run All on the notebook in front; window.corrrelaxRunAll becomes "done", "stopped" (a cell failed) or
# the command's error once every cell has run.
RUN_ALL_JS = """() => {
  window.corrrelaxRunAll = null;
  window.jupyterapp.commands.execute("notebook:run-all-cells").then(
    done => { window.corrrelaxRunAll = done === false ? "stopped" : "done"; },
    error => { window.corrrelaxRunAll = String(error); });
}"""
# The widget in front once it shows the document at `path`: is it a notebook (not a text editor)?
OPENED_JS = """path => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  return widget && widget.context && widget.context.path === path
    ? {notebook: widget.node.classList.contains("jp-NotebookPanel")} : null;
}"""
KERNEL_IDLE_JS = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return kernel !== null && kernel !== undefined && kernel.status === "idle";
}"""
# "cell <n>: <what>" for every code cell of the notebook in front that did not run or has an error output.
FAILED_CELLS_JS = """() => {
  const problems = [];
  window.jupyterapp.shell.currentWidget.content.widgets.forEach((cell, index) => {
    if (cell.model.type !== "code") return;
    if (cell.model.executionCount === null) problems.push(`cell ${index}: not run`);
    for (const output of cell.model.outputs.toJSON())
      if (output.output_type === "error") problems.push(`cell ${index}: ${output.ename}: ${output.evalue}`);
  });
  return problems;
}"""
SAVE_JS = """() => window.jupyterapp.commands.execute("docmanager:save")"""
# The CorRELAX panel: the VBox whose children include the map-kind toggle buttons; its map is the Output's image.
PANEL = ".widget-vbox:has(> .widget-toggle-buttons)"
PANEL_MAP = f"{PANEL} .widget-output img"
# Why a control cannot be used ("" if it can): it has no size, its content is wider than its box, or its centre
# shows another element (it is clipped by its box or covered).
UNUSABLE_JS = """element => {
  element.scrollIntoView({block: "center", inline: "center"});
  const box = element.getBoundingClientRect();
  if (box.width < 1 || box.height < 1) return `${Math.round(box.width)} × ${Math.round(box.height)} px`;
  if (element.scrollWidth > element.clientWidth + 1)
    return `content ${element.scrollWidth} px wide in a box of ${element.clientWidth} px`;
  const shown = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return element.contains(shown) ? "" : `its centre shows ${shown === null ? "nothing" : shown.className}`;
}"""
MAP_CHANGED_JS = f"""before => {{
  const image = document.querySelector("{PANEL_MAP}");
  return image !== null && image.complete && image.src !== before;
}}"""


@pytest.fixture(scope="module")
def lab_on_a_copy(tmp_path_factory) -> Iterator[tuple[JupyterServer, Path]]:
    """JupyterLab as ``make lab`` starts it, over a copy of the chapters and ``pyproject.toml`` (which holds the
    jupytext settings); yields the server and the copy's root."""
    root = tmp_path_factory.mktemp("checkout")
    (root / "notebooks").mkdir()
    for source in [*notebook_sources(repository_root()), repository_root() / "pyproject.toml"]:
        shutil.copy2(source, root / source.relative_to(repository_root()))
    options = [f"--LabApp.user_settings_dir={tmp_path_factory.mktemp('jupyterlab-settings')}"]
    with running_jupyter(lambda port, token: [*lab_command(port=port, root_dir=root, token=token), *options]) as server:
        yield server, root


@pytest.fixture(scope="module")
def browser(chromium: str, tmp_path_factory) -> Iterator[BrowserContext]:
    """Chromium with a fresh profile, for this module."""
    with sync_playwright() as playwright:
        context = chromium_context(playwright, chromium, tmp_path_factory.mktemp("chromium-profile"))
        context.set_default_timeout(60_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def lab(built_html: Path, tmp_path_factory) -> Iterator[JupyterServer]:
    """JupyterLab as ``make lab`` starts it, once the book build has filled the cache; the app is exposed to the
    page's scripts, and the user's settings and workspaces are fresh folders."""
    user = tmp_path_factory.mktemp("jupyterlab-user")
    options = ["--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={user / 'settings'}",
               f"--LabApp.workspaces_dir={user / 'workspaces'}"]
    with running_jupyter(lambda port, token: [*lab_command(port=port, token=token), *options]) as server:
        yield server


@pytest.fixture(scope="module")
def voila(built_html: Path) -> Iterator[JupyterServer]:
    """Chapter 10 in Voilà as ``make voila CHAPTER=10_explorer`` serves it, once the book build has run."""
    with running_jupyter(lambda port, token: voila_command("10_explorer", port=port, token=token)) as server:
        yield server


def test_jupyter_environment_puts_the_book_settings_first() -> None:
    environment = jupyter_environment({"JUPYTER_PATH": "/elsewhere", "HOME": "/home/student"})
    assert environment["JUPYTER_PATH"].split(":") == [str(JUPYTER_DIR), "/elsewhere"]
    assert environment["JUPYTER_CONFIG_PATH"] == str(JUPYTER_DIR)
    assert environment["HOME"] == "/home/student"


def test_voila_names_the_chapters_when_one_does_not_exist() -> None:
    assert voila_url(chapter_path("notebooks/10_explorer.py")) == "/voila/render/notebooks/10_explorer.py"
    with pytest.raises(FileNotFoundError, match=r"no chapter '10_explorers'.*10_explorer, 11_external_images"):
        voila_command("10_explorers", port=8866)
    with pytest.raises(SystemExit) as exited:  # `make voila CHAPTER=10_explorers`
        main(["voila", "10_explorers"])
    assert exited.value.code == 1


def test_jupyterlab_opens_python_files_as_jupytext_notebooks(lab_on_a_copy) -> None:
    server, _ = lab_on_a_copy
    plugin = _api(server, "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    assert plugin["schema"]["properties"]["defaultViewers"]["default"].get("python") == "Jupytext Notebook"


def test_saving_a_chapter_from_jupyterlab_keeps_its_text(lab_on_a_copy) -> None:
    """What JupyterLab saves: the chapter as its contents API reads it, with the kernel's spec as metadata."""
    server, root = lab_on_a_copy
    specs = _api(server, "/api/kernelspecs")
    spec = specs["kernelspecs"][specs["default"]]["spec"]
    changed = []
    for source in notebook_sources(root):
        path = f"/api/contents/notebooks/{source.name}"
        committed = source.read_bytes()
        model = _api(server, path)
        assert model["type"] == "notebook", f"{source.name} is not read as a notebook: {model['type']}"
        notebook = model["content"]
        notebook["metadata"]["kernelspec"] = {"name": specs["default"], "display_name": spec["display_name"],
                                              "language": spec["language"]}
        notebook["metadata"]["language_info"] = {"name": "python", "version": "3.11.7"}
        _api(server, path, {"type": "notebook", "format": "json", "content": notebook})
        if source.read_bytes() != committed:
            changed.append(source.name)
    assert not changed, f"saving from JupyterLab rewrites {changed}"


@pytest.mark.book
def test_chapter_05_runs_in_jupyterlab_its_panel_redraws_and_saving_keeps_the_file(
        lab: JupyterServer, browser: BrowserContext) -> None:
    source = repository_root() / chapter_path("05_correlax_maps")
    committed = source.read_bytes()
    page = browser.new_page()
    blocked = block_other_origins(page, lab.url)
    try:
        _record_seconds("run_all_05_correlax_maps", _open_and_run_all(page, lab, "05_correlax_maps"))
        label = _control(page.locator(PANEL), ".widget-dropdown", "label").locator("select")
        label.scroll_into_view_if_needed()
        page.locator(PANEL_MAP).wait_for()
        before = page.locator(PANEL_MAP).get_attribute("src")
        other = next(option for option in label.locator("option").all_inner_texts()
                     if option != label.evaluate("select => select.selectedOptions[0].textContent"))
        start = time.monotonic()
        label.select_option(label=other)
        _wait(page, MAP_CHANGED_JS, REDRAW_TIMEOUT, f"the CorRELAX panel's map was not redrawn for {other!r}", lab,
              before)
        _record_seconds("panel_redraw", time.monotonic() - start)
        expect(page.locator(PANEL).locator(".widget-html")).to_contain_text(f"mean in {other} boxes")
        page.screenshot(path=_output("lab-05_correlax_maps.png"))

        page.evaluate(SAVE_JS)
        assert source.read_bytes() == committed, "saving chapter 05 in JupyterLab rewrote notebooks/05_correlax_maps.py"
    finally:
        page.close()
        if source.read_bytes() != committed:
            source.write_bytes(committed)
    assert not blocked, f"JupyterLab fetched from another origin: {blocked}"


@pytest.mark.book
def test_chapter_10_runs_in_jupyterlab(lab: JupyterServer, browser: BrowserContext) -> None:
    page = browser.new_page()
    blocked = block_other_origins(page, lab.url)
    try:
        _record_seconds("run_all_10_explorer", _open_and_run_all(page, lab, "10_explorer"))
        expect(_control(page, ".widget-slider", "window row")).to_be_visible()
    finally:
        page.close()
    assert not blocked, f"JupyterLab fetched from another origin: {blocked}"


@pytest.mark.book
def test_chapter_10_in_voila_shows_an_explorer_whose_controls_can_be_used_and_respond(
        voila: JupyterServer, browser: BrowserContext) -> None:
    page = browser.new_page()
    blocked = block_other_origins(page, voila.url)
    errors = script_errors(page)
    try:
        start = time.monotonic()
        page.goto(voila.address(voila_url(chapter_path("10_explorer"))), timeout=RENDER_TIMEOUT)
        row = _control(page, ".widget-slider", "window row")
        row.wait_for(timeout=RENDER_TIMEOUT)
        _record_seconds("voila_10_explorer", time.monotonic() - start)
        tracebacks = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]', has_text="Traceback")
        assert tracebacks.count() == 0, f"chapter 10 failed in Voilà: {tracebacks.all_inner_texts()}"

        summary = page.locator(".widget-html", has_text="ρ(S_h, S_ŷ)")
        controls = {"window row slider": row, "window col slider": _control(page, ".widget-slider", "window col"),
                    "ŷ/ρ table of the window": summary,
                    "drawn x slider": _control(page, ".widget-slider", "drawn x"),
                    "drawn y slider": _control(page, ".widget-slider", "drawn y"),
                    "region's neuron table": page.locator(".widget-html", has_text=re.compile(
                        "no neuron has IoU|activation_value")),
                    "neuron dropdown": _control(page, ".widget-dropdown", "neuron"),
                    "concept box": _control(page, ".widget-text", "concept"),
                    "label button": page.locator(".widget-button", has_text="label neuron")}
        controls["label button"].wait_for()  # the explorer's last control: all of them are rendered
        unusable = {name: control.evaluate(UNUSABLE_JS) if control.count() == 1 else f"{control.count()} found"
                    for name, control in controls.items()}
        unusable = {name: why for name, why in unusable.items() if why}
        assert not unusable, f"explorer controls a student cannot use in Voilà: {unusable}"

        handle = row.locator(".noUi-handle")
        now, top = (int(float(handle.get_attribute(name))) for name in ("aria-valuenow", "aria-valuemax"))
        assert top > 0, "the window row slider has a single row"
        moved = now + 1 if now < top else now - 1
        col = int(float(_control(page, ".widget-slider", "window col").locator(".noUi-handle")
                        .get_attribute("aria-valuenow")))
        handle.focus()
        page.keyboard.press("ArrowRight" if moved > now else "ArrowLeft")
        expect(summary).to_contain_text(f"window ({moved}, {col})", timeout=REDRAW_TIMEOUT)

        controls["concept box"].locator("input").fill("test concept")
        page.locator(".widget-button", has_text="label neuron").click()
        neuron = _control(page, ".widget-dropdown", "neuron").locator("select")
        expect(neuron.locator("option:checked")).to_contain_text("test concept", timeout=REDRAW_TIMEOUT)
        page.locator(".widget-vbox").first.screenshot(path=_output("voila-10_explorer.png"))
    finally:
        page.close()
    assert not blocked, f"Voilà fetched from another origin: {blocked}"
    assert not errors, f"script errors in Voilà: {errors}"


def _api(server: JupyterServer, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """GET ``path`` of the server's REST API, or PUT ``body`` there; the JSON answer."""
    request = urllib.request.Request(f"{server.url}{path}", method="GET" if body is None else "PUT",
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {server.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _control(scope: Page | Locator, widget: str, description: str) -> Locator:
    """The ipywidget of CSS class ``widget`` (e.g. ``.widget-slider``) under ``scope`` whose label is
    ``description``."""
    page = scope if isinstance(scope, Page) else scope.page
    return scope.locator(widget).filter(has=page.locator("label", has_text=re.compile(f"^{re.escape(description)}$")))


def _open_and_run_all(page: Page, lab: JupyterServer, chapter: str) -> float:
    """Open ``chapter`` from its plain URL in ``lab``, check it is a notebook, run all cells, check none failed.

    Returns:
        The seconds Run All took.
    """
    path = chapter_path(chapter).as_posix()
    page.goto(lab.address(f"/lab/tree/{path}"))
    _wait(page, OPENED_JS, 120_000, f"JupyterLab did not open {path}", lab, path)
    assert page.evaluate(OPENED_JS, path)["notebook"], f"JupyterLab opened {path} as a text file, not as a notebook"
    _wait(page, KERNEL_IDLE_JS, 120_000, f"the kernel of {path} did not start", lab)
    start = time.monotonic()
    page.evaluate(RUN_ALL_JS)
    _wait(page, "() => window.corrrelaxRunAll !== null", RUN_ALL_TIMEOUT, f"Run All on {path} did not finish", lab)
    seconds = time.monotonic() - start
    ended, failed = page.evaluate("() => window.corrrelaxRunAll"), page.evaluate(FAILED_CELLS_JS)
    assert ended == "done" and not failed, f"Run All on {path}: {ended}; {failed}\n{lab.log_tail()}"
    return seconds


def _wait(page: Page, condition_js: str, timeout_ms: int, what: str, server: JupyterServer,
          arg: object = None) -> None:
    """Wait until ``condition_js`` holds in ``page``, else fail: ``what`` did not happen (the server's log quoted)."""
    try:
        page.wait_for_function(condition_js, arg=arg, timeout=timeout_ms)
    except PlaywrightTimeoutError as error:
        pytest.fail(f"{what} within {timeout_ms / 1000:.0f} s ({error})\n{server.log_tail()}")


def _output(name: str) -> Path:
    """``book/_build/interactive/<name>``, its folder made."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT / name


def _record_seconds(what: str, seconds: float) -> None:
    """Add ``what``: ``seconds`` to ``book/_build/interactive/seconds.json``."""
    path = _output("seconds.json")
    recorded = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**recorded, what: round(seconds, 2)}, indent=2) + "\n")
