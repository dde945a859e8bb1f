"""Typed dataclasses from plain dicts (YAML, JSON, checkpoint metadata) and back.

`from_dict(cls, data, source)` builds a dataclass, recursively, checking every value against its
annotation: unknown keys, missing required keys and wrongly typed values raise `LsfError` naming
the key and `source` (the file), so a typo in a config never silently trains the wrong model and a
hand-edited checkpoint is refused on load. Ints are accepted for floats, integral floats for ints,
lists for tuples; nothing else is converted. A field whose type has its own `from_dict` /
`to_dict` (the motion scaler, a model config) is loaded and stored through them. `to_dict` is the
inverse (tuples become lists).
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from typing import Any, Literal, TypeVar, Union

from lsf_animation.errors import LsfError

T = TypeVar("T")


def from_dict(
    cls: type[T], data: object, source: str = "config", where: str = "", noun: str = "key"
) -> T:
    """`cls(**data)` with every field checked and nested dataclasses built.

    Args:
        cls: a dataclass.
        data: a mapping of field names to values.
        source: what the data came from, for messages (a file path).
        where: dotted prefix of this section's keys, for messages ("model.sie.").
        noun: what the keys are called in messages ("key", "option").

    Raises:
        LsfError: `data` is not a mapping, has unknown keys, lacks a field without a default, or
            has a value of the wrong type.
    """
    if not isinstance(data, dict):
        raise LsfError(
            f"{source}: {where.rstrip('.') or 'the config'} must be a mapping, got {data!r}"
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise LsfError(
            f"unknown {noun}(s) {', '.join(where + str(k) for k in unknown)} in {source}; "
            f"known here: {', '.join(sorted(fields))}"
        )
    missing = [
        name
        for name, f in fields.items()
        if name not in data
        and f.init
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise LsfError(f"missing {noun}(s) {', '.join(where + k for k in missing)} in {source}")
    kwargs = {k: _coerce(hints[k], v, source, where + k) for k, v in data.items()}
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, source: str, key: str) -> Any:
    """Check (and gently convert) `value` against the annotation `tp`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, source, key)
            except LsfError as err:
                errors.append(str(err))
        raise LsfError(errors[0] if len(errors) == 1 else f"{source}: {key}={value!r} is invalid")
    if origin is Literal:
        if value in args:
            return value
        raise LsfError(f"{source}: {key} must be one of {list(args)}, got {value!r}")
    load = getattr(tp, "from_dict", None) if isinstance(tp, type) else None
    if callable(load):
        try:  # a type that loads (and validates) itself from its stored form
            return load(value)
        except LsfError as err:
            raise LsfError(f"{source}: {key}: {err}") from err
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_dict(tp, value, source, key + ".")
    if origin is dict:
        if not isinstance(value, dict):
            raise LsfError(f"{source}: {key} must be a mapping, got {value!r}")
        if args and args[1] not in (Any, object):
            return {k: _coerce(args[1], v, source, f"{key}.{k}") for k, v in value.items()}
        return copy.deepcopy(value)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise LsfError(f"{source}: {key} must be a list, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [_coerce(args[0], v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        elif origin is tuple:
            if len(value) != len(args):
                raise LsfError(
                    f"{source}: {key} must be a list of {len(args)} values, got {value!r}"
                )
            items = [
                _coerce(a, v, source, f"{key}[{i}]")
                for i, (a, v) in enumerate(zip(args, value, strict=True))
            ]
        else:
            item_type = args[0] if args else Any
            items = [_coerce(item_type, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is float:
        if isinstance(value, bool):
            raise LsfError(f"{source}: {key} must be a number, got {value!r}")
        try:
            return float(value)  # also "1e-5", which YAML 1.1 reads as a string
        except (TypeError, ValueError) as err:
            raise LsfError(f"{source}: {key} must be a number, got {value!r}") from err
    if tp is int:
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        ):
            raise LsfError(f"{source}: {key} must be an integer, got {value!r}")
        return int(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise LsfError(f"{source}: {key} must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise LsfError(f"{source}: {key} must be a string, got {value!r}")
        return str(value)
    return value


OMIT_IF_DEFAULT = "omit_if_default"
"""Field metadata key: a field added to a stored format is left out of `to_dict` while it has
its default, so data written before it existed round-trips unchanged."""


def to_dict(obj: object) -> Any:
    """A dataclass (or containers of them) as plain dicts and lists, e.g. for YAML or a
    checkpoint; tuples become lists, and nested values with their own `to_dict` use it. Fields
    marked `OMIT_IF_DEFAULT` are left out while they hold their default."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: _stored(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not (f.metadata.get(OMIT_IF_DEFAULT) and getattr(obj, f.name) == f.default)
        }
    return _stored(obj)


def _stored(value: object) -> Any:
    if not isinstance(value, type) and callable(getattr(value, "to_dict", None)):
        return value.to_dict()  # type: ignore[attr-defined]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, dict):
        return {k: _stored(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stored(v) for v in value]
    return copy.deepcopy(value)
