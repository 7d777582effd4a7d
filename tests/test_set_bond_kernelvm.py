"""`kvmtui apply set` on bonds (inside the kernel VM: this host's kernel has no bonding),
checked against the VM kernel's /proc/net/bonding and `ip`: slaves in and out, options on
a live bond, the LACP rate (the bond goes down for it), a new mode by a rebuild that keeps
the VLAN, addresses and routes on the bond, and a rebuild failing midway undone whole."""

from __future__ import annotations

import functools
import json

import pytest

from tests.helpers import kvmtui_in, sh

pytestmark = pytest.mark.kernelvm


def bonding(ns: str, bond: str = "kt-bond0") -> str:
    return sh("ip", "netns", "exec", ns, "cat", f"/proc/net/bonding/{bond}")


def line(text: str, label: str) -> str:
    """The value of the bonding file's first `label: value` line."""
    return next(row.split(":", 1)[1].strip() for row in text.splitlines() if row.startswith(label + ":"))


def slave_names(text: str) -> list[str]:
    return [row.split(":", 1)[1].strip() for row in text.splitlines() if row.startswith("Slave Interface:")]


def link(ns: str, name: str) -> dict:
    return json.loads(sh("ip", "-n", ns, "-d", "-j", "link", "show", name))[0]


def bond_with(ns: str, mode: str, *slaves: str, name: str = "kt-bond0", options: tuple[str, ...] = ()) -> None:
    """A bond built with ip (quicker than kvmtui under TCG), slaves up before."""
    sh("ip", "-n", ns, "link", "add", name, "type", "bond", "mode", mode, "miimon", "100", *options)
    for slave in slaves:
        if not sh("ip", "-n", ns, "-br", "link", "show", slave, check=False):
            sh("ip", "-n", ns, "link", "add", slave, "type", "dummy")
        sh("ip", "-n", ns, "link", "set", slave, "master", name)
    sh("ip", "-n", ns, "link", "set", name, "up")


def set_bond(ns: str, capsys, *args: str) -> str:
    from kvmtui import cli

    code = cli.main(["--netns", ns, "--no-libvirt", "apply", "--yes", "set", "kt-bond0", *args])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    return out.out


def with_vlan_address_and_route(ns: str) -> None:
    """What a rebuild must keep: a VLAN with an address and a route through it, IPv6 on the bond."""
    for knob in ("all", "default"):
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{knob}.accept_dad=0")
    sh("ip", "-n", ns, "link", "add", "link", "kt-bond0", "name", "kt-bond0.5", "type", "vlan", "id", "5")
    sh("ip", "-n", ns, "link", "set", "kt-bond0.5", "up")
    sh("ip", "-n", ns, "addr", "add", "10.9.0.1/24", "dev", "kt-bond0.5")
    sh("ip", "-n", ns, "route", "add", "10.77.0.0/16", "via", "10.9.0.2")
    sh("ip", "-n", ns, "-6", "addr", "add", "fd00:9::1/64", "dev", "kt-bond0", "nodad")


def kept_around_the_bond(ns: str) -> None:
    assert "UP" in link(ns, "kt-bond0.5")["flags"]
    assert "10.77.0.0/16 via 10.9.0.2 dev kt-bond0.5" in sh("ip", "-n", ns, "route")
    assert "fd00:9::1/64" in sh("ip", "-n", ns, "-6", "addr", "show", "dev", "kt-bond0")


def test_slave_added_then_removed(netns):
    """The one end-to-end run through the kvmtui command; the others call it in-process."""
    bond_with(netns, "active-backup", "kt-d0", "kt-d1")
    sh("ip", "-n", netns, "link", "add", "kt-d2", "type", "dummy")
    sh("ip", "-n", netns, "link", "set", "kt-d2", "up")  # up: the plan takes it down to enslave it
    proc = kvmtui_in(netns, "apply", "--yes", "set", "kt-bond0", "--add-slave", "kt-d2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = bonding(netns)
    assert slave_names(text) == ["kt-d0", "kt-d1", "kt-d2"]
    assert "UP" in link(netns, "kt-d2")["flags"] and link(netns, "kt-d2")["master"] == "kt-bond0"
    proc = kvmtui_in(netns, "apply", "--yes", "set", "kt-bond0", "--remove-slave", "kt-d1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert slave_names(bonding(netns)) == ["kt-d0", "kt-d2"]
    released = link(netns, "kt-d1")
    assert "master" not in released and "UP" in released["flags"]  # the driver closed it; the plan opened it


def test_monitoring_primary_and_hash_policy_on_live_bonds(netns, capsys):
    bond_with(netns, "active-backup", "kt-d0", "kt-d1")
    set_bond(netns, capsys, "--miimon", "200", "--updelay", "400", "--downdelay", "200", "--primary", "kt-d1")
    text = bonding(netns)
    assert line(text, "MII Polling Interval (ms)") == "200" and line(text, "Up Delay (ms)") == "400"
    assert line(text, "Down Delay (ms)") == "200"
    assert line(text, "Primary Slave") == "kt-d1 (primary_reselect always)"
    assert line(text, "Currently Active Slave") == "kt-d1"
    set_bond(netns, capsys, "--arp-interval", "300", "--arp-ip-target", "10.0.0.1", "--arp-ip-target", "10.0.0.2")
    text = bonding(netns)
    assert line(text, "ARP Polling Interval (ms)") == "300" and line(text, "MII Polling Interval (ms)") == "0"
    assert line(text, "ARP IP target/s (n.n.n.n form)") == "10.0.0.1, 10.0.0.2"
    set_bond(netns, capsys, "--primary", "none")
    assert line(bonding(netns), "Primary Slave") == "None"
    bond_with(netns, "balance-xor", "kt-d2", name="kt-bond1")
    from kvmtui import cli

    assert cli.main(["--netns", netns, "--no-libvirt", "apply", "--yes", "set", "kt-bond1", "--xmit-hash-policy",
                     "layer3+4"]) == 0
    assert line(bonding(netns, "kt-bond1"), "Transmit Hash Policy") == "layer3+4 (1)"


def test_lacp_rate_takes_the_bond_down_and_back(netns, capsys):
    bond_with(netns, "802.3ad", "kt-d0", "kt-d1")
    with_vlan_address_and_route(netns)
    out = set_bond(netns, capsys, "--lacp-rate", "fast")
    assert "ip link set kt-bond0 down" in out
    text = bonding(netns)
    assert line(text, "LACP rate") == "fast" and slave_names(text) == ["kt-d0", "kt-d1"]
    assert "UP" in link(netns, "kt-bond0")["flags"]
    kept_around_the_bond(netns)


def test_a_new_mode_rebuilds_the_bond_and_keeps_its_vlan_addresses_and_routes(netns, capsys):
    bond_with(netns, "active-backup", "kt-d0", "kt-d1")
    with_vlan_address_and_route(netns)
    mac = link(netns, "kt-bond0")["address"]
    set_bond(netns, capsys, "--mode", "802.3ad", "--lacp-rate", "fast", "--xmit-hash-policy", "layer3+4")
    text = bonding(netns)
    assert line(text, "Bonding Mode") == "IEEE 802.3ad Dynamic link aggregation"
    assert line(text, "LACP rate") == "fast" and line(text, "Transmit Hash Policy") == "layer3+4 (1)"
    assert slave_names(text) == ["kt-d0", "kt-d1"]
    assert link(netns, "kt-bond0")["address"] == mac  # kt-d0's, whose MAC it had, came back first
    kept_around_the_bond(netns)


def test_a_rebuild_failing_midway_leaves_the_bond_as_it_was(netns, monkeypatch, capsys):
    """The failure is injected (before_step) when the second slave is to come back: the
    first is in the bond again, with the new mode; the undo takes it out, puts the mode,
    the monitoring and the ARP targets back, re-enslaves both and brings the bond up."""
    from kvmtui import apply, cli

    bond_with(netns, "active-backup", "kt-d0", "kt-d1")
    sh("ip", "-n", netns, "link", "set", "kt-bond0", "type", "bond", "miimon", "0", "arp_interval", "200",
       "arp_ip_target", "10.0.0.9")
    with_vlan_address_and_route(netns)
    before = settings(netns)

    def fail_at_second_slave(number, step):
        if step.target == "kt-d1" and step.setting("master") == "kt-bond0":
            raise RuntimeError("injected failure")

    monkeypatch.setattr(apply, "Executor", functools.partial(apply.Executor, before_step=fail_at_second_slave))
    code = cli.main(["--netns", netns, "--no-libvirt", "apply", "--yes", "set", "kt-bond0", "--mode", "balance-alb"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "step 'ip link set kt-d1 master kt-bond0' failed: injected failure" in err and "could NOT" not in err
    assert settings(netns) == before
    kept_around_the_bond(netns)


def settings(ns: str) -> tuple:
    """The bond's and its slaves' settings without their health: ARP monitoring on dummies
    nobody answers takes a slave down and up again whenever it likes."""
    health = ("MII Status", "Currently Active Slave", "Link Failure Count")
    text = [row for row in bonding(ns).splitlines() if not row.startswith(health)]
    found = []
    for name in ("kt-bond0", "kt-d0", "kt-d1", "kt-bond0.5"):
        data = link(ns, name)
        info = {k: v for k, v in data["linkinfo"].get("info_data", {}).items() if k != "active_slave"}
        found.append((name, data.get("address"), "UP" in data["flags"], data.get("master"), data["mtu"], info))
    return text, found
