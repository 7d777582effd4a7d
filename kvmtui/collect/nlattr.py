"""Reading netlink attribute payloads: the small vocabulary the decoders share."""

from __future__ import annotations

import socket
import struct

_U16 = struct.Struct("=H").unpack_from
_U32 = struct.Struct("=I").unpack_from
_BE16 = struct.Struct("!H").unpack_from
_I32 = struct.Struct("=i").unpack_from

Span = tuple[int, int]  # (offset, length) of a payload inside a buffer


def u8(data: bytes, span: Span) -> int:
    return data[span[0]]


def u16(data: bytes, span: Span) -> int:
    return _U16(data, span[0])[0]


def be16(data: bytes, span: Span) -> int:
    return _BE16(data, span[0])[0]


def u32(data: bytes, span: Span) -> int:
    return _U32(data, span[0])[0]


def i32(data: bytes, span: Span) -> int:
    return _I32(data, span[0])[0]


def string(data: bytes, span: Span) -> str:
    raw = data[span[0] : span[0] + span[1]]
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def mac(data: bytes, span: Span) -> str:
    return data[span[0] : span[0] + span[1]].hex(":")


def ip_address(data: bytes, span: Span) -> str:
    """An IPv4 or IPv6 address in its usual text form, by payload length."""
    raw = data[span[0] : span[0] + span[1]]
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw)


def opt(decode, data: bytes, attrs: dict[int, Span], kind: int, default=None):
    """decode(attrs[kind]) when the attribute is present, else default."""
    span = attrs.get(kind)
    return default if span is None else decode(data, span)
