"""The dashboard saving its change: a host configured with netplan (a network namespace
with a PID of its own and a private /etc/netplan, as in test_persist_cli), the real
dashboard in tmux, driven by keys: delete the bridge netplan describes; the confirmation
shows the file diff; `y` applies it, and the file no longer describes the bridge."""

from __future__ import annotations

import os
import shlex
import signal
import sys

from tests.helpers import REPO, sh
from tests.sshd import Tmux, filter_tree, netns_pids
from tests.topologies import bridge_with_two_veth_ports

SEED = """\
network:
  version: 2
  renderer: networkd
  ethernets:
    kt-p1: {}
    kt-p2: {}
  bridges:
    kt-br0:
      interfaces: [kt-p1, kt-p2]
      addresses: [10.76.0.1/24]
"""


def test_the_dashboard_shows_the_file_diff_and_writes_it_after_the_delete(netns, tmp_path):
    bridge_with_two_veth_ports(netns)
    sh("ip", "-n", netns, "addr", "add", "10.76.0.1/24", "dev", "kt-br0")
    seed, out = tmp_path / "seed.yaml", tmp_path / "out"
    seed.write_text(SEED)
    out.mkdir()
    kvmtui = shlex.join([sys.executable, "-m", "kvmtui", "--no-libvirt"])
    script = tmp_path / "host.sh"
    script.write_text(f"mount --make-rprivate / && mount -t tmpfs -o mode=0755 none /etc/netplan && "
                      f"install -m 600 {seed} /etc/netplan/01-netcfg.yaml && "
                      f"ip netns exec {netns} unshare -p -f --mount-proc {kvmtui}; "
                      f"cp -a /etc/netplan {out}/\n")
    tmux = Tmux()
    try:
        tmux.start(f"env PYTHONPATH={REPO} KVMTUI_RUN_DIR={os.environ['KVMTUI_RUN_DIR']} "
                   f"unshare -m sh {script}", 100, 40)
        tmux.wait_screen(lambda s: "kt-br0 bridge" in s, "the bridge in the tree")
        filter_tree(tmux, "kt-br0")
        tmux.wait_screen(lambda s: "bridge.stp_state" in s and "netplan" in s, "kt-br0's details and owner")
        for _attempt in range(3):  # on a busy machine the filter may still hold the focus: `d` went there
            tmux.keys("d")
            try:
                tmux.wait_screen(lambda s: "Delete bridge kt-br0" in s, "the delete wizard", timeout=10)
                break
            except AssertionError:
                if "kt-br0d" in tmux.screen():
                    tmux.keys("BSpace", "Enter")
        else:
            raise AssertionError(f"`d` did not open the delete wizard:\n{tmux.screen()}")
        tmux.keys("C-s")
        shown = tmux.wait_screen(lambda s: "/etc/netplan/01-netcfg.yaml" in s, "the saved configuration's diff")
        assert "Saved configuration" in shown, shown
        tmux.keys("y")
        tmux.wait_screen(lambda s: "wrote /etc/netplan/" in s, "the files written", timeout=60)
        tmux.keys("Enter")
        tmux.wait_screen(lambda s: "(Enter closes)" not in s, "the report closed")
        tmux.keys("q")
        tmux.wait_screen(lambda s: (out / "netplan").exists(), "kvmtui to quit", timeout=20)
    finally:
        tmux.kill()
        for pid in netns_pids(netns):  # a kvmtui that did not quit (the test failed): its pane is gone
            os.kill(pid, signal.SIGKILL)
    assert "kt-br0" not in sh("ip", "-n", netns, "-br", "link")
    saved = {p.name: p.read_text() for p in (out / "netplan").glob("*.yaml")}
    assert not any("kt-br0" in text for text in saved.values()), saved
