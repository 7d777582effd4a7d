"""A guard's journal: one JSON file per guarded change under /run/kvmtui/guards/ (mode
0600, replaced atomically), holding the plan's steps with their inverses as data, how
far the apply got, the deadline, and what the guard did. It is the only link between
the kvmtui that applies, the guard process that may revert, and any later kvmtui
(`confirm`, `revert`, `guards`, the dashboard): each of them may die at any moment.

Three kinds of lock, all flock(2), which the kernel releases when a process dies:
`ID.lock` serialises read-modify-write of one journal; the guard holds `ID.alive` for
its whole life (a journal whose `.alive` is free has no guard); `revert.lock` lets one
revert run at a time, and `start.lock` makes "nothing else guards these devices, so
guard them" one step.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

DEFAULT_RUN_DIR = "/run/kvmtui"
APPLYING, PENDING, REVERTING = "applying", "pending", "reverting"
KEPT, REVERTED, ROLLED_BACK, DISCARDED = "kept", "reverted", "rolled back", "discarded"
FINAL = (KEPT, REVERTED, ROLLED_BACK, DISCARDED)
KEEP_ENDED_FOR = 24 * 3600  # seconds an ended guard's journal stays, for `guards --all`


@dataclass(frozen=True)
class GuardRecord:
    id: str
    title: str  # the plan's: "delete br0"
    state: str  # APPLYING -> PENDING -> KEPT | REVERTING -> REVERTED; ROLLED_BACK; DISCARDED
    steps: tuple[dict, ...]  # Step.to_data() of every step, inverses included
    restore: tuple[dict, ...]  # what must hold after a revert (plan/restore.py), as data
    timeout: int  # seconds between the verified apply and the revert
    netns: str | None = None  # --netns; None: the namespace the guard was started in
    netns_id: str = ""  # which namespace that is ("dev:inode"): a name alone, or None, says too little
    uri: str | None = None
    touches_libvirt: bool = False
    devices: tuple[str, ...] = ()  # what it changes: two guards never hold the same
    domains: tuple[str, ...] = ()
    ssh: str | None = None  # SSH_CONNECTION of the session that applied
    probes: tuple[dict, ...] = ()  # {"name", "address", "passed"}: "passed" filled in by the guard
    done: int = 0  # steps completed
    running: int = 0  # the step in flight (its number), 0 when none
    undone: tuple[int, ...] = ()  # steps the applying kvmtui already undid itself (a failed step)
    request: str | None = None  # "revert": `kvmtui revert` or `n` asked for it now
    created: float = 0.0  # time.time()
    deadline: float | None = None  # CLOCK_BOOTTIME: one clock for every process, immune to date changes
    deadline_wall: float | None = None  # the same moment as time.time(), for people
    owner_pid: int = 0  # the kvmtui that applies
    guard_pid: int = 0
    boot_id: str = ""
    reason: str | None = None  # why it ended as it did
    outcome: tuple[str, ...] = ()  # what the revert did, line by line
    ended: float | None = None  # time.time()
    restored_at: float | None = None  # CLOCK_BOOTTIME when the inverses had run
    nm_checkpoint: str | None = None  # NetworkManager's checkpoint object path, when NM manages a device
    nm_devices: tuple[tuple[str, str, str], ...] = ()  # (name, NM device path, profile path) it covers
    saved: dict | None = None  # the configuration files to write once kept (kvmtui.persist.saved), as data

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - boottime())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def guard_dir() -> Path:
    """$KVMTUI_RUN_DIR/guards (default /run/kvmtui/guards): tests point it elsewhere."""
    return Path(os.environ.get("KVMTUI_RUN_DIR") or DEFAULT_RUN_DIR) / "guards"


def _dir() -> Path:
    path = guard_dir()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def new_id() -> str:
    return secrets.token_hex(4)


def valid_id(text: str) -> bool:
    return len(text) == 8 and all(c in "0123456789abcdef" for c in text)


def write(record: GuardRecord) -> None:
    """Atomically: a reader sees the old journal or the new one, never half of one."""
    directory = _dir()
    temp = directory / f".{record.id}.{os.getpid()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, record.to_json().encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, directory / f"{record.id}.json")


def read(guard_id: str) -> GuardRecord | None:
    if not valid_id(guard_id):
        return None
    try:
        data = json.loads((guard_dir() / f"{guard_id}.json").read_text())
    except FileNotFoundError:
        return None
    return _record(data)


def _record(data: dict) -> GuardRecord:
    known = {f.name for f in fields(GuardRecord)}
    values = {key: _tuples(value) for key, value in data.items() if key in known}
    return GuardRecord(**values)


def _tuples(value):
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def records() -> tuple[list[GuardRecord], list[str]]:
    """Every journal of this boot, oldest first, and the files that could not be read."""
    out, problems = [], []
    directory = guard_dir()
    if not directory.is_dir():
        return [], []
    this_boot = boot_id()
    for path in sorted(directory.glob("*.json")):
        try:
            record = _record(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            problems.append(f"{path}: unreadable guard journal ({exc})")
            continue
        if record.boot_id == this_boot:
            out.append(record)
    return sorted(out, key=lambda r: r.created), problems


def remove(guard_id: str) -> None:
    for suffix in (".json", ".lock", ".alive", ".log"):
        try:
            (guard_dir() / f"{guard_id}{suffix}").unlink()
        except FileNotFoundError:
            pass


def prune() -> None:
    """Ended guards older than a day, and journals of an earlier boot (their changes died with it)."""
    directory = guard_dir()
    if not directory.is_dir():
        return
    this_boot, now = boot_id(), time.time()
    for path in directory.glob("*.json"):
        try:
            record = _record(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        old = record.final and record.ended is not None and now - record.ended > KEEP_ENDED_FOR
        if (old or record.boot_id != this_boot) and not alive(record.id):
            remove(record.id)


@contextmanager
def _flock(path: Path, how: int = fcntl.LOCK_EX) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, how)
        yield fd
    finally:
        os.close(fd)


def update(guard_id: str, change: Callable[[GuardRecord], GuardRecord | None]) -> GuardRecord | None:
    """Read, change and write one journal under its lock; `change` returns None to leave it.
    Returns the journal as it is afterwards (None: there is none)."""
    with _flock(_dir() / f"{guard_id}.lock"):
        record = read(guard_id)
        if record is None:
            return None
        changed = change(record)
        if changed is None or changed == record:
            return record
        write(changed)
        return changed


def set_fields(guard_id: str, **values) -> GuardRecord | None:
    return update(guard_id, lambda record: replace(record, **values))


@contextmanager
def start_lock() -> Iterator[None]:
    with _flock(_dir() / "start.lock"):
        yield


@contextmanager
def revert_lock() -> Iterator[None]:
    with _flock(_dir() / "revert.lock"):
        yield


def hold_alive(guard_id: str) -> int | None:
    """The guard's proof of life: an fd holding `ID.alive` locked until the process ends.
    None when another process holds it already (a second guard of the same journal)."""
    fd = os.open(_dir() / f"{guard_id}.alive", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    return fd


def alive(guard_id: str) -> bool:
    path = guard_dir() / f"{guard_id}.alive"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)
    return False
