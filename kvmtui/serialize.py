"""Snapshot <-> JSON. Generic over the model's frozen dataclasses, so a field added
to the model appears in `kvmtui dump --json` and reads back with `--from` without
touching this module. The format is documented in docs/dump-json.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import stat
import types
import typing
from functools import cache
from typing import Any

from kvmtui.errors import SnapshotFileError
from kvmtui.model import INFO_DATA_CLASSES, SCHEMA_VERSION, SLAVE_DATA_CLASSES, Link, Snapshot

# A recording of a 1,000-link host with guests is a few MB; anything past this is not one.
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024


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


def read_snapshot_file(path: str) -> Snapshot:
    """A recording made with `kvmtui dump --json`. Only a regular file up to
    MAX_SNAPSHOT_BYTES is read (a FIFO would block, /dev/zero never ends); anything
    wrong with it is a SnapshotFileError, one line, never a traceback."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once, to be refused below
    except OSError as exc:
        raise SnapshotFileError(path, exc.strerror or str(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SnapshotFileError(path, f"not a regular file (a {_file_type(info.st_mode)}): give a file written by "
                                          "`kvmtui dump --json`")
        size = info.st_size
        with os.fdopen(os.dup(fd), "rb") as handle:  # a file that grows while read stops at the cap too
            data = handle.read(MAX_SNAPSHOT_BYTES + 1) if size <= MAX_SNAPSHOT_BYTES else b""
    except OSError as exc:
        raise SnapshotFileError(path, exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if max(size, len(data)) > MAX_SNAPSHOT_BYTES:
        raise SnapshotFileError(path, f"larger than {MAX_SNAPSHOT_BYTES >> 20} MiB, more than any host's recording")
    return snapshot_from_document(_parse_json(data, path), path)


def _file_type(mode: int) -> str:
    for test, word in ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return word
    return "special file"


_MAX_DIGITS = 4300  # Python's int_max_str_digits default; also far past any 64-bit number


def _parse_json(data: bytes, path: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SnapshotFileError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotFileError(path, f"not JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise SnapshotFileError(path, f"not a kvmtui snapshot: lists or objects nested too deeply "
                                      f"(line {_line_of(text, _too_deep(text))})") from None
    except ValueError as exc:  # an integer past Python's digit limit
        huge = re.search(rf"\d{{{_MAX_DIGITS},}}", text)
        where = f" at line {_line_of(text, huge.start())}" if huge else ""
        raise SnapshotFileError(path, f"a number of more than {_MAX_DIGITS} digits{where}" if huge
                                else f"not JSON ({exc})") from None


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _too_deep(text: str, limit: int = 500) -> int:
    """Where the nesting first passes `limit` (strings skipped); only run once json gave up."""
    depth = 0
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', text):
        token = match[0]
        if token in "[{":
            depth += 1
            if depth > limit:
                return match.start()
        elif token in "]}":
            depth -= 1
    return 0


def snapshot_from_document(document: Any, source: str = "<json>") -> Snapshot:
    """Read back what snapshot_document wrote; a wrong shape is a SnapshotFileError that
    names the JSON path, so a hand-edited file fails with one line, not deep in a rule."""
    if not isinstance(document, dict) or "host" not in document:
        raise SnapshotFileError(source, "not a kvmtui snapshot (no 'host' object)")
    schema = document.get("schema")
    if schema == 1:
        document = _from_schema_1(document)
    elif schema not in (2, SCHEMA_VERSION):  # 3 only added to 2: a 2 reads as it is
        raise SnapshotFileError(source, f"schema {schema!r} is not the supported {SCHEMA_VERSION}")
    body = {k: v for k, v in document.items() if k in _field_names(Snapshot)}
    try:
        snapshot = _build(Snapshot, body, "")
        _check_consistent(snapshot)
        return snapshot
    except _Malformed as exc:
        raise SnapshotFileError(source, str(exc)) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise SnapshotFileError(source, f"malformed snapshot: {exc}") from None


def _from_schema_1(document: dict) -> dict:
    """Schema 1 named a bond link's LACP rate `lacp_rate`; recordings made then still open."""
    if not isinstance(document.get("links", []), list):
        return document  # _build names the field
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
        value = float(value) if abs(value) < 2 ** 64 else math.inf
    if hint in (str, int, float, bool):
        if type(value) is not hint:  # bool is an int to Python, not to this file
            raise _expected(hint, value, path)
        _check_value(value, path)
        return value
    if hint is Any:
        return value
    raise _Malformed(path, f"cannot read a field of type {hint}")


# What the kernel and libvirt can hand over: 64-bit numbers, text without terminal controls.
_INT_RANGE = (-(2 ** 63), 2 ** 64 - 1)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _check_value(value: Any, path: str) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise _Malformed(path, "a number outside the 64-bit range")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Malformed(path, "a number outside the 64-bit range" if abs(value) == math.inf else "not a number")
    if isinstance(value, str):
        control = _CONTROL.search(value)
        if control:
            raise _Malformed(path, f"holds the control character {control[0]!r}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Malformed(path, "holds a lone UTF-16 surrogate (\\ud800-\\udfff), not text") from None


def _check_consistent(snapshot: Snapshot) -> None:
    """What the types alone do not say but topology, audit and plans rely on: a port's data is
    its master's kind (bond data under a bond), and a guest NIC's XML is one element."""
    from kvmtui.libvirt_xml import LibvirtXmlError, check_element_xml

    for number, link in enumerate(snapshot.links):
        master = snapshot.link(link.master)
        if (link.info_slave_data is not None and master is not None and master.kind in SLAVE_DATA_CLASSES
                and link.slave_kind != master.kind):
            raise _Malformed(f"links[{number}].slave_kind", f"{link.slave_kind!r} port data, but its master "
                                                            f"{master.ifname} is a {master.kind}")
    for number, domain in enumerate(snapshot.domains):
        if domain.uuid and not _UUID.fullmatch(domain.uuid):  # tree keys hold it between colons
            raise _Malformed(f"domains[{number}].uuid", f"{domain.uuid!r} is not a UUID")
        for field in ("interfaces", "defined_interfaces"):
            for index, nic in enumerate(getattr(domain, field)):
                if nic.xml is None:
                    continue
                try:
                    check_element_xml(nic.xml, _NIC_TAGS)
                except LibvirtXmlError as exc:
                    raise _Malformed(f"domains[{number}].{field}[{index}].xml", str(exc)) from None


_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_NIC_TAGS = ("interface", "hostdev")  # DomainInterface.xml: a devices/interface, or an LXC hostdev NIC
