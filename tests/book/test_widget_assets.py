"""Vendoring the ipywidgets scripts, with a fake `npm` on PATH that packs tarballs made here (no network)."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from corrrelax_lib.book import widget_assets
from corrrelax_lib.book.widget_assets import (
    NpmPackage,
    add_static_path,
    install_widget_assets,
    ipywidgets_js,
    tarball_integrity,
    vendored_static_dir,
)
from corrrelax_lib.paths import repository_root

HTML_MANAGER_FILES = {
    "package.json": "{}",
    "dist/embed-amd.js": "define('@jupyter-widgets/html-manager', [], {});",
    "dist/embed.js": "// the non-AMD bundle, not loaded",
    "dist/embed.js.map": "{}",
    "dist/0a1b.woff2": "font",
    "dist/2c3d.svg": "<svg/>",
    "src/index.ts": "export {};",
}
REQUIREJS_FILES = {"package.json": "{}", "require.js": "var requirejs;", "bin/r.js": "// optimizer, not loaded"}

# Stands in for `npm pack SPEC --json --pack-destination DIR`: copies <tarballs>/<spec>.tgz and logs the call.
FAKE_NPM = """#!{python}
import json, pathlib, shutil, sys
tarballs = pathlib.Path({tarballs!r})
with open(tarballs / "calls.log", "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
spec, destination = sys.argv[2], sys.argv[sys.argv.index("--pack-destination") + 1]
source = tarballs / (spec.replace("/", "__") + ".tgz")
if not source.is_file():
    sys.exit(f"npm error 404 Not Found - {{spec}}")
shutil.copyfile(source, pathlib.Path(destination) / source.name)
print(json.dumps([{{"filename": source.name}}]))
"""


def make_tarball(path: Path, files: dict[str, str]) -> None:
    """An npm-style tarball: every file under ``package/``."""
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


@pytest.fixture
def fake_npm(tmp_path, monkeypatch) -> Path:
    """A fake `npm` first on PATH and the two packages pinned to its tarballs; returns the tarball folder."""
    tarballs = tmp_path / "tarballs"
    tarballs.mkdir()
    pinned = {}
    for attribute, files in (("HTML_MANAGER", HTML_MANAGER_FILES), ("REQUIREJS", REQUIREJS_FILES)):
        real = getattr(widget_assets, attribute)
        tarball = tarballs / f"{real.spec.replace('/', '__')}.tgz"
        make_tarball(tarball, files)
        pinned[attribute] = NpmPackage(real.name, real.version, tarball_integrity(tarball))
        monkeypatch.setattr(widget_assets, attribute, pinned[attribute])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM.format(python=sys.executable, tarballs=str(tarballs)))
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return tarballs


def npm_calls(tarballs: Path) -> list[str]:
    log = tarballs / "calls.log"
    return log.read_text().splitlines() if log.is_file() else []


def files_under(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def test_install_copies_the_loaded_scripts_and_fonts_only(fake_npm, tmp_path):
    target = install_widget_assets(tmp_path / "static", tmp_path / "npm")
    assert target == tmp_path / "static" / "jupyter-widgets"
    assert files_under(target) == {"require.js", "offline.js", "html-manager/embed-amd.js",
                                   "html-manager/0a1b.woff2", "html-manager/2c3d.svg"}
    assert (target / "require.js").read_text() == REQUIREJS_FILES["require.js"]
    assert (target / "html-manager" / "embed-amd.js").read_text() == HTML_MANAGER_FILES["dist/embed-amd.js"]


def test_every_script_of_the_myst_nb_mapping_is_installed(fake_npm, tmp_path):
    target = install_widget_assets(tmp_path / "static", tmp_path / "npm")
    assert all((target.parent / path).is_file() for path in ipywidgets_js())


def test_scripts_and_widget_modules_are_looked_up_on_the_books_own_origin():
    assert "://" not in widget_assets.OFFLINE_JS
    assert all("://" not in path and "://" not in "".join(attributes.values())
               for path, attributes in ipywidgets_js().items())


def test_packages_are_downloaded_once_and_a_reinstall_replaces_the_folder(fake_npm, tmp_path):
    install_widget_assets(tmp_path / "static", tmp_path / "npm")
    stale = tmp_path / "static" / "jupyter-widgets" / "html-manager" / "old.woff2"
    stale.write_text("from an older pin")
    install_widget_assets(tmp_path / "static", tmp_path / "npm")
    assert len(npm_calls(fake_npm)) == 2  # one `npm pack` per package, none the second time
    assert not stale.exists()


def test_missing_npm_fails_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm here
    with pytest.raises(RuntimeError, match="npm not found"):
        install_widget_assets(tmp_path / "static", tmp_path / "npm")


def test_a_failed_npm_pack_reports_npms_message(fake_npm, tmp_path, monkeypatch):
    monkeypatch.setattr(widget_assets, "REQUIREJS", NpmPackage("requirejs", "0.0.0", "sha512-x"))
    with pytest.raises(RuntimeError, match=r"npm pack requirejs@0\.0\.0 failed:\nnpm error 404"):
        install_widget_assets(tmp_path / "static", tmp_path / "npm")


def test_a_tarball_that_is_not_the_pinned_one_is_refused(fake_npm, tmp_path, monkeypatch):
    real = widget_assets.HTML_MANAGER
    monkeypatch.setattr(widget_assets, "HTML_MANAGER", NpmPackage(real.name, real.version, "sha512-other"))
    with pytest.raises(RuntimeError, match="is not the pinned sha512-other"):
        install_widget_assets(tmp_path / "static", tmp_path / "npm")
    assert not (tmp_path / "static" / "jupyter-widgets").exists()


def test_book_config_loads_the_vendored_scripts_through_the_extension():
    sphinx = yaml.safe_load((repository_root() / "book" / "_config.yml").read_text())["sphinx"]
    assert sphinx["config"]["nb_ipywidgets_js"] == ipywidgets_js()
    assert "corrrelax_lib.book.widget_assets" in sphinx["extra_extensions"]


def test_extension_serves_the_vendored_folder_and_refuses_a_build_without_it(tmp_path):
    app = SimpleNamespace(srcdir=str(tmp_path))
    config = SimpleNamespace(html_static_path=["_static"])
    with pytest.raises(RuntimeError, match=r"`corrrelax book build`"):
        add_static_path(app, config)
    (vendored_static_dir(tmp_path) / "jupyter-widgets").mkdir(parents=True)
    add_static_path(app, config)
    assert config.html_static_path == ["_static", str(vendored_static_dir(tmp_path))]

