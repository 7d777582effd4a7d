"""`kvmtui apply` saving its change, end to end, as on a host configured with netplan: the
plan shows the diff of the saved configuration, the change is applied and verified, then
written; netplan accepts what was written. The host is a network namespace with a PID 1 of
its own (kvmtui reads the saved configuration only in PID 1's network namespace: that of
a host or a container, not one entered with `ip netns exec`), and its /etc/netplan is a
tmpfs of the test's (a private mount namespace: the machine's /etc is not touched)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.backends import NETPLAN
from tests.helpers import REPO, sh

SEED = """\
# written by the installer
network:
  version: 2
  renderer: networkd
  ethernets:
    kt-p1:
      addresses: [10.92.0.2/24]   # the management address
"""



@pytest.fixture
def uplink(netns):
    sh("ip", "-n", netns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    sh("ip", "-n", netns, "addr", "add", "10.92.0.2/24", "dev", "kt-p1")
    for dev in ("kt-p1", "kt-q1"):
        sh("ip", "-n", netns, "link", "set", dev, "up")
    return netns


def bridge_on_netplan_host(ns: str, tmp_path, seed_text: str):
    """`apply bridge kt-br0 --port kt-p1 --move-ip-from kt-p1` on the host `ns` whose
    /etc/netplan holds `seed_text` -> (the finished process, where /etc/netplan was copied)."""
    seed, out = tmp_path / "seed.yaml", tmp_path / "out"
    seed.write_text(seed_text)
    out.mkdir()
    kvmtui = shlex.join([sys.executable, "-m", "kvmtui", "--no-libvirt", "apply", "--yes", "--no-confirm",
                         "bridge", "kt-br0", "--port", "kt-p1", "--move-ip-from", "kt-p1"])
    script = (f"mount --make-rprivate / && mount -t tmpfs -o mode=0755 none /etc/netplan && "
              f"install -m 600 {seed} /etc/netplan/01-netcfg.yaml && "
              f"ip netns exec {ns} unshare -p -f --mount-proc {kvmtui}; code=$?; "
              f"cp -a /etc/netplan {out}/; exit $code")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120,
                          cwd="/", env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, out


def test_apply_saves_the_change_in_netplan_after_it_is_verified(uplink, tmp_path):
    proc, out = bridge_on_netplan_host(uplink, tmp_path, SEED)
    shown = proc.stdout
    assert "Saved configuration\n  saved in netplan once the change is verified (and kept): netplan manages kt-p1" \
        in shown, shown
    assert "+++ /etc/netplan/90-kvmtui.yaml" in shown and "--- /etc/netplan/01-netcfg.yaml" in shown, shown
    assert shown.index("step(s) and verified the result") < shown.index("wrote /etc/netplan/90-kvmtui.yaml"), shown
    own = (out / "netplan" / "90-kvmtui.yaml").read_text()
    assert "kt-br0" in own and "10.92.0.2/24" in own
    assert oct((out / "netplan" / "90-kvmtui.yaml").stat().st_mode & 0o777) == "0o600"
    edited = (out / "netplan" / "01-netcfg.yaml").read_text()
    assert "10.92.0.2" not in edited and edited.startswith("# written by the installer\n")
    assert (out / "netplan" / "01-netcfg.yaml.kvmtui-bak").read_text() == SEED
    (out / "etc").mkdir()
    shutil.move(out / "netplan", out / "etc" / "netplan")
    for backup in (out / "etc" / "netplan").glob("*.kvmtui-bak"):
        backup.unlink()
    generated = subprocess.run([NETPLAN, "generate", "--root-dir", str(out)], capture_output=True, text=True)
    assert generated.returncode == 0, generated.stderr
    network = "".join(p.read_text() for p in (out / "run" / "systemd" / "network").glob("*kt-br0.network"))
    assert "Address=10.92.0.2/24" in network


def test_a_read_only_etc_refuses_before_anything_changes(uplink, tmp_path):
    """/etc/netplan mounted read-only: one line, nothing applied; --no-persist applies live."""
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    argv = [sys.executable, "-m", "kvmtui", "--no-libvirt", "apply", "--yes", "--no-confirm",
            "bridge", "kt-br0", "--port", "kt-p1", "--move-ip-from", "kt-p1"]
    script = (f"mount --make-rprivate / && mount -t tmpfs -o mode=0755 none /etc/netplan && "
              f"install -m 600 {seed} /etc/netplan/01-netcfg.yaml && mount -o remount,ro /etc/netplan && "
              f"ip netns exec {uplink} unshare -p -f --mount-proc {shlex.join(argv)}")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120,
                          cwd="/", env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.splitlines()[-1] == ("kvmtui: cannot save the change in netplan: /etc/netplan is not "
                                            "writable; nothing changed (--no-persist applies it live only)")
    assert "kt-br0" not in sh("ip", "-n", uplink, "-br", "link")
    live = subprocess.run(["unshare", "-m", "sh", "-c", script.replace("--no-confirm", "--no-confirm --no-persist")],
                          capture_output=True, text=True, timeout=120, cwd="/",
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert live.returncode == 0, live.stderr
    assert "kt-br0" in sh("ip", "-n", uplink, "-br", "link")


def test_a_dhcp_lease_is_saved_as_dhcp_on_the_bridge_not_as_a_static_address(uplink, tmp_path):
    """A leased address (with a lifetime, as a DHCP client sets it) and the default route
    its client added (proto dhcp): the bridge takes both live, and the saved configuration
    asks for DHCP on the bridge, with neither the address nor the route written down."""
    sh("ip", "-n", uplink, "addr", "replace", "10.92.0.2/24", "dev", "kt-p1", "valid_lft", "3600",
       "preferred_lft", "3600")
    sh("ip", "-n", uplink, "route", "add", "default", "via", "10.92.0.1", "proto", "dhcp")
    proc, out = bridge_on_netplan_host(
        uplink, tmp_path, SEED.replace("addresses: [10.92.0.2/24]   # the management address", "dhcp4: true"))
    assert "10.92.0.2/24 on kt-p1 is dynamic (a DHCP lease or SLAAC)" in proc.stdout, proc.stdout
    assert "10.92.0.2/24" in sh("ip", "-n", uplink, "-br", "addr", "show", "dev", "kt-br0")
    own = (out / "netplan" / "90-kvmtui.yaml").read_text()
    assert "dhcp4: true" in own.split("kt-br0:")[1], own
    assert "10.92.0.2" not in own and "10.92.0.1" not in own, own
    units = tmp_path / "generated"
    shutil.copytree(out / "netplan", units / "etc/netplan")
    subprocess.run([NETPLAN, "generate", "--root-dir", str(units)], check=True, capture_output=True)
    network = (units / "run/systemd/network/10-netplan-kt-br0.network").read_text()
    assert "DHCP=ipv4" in network and "\nAddress=" not in network, network
