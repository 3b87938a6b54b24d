"""Each inline script is written once per page, whatever name Sphinx 7.4 gave its copies."""

from __future__ import annotations

from types import SimpleNamespace

from corrrelax_lib.book.sphinx_fixes import drop_duplicate_scripts


def script(filename, priority=500, **attributes):
    return SimpleNamespace(filename=filename, priority=priority, attributes=attributes)


def test_copies_of_an_inline_script_named_none_and_empty_are_dropped_in_place():
    thebe = 'const THEBE_JS_URL = "..."'
    scripts = [script("_static/doctools.js", 200), script(None, body=thebe), script("_static/sphinx-thebe.js"),
               script("", body=thebe), script("_static/doctools.js", 200)]
    context = {"script_files": scripts}
    drop_duplicate_scripts(None, "intro", "page.html", context, None)
    assert context["script_files"] is scripts  # the builder's own list, edited in place
    assert [(s.filename, s.attributes.get("body")) for s in scripts] == [
        ("_static/doctools.js", None), (None, thebe), ("_static/sphinx-thebe.js", None)]


def test_scripts_that_differ_in_body_or_priority_are_kept():
    scripts = [script(None, body="let a = 1"), script(None, body="let b = 2"), script(None, 800, body="let a = 1")]
    drop_duplicate_scripts(None, "intro", "page.html", {"script_files": scripts}, None)
    assert len(scripts) == 3
