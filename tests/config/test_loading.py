"""Profiles load into typed, frozen settings; an unknown key or a wrong type names the file and the key."""

from __future__ import annotations

import dataclasses
from typing import get_args, get_type_hints

import pytest

from corrrelax_lib.config import (
    ConfigError,
    CorrelaxConfig,
    StudyConfig,
    config_as_dict,
    load_study_config,
    nested_overrides,
    parse_override_pairs,
)
from corrrelax_lib.paths import profile_path, resource_dir


def write_profile(tmp_path, text: str, name: str = "mine"):
    path = tmp_path / f"{name}.yml"
    path.write_text(text)
    return path


def test_every_shipped_profile_loads_and_is_frozen():
    for path in sorted(resource_dir("profiles").glob("*.yml")):
        config = load_study_config(path)
        assert config.name == path.stem
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.seed = 1  # type: ignore[misc]


def test_a_key_left_out_takes_the_papers_value():
    full = load_study_config(profile_path("full"))
    assert (full.correlax.window_size, full.correlax.stride, full.correlax.n_masks, full.correlax.mask_cells) == (
        256, 48, 2560, 8)
    assert (full.classifier.epochs, full.classifier.batch_size, full.classifier.focal_alpha) == (50, 48, 0.95)
    assert full.mask_sensitivity == StudyConfig(name="x").mask_sensitivity  # not written in full.yml at all
    tiny = load_study_config(profile_path("tiny"))
    assert (tiny.correlax.window_size, tiny.correlax.stride, tiny.classifier.backbone) == (64, 16, "small_cnn")


def test_values_are_typed_lists_become_tuples_and_integers_floats():
    config = load_study_config(profile_path("tiny"), {"preprocessing.clahe_clip_limits": [1, 3],
                                                      "classifier.crop_scale": [1, 2]})
    assert config.preprocessing.clahe_clip_limits == (1.0, 3.0)
    assert all(isinstance(value, float) for value in config.classifier.crop_scale)
    assert config.baselines.modes == ("whole", "windows")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"correlax.n_mask": 64}, r"mine.yml: unknown key 'correlax.n_mask'; correlax takes \['batch_size'"),
        ({"colour": "red"}, r"unknown key 'colour'; a profile takes"),
        ({"correlax.n_masks": "64"}, r"correlax.n_masks must be an integer, got '64'"),
        ({"correlax.n_masks": 64.0}, r"correlax.n_masks must be an integer, got 64.0"),
        ({"seed": True}, r"seed must be an integer, got True"),
        ({"correlax.mask_shift": 1}, r"correlax.mask_shift must be true or false, got 1"),
        ({"classifier.focal_alpha_form": "lin"}, r"focal_alpha_form must be one of \['alpha_t', 'printed'\]"),
        ({"classifier.crop_scale": [1.0]}, r"classifier.crop_scale must be a list of 2 values"),
        ({"preprocessing.clahe_clip_limits": 2.0}, r"clahe_clip_limits must be a list, got 2.0"),
        ({"baselines.modes": ["whole", "tiles"]}, r"baselines.modes\[1\] must be one of \['whole', 'windows'\]"),
        ({"classifier.pretrained_weights": 3}, r"pretrained_weights must be a string or null, got 3"),
        ({"correlax": 5}, r"correlax must be a mapping of keys, got 5"),
        ({"correlax.mask_sharing": "fresh"}, r"mask_sharing must be one of \['shared', 'per_window'\]"),
        ({"correlax.correlation_dtype": "float16"}, r"correlation_dtype must be one of \['float64', 'float32'\]"),
        ({"correlax.reconstruction": "theirs"}, r"reconstruction must be one of \['centred', 'authors'\]"),
        ({"pointing_game.correlation_above": "0.05"}, r"correlation_above must be a number, got '0.05'"),
    ],
)
def test_a_wrong_key_or_type_names_the_file_and_the_key(tmp_path, overrides, message):
    path = write_profile(tmp_path, profile_path("tiny").read_text())
    with pytest.raises(ConfigError, match=message):
        load_study_config(path, overrides)


def test_errors_in_the_file_itself_name_it(tmp_path):
    with pytest.raises(ConfigError, match=r"bad.yml: unknown key 'correlax.windows'"):
        load_study_config(write_profile(tmp_path, "correlax:\n  windows: 3\n", "bad"))
    with pytest.raises(ConfigError, match=r"bad.yml: 'name' is the file's name"):
        load_study_config(write_profile(tmp_path, "name: other\n", "bad"))
    with pytest.raises(ConfigError, match=r"bad.yml: a profile is a mapping of sections"):
        load_study_config(write_profile(tmp_path, "- 1\n", "bad"))
    with pytest.raises(ConfigError, match=r"bad.yml: not a readable profile"):
        load_study_config(write_profile(tmp_path, "a: [\n", "bad"))


def test_overrides_from_the_command_line_are_yaml_typed_and_dotted():
    pairs = parse_override_pairs([["seed", "3"], ["correlax.n_masks", "64"], ["preprocessing.clahe_clip_limits",
                                                                                 "[1.5, 3]"]])
    assert pairs == {"seed": 3, "correlax.n_masks": 64, "preprocessing.clahe_clip_limits": [1.5, 3]}
    assert nested_overrides(pairs) == {"seed": 3, "correlax": {"n_masks": 64},
                                       "preprocessing": {"clahe_clip_limits": [1.5, 3]}}
    config = load_study_config(profile_path("tiny"), pairs)
    assert (config.seed, config.correlax.n_masks, config.correlax.stride) == (3, 64, 16)  # the rest kept


def test_config_as_dict_is_plain_json():
    values = config_as_dict(CorrelaxConfig())
    assert values["window_size"] == 256 and isinstance(values, dict)
    assert config_as_dict(load_study_config(profile_path("tiny")))["preprocessing"]["clahe_clip_limits"] == [1.0, 2.0]


def test_the_as_run_options_default_to_the_papers_text_and_load_from_overrides():
    default = StudyConfig(name="x")
    assert (default.correlax.mask_sharing, default.correlax.correlation_dtype, default.correlax.undefined_correlation,
            default.correlax.reconstruction, default.pointing_game.correlation_above) == (
        "shared", "float64", "nan", "centred", 0.0)
    config = load_study_config(profile_path("tiny"), {
        "correlax.mask_sharing": "per_window", "correlax.correlation_dtype": "float32",
        "correlax.undefined_correlation": "zero", "correlax.reconstruction": "authors",
        "pointing_game.correlation_above": 0.05})
    assert (config.correlax.mask_sharing, config.correlax.correlation_dtype, config.correlax.undefined_correlation,
            config.correlax.reconstruction, config.pointing_game.correlation_above) == (
        "per_window", "float32", "zero", "authors", 0.05)


def test_the_schemas_choices_are_the_librarys():
    from corrrelax_lib.attribution.correlax import UndefinedCorrelation
    from corrrelax_lib.attribution.masked_windows import CorrelationDtype
    from corrrelax_lib.attribution.masks import MaskSharing
    from corrrelax_lib.windows.reconstruction import Reconstruction

    hints = get_type_hints(CorrelaxConfig)
    for name, alias in [("mask_sharing", MaskSharing), ("correlation_dtype", CorrelationDtype),
                        ("undefined_correlation", UndefinedCorrelation), ("reconstruction", Reconstruction)]:
        assert get_args(hints[name]) == get_args(alias), name


def test_a_profile_extends_another_and_changes_only_what_it_lists(tmp_path):
    write_profile(tmp_path, "seed: 3\ncorrelax:\n  stride: 16\n  n_masks: 32\n", "base")
    child = load_study_config(write_profile(tmp_path, "extends: base\ncorrelax:\n  n_masks: 8\n", "child"))
    assert (child.name, child.seed, child.correlax.stride, child.correlax.n_masks) == ("child", 3, 16, 8)
    with pytest.raises(ConfigError, match=r"loop.yml: extends 'loop', which extends it again"):
        load_study_config(write_profile(tmp_path, "extends: loop\n", "loop"))
    with pytest.raises(ConfigError, match=r"orphan.yml: extends 'nowhere', but there is no nowhere.yml beside it"):
        load_study_config(write_profile(tmp_path, "extends: nowhere\n", "orphan"))


def test_the_as_run_profile_is_tiny_with_the_authors_settings():
    tiny, as_run = (load_study_config(profile_path(name)) for name in ("tiny", "as-run"))
    # The same phantoms; the first half of tiny's test images explained (four times tiny's windows each).
    assert dataclasses.replace(as_run.data, test_images=None) == tiny.data and tiny.data.test_images is None
    assert as_run.data.test_images == 8 and as_run.correlax.window_size == tiny.correlax.window_size == 64
    # The authors' 256 / 32 grid and 32-px offset at tiny's 64-px window; 1,280 of 2,560 masks at tiny's scale.
    assert (as_run.correlax.stride, as_run.pointing_game.tolerance) == (64 * 32 // 256, 64 * 32 // 256)
    assert as_run.correlax.n_masks == tiny.correlax.n_masks * 1280 // 2560
    assert (as_run.classifier.focal_alpha, as_run.classifier.focal_gamma, as_run.classifier.focal_reduction) == (
        0.8, 2.0, "sum")
    assert as_run.pointing_game.correlation_above == 0.05 and as_run.correlax.mask_sharing == "per_window"
