from corrrelax_lib.book.profiles import load_profile
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.training.config import TrainingConfig, profile_training_config

BASE = TrainingConfig(backbone="resnet18", labels=("Mass",), dataset="phantom-tiny", crop_size=32, epochs=2)


def test_fingerprint_changes_with_every_result_parameter_but_not_with_workers():
    assert BASE.fingerprint() == TrainingConfig.from_dict(BASE.as_dict()).fingerprint()
    assert BASE.fingerprint() != TrainingConfig(**{**BASE.__dict__, "epochs": 3}).fingerprint()
    assert BASE.fingerprint() != TrainingConfig(**{**BASE.__dict__, "focal_gamma": 0.0}).fingerprint()
    assert BASE.fingerprint() == TrainingConfig(**{**BASE.__dict__, "num_workers": 4}).fingerprint()


def test_round_trip_restores_tuples():
    assert TrainingConfig.from_dict(BASE.as_dict()) == BASE


def test_profile_training_config_reads_the_profile_and_ignores_other_names():
    parameters = load_profile("tiny").notebook_parameters()
    config = profile_training_config({**parameters, "unrelated": object()}, "abc")
    assert config.labels == LABELS and config.data_fingerprint == "abc"
    assert (config.backbone, config.epochs, config.crop_size) == (parameters["backbone"], parameters["epochs"],
                                                                  parameters["crop_size"])
    assert config.crop_scale == tuple(parameters["crop_scale"])
    changed = profile_training_config({**parameters, "epochs": parameters["epochs"] + 1}, "abc")
    assert changed.fingerprint() != config.fingerprint()
