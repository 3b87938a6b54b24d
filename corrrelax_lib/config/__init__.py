"""A study's typed settings: the schema (one frozen dataclass per stage) and reading a profile into it.

Modules: ``schema`` (the dataclasses, with the paper's settings as defaults) and ``loading``
(a profile file, plus overrides, into a validated :class:`StudyConfig`).
"""

from corrrelax_lib.config.loading import (
    ConfigError,
    config_as_dict,
    config_from_dict,
    load_study_config,
    nested_overrides,
    parse_override_pairs,
)
from corrrelax_lib.config.schema import (
    BaselinesConfig,
    ClassifierConfig,
    CorrelaxConfig,
    DataConfig,
    ExplorerConfig,
    ImagePreprocessing,
    LemConfig,
    MaskSensitivityConfig,
    MldamConfig,
    ModelSelectionConfig,
    PointingGameConfig,
    PreprocessingConfig,
    StudyConfig,
)

__all__ = [
    "BaselinesConfig",
    "ClassifierConfig",
    "ConfigError",
    "CorrelaxConfig",
    "DataConfig",
    "ExplorerConfig",
    "ImagePreprocessing",
    "LemConfig",
    "MaskSensitivityConfig",
    "MldamConfig",
    "ModelSelectionConfig",
    "PointingGameConfig",
    "PreprocessingConfig",
    "StudyConfig",
    "config_as_dict",
    "config_from_dict",
    "load_study_config",
    "nested_overrides",
    "parse_override_pairs",
]
