"""environment.yml mirrors pyproject.toml (the source of truth), so conda users get the same stack."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import yaml

from corrrelax_lib.paths import repository_root

ROOT = repository_root()


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
    third_party = imported - set(sys.stdlib_module_names) - {"corrrelax_lib"}
    providers = importlib.metadata.packages_distributions()
    declared = _declared_distributions()
    undeclared = {
        module: providers.get(module, ["<not installed>"])
        for module in third_party
        if not declared & {_canonical(name) for name in providers.get(module, [])}
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
