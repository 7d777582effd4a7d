"""The guard process: `python -m kvmtui.guard ID`. It outlives the kvmtui that started it,
its terminal and its SSH connection: a session of its own (setsid, after a second fork
so that no terminal can ever become its controlling one), stdio away from the terminal,
SIGHUP ignored, the OOM killer told to spare it. It reverts the change in its journal
when the deadline passes unconfirmed, when asked to, when the probes that answered
before the change stop answering, or at once when the kvmtui applying it dies half-way.

Everything it knows is in the journal; a signal (SIGUSR1) only wakes it to read it again.
"""

from __future__ import annotations

import os
import select
import signal
import sys

from kvmtui.guard import journal
from kvmtui.guard.journal import APPLYING, PENDING
from kvmtui.guard.probes import Probe, run_probes
from kvmtui.guard.revert import revert

PROBE_EVERY = 2.0  # seconds between probe rounds while counting down
PROBE_SPAN = 10.0  # seconds every probe must keep failing before the guard reverts early
WAKE = signal.SIGUSR1


def main(argv: list[str]) -> int:
    guard_id, ready_fd = argv[0], int(argv[1]) if len(argv) > 1 else None
    _detach()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _spare_from_oom()
    alive = journal.hold_alive(guard_id)
    record = journal.read(guard_id)
    if alive is None or record is None:  # another guard has it, or nothing to guard
        _ready(ready_fd, b"no\n")
        return 1
    _preload(record.touches_libvirt)
    probes = tuple(Probe(p["name"], p["address"]) for p in record.probes)
    passed = run_probes(probes, record.netns) if probes else {}
    journal.set_fields(guard_id, guard_pid=os.getpid(),
                       probes=tuple(p.to_data(passed[p]) for p in probes))
    wake_r = _wakeup_pipe()
    _ready(ready_fd, b"ready\n")
    Guard(guard_id, tuple(p for p in probes if passed.get(p)), wake_r).run()
    return 0


class Guard:
    def __init__(self, guard_id: str, probes: tuple[Probe, ...], wake_fd: int) -> None:
        self.id, self.probes, self.wake_fd = guard_id, probes, wake_fd
        self.owner_fd: int | None = None
        self.next_probe = 0.0
        self.failing_since: float | None = None

    def run(self) -> None:
        while True:
            record = journal.read(self.id)
            if record is None or record.final:
                return
            if record.state == APPLYING:
                if not _alive(record.owner_pid):
                    step = record.running or record.done
                    revert(self.id, f"kvmtui (pid {record.owner_pid}) ended during step {step} of "
                                    f"{len(record.steps)}: the steps it ran are undone")
                    continue
                owner = self._owner(record.owner_pid)
                self._wait(None if owner is not None else 1.0, owner)  # no pidfd: look again each second
            elif record.state == PENDING:
                reason = self._why_revert(record)
                if reason:
                    revert(self.id, reason)
                    continue
                left = record.seconds_left() or 0.0
                self._wait(min(left, max(0.0, self.next_probe - journal.boottime())) if self.probes else left)
            else:  # reverting: another process is at it; wait for it to end
                self._wait(0.2)

    def _why_revert(self, record) -> str | None:
        if record.request == "revert":
            return "asked to revert now"
        if (record.seconds_left() or 0.0) <= 0:
            return f"not kept within {record.timeout} s"
        if self.probes and journal.boottime() >= self.next_probe:
            return self._probe(record)
        return None

    def _probe(self, record) -> str | None:
        """Early revert when every probe that answered before the change has failed
        throughout PROBE_SPAN seconds (a bridge's STP may hold traffic for a few)."""
        now = journal.boottime()
        self.next_probe = now + PROBE_EVERY
        left = record.seconds_left() or 0.0
        results = run_probes(self.probes, record.netns, timeout=min(1.0, max(0.1, left)))
        if any(results.values()):
            self.failing_since = None
            return None
        self.failing_since = self.failing_since or now
        if now - self.failing_since < PROBE_SPAN:
            return None
        failed = ", ".join(f"{p.name} {p.address}" for p in self.probes)
        return f"stopped answering since the change: {failed}"

    def _owner(self, pid: int) -> int | None:
        if self.owner_fd is None:
            try:
                self.owner_fd = os.pidfd_open(pid)
            except OSError:
                return None
        return self.owner_fd

    def _wait(self, timeout: float | None, *fds: int | None) -> None:
        """Until woken (SIGUSR1), a watched process ends, or `timeout` seconds pass."""
        ready = select.select([self.wake_fd, *(fd for fd in fds if fd is not None)], [], [],
                              None if timeout is None else max(0.0, timeout))[0]
        if self.wake_fd in ready:
            os.read(self.wake_fd, 512)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has ended: it only waits for its parent
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _detach() -> None:
    """Fork twice around setsid: the starter reaps the first child at once, the guard is
    adopted by init (or a subreaper), leads no session, and can never get a terminal."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # stderr stays: the starter pointed it at the guard's log


def _spare_from_oom() -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("-1000")
    except OSError:
        pass


def _preload(with_libvirt: bool) -> None:
    """Import now what a revert needs, so that the deadline is not spent importing."""
    import pyroute2  # noqa: F401

    import kvmtui.apply  # noqa: F401
    import kvmtui.collect.snapshot  # noqa: F401
    if with_libvirt:
        import libvirt  # noqa: F401


def _wakeup_pipe() -> int:
    read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(write_fd)
    signal.signal(WAKE, lambda *_: None)
    return read_fd


def _ready(fd: int | None, word: bytes) -> None:
    if fd is not None:
        try:
            os.write(fd, word)
        finally:
            os.close(fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
