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
    """Read back what snapshot_document wrote; a wrong shape is a SnapshotFileError that
    names the JSON path, so a hand-edited file fails with one line, not deep in a rule."""
    if not isinstance(document, dict) or "host" not in document:
        raise SnapshotFileError(source, "not a kvmtui snapshot (no 'host' object)")
    schema = document.get("schema")
    if schema == 1:
        document = _from_schema_1(document)
    elif schema != SCHEMA_VERSION:
        raise SnapshotFileError(source, f"schema {schema!r} is not the supported {SCHEMA_VERSION}")
    body = {k: v for k, v in document.items() if k in _field_names(Snapshot)}
    try:
        return _build(Snapshot, body, "")
    except _Malformed as exc:
        raise SnapshotFileError(source, str(exc)) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise SnapshotFileError(source, f"malformed snapshot: {exc}") from None


def _from_schema_1(document: dict) -> dict:
    """Schema 1 named a bond link's LACP rate `lacp_rate`; recordings made then still open."""
    links = []
    for link in document.get("links") or ():
        info = link.get("info_data") if isinstance(link, dict) else None
        if isinstance(info, dict) and link.get("kind") == "bond" and "lacp_rate" in info:
            info = {("ad_lacp_rate" if key == "lacp_rate" else key): value for key, value in info.items()}
            link = {**link, "info_data": info}
        links.append(link)
    return {**document, "links": links} if "links" in document else document


class _Malformed(Exception):
    """A value of the wrong type at a JSON path ("links[1].mtu: expected ...")."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path or 'the document'}: {reason}")


_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
          list: "a list", dict: "an object", type(None): "null"}


def _expected(hint: Any, value: Any, path: str) -> _Malformed:
    return _Malformed(path, f"expected {_WORDS.get(hint, getattr(hint, '__name__', str(hint)))}, "
                            f"got {_WORDS.get(type(value), type(value).__name__)}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@cache
def _required(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls)
                 if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)


def _build(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise _expected(dict, data, path)
    hints = _hints(cls)
    kwargs = {}
    prefix = f"{path}." if path else ""
    for name in _required(cls):
        if name not in data:
            raise _Malformed(path, f"'{name}' is missing")
    for name in _field_names(cls):
        if name not in data:
            continue
        where = prefix + name
        if cls is Link and name in ("info_data", "info_slave_data"):
            table, key = (INFO_DATA_CLASSES, data.get("kind")) if name == "info_data" else (SLAVE_DATA_CLASSES, data.get("slave_kind"))
            value = data[name]
            kwargs[name] = None if value is None or key not in table else _build(table[key], value, where)
        else:
            kwargs[name] = _convert(hints[name], data[name], where)
    return cls(**kwargs)


def _convert(hint: Any, value: Any, path: str) -> Any:
    """`value` as the model holds `hint`, checked on the way: rules trust these types."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise _expected(options[0], value, path)
        return _convert(next(arg for arg in options if arg is not type(None)), value, path)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list):
            raise _expected(list, value, path)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], item, f"{path}[{n}]") for n, item in enumerate(value))
        if len(value) != len(args):
            raise _Malformed(path, f"expected a list of {len(args)}, got {len(value)}")
        return tuple(_convert(arg, item, f"{path}[{n}]") for n, (arg, item) in enumerate(zip(args, value)))
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, float, bool):
        if type(value) is not hint:  # bool is an int to Python, not to this file
            raise _expected(hint, value, path)
        return value
    if hint is Any:
        return value
    raise _Malformed(path, f"cannot read a field of type {hint}")
