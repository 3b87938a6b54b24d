"""Reading images and writing artifacts safely."""

from corrrelax_lib.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from corrrelax_lib.io.mammogram import MammogramReadError, read_mammogram

__all__ = [
    "MammogramReadError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_mammogram",
]
