"""Read-only enforced by the kernel, not only by our code.

With --readonly the process drops CAP_NET_ADMIN from its effective set before any
other thread exists (capabilities are per thread and inherited at creation), so a
netlink change fails with EPERM whatever code asks for it. The capability stays in
the permitted set for one reason: the kernel prints the LACP details of
/proc/net/bonding (partner MAC, keys, system ids) only to a CAP_NET_ADMIN reader,
and audits need them. `reading_bonding_files()` raises it in the calling thread for
the duration of those file reads only.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator

CAP_NET_ADMIN = 12
_VERSION_3 = 0x20080522
_libc = ctypes.CDLL(None, use_errno=True)


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_dropped = False


def _get() -> tuple[_Header, ctypes.Array]:
    header, data = _Header(_VERSION_3, 0), (_Data * 2)()
    if _libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return header, data


def _set_effective(on: bool) -> bool:
    header, data = _get()
    bit = 1 << CAP_NET_ADMIN
    if not data[0].permitted & bit:
        return False  # never had it (not root): nothing to drop or raise
    data[0].effective = data[0].effective | bit if on else data[0].effective & ~bit
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return True


def has_net_admin() -> bool:
    return bool(_get()[1][0].effective & (1 << CAP_NET_ADMIN))


def drop_net_admin() -> None:
    """Call first thing in a --readonly process, before any thread starts."""
    global _dropped
    _set_effective(False)
    _dropped = True


@contextlib.contextmanager
def reading_bonding_files() -> Iterator[None]:
    """CAP_NET_ADMIN for this thread while it reads bonding files (LACP details)."""
    raised = _dropped and _set_effective(True)
    try:
        yield
    finally:
        if raised:
            _set_effective(False)


def process_is_readonly() -> bool:
    """The one answer to "may this process change the host?": not once --readonly dropped
    CAP_NET_ADMIN (the executor and every backend ask this, whatever their callers say)."""
    return _dropped
