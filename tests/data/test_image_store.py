"""Preprocessed-image cache: computed once, read back bit-exactly, keyed by the preprocessing parameters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corrrelax_lib.data import image_store
from corrrelax_lib.data.image_store import CachedImageError, PreprocessedImageStore, StoredImage, default_cache_dir
from corrrelax_lib.data.vindr import image_path
from corrrelax_lib.io.mammogram import MammogramReadError
from corrrelax_lib.preprocess.pipeline import preprocess_mammogram
from corrrelax_lib.testing.dicom import breast_like_image, write_test_dicom

IMAGES = [("s1", "a"), ("s1", "b"), ("s2", "c")]


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """Three small breast phantoms in the VinDr-Mammo layout."""
    root = tmp_path / "data"
    for number, (study_id, image_id) in enumerate(IMAGES):
        path = image_path(root, study_id, image_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_test_dicom(path, breast_like_image(96 + 16 * number, 72), bits_stored=12)
    return root


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Sources passed to preprocess_mammogram by the store."""
    seen: list[Path] = []

    def counting(path, *args, **kwargs):
        seen.append(Path(path))
        return preprocess_mammogram(path, *args, **kwargs)

    monkeypatch.setattr(image_store, "preprocess_mammogram", counting)
    return seen


def test_default_cache_dir_names_the_parameters(tmp_path):
    assert default_cache_dir(tmp_path, (1.0, 2.0), 8) == tmp_path / "cache" / "preprocessed-clahe1-2-tiles8"
    assert default_cache_dir(tmp_path, (1.5, 3.0), 4) != default_cache_dir(tmp_path, (1.0, 2.0), 8)
    assert default_cache_dir(tmp_path, (1.0, 2.0), 8, apply_voi_lut=True) != default_cache_dir(tmp_path, (1.0, 2.0), 8)


def test_first_get_writes_png_and_json_later_gets_read_them(data_root, tmp_path, calls):
    cache = tmp_path / "cache"
    first = PreprocessedImageStore(data_root, cache).get("s1", "a")
    assert sorted(p.name for p in cache.iterdir()) == ["a.json", "a.png"]  # no .part files left
    record = json.loads((cache / "a.json").read_text())
    assert record["roi"] == list(first.roi) and record["clip_limits"] == [1.0, 2.0] and record["tile_grid"] == 8
    assert record["source"] == str(image_path(data_root, "s1", "a"))
    second = PreprocessedImageStore(data_root, cache).get("s1", "a")  # a new store: from disk
    assert len(calls) == 1
    assert isinstance(second, StoredImage) and second.roi == first.roi and isinstance(second.roi[0], int)
    assert second.image.dtype == np.uint8 and second.image.shape == first.image.shape
    np.testing.assert_array_equal(second.image, first.image)


def test_stored_image_is_the_quantised_preprocessed_image(data_root, tmp_path):
    source = image_path(data_root, "s2", "c")
    expected = preprocess_mammogram(source)
    PreprocessedImageStore(data_root, tmp_path / "cache").get("s2", "c")
    stored = PreprocessedImageStore(data_root, tmp_path / "cache").get("s2", "c")
    # Channels must not be swapped: the original and the two CLAHE versions differ.
    assert not np.array_equal(expected.image[..., 0], expected.image[..., 2])
    np.testing.assert_array_equal(stored.image, np.round(expected.image * 255).astype(np.uint8))
    assert stored.roi == expected.roi and not stored.image.flags.writeable


def test_changed_parameters_recompute(data_root, tmp_path, calls):
    cache = tmp_path / "cache"
    PreprocessedImageStore(data_root, cache).get("s1", "a")
    other = PreprocessedImageStore(data_root, cache, clip_limits=(1.0, 3.0)).get("s1", "a")
    assert len(calls) == 2
    assert json.loads((cache / "a.json").read_text())["clip_limits"] == [1.0, 3.0]
    again = PreprocessedImageStore(data_root, cache, clip_limits=(1.0, 3.0)).get("s1", "a")
    assert len(calls) == 2
    np.testing.assert_array_equal(again.image, other.image)
    PreprocessedImageStore(data_root, cache, tile_grid=4).get("s1", "a")
    assert len(calls) == 3
    PreprocessedImageStore(data_root, cache, tile_grid=4, apply_voi_lut=True).get("s1", "a")
    assert len(calls) == 4
    assert json.loads((cache / "a.json").read_text())["apply_voi_lut"] is True


def test_record_written_before_the_voi_option_existed_is_recomputed(data_root, tmp_path, calls):
    cache = tmp_path / "cache"
    PreprocessedImageStore(data_root, cache).get("s1", "a")
    record = json.loads((cache / "a.json").read_text())
    del record["apply_voi_lut"]
    (cache / "a.json").write_text(json.dumps(record))
    PreprocessedImageStore(data_root, cache).get("s1", "a")
    assert len(calls) == 2


def test_record_says_how_the_intensities_were_prepared(tmp_path):
    """A MONOCHROME1 12-bit file with a window and INVERSE: the JSON record tells what was applied."""
    root = tmp_path / "data"
    source = image_path(root, "s1", "m1")
    source.parent.mkdir(parents=True)
    write_test_dicom(source, 4095 - breast_like_image(), photometric="MONOCHROME1", bits_stored=12,
                     window=(1000.0, 1500.0), presentation_lut_shape="INVERSE")
    for apply_voi_lut, applied in ((False, "none"), (True, "window")):
        cache = default_cache_dir(tmp_path / "artifacts", (1.0, 2.0), 8, apply_voi_lut=apply_voi_lut)
        stored = PreprocessedImageStore(root, cache, apply_voi_lut=apply_voi_lut).get("s1", "m1")
        record = json.loads((cache / "m1.json").read_text())
        assert record["apply_voi_lut"] is apply_voi_lut and record["intensity"]["voi_applied"] == applied
        assert record["intensity"]["photometric"] == "MONOCHROME1" and record["intensity"]["inverted"] is True
        assert record["intensity"]["presentation_lut_shape"] == "INVERSE"
        assert record["intensity"]["window"] == [1000.0, 1500.0] and record["intensity"]["bits_stored"] == 12
        assert record["intensity"]["stored_range"] == [0, 4095] and record["clahe_bits"] >= 8
        assert stored.image[..., 0].max() == 255  # the breast is bright: inverted once, not twice


def test_memory_keeps_the_most_recent_images(data_root, tmp_path, calls):
    cache = tmp_path / "cache"
    store = PreprocessedImageStore(data_root, cache, memory_items=1)
    store.get("s1", "a")
    for path in cache.iterdir():
        path.unlink()
    store.get("s1", "a")  # from memory although the files are gone
    assert len(calls) == 1
    store.get("s1", "b")  # evicts "a"
    store.get("s1", "a")
    assert len(calls) == 3


def test_warm_preprocesses_every_image_once(data_root, tmp_path, calls):
    samples = pd.DataFrame({"study_id": ["s1", "s1", "s1", "s2"], "image_id": ["a", "a", "b", "c"]})
    store = PreprocessedImageStore(data_root, tmp_path / "cache")
    store.warm(samples)
    store.warm(samples)
    assert sorted(path.name for path in calls) == ["a.dicom", "b.dicom", "c.dicom"]
    for study_id, image_id in IMAGES:
        store.get(study_id, image_id)
    assert len(calls) == 3


def test_warm_with_worker_processes(data_root, tmp_path):
    samples = pd.DataFrame({"study_id": [s for s, _ in IMAGES], "image_id": [i for _, i in IMAGES]})
    cache = tmp_path / "cache"
    PreprocessedImageStore(data_root, cache).warm(samples, workers=2)
    assert sorted(p.name for p in cache.iterdir()) == ["a.json", "a.png", "b.json", "b.png", "c.json", "c.png"]
    serial = PreprocessedImageStore(data_root, tmp_path / "serial").get("s1", "b")
    np.testing.assert_array_equal(PreprocessedImageStore(data_root, cache).get("s1", "b").image, serial.image)


def test_unreadable_source_names_the_file(data_root, tmp_path):
    source = image_path(data_root, "s1", "a")
    source.write_bytes(b"not a dicom file")
    with pytest.raises(MammogramReadError, match=re.escape(str(source))):
        PreprocessedImageStore(data_root, tmp_path / "cache").get("s1", "a")
    assert not (tmp_path / "cache" / "a.json").exists()


def test_corrupt_cached_image_names_the_file(data_root, tmp_path):
    cache = tmp_path / "cache"
    PreprocessedImageStore(data_root, cache).get("s1", "a")
    (cache / "a.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(CachedImageError, match=re.escape(str(cache / "a.png"))):
        PreprocessedImageStore(data_root, cache).get("s1", "a")
