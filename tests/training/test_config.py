from corrrelax_lib.training.config import TrainingConfig

BASE = TrainingConfig(backbone="resnet18", labels=("Mass",), dataset="phantom-tiny", crop_size=32, epochs=2)


def test_fingerprint_changes_with_every_result_parameter_but_not_with_workers():
    assert BASE.fingerprint() == TrainingConfig.from_dict(BASE.as_dict()).fingerprint()
    assert BASE.fingerprint() != TrainingConfig(**{**BASE.__dict__, "epochs": 3}).fingerprint()
    assert BASE.fingerprint() != TrainingConfig(**{**BASE.__dict__, "focal_gamma": 0.0}).fingerprint()
    assert BASE.fingerprint() == TrainingConfig(**{**BASE.__dict__, "num_workers": 4}).fingerprint()


def test_round_trip_restores_tuples():
    assert TrainingConfig.from_dict(BASE.as_dict()) == BASE
