from dataclasses import replace

import pytest

from corrrelax_lib.config import ConfigError, ImagePreprocessing, load_study_config
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.paths import profile_path
from corrrelax_lib.training.config import TrainingConfig, study_training_config

BASE = TrainingConfig(backbone="resnet18", labels=("Mass",), dataset="phantom-tiny", crop_size=32, epochs=2)

#: Each option where the authors' code differs from the paper's text, set the authors' way.
AUTHORS_OPTIONS = {
    "focal_reduction": "sum", "weight_decay": 1e-5, "sample_weight": "sum", "augmentation": "authors",
    "input_normalisation": "none", "head_output_bias": False,
}
AUTHORS_PREPROCESSING = {"apply_voi_lut": True, "clahe_histogram": "8-bit", "clahe_background": "zero"}


def test_fingerprint_changes_with_every_result_parameter_but_not_with_workers():
    assert BASE.fingerprint() == TrainingConfig.from_dict(BASE.as_dict()).fingerprint()
    assert BASE.fingerprint() != TrainingConfig(**{**BASE.__dict__, "epochs": 3}).fingerprint()
    assert BASE.fingerprint() != TrainingConfig(**{**BASE.__dict__, "focal_gamma": 0.0}).fingerprint()
    assert BASE.fingerprint() == TrainingConfig(**{**BASE.__dict__, "num_workers": 4}).fingerprint()


@pytest.mark.parametrize(("name", "value"), [*AUTHORS_OPTIONS.items(), *(
    ("preprocessing", replace(ImagePreprocessing(), **{key: value})) for key, value in AUTHORS_PREPROCESSING.items())])
def test_every_as_run_option_changes_the_fingerprint(name, value):
    changed = replace(BASE, **{name: value})
    assert changed.fingerprint() != BASE.fingerprint()
    assert TrainingConfig.from_dict(changed.as_dict()) == changed


def test_round_trip_restores_tuples_and_the_preprocessing():
    assert TrainingConfig.from_dict(BASE.as_dict()) == BASE
    assert isinstance(TrainingConfig.from_dict(BASE.as_dict()).preprocessing.clahe_clip_limits, tuple)


def test_a_record_with_a_wrong_value_is_refused():
    with pytest.raises(ConfigError, match="focal_reduction must be one of"):
        TrainingConfig.from_dict({**BASE.as_dict(), "focal_reduction": "average"})


def test_study_training_config_reads_the_classifier_and_preprocessing_sections():
    study = load_study_config(profile_path("tiny"))
    config = study_training_config(study, "abc")
    assert config.labels == LABELS and config.data_fingerprint == "abc"
    classifier = study.classifier
    assert (config.backbone, config.epochs, config.crop_size) == (classifier.backbone, classifier.epochs,
                                                                  classifier.crop_size)
    assert config.crop_scale == classifier.crop_scale and config.focal_alpha_form == "alpha_t"
    assert config.preprocessing == ImagePreprocessing.of(study.preprocessing) and config.seed == study.seed
    assert type(config.preprocessing) is ImagePreprocessing  # without the external scans' height
    changed = study_training_config(load_study_config(profile_path("tiny"), {"classifier.epochs": 3}), "abc")
    assert changed.fingerprint() != config.fingerprint()


def test_study_training_config_carries_every_as_run_option():
    overrides = {**{f"classifier.{key}": value for key, value in AUTHORS_OPTIONS.items()},
                 **{f"preprocessing.{key}": value for key, value in AUTHORS_PREPROCESSING.items()}}
    config = study_training_config(load_study_config(profile_path("tiny"), overrides), "abc")
    assert {key: getattr(config, key) for key in AUTHORS_OPTIONS} == AUTHORS_OPTIONS
    assert config.preprocessing == replace(ImagePreprocessing(), **AUTHORS_PREPROCESSING)
    # The external scans' height is not part of what a classifier is trained on.
    other_height = load_study_config(profile_path("tiny"), {"preprocessing.external_image_height": 100})
    assert study_training_config(other_height, "abc") == study_training_config(load_study_config(profile_path("tiny")),
                                                                               "abc")
