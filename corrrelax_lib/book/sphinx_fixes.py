"""Sphinx extension: write each inline ``<script>`` once per page.

Sphinx 7.4 keeps a script that an extension adds once the HTML builder has started
(``app.add_js_file(None, body=...)``, as sphinx-thebe and sphinx-togglebutton do) twice, once named ``None``
and once ``""``; every page then declares ``const THEBE_JS_URL`` twice and the browser raises a SyntaxError.
Sphinx 8 fixes this (sphinx-doc/sphinx#13402), but Jupyter Book 1 requires Sphinx 7.
"""

from __future__ import annotations

from typing import Any


def drop_duplicate_scripts(app: Any, pagename: str, templatename: str, context: dict[str, Any],
                           doctree: Any) -> None:
    """``html-page-context``: keep the first of the page's scripts that agree in file, priority and attributes."""
    scripts = context.get("script_files")
    if not scripts:
        return
    unique: dict[tuple, Any] = {}
    for script in scripts:
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        unique.setdefault(key, script)
    # The builder restores its own list before the next page, so editing the page's list in place is safe.
    scripts[:] = unique.values()


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension entry point (``sphinx: extra_extensions`` in ``book/_config.yml``)."""
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
