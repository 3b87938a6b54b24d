"""The environment a build runs in: checked, recorded, and pinned.

- :func:`check_torchvision_ops` (``python -m corrrelax_lib.environment``): a local ``torch-*+cpu`` build paired
  with PyPI's torchvision fails only when a compiled torchvision operator is first used (``operator
  torchvision::nms does not exist``); this calls one so a broken install fails at setup time, loudly.
- :func:`recorded_environment`: Python, the key packages' versions, the git commit and the device, for the status
  page; :func:`package_versions` for the notebook cache key.
- :func:`locked_requirements` (``python -m corrrelax_lib.environment --lock requirements-lock.txt``, or ``make
  lock``): every installed distribution pinned ``name==version`` except this project, the file ``make install``
  and CI install from with ``pip install --no-deps -r`` (pyproject keeps the ranges users install from).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import re
import subprocess
import sys
from pathlib import Path

import torch
import torchvision

#: The distributions the status page names (the lock file pins every installed one).
KEY_PACKAGES: tuple[str, ...] = (
    "torch", "torchvision", "numpy", "scipy", "pandas", "opencv-python-headless", "pydicom", "scikit-learn",
    "captum", "grad-cam", "quantus", "jupyter-book", "papermill", "matplotlib",
)

#: Not pinned in the lock: this project (installed editable from the checkout) and, as ``pip freeze`` leaves
#: them out, the installer's own tools.
UNPINNED: frozenset[str] = frozenset({"corrrelax-lib", "pip", "setuptools", "wheel"})

#: torch's CUDA runtime (``nvidia-*``, ``cuda-*``, ``triton``): the PyPI torch wheels require it on Linux x86-64
#: only, so its pins carry that environment marker and the lock installs elsewhere too.
CUDA_RUNTIME_PREFIXES: tuple[str, ...] = ("nvidia-", "cuda-", "triton")
CUDA_RUNTIME_MARKER = 'sys_platform == "linux" and platform_machine == "x86_64"'


def check_torchvision_ops() -> str:
    """Run ``torchvision.ops.nms`` on a tiny input; return a one-line version summary.

    Raises:
        RuntimeError: torchvision's compiled operators cannot load with this torch.
    """
    try:
        from torchvision.ops import nms

        boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [50.0, 50.0, 60.0, 60.0]])
        kept = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    except (RuntimeError, ImportError) as error:
        raise RuntimeError(
            f"torchvision {torchvision.__version__} cannot run its operators with torch {torch.__version__} "
            f"({error}). Install a matching PyPI pair: remove .venv and run `make install` "
            "(it keeps pip away from local '+cpu' torch builds)."
        ) from error
    if kept.tolist() != [0, 2]:
        raise RuntimeError(f"torchvision.ops.nms returned {kept.tolist()}, expected [0, 2]")
    return f"torch {torch.__version__}, torchvision {torchvision.__version__}: torchvision.ops OK"


def _canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Grad_CAM`` → ``grad-cam``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """``{name: installed version}`` of ``names``, ``"not installed"`` for those absent."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(root: Path) -> str:
    """The checkout's commit (with ``+ uncommitted changes`` when the tree differs), or ``"not a git checkout"``."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return commit.stdout.strip() + (" + uncommitted changes" if status.stdout.strip() else "")


def device_description() -> str:
    """``"CUDA 12.8: 1 × NVIDIA H200"``-like, or ``"CPU only (x86_64)"``."""
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return f"CUDA {torch.version.cuda}: " + ", ".join(f"{names.count(n)} × {n}" for n in dict.fromkeys(names))
    return f"CPU only ({platform.machine()}; torch built for CUDA {torch.version.cuda or 'none'})"


def recorded_environment(root: Path) -> dict[str, str]:
    """What the status page records: Python, platform, git commit, device, then :func:`package_versions`."""
    return {"Python": f"{platform.python_version()} ({sys.executable})", "Platform": platform.platform(),
            "Git commit": git_commit(root), "Device": device_description(), **package_versions()}


def locked_requirements() -> list[str]:
    """Every installed distribution as ``name==version``, sorted, but those in :data:`UNPINNED` (as ``pip freeze
    --exclude-editable`` lists them, names in their canonical form); torch's CUDA runtime with
    :data:`CUDA_RUNTIME_MARKER`."""
    pins = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        if name and _canonical(name) not in UNPINNED:
            canonical = _canonical(name)
            marker = f"; {CUDA_RUNTIME_MARKER}" if canonical.startswith(CUDA_RUNTIME_PREFIXES) else ""
            pins[canonical] = f"{canonical}=={distribution.version}{marker}"
    return [pins[name] for name in sorted(pins)]


LOCK_HEADER = """\
# The exact environment `make install` and CI install: `pip install --no-deps -r requirements-lock.txt`, then
# `pip install --no-deps -e .` (pyproject.toml keeps the ranges users install from). Every pin is installed as it
# is, so quantus comes without opencv-python (it would replace opencv-python-headless).
# Regenerate from a working environment with `make lock` (python -m corrrelax_lib.environment --lock FILE).
"""


def write_lock(path: Path) -> None:
    """Write :func:`locked_requirements` to ``path`` with :data:`LOCK_HEADER`."""
    path.write_text(LOCK_HEADER + "\n".join(locked_requirements()) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Check the torch/torchvision pair; with ``--lock FILE``, also write the lock file."""
    parser = argparse.ArgumentParser(prog="python -m corrrelax_lib.environment", description=__doc__.split("\n")[0])
    parser.add_argument("--lock", type=Path, help="write every installed distribution, pinned, to this file")
    arguments = parser.parse_args(argv)
    print(check_torchvision_ops())
    if arguments.lock:
        write_lock(arguments.lock)
        print(f"wrote {arguments.lock} ({len(locked_requirements())} pins)")


if __name__ == "__main__":
    main()
