"""Run collection code inside a named network namespace without moving the process.

setns(2) changes only the calling thread's namespace, and a socket stays in the
namespace it was created in; so a short-lived thread enters the namespace, does
its work (open sockets, read /proc/thread-self/net/...), and exits.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from kvmtui.errors import KvmtuiError, NamespaceNotFound

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"

_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(name: str) -> str:
    if not name or "/" in name or name in (".", ".."):
        raise NamespaceNotFound(name)
    return os.path.join(NETNS_RUN_DIR, name)


def run_in_netns(name: str | None, fn: Callable[[], T]) -> T:
    """Call `fn` in network namespace `name` (None: the current one) and return its result."""
    if name is None:
        return fn()
    path = netns_path(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NamespaceNotFound(name) from None
    except PermissionError:
        raise KvmtuiError(f"cannot open network namespace {name!r}: permission denied (needs root)") from None
    outcome: dict[str, object] = {}

    def enter_and_run() -> None:
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                why = "permission denied (needs root)" if err == errno.EPERM else os.strerror(err)
                raise KvmtuiError(f"cannot enter network namespace {name!r}: {why}")
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    try:
        thread = threading.Thread(target=enter_and_run, name=f"netns:{name}", daemon=True)
        thread.start()
        thread.join()
    finally:
        os.close(fd)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def proc_net_dir(name: str | None) -> str:
    """The /proc/net of the namespace the calling thread is in (run_in_netns enters it per thread)."""
    return "/proc/thread-self/net" if name else "/proc/net"


def netns_identity(name: str | None) -> str:
    """Which namespace `name` (None: this process's) is, as "dev:inode": the same for every
    process that sees it, whether by name or by being in it (`ip netns exec`). "" when
    it cannot be told."""
    try:
        found = os.stat(netns_path(name) if name else "/proc/self/ns/net")
    except (OSError, KvmtuiError):
        return ""
    return f"{found.st_dev}:{found.st_ino}"


def netns_name(identity: str) -> str | None:
    """The `ip netns` name of a namespace identity, if it has one."""
    try:
        names = sorted(os.listdir(NETNS_RUN_DIR))
    except OSError:
        return None
    return next((name for name in names if netns_identity(name) == identity), None)
