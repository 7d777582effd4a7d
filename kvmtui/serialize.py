"""Snapshot <-> JSON. Generic over the model's frozen dataclasses, so a field added
to the model appears in `kvmtui dump --json` and reads back with `--from` without
touching this module. The format is documented in docs/dump-json.md.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any

from kvmtui.errors import SnapshotFileError
from kvmtui.model import INFO_DATA_CLASSES, SCHEMA_VERSION, SLAVE_DATA_CLASSES, Link, Snapshot


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def to_jsonable(value: Any) -> Any:
    """Dataclasses become objects, tuples become lists; everything else is already JSON."""
    if dataclasses.is_dataclass(value):
        return {name: to_jsonable(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, (tuple, list)):
        return [to_jsonable(item) for item in value]
    return value


def snapshot_document(snapshot: Snapshot, tree: list[dict] | None = None) -> dict:
    """The top-level JSON document: schema version, the snapshot's fields, and the tree."""
    document: dict[str, Any] = {"schema": SCHEMA_VERSION}
    document.update(to_jsonable(snapshot))
    document.pop("monotonic", None)
    if tree is not None:
        document["tree"] = tree
    return document


def snapshot_from_document(document: Any, source: str = "<json>") -> Snapshot:
    """Read back what snapshot_document wrote; a wrong shape is a SnapshotFileError."""
    if not isinstance(document, dict) or "host" not in document:
        raise SnapshotFileError(source, "not a kvmtui snapshot (no 'host' object)")
    schema = document.get("schema")
    if schema != SCHEMA_VERSION:
        raise SnapshotFileError(source, f"schema {schema!r} is not the supported {SCHEMA_VERSION}")
    body = {k: v for k, v in document.items() if k in _field_names(Snapshot)}
    try:
        return _build(Snapshot, body)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise SnapshotFileError(source, f"malformed snapshot: {exc}") from None


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, data: dict) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} must be an object, not {type(data).__name__}")
    hints = _hints(cls)
    kwargs = {}
    for name in _field_names(cls):
        if name not in data:
            continue
        if cls is Link and name in ("info_data", "info_slave_data"):
            table, key = (INFO_DATA_CLASSES, data.get("kind")) if name == "info_data" else (SLAVE_DATA_CLASSES, data.get("slave_kind"))
            value = data[name]
            kwargs[name] = None if value is None or key not in table else _build(table[key], value)
        else:
            kwargs[name] = _convert(hints[name], data[name])
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(options[0], value)
    if origin is tuple:
        item_hint = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return tuple(_convert(item_hint, item) for item in value)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value)
    return value
