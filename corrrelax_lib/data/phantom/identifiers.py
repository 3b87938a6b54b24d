"""Seeded identifiers: VinDr-style hashed hex ids, DICOM UIDs, dates and times."""

from __future__ import annotations

import datetime as dt
import hashlib

_NAMESPACE = "corrrelax-phantom"
_FIRST_STUDY_DAY = dt.date(2019, 1, 1)


def _digest(seed: int, parts: tuple[object, ...], size: int) -> bytes:
    text = "|".join([_NAMESPACE, str(seed), *map(str, parts)])
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).digest()


def hex_id(seed: int, *parts: object) -> str:
    """32-character lowercase hex id, like VinDr-Mammo's hashed ids.

    >>> hex_id(0, "study", 3) == hex_id(0, "study", 3) != hex_id(1, "study", 3)
    True
    >>> len(hex_id(0, "image", 7))
    32
    """
    return _digest(seed, parts, 16).hex()


def dicom_uid(seed: int, *parts: object) -> str:
    """A DICOM UID in the UUID-derived ``2.25.<128-bit integer>`` form, fixed by the seed and ``parts``.

    (pydicom's ``generate_uid(prefix=None)`` ignores its entropy sources and is random.)

    >>> dicom_uid(0, "study", 3) == dicom_uid(0, "study", 3)
    True
    >>> dicom_uid(0, "study", 3).startswith("2.25.")
    True
    """
    return f"2.25.{int.from_bytes(_digest(seed, ('uid', *parts), 16), 'big')}"


def study_date_time(seed: int, study_index: int) -> tuple[str, str]:
    """``(YYYYMMDD, HHMMSS)`` of a study: a seeded day in 2019-2020 during working hours."""
    value = int.from_bytes(_digest(seed, ("date", study_index), 8), "little")
    day = _FIRST_STUDY_DAY + dt.timedelta(days=value % 730)
    seconds = 7 * 3600 + (value // 730) % (11 * 3600)
    return day.strftime("%Y%m%d"), f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"
