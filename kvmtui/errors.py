"""Typed errors with a sentence a user understands; the CLI prints `str(error)`."""

from __future__ import annotations

import errno
import os


class KvmtuiError(Exception):
    """A problem the user can act on. Never shown as a traceback."""


class NamespaceNotFound(KvmtuiError):
    def __init__(self, name: str):
        super().__init__(f"network namespace {name!r} does not exist (see `ip netns list`)")
        self.name = name


class LibvirtUnavailable(KvmtuiError):
    def __init__(self, uri: str, reason: str):
        super().__init__(f"cannot connect to libvirt at {uri}: {reason}")
        self.uri = uri
        self.reason = reason


class NetlinkError(KvmtuiError):
    """A kernel refusal, with its errno turned into words."""

    _WORDS = {
        errno.EPERM: "permission denied: this needs root (CAP_NET_ADMIN)",
        errno.EACCES: "permission denied",
        errno.ENODEV: "no such device",
        errno.EEXIST: "a device with that name already exists",
        errno.EBUSY: "the device is busy (already enslaved or in use)",
        errno.EOPNOTSUPP: "the kernel does not support this (module missing?)",
        errno.EINVAL: "the kernel rejected the request as invalid",
        errno.ERANGE: "a value is out of the range the kernel accepts",
        errno.ENOBUFS: "the kernel dropped netlink messages (buffer overflow)",
    }

    def __init__(self, code: int, what: str):
        words = self._WORDS.get(code) or os.strerror(code)
        super().__init__(f"{what}: {words}")
        self.errno = code
        self.what = what


class SnapshotFileError(KvmtuiError):
    def __init__(self, path: str, reason: str):
        super().__init__(f"cannot read snapshot {path}: {reason}")


class InterfaceNotFound(KvmtuiError):
    def __init__(self, name: str, netns: str | None = None):
        where = f"network namespace {netns!r}" if netns else "this network namespace"
        super().__init__(f"there is no interface {name!r} in {where} (see `ip link`)")
        self.name = name


class LibvirtRefused(KvmtuiError):
    """libvirt refused a step: the command as virsh would say it, and libvirt's own words.
    `code` is libvirt's error number (VIR_ERR_NO_NETWORK: the network is gone)."""

    def __init__(self, command: str, reason: str, code: int | None = None):
        super().__init__(f"{command}: {reason}")
        self.command, self.reason, self.code = command, reason, code
