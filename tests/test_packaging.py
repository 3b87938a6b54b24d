"""environment.yml mirrors pyproject.toml (the source of truth), so conda users get the same stack."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import yaml

from corrrelax_lib.paths import repository_root

ROOT = repository_root()

#: Imported by the library but installed apart, ``pip install --no-deps`` (pinned in requirements-lock.txt): Quantus
#: requires opencv-python, which would replace our opencv-python-headless (corrrelax_lib/book/reference_checks.py).
INSTALLED_APART = {"quantus"}


def test_environment_yml_lists_every_pyproject_requirement():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        required |= set(extra)
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert required <= set(pip_section), sorted(required - set(pip_section))
    assert "-e ." in pip_section


def _declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {_canonical(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]) for requirement in requirements}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_level_imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def test_every_third_party_import_is_a_declared_dependency():
    """A module imported by the library or a notebook but only installed transitively breaks a fresh clone."""
    sources = [*(ROOT / "corrrelax_lib").rglob("*.py"), *(ROOT / "notebooks").glob("*.py")]
    imported = set().union(*(_top_level_imports(path) for path in sources))
    third_party = imported - set(sys.stdlib_module_names) - {"corrrelax_lib"} - INSTALLED_APART
    providers = importlib.metadata.packages_distributions()
    declared = _declared_distributions()
    undeclared = {
        module: providers.get(module, ["<not installed>"])
        for module in third_party
        if not declared & {_canonical(name) for name in providers.get(module, [])}
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_what_is_installed_apart_is_pinned_in_the_lock():
    pins = {line.split("==")[0] for line in (ROOT / "requirements-lock.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    assert INSTALLED_APART <= pins


def test_the_package_list_is_every_package_of_the_source_tree():
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "corrrelax_lib").rglob("__init__.py")}
    data = {"corrrelax_lib.profiles", "corrrelax_lib.manifests"}
    assert set(listed) == found | data, sorted(set(listed) ^ (found | data))


def test_a_built_wheel_holds_the_profiles_and_manifests_and_runs_without_the_checkout(tmp_path):
    """``pip install .`` (not editable) must find the profiles and data manifests as package data."""
    # Built as `pip install .` builds it: in an isolated environment with pyproject's build requirements (the
    # venv of `make install` pins no build tools, and a fresh venv's setuptools 65 has no bdist_wheel).
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                            str(ROOT)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (tmp_path / "dist").glob("corrrelax_lib-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"corrrelax_lib/profiles/{path.name}" for path in (ROOT / "book" / "profiles").glob("*.yml")}
    shipped |= {f"corrrelax_lib/manifests/{path.name}" for path in (ROOT / "data_manifests").glob("*.yml")}
    assert shipped <= names, sorted(shipped - names)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    code = ("import corrrelax_lib.paths as paths; from corrrelax_lib.pipeline.study import Study; "
            "assert paths.checkout_root() is None, paths.checkout_root(); "
            "print(Study.open('tiny').config.correlax.window_size, paths.manifest_path('vindr-mammo').is_file())")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    environment = {**os.environ, "PYTHONPATH": str(site), "CORRRELAX_ARTIFACTS": str(tmp_path / "artifacts")}
    result = subprocess.run([sys.executable, "-c", code], cwd=outside, env=environment, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["64", "True"]
    version = subprocess.run([sys.executable, "-m", "corrrelax_lib.cli", "--version"], cwd=outside, env=environment,
                             capture_output=True, text=True, check=True)
    assert version.stdout.startswith("corrrelax ")


def test_licence_and_citation_agree_with_pyproject():
    """LICENSE is the licence pyproject declares; CITATION.cff cites the paper by the DOI of pyproject's URLs."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert (ROOT / "LICENSE").read_text().startswith(f"{project['license']['text']} License")
    assert citation["license"] == project["license"]["text"]
    paper = citation["preferred-citation"]
    assert project["urls"]["Paper"] == f"https://doi.org/{paper['doi']}"
    assert paper["authors"][0]["family-names"] == "Mellado" and paper["year"] == 2025
