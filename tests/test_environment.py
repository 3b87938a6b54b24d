"""The torch/torchvision pair must work: fail loudly if torchvision.ops cannot load."""

from corrrelax_lib.environment import check_torchvision_ops


def test_torchvision_ops_load():
    assert "torchvision.ops OK" in check_torchvision_ops()


def test_the_lock_pins_this_environment_and_every_declared_requirement():
    """requirements-lock.txt pins what is installed, and each pin satisfies pyproject's range."""
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    from corrrelax_lib.environment import CUDA_RUNTIME_PREFIXES, locked_requirements

    root = Path(__file__).resolve().parents[1]
    lines = (root / "requirements-lock.txt").read_text().splitlines()
    locked = [Requirement(line) for line in lines if line and not line.startswith("#")]
    pins = {pin.name: next(iter(pin.specifier)).version for pin in locked}
    # torch's CUDA runtime is pinned for Linux x86-64 only (elsewhere the torch wheels do not require it).
    assert all((pin.marker is not None) == pin.name.startswith(CUDA_RUNTIME_PREFIXES) for pin in locked)
    assert "corrrelax-lib" not in pins and "pip" not in pins
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    for text in declared:
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is declared but not pinned"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} ∉ {text}"
    # The installed environment is the locked one (regenerate with `make lock` after an upgrade).
    installed = {pin.name: next(iter(pin.specifier)).version for pin in map(Requirement, locked_requirements())}
    for name in ("torch", "torchvision", "numpy", "captum", "grad-cam", "scikit-learn", "quantus"):
        if name in installed:
            assert installed[name] == pins[name], f"{name}: installed {installed[name]}, locked {pins[name]}"
