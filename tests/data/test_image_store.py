"""Preprocessed-image cache: computed once, read back bit-exactly, keyed by the preprocessing parameters."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corrrelax_lib.config import ImagePreprocessing, PreprocessingConfig, config_as_dict
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


PAPER = ImagePreprocessing()
AUTHORS = ImagePreprocessing(apply_voi_lut=True, clahe_histogram="8-bit", clahe_background="zero")


def test_default_cache_dir_names_the_parameters(tmp_path):
    assert default_cache_dir(tmp_path, PAPER) == tmp_path / "cache" / "preprocessed-clahe1-2-tiles8"
    assert default_cache_dir(tmp_path, ImagePreprocessing((1.5, 3.0), 4)).name == "preprocessed-clahe1.5-3-tiles4"
    options = {"apply_voi_lut": True, "clahe_histogram": "8-bit", "clahe_background": "zero"}
    names = {default_cache_dir(tmp_path, replace(PAPER, **{key: value})).name for key, value in options.items()}
    assert names == {"preprocessed-clahe1-2-tiles8-voi", "preprocessed-clahe1-2-tiles8-8bit",
                     "preprocessed-clahe1-2-tiles8-bg0"}
    assert default_cache_dir(tmp_path, AUTHORS).name == "preprocessed-clahe1-2-tiles8-voi-8bit-bg0"


def test_in_artifacts_caches_under_the_folder_of_its_preprocessing(data_root, tmp_path):
    """A profile's section (with other sites' image height) gives the store of its ImagePreprocessing fields."""
    store = PreprocessedImageStore.in_artifacts(data_root, tmp_path, PreprocessingConfig(clahe_histogram="8-bit"))
    assert store.cache_dir == default_cache_dir(tmp_path, replace(PAPER, clahe_histogram="8-bit"))
    assert store.preprocessing == replace(PAPER, clahe_histogram="8-bit")
    store.get("s1", "a")
    assert json.loads((store.cache_dir / "a.json").read_text())["preprocessing"] == config_as_dict(
        store.preprocessing)


def test_first_get_writes_png_and_json_later_gets_read_them(data_root, tmp_path, calls):
    cache = tmp_path / "cache"
    first = PreprocessedImageStore(data_root, cache).get("s1", "a")
    assert sorted(p.name for p in cache.iterdir()) == ["a.json", "a.png"]  # no .part files left
    record = json.loads((cache / "a.json").read_text())
    assert record["roi"] == list(first.roi) and record["preprocessing"] == {
        "clahe_clip_limits": [1.0, 2.0], "clahe_tile_grid": 8, "apply_voi_lut": False, "clahe_histogram": "data",
        "clahe_background": "kept"}
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
    other = PreprocessedImageStore(data_root, cache, ImagePreprocessing((1.0, 3.0))).get("s1", "a")
    assert len(calls) == 2
    assert json.loads((cache / "a.json").read_text())["preprocessing"]["clahe_clip_limits"] == [1.0, 3.0]
    again = PreprocessedImageStore(data_root, cache, ImagePreprocessing((1.0, 3.0))).get("s1", "a")
    assert len(calls) == 2
    np.testing.assert_array_equal(again.image, other.image)
    settings = ImagePreprocessing(clahe_tile_grid=4)
    for option in ({}, {"apply_voi_lut": True}, {"clahe_histogram": "8-bit"}, {"clahe_background": "zero"}):
        settings = replace(settings, **option)  # one more option on each time
        PreprocessedImageStore(data_root, cache, settings).get("s1", "a")
    assert len(calls) == 6
    assert json.loads((cache / "a.json").read_text())["preprocessing"] == config_as_dict(settings)


def test_record_written_before_the_preprocessing_options_existed_is_recomputed(data_root, tmp_path, calls):
    cache = tmp_path / "cache"
    PreprocessedImageStore(data_root, cache).get("s1", "a")
    record = json.loads((cache / "a.json").read_text())
    del record["preprocessing"]
    (cache / "a.json").write_text(json.dumps({**record, "clip_limits": [1.0, 2.0], "tile_grid": 8,
                                              "apply_voi_lut": False}))
    PreprocessedImageStore(data_root, cache).get("s1", "a")
    assert len(calls) == 2


def test_authors_options_reach_the_cached_image(tmp_path):
    """8-bit CLAHE and the zero background change the cached CLAHE channels, the original channel stays."""
    root = tmp_path / "data"
    source = image_path(root, "s1", "big")
    source.parent.mkdir(parents=True)
    write_test_dicom(source, breast_like_image(512, 384), bits_stored=12)  # tiles of 3072 px: 10 bits
    paper_store = PreprocessedImageStore(root, tmp_path / "paper")
    paper = paper_store.get("s1", "big").image
    eight_bit = PreprocessedImageStore(root, tmp_path / "8bit", ImagePreprocessing(clahe_histogram="8-bit"))
    zero = PreprocessedImageStore(root, tmp_path / "zero", ImagePreprocessing(clahe_background="zero"))
    for store in (eight_bit, zero):
        image = store.get("s1", "big").image
        np.testing.assert_array_equal(image[..., 0], paper[..., 0])
        assert not np.array_equal(image[..., 1:], paper[..., 1:])
    bits = {name: json.loads((tmp_path / name / "big.json").read_text())["clahe_bits"] for name in ("paper", "8bit")}
    assert bits == {"paper": 10, "8bit": 8}
    # Zero background: CLAHE channels are 0 wherever the 8-bit original is, and only the background changed.
    image = zero.get("s1", "big").image
    background = image[..., 0] == 0
    assert background.any() and (paper[..., 1:][background] > 0).any()
    assert (image[..., 1:][background] == 0).all()
    np.testing.assert_array_equal(image[~background], paper[~background])


def test_record_says_how_the_intensities_were_prepared(tmp_path):
    """A MONOCHROME1 12-bit file with a window and INVERSE: the JSON record tells what was applied."""
    root = tmp_path / "data"
    source = image_path(root, "s1", "m1")
    source.parent.mkdir(parents=True)
    write_test_dicom(source, 4095 - breast_like_image(), photometric="MONOCHROME1", bits_stored=12,
                     window=(1000.0, 1500.0), presentation_lut_shape="INVERSE")
    for apply_voi_lut, applied in ((False, "none"), (True, "window")):
        preprocessing = ImagePreprocessing(apply_voi_lut=apply_voi_lut)
        store = PreprocessedImageStore.in_artifacts(root, tmp_path / "artifacts", preprocessing)
        stored = store.get("s1", "m1")
        record = json.loads((store.cache_dir / "m1.json").read_text())
        assert record["preprocessing"]["apply_voi_lut"] is apply_voi_lut
        assert record["intensity"]["voi_applied"] == applied
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
