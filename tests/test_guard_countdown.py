"""`kvmtui apply` in a terminal counts down itself: `y` keeps the change, `n` reverts it
now. A real pty on stdin (the countdown is for people at a terminal), a real namespace."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

from kvmtui.guard import journal
from tests.helpers import REPO, sh
from tests.states import changes, no_dad, undo_state


@pytest.fixture
def bridged(netns):
    """kt-br0 (10.71.0.1/24) with port kt-p1, up."""
    no_dad(netns)
    sh("ip", "-n", netns, "link", "add", "kt-br0", "type", "bridge")
    sh("ip", "-n", netns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    sh("ip", "-n", netns, "link", "set", "kt-p1", "master", "kt-br0")
    sh("ip", "-n", netns, "addr", "add", "10.71.0.1/24", "dev", "kt-br0")
    for dev in ("kt-br0", "kt-p1", "kt-q1"):
        sh("ip", "-n", netns, "link", "set", dev, "up")
    return netns


class Terminal:
    """kvmtui with a pty as its terminal: what it prints, and keys typed at it."""

    def __init__(self, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([sys.executable, "-m", "kvmtui", *args], stdin=slave, stdout=slave, stderr=slave,
                                     cwd="/", env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True)
        os.close(slave)
        self.seen = ""

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            assert time.monotonic() < deadline, f"{text!r} did not show; the terminal shows:\n{self.seen}"
            if select.select([self.master], [], [], 0.2)[0]:
                try:
                    self.seen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the process ended and closed the pty
                    time.sleep(0.05)

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> int:
        """Its exit code, once all it printed is read (the pty reads EIO after its end)."""
        try:
            code = self.proc.wait(60)
            while select.select([self.master], [], [], 0.5)[0]:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                self.seen += chunk.decode(errors="replace")
            return code
        finally:
            os.close(self.master)


def test_y_at_the_countdown_keeps_the_change(bridged):
    before = undo_state(bridged)
    term = Terminal("--netns", bridged, "--no-libvirt", "apply", "delete", "kt-br0", "--move-ip-to", "kt-p1",
                    "--confirm", "10")
    term.wait_for("After the change, a countdown of 10 s")  # the confirmation says it first
    term.wait_for("Apply this plan? [y/N]")
    term.type("y\n")
    term.wait_for("Keep these changes?")
    term.wait_for(": y keep, n revert now")
    term.type("y")
    assert term.close() == 0, term.seen
    assert "kept" in term.seen
    kept = [r for r in journal.records()[0] if r.title == "delete bridge kt-br0" and r.state == journal.KEPT]
    assert kept, term.seen
    time.sleep(max(0.0, kept[-1].deadline - journal.boottime()) + 1.0)  # past the deadline: it stays
    after = undo_state(bridged)
    assert after != before and "kt-br0" not in {link["ifname"] for link in after["link"]}


def test_n_at_the_countdown_reverts_now(bridged):
    before = undo_state(bridged)
    term = Terminal("--netns", bridged, "--no-libvirt", "apply", "delete", "kt-br0", "--move-ip-to", "kt-p1",
                    "--confirm", "60")
    term.wait_for("Apply this plan? [y/N]")
    term.type("y\n")
    term.wait_for("Keep these changes?")
    started = time.monotonic()
    term.type("n")
    assert term.close() == 3, term.seen
    assert time.monotonic() - started < 10, "n waited for the deadline"
    assert "reverted: asked to revert now" in term.seen and "as it was before the change" in term.seen, term.seen
    assert undo_state(bridged) == before, changes(before, undo_state(bridged))
