"""Reading images and writing artifacts safely.

Modules, in the order the data flow: ``mammogram`` (DICOM and image files to a [0, 1] image), ``owner``
(who a process is: host, PID namespace, PID, start time), ``atomic`` (write to an owned temporary file,
then rename), ``claims`` (one process computes an artifact; abandoned claims are taken over) and
``artifacts`` (per-image ``.npz`` with a checksummed sidecar).
"""

from corrrelax_lib.io.artifacts import ArtifactWriteError
from corrrelax_lib.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from corrrelax_lib.io.mammogram import MammogramReadError, read_mammogram

__all__ = [
    "ArtifactWriteError",
    "MammogramReadError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_mammogram",
]
