"""environment.yml mirrors pyproject.toml (the source of truth), so conda users get the same stack."""

from __future__ import annotations

import tomllib

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
