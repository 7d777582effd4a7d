"""`make bench`, the guard: from a guarded change's deadline to the host being as before.

A namespace kt-gb-<hex> holds a bridge kt-br0 carrying 192.0.2.1/24, with one port kt-p1
(a veth). Each of RUNS runs is a guarded apply of `delete kt-br0 --move-ip-to kt-p1` with
a 1 s countdown that nobody keeps; the guard process reverts it at the deadline. The
host is watched from outside kvmtui: a netlink socket in the namespace wakes this process
on every link or address change (and a dump is also made every POLL s regardless); the
first dump that shows kt-br0 back, up, with kt-p1 as its port and 192.0.2.1/24 on it
(and not on kt-p1) ends the run. That moment (CLOCK_BOOTTIME, taken after the dump: never
early) minus the journal's deadline is one sample. The guard's own `restored_at - deadline`
(when its inverses had run, before its re-read) is printed beside it.

Prints, after the runs:
    guard-revert-ms: <median over the runs>
    guard-revert-max-ms: <the slowest run>
    guard-own-revert-ms: <median of restored_at - deadline, as the guard records it>
and whether each bar holds, one line each (the bar is on the median and on the max:
the host must be back within 2 s of the deadline every time):
    bar guard-revert-ms < 2000: holds (93)    (or MISSED)
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

RUNS = 10
COUNTDOWN = 1  # seconds: the shortest countdown there is
POLL = 0.01  # seconds between dumps when no netlink event wakes the watcher
TIMEOUT = 30.0  # seconds past the deadline before a run counts as failed
BRIDGE, PORT, PEER, ADDRESS, PREFIX = "kt-br0", "kt-p1", "kt-q1", "192.0.2.1", 24  # TEST-NET-1
RTMGRP_LINK, RTMGRP_IPV4_IFADDR = 0x1, 0x10
IFF_UP = 0x1
# name, bar (ms, strictly under), decimals printed (a number is judged as printed)
BARS = (("guard-revert-ms", 2000.0, 0), ("guard-revert-max-ms", 2000.0, 0))


def boottime() -> float:
    """The guard's clock (journal.deadline, restored_at): CLOCK_BOOTTIME."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def build(netns: str) -> None:
    def ip(*args: str) -> None:
        subprocess.run(["ip", "-n", netns, *args], check=True)

    subprocess.run(["ip", "netns", "add", netns], check=True)
    ip("link", "set", "lo", "up")
    ip("link", "add", BRIDGE, "type", "bridge")
    ip("link", "add", PORT, "type", "veth", "peer", "name", PEER)
    ip("link", "set", PORT, "master", BRIDGE)
    for name in (PORT, PEER, BRIDGE):
        ip("link", "set", name, "up")
    ip("addr", "add", f"{ADDRESS}/{PREFIX}", "dev", BRIDGE)


class Watcher:
    """The namespace as the kernel tells it, with nothing of kvmtui in between."""

    def __init__(self, netns: str) -> None:
        from pyroute2 import IPRoute

        from kvmtui.collect.netns import run_in_netns

        # a socket belongs to the namespace it was made in: made by a thread inside it
        self.events = run_in_netns(netns, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                                                socket.NETLINK_ROUTE))
        self.events.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR))
        self.events.setblocking(False)
        self.dumps = IPRoute(netns=netns)  # pyroute2 enters the namespace itself

    def restored(self) -> bool:
        links = {link.get("ifname"): link for link in self.dumps.get_links()}
        bridge, port = links.get(BRIDGE), links.get(PORT)
        if bridge is None or port is None or not bridge["flags"] & IFF_UP or port.get("master") != bridge["index"]:
            return False
        on = {(a["index"], a.get("address"), a["prefixlen"]) for a in self.dumps.get_addr(family=socket.AF_INET)}
        return (bridge["index"], ADDRESS, PREFIX) in on and not any(i == port["index"] and a == ADDRESS for i, a, _ in on)

    def _drain(self) -> None:
        try:
            while self.events.recv(65536):
                pass
        except BlockingIOError:
            pass
        except OSError:  # ENOBUFS: events were lost; the dump that follows reads the state anyway
            pass

    def wait_restored(self, until: float) -> float:
        """CLOCK_BOOTTIME right after the first dump that sees the host as it was."""
        while True:
            self._drain()
            if self.restored():
                return boottime()
            if boottime() > until:
                raise TimeoutError(f"{BRIDGE} was not back with {ADDRESS}/{PREFIX} {TIMEOUT:.0f} s after the deadline")
            select.select([self.events], [], [], POLL)

    def close(self) -> None:
        self.events.close()
        self.dumps.close()


def one_run(netns: str, watcher: Watcher) -> tuple[float, float]:
    """(host restored - deadline, the guard's restored_at - deadline), in seconds."""
    from kvmtui.apply import Executor
    from kvmtui.collect.snapshot import collect_snapshot
    from kvmtui.guard.control import wait_until_ended
    from kvmtui.guard.journal import PENDING, alive
    from kvmtui.guard.revert import fully_restored
    from kvmtui.guard.start import apply_guarded
    from kvmtui.kinds import make_plan
    from kvmtui.kinds.delete import DeleteLink

    before = collect_snapshot(netns=netns, with_libvirt=False)
    plan = make_plan(DeleteLink(BRIDGE, move_ip_to=PORT), before)
    # The CLI's --confirm takes 10-3600 s (start.parse_seconds); the Python API takes any
    # whole number, and the shortest countdown keeps ten runs short. ssh=None: no probes.
    report, record = apply_guarded(Executor(netns, None), plan, before, COUNTDOWN, None)
    if not report.ok or record is None or record.state != PENDING:
        raise RuntimeError(f"the guarded apply did not start its countdown: {report.summary()}")
    seen = watcher.wait_restored(record.deadline + TIMEOUT)
    ended = wait_until_ended(record.id, TIMEOUT)
    if ended is None or not fully_restored(ended):
        raise RuntimeError(f"guard {record.id} did not restore the host: "
                           f"{ended.state if ended else 'no journal'}; {'; '.join(ended.outcome if ended else ())}")
    give_up = time.monotonic() + TIMEOUT
    while alive(record.id):  # the next run's guard may only take kt-br0 once this one has let go
        if time.monotonic() > give_up:
            raise RuntimeError(f"guard {record.id} did not end")
        time.sleep(0.01)
    return seen - record.deadline, ended.restored_at - record.deadline


def stand_down_open_guards() -> None:
    """After a failure: the guards of this bench keep their change (the namespace goes anyway),
    and have ended before their journals' directory is removed (one reverting finishes first)."""
    from kvmtui.guard import journal
    from kvmtui.guard.control import keep, open_guards

    for record in open_guards():
        try:
            keep(record.id, who="bench.guard")
        except Exception as exc:  # noqa: BLE001 - the others still stand down
            print(f"guard {record.id}: {exc}", file=sys.stderr)
    give_up = time.monotonic() + TIMEOUT
    while any(journal.alive(r.id) for r in journal.records()[0]) and time.monotonic() < give_up:
        time.sleep(0.05)


def bar_lines(measured: dict[str, float]) -> list[str]:
    """Whether each measured number is under its bar: a verdict nobody has to work out."""
    lines = []
    for name, bar, decimals in BARS:
        value = round(measured[name], decimals)
        lines.append(f"bar {name} < {bar:g}: {'holds' if value < bar else 'MISSED'} ({value:.{decimals}f})")
    return lines


def ms(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.0f}" for v in values)


def main() -> int:
    netns = f"kt-gb-{uuid.uuid4().hex[:6]}"
    run_dir = tempfile.mkdtemp(prefix="kt-bench-guard-")
    # this bench's journals, not an admin's /run/kvmtui (the guard processes inherit it)
    os.environ["KVMTUI_RUN_DIR"] = run_dir
    seen, own = [], []
    watcher = None
    try:
        build(netns)
        watcher = Watcher(netns)
        for _ in range(RUNS):
            host, guard = one_run(netns, watcher)
            seen.append(host)
            own.append(guard)
    finally:
        if watcher is not None:
            watcher.close()
        stand_down_open_guards()
        subprocess.run(["ip", "netns", "del", netns], check=False)
        shutil.rmtree(run_dir, ignore_errors=True)
    median, worst = statistics.median(seen), max(seen)
    print(f"guard: {RUNS} unkept guarded `delete {BRIDGE} --move-ip-to {PORT}` with a {COUNTDOWN} s countdown")
    print(f"deadline -> host restored, seen from outside (ms): {ms(seen)}")
    print(f"deadline -> restored_at, as the guard records it (ms): {ms(own)}; "
          f"median {statistics.median(own) * 1000:.0f}, max {max(own) * 1000:.0f}")
    print(f"guard-revert-ms: {median * 1000:.0f}")
    print(f"guard-revert-max-ms: {worst * 1000:.0f}")
    print(f"guard-own-revert-ms: {statistics.median(own) * 1000:.0f}")
    for line in bar_lines({"guard-revert-ms": median * 1000, "guard-revert-max-ms": worst * 1000}):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
