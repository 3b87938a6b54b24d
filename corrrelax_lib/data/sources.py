"""Make a profile's dataset available: generate the phantoms or check a VinDr-Mammo root."""

from __future__ import annotations

from pathlib import Path

import yaml

from corrrelax_lib.data.phantom import PhantomConfig, csv_sha256, write_phantom_dataset
from corrrelax_lib.data.vindr import BREAST_CSV, FINDINGS_CSV
from corrrelax_lib.paths import manifest_path


class DatasetUnavailableError(RuntimeError):
    """The profile's dataset is not where it should be; the message says how to get it."""


def prepare_dataset(dataset: str, data_root: Path, repository: Path, *, workers: int = 1) -> Path:
    """Return a data root in the VinDr-Mammo layout, generating it for phantom datasets.

    Args:
        dataset: manifest name, e.g. ``"phantom-tiny"`` or ``"vindr-mammo"``.
        data_root: where the data live (or will be generated).
        repository: repository root holding ``data_manifests/``.
        workers: processes used to render phantoms.

    Raises:
        DatasetUnavailableError: a non-generated dataset is missing its annotation CSVs, or
            generated data on disk do not match their manifest's sha256.
    """
    manifest_file = manifest_path(dataset, repository)
    manifest = yaml.safe_load(manifest_file.read_text())
    if "generator" in manifest:
        root = write_phantom_dataset(data_root, PhantomConfig.from_manifest(manifest_file), workers=workers)
        if csv_sha256(root) != manifest["sha256"]:
            raise DatasetUnavailableError(
                f"{root}: the generated annotations do not match the sha256 in {manifest_file} "
                "(stale data from another generator config, or a changed generator); delete the folder to regenerate."
            )
        return root
    missing = [name for name in (FINDINGS_CSV, BREAST_CSV) if not (data_root / name).is_file()]
    if missing:
        raise DatasetUnavailableError(
            f"{data_root}: missing {missing}. {manifest.get('name', dataset)} is not generated here; "
            f"see {manifest_file} for how to obtain it, then set CORRRELAX_DATA to its root."
        )
    return data_root
