from corrrelax_lib.config import load_study_config
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.paths import profile_path
from corrrelax_lib.training.config import TrainingConfig, study_training_config

BASE = TrainingConfig(backbone="resnet18", labels=("Mass",), dataset="phantom-tiny", crop_size=32, epochs=2)


def test_fingerprint_changes_with_every_result_parameter_but_not_with_workers():
    assert BASE.fingerprint() == TrainingConfig.from_dict(BASE.as_dict()).fingerprint()
    assert BASE.fingerprint() != TrainingConfig(**{**BASE.__dict__, "epochs": 3}).fingerprint()
    assert BASE.fingerprint() != TrainingConfig(**{**BASE.__dict__, "focal_gamma": 0.0}).fingerprint()
    assert BASE.fingerprint() == TrainingConfig(**{**BASE.__dict__, "num_workers": 4}).fingerprint()


def test_round_trip_restores_tuples():
    assert TrainingConfig.from_dict(BASE.as_dict()) == BASE


def test_study_training_config_reads_the_classifier_and_preprocessing_sections():
    study = load_study_config(profile_path("tiny"))
    config = study_training_config(study, "abc")
    assert config.labels == LABELS and config.data_fingerprint == "abc"
    classifier = study.classifier
    assert (config.backbone, config.epochs, config.crop_size) == (classifier.backbone, classifier.epochs,
                                                                  classifier.crop_size)
    assert config.crop_scale == classifier.crop_scale and config.focal_alpha_form == "alpha_t"
    assert config.clahe_clip_limits == study.preprocessing.clahe_clip_limits and config.seed == study.seed
    changed = study_training_config(load_study_config(profile_path("tiny"), {"classifier.epochs": 3}), "abc")
    assert changed.fingerprint() != config.fingerprint()
