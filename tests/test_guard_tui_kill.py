"""`kill -9` of the dashboard while its guard counts down: the revert still happens on
time. The real dashboard in a real terminal (tmux), driven by keys as a person would:
filter to the bridge, `d`, Ctrl+S, `y`; then SIGKILL, and the kernel is as before."""

from __future__ import annotations

import os
import signal
import sys
import time

from kvmtui.guard import journal
from tests.helpers import REPO, sh
from tests.sshd import Tmux, filter_tree
from tests.states import changes, settled, steady
from tests.topologies import bridge_with_two_veth_ports

TIMEOUT = 10
MARGIN = 3.0  # seconds past the deadline a revert may take (re-reading the host included)


def test_kill_9_of_the_dashboard_during_its_countdown_still_reverts_on_time(netns):
    bridge_with_two_veth_ports(netns)
    sh("ip", "-n", netns, "addr", "add", "10.75.0.1/24", "dev", "kt-br0")
    before = steady(netns)
    tmux = Tmux()
    try:
        tmux.start(f"env PYTHONPATH={REPO} KVMTUI_RUN_DIR={os.environ['KVMTUI_RUN_DIR']} {sys.executable} -m kvmtui "
                   f"--netns {netns} --no-libvirt --confirm {TIMEOUT}", 80, 24)
        tmux.wait_screen(lambda s: "kt-br0 bridge" in s, "the bridge in the tree")
        filter_tree(tmux, "kt-br0")
        tmux.wait_screen(lambda s: "bridge.stp_state" in s, "kt-br0's details")
        tmux.keys("d")
        tmux.wait_screen(lambda s: "Delete bridge kt-br0" in s, "the delete wizard")
        tmux.keys("C-s")
        tmux.wait_screen(lambda s: f"a countdown of {TIMEOUT} s" in s, "the countdown announced")
        tmux.keys("y")
        tmux.wait_screen(lambda s: "Keep these changes?" in s, "the question", timeout=30)
        pending = next(r for r in journal.records()[0] if r.netns == netns and r.state == journal.PENDING)
        os.kill(int(tmux.pane("#{pane_pid}")), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while tmux.pane("#{pane_dead}") != "1":  # the pane's process is gone (its screen stays)
            assert time.monotonic() < deadline, "kvmtui did not die"
            time.sleep(0.1)
    finally:
        tmux.kill()
    deadline = time.monotonic() + TIMEOUT + MARGIN + 10
    while not (record := journal.read(pending.id)).final:
        assert time.monotonic() < deadline, "the guard did not revert"
        time.sleep(0.1)
    assert record.state == journal.REVERTED and record.reason == f"not kept within {TIMEOUT} s", record
    assert 0 <= record.restored_at - pending.deadline <= MARGIN
    after = settled(netns, before)
    assert after == before, changes(before, after)
