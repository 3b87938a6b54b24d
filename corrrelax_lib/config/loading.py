"""Read a profile file into a :class:`~corrrelax_lib.config.schema.StudyConfig`, checking every key and type.

A profile is YAML with one mapping per section of :class:`StudyConfig` (``classifier:``,
``correlax:``, ...) and the run-wide ``description``, ``seed`` and ``device``; ``extends: tiny`` starts
from the profile ``tiny.yml`` beside it and changes only what the file lists. Overrides use dotted
keys, ``{"correlax.n_masks": 64}`` (the command line's ``-p correlax.n_masks 64``). An unknown key,
a missing section mapping or a value of the wrong type is a :class:`ConfigError` that names the
profile file and the key; integers are accepted where floats are expected, and lists where tuples are.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from corrrelax_lib.config.schema import StudyConfig

T = TypeVar("T")


class ConfigError(ValueError):
    """A profile (or an override) that does not fit the schema; the message names the file and the key."""


def load_study_config(
    path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None,
) -> StudyConfig:
    """Read ``path`` (``<name>.yml``; ``name`` becomes ``StudyConfig.name``) and apply ``overrides``.

    Args:
        path: the profile file.
        overrides: dotted keys (``"correlax.n_masks"``) or nested mappings, applied over the file's values.

    Raises:
        ConfigError: unreadable YAML, an unknown key, or a value of the wrong type (file and key named).

    >>> load_study_config("book/profiles/tiny.yml", {"correlax.n_masks": 64}).correlax.n_masks  # doctest: +SKIP
    64
    """
    path = Path(path)
    merged = _merge(_read_spec(path), nested_overrides(overrides or {}))
    return _build(StudyConfig, {"name": path.stem, **merged}, str(path), "")


def _read_spec(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A profile's mapping, with ``extends: <profile>`` (a file beside it) read first and overridden key by key."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: not a readable profile ({error})") from error
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: a profile is a mapping of sections, got {type(spec).__name__}")
    if "name" in spec:
        raise ConfigError(f"{path}: 'name' is the file's name ({path.stem!r}), not a key of the profile")
    base = spec.pop("extends", None)
    if base is None:
        return spec
    base_path = path.with_name(f"{base}.yml")
    if base_path in (path, *seen):
        raise ConfigError(f"{path}: extends {base!r}, which extends it again")
    if not base_path.is_file():
        raise ConfigError(f"{path}: extends {base!r}, but there is no {base_path.name} beside it")
    return _merge(_read_spec(base_path, (*seen, path)), spec)


def parse_override_pairs(pairs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """``[["correlax.n_masks", "64"], ["device", "cuda"]]`` -> ``{"correlax.n_masks": 64, "device": "cuda"}``:
    values typed as YAML reads them (the command line's ``-p NAME VALUE``)."""
    return {name: yaml.safe_load(value) for name, value in pairs}


def nested_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``{"correlax.n_masks": 64, "seed": 1}`` -> ``{"correlax": {"n_masks": 64}, "seed": 1}``."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        *sections, name = str(key).split(".")
        target = nested
        for section in sections:
            target = target.setdefault(section, {})
        target[name] = value
    return nested


def config_as_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON values (tuples as lists), e.g. for a cache key or a sidecar record."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(cls: type[T], values: Mapping[str, Any], source: str) -> T:
    """The frozen dataclass ``cls`` from JSON values (:func:`config_as_dict`'s: lists for tuples, mappings for
    nested dataclasses), each checked and converted as a profile's are; absent keys take their defaults.

    Raises:
        ConfigError: an unknown key or a value of the wrong type; the message names ``source`` and the key.

    >>> config_from_dict(StudyConfig, {"name": "tiny", "preprocessing": {"clahe_clip_limits": [1, 3]}},
    ...                  "config.json").preprocessing.clahe_clip_limits
    (1.0, 3.0)
    """
    return _build(cls, values, source, "")


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied, mappings merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(cls: type[T], values: Any, where: str, prefix: str) -> T:
    """An instance of the dataclass ``cls`` from a mapping, every field converted to its annotated type."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: {prefix.rstrip('.') or 'the profile'} must be a mapping of keys, "
                          f"got {values!r}")
    known = {field.name: field for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key {prefix + unknown[0]!r}; "
                          f"{prefix.rstrip('.') or 'a profile'} takes {sorted(known)}")
    hints = get_type_hints(cls)
    converted = {name: _convert(hints[name], value, where, prefix + name) for name, value in values.items()}
    missing = [name for name, field in known.items() if name not in converted
               and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where}: missing key {prefix + missing[0]!r}")
    return cls(**converted)


def _convert(annotation: Any, value: Any, where: str, key: str) -> Any:
    """``value`` as ``annotation`` (a dataclass, bool, int, float, str, ``X | None``, Literal or tuple)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if dataclasses.is_dataclass(annotation):
        return _build(annotation, value, where, key + ".")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [option for option in args if option is not type(None)]
        if len(options) == 1:
            try:
                return _convert(options[0], value, where, key)
            except ConfigError:
                pass  # said below, with "or null"
    elif origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: {key} must be one of {list(args)}, got {value!r}")
    elif origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: {key} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], item, where, f"{key}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: {key} must be a list of {len(args)} values, got {value!r}")
        return tuple(_convert(kind, item, where, f"{key}[{i}]") for i, (kind, item) in enumerate(zip(args, value,
                                                                                                    strict=True)))
    elif annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif annotation is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"{key}: the schema uses an unsupported type {annotation!r}")
    raise ConfigError(f"{where}: {key} must be {_describe(annotation)}, got {value!r}")


def _describe(annotation: Any) -> str:
    """A type as the error message says it: ``an integer``, ``a number or null``, ..."""
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join("null" if option is type(None) else _describe(option) for option in get_args(annotation))
    return names.get(annotation, str(annotation))
