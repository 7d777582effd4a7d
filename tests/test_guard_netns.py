"""A guard started inside a namespace (`ip netns exec`, or sshd living there, as on a remote
host) names no namespace: its journal still says which one it changed, and a revert from
another namespace is refused instead of changing that one (or the host)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from kvmtui.guard import journal
from tests.helpers import REPO, kvmtui, sh
from tests.states import changes, no_dad, settled, steady


def inside(ns: str, *args: str) -> subprocess.CompletedProcess:
    """kvmtui run in `ns` the way sshd there would run it: no --netns."""
    return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "kvmtui", "--no-libvirt", *args],
                          capture_output=True, text=True, timeout=120, cwd="/",
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_an_orphaned_journal_is_reverted_only_in_its_namespace(make_netns):
    ns, elsewhere = make_netns(), make_netns()
    no_dad(ns)
    sh("ip", "-n", ns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    sh("ip", "-n", ns, "link", "add", "kt-br0", "type", "bridge")
    sh("ip", "-n", ns, "link", "set", "kt-p1", "master", "kt-br0")
    sh("ip", "-n", ns, "addr", "add", "10.74.0.1/24", "dev", "kt-br0")
    for dev in ("kt-br0", "kt-p1", "kt-q1"):
        sh("ip", "-n", ns, "link", "set", dev, "up")
    before = steady(ns)
    applied = inside(ns, "apply", "--yes", "--confirm", "60", "delete", "kt-br0")
    assert applied.returncode == 0, applied.stderr
    guard_id = next(line.split()[1] for line in applied.stdout.splitlines() if line.startswith("guard: "))
    record = journal.read(guard_id)
    assert record.netns is None and record.netns_id
    os.kill(record.guard_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while journal.alive(guard_id):
        assert time.monotonic() < deadline, "the guard did not die"
        time.sleep(0.05)

    for where in (kvmtui("revert", guard_id), kvmtui("--netns", elsewhere, "revert", guard_id)):
        assert where.returncode == 1, where.stderr
        assert where.stderr == (f"kvmtui: guard {guard_id} (delete bridge kt-br0) changed another network namespace "
                                f"than this process's: run `ip netns exec {ns} kvmtui revert {guard_id}`; "
                                "nothing changed\n"), where.stderr
    assert "kt-br0" not in sh("ip", "-n", elsewhere, "-br", "link") and journal.read(guard_id).state == journal.PENDING

    here = inside(ns, "revert", guard_id)
    assert here.returncode == 0, here.stdout + here.stderr
    after = settled(ns, before)
    assert after == before, changes(before, after)
