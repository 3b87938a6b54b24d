"""Run profiles (``book/profiles/<name>.yml``): which data, which sizes, which device.

A profile file has these keys::

    description: one line shown in the book
    dataset: phantom-tiny | vindr-mammo        # a manifest in data_manifests/
    data_root_env: CORRRELAX_DATA              # optional: the data root comes from this variable
    parameters: {seed: 0, window_size: 64, ...} # injected into every notebook

``data_root``, ``artifacts_dir`` and ``results_dir`` are added to the parameters. The
data root is ``$<data_root_env>`` for profiles that name one (``full``: real data the
user downloaded), else ``artifacts/<profile>/data/<dataset>`` (``tiny``: generated
phantoms), so a ``CORRRELAX_DATA`` set for VinDr-Mammo never leaks into the phantom build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from corrrelax_lib.paths import repository_root

DATA_ENV_VAR = "CORRRELAX_DATA"
ARTIFACTS_ENV_VAR = "CORRRELAX_ARTIFACTS"


@dataclass(frozen=True)
class Profile:
    """A resolved run profile."""

    name: str
    description: str
    dataset: str
    data_root: Path
    artifacts_dir: Path
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def results_dir(self) -> Path:
        """Where notebooks record the numbers the status page shows."""
        return self.artifacts_dir / "results"

    def notebook_parameters(self, relative_to: Path | None = None) -> dict[str, Any]:
        """Everything a notebook's ``parameters`` cell may receive, paths as strings.

        Args:
            relative_to: the notebooks' working directory; paths below it are given
                relative to it, so executed notebooks show no machine-specific paths.
        """
        paths = {"data_root": self.data_root, "artifacts_dir": self.artifacts_dir, "results_dir": self.results_dir}
        return {
            "profile": self.name,
            "dataset": self.dataset,
            **self.parameters,
            **{name: _display_path(path, relative_to) for name, path in paths.items()},
        }


def load_profile(name: str, overrides: dict[str, Any] | None = None, *, root: Path | None = None) -> Profile:
    """Read ``book/profiles/<name>.yml`` and apply ``overrides`` to its parameters.

    Raises:
        FileNotFoundError: no such profile (the message lists the available ones).
        ValueError: a profile file without ``dataset`` or ``parameters``.
    """
    root = root or repository_root()
    path = root / "book" / "profiles" / f"{name}.yml"
    if not path.is_file():
        available = sorted(p.stem for p in path.parent.glob("*.yml"))
        raise FileNotFoundError(f"{path}: no profile {name!r}; available: {available}")
    spec = yaml.safe_load(path.read_text()) or {}
    for key in ("dataset", "parameters"):
        if key not in spec:
            raise ValueError(f"{path}: missing key {key!r}")
    artifacts_dir = Path(os.environ.get(ARTIFACTS_ENV_VAR, root / "artifacts")) / name
    return Profile(
        name=name,
        description=str(spec.get("description", "")),
        dataset=str(spec["dataset"]),
        data_root=_data_root(spec, artifacts_dir),
        artifacts_dir=artifacts_dir.resolve(),
        parameters={**spec["parameters"], **(overrides or {})},
    )


def parse_overrides(pairs: list[list[str]]) -> dict[str, Any]:
    """``[["seed", "3"], ["device", "cuda"]]`` -> ``{"seed": 3, "device": "cuda"}``: values typed as YAML reads them."""
    return {name: yaml.safe_load(value) for name, value in pairs}


def _display_path(path: Path, relative_to: Path | None) -> str:
    """``path`` relative to ``relative_to`` when it lies below it, else absolute."""
    if relative_to is not None and path.is_relative_to(relative_to.resolve()):
        return path.relative_to(relative_to.resolve()).as_posix()
    return str(path)


def _data_root(spec: dict[str, Any], artifacts_dir: Path) -> Path:
    """``$<data_root_env>`` when the profile names a variable and it is set, else a folder under artifacts."""
    variable = spec.get("data_root_env")
    if variable and os.environ.get(variable):
        return Path(os.environ[variable]).expanduser().resolve()
    return (artifacts_dir / "data" / str(spec["dataset"])).resolve()
