"""`kvmtui plan` on the recorded host (examples/kvm-host.json): what must be refused is
refused with one line that says why, and what is allowed warns where it should. A plan
on a recording changes nothing, so these run anywhere."""

from __future__ import annotations

import argparse
import json
import subprocess

import pytest

from kvmtui.cli import build_parser
from tests.helpers import EXAMPLE
from tests.helpers import kvmtui



def plan(*args: str, recorded=EXAMPLE) -> subprocess.CompletedProcess:
    return kvmtui("--from", str(recorded), "plan", *args)


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1 and proc.stdout == "", proc.stdout + proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("args, words", [
    # passthrough takes the whole device: the host's uplink bridge, a bond slave, a busy bond
    (("attach", "web1", "--macvtap", "br-mgmt", "--mode", "passthrough"),
     ("passthrough needs br-mgmt to itself", "addresses 192.0.2.10/24", "routes default", "a bridge with ports eno3")),
    (("attach", "web1", "--macvtap", "eno1", "--mode", "passthrough"), ("passthrough needs eno1", "slave of bond0")),
    (("attach", "web1", "--macvtap", "bond0", "--mode", "passthrough"),
     ("passthrough needs bond0", "devices on it: bond0.100, macvtap0", "macvtap of guest db1")),
    # guests' devices are libvirt's
    (("bridge", "br0", "--port", "macvtap0"), ("macvtap0 is guest db1's macvtap", "cannot be a bridge port")),
    (("bond", "b1", "--mode", "active-backup", "--slave", "macvtap0"), ("macvtap0 is guest db1's macvtap", "bond slave")),
    (("vlan", "macvtap0", "5"), ("macvtap0 is guest db1's macvtap", "cannot be a VLAN's parent")),
    (("vlan", "vnet0", "5"), ("vnet0 is guest web1's tap",)),
    (("vlan", "eno1", "5"), ("eno1 is a slave of bond bond0", "put the VLAN on bond0")),
    # bounds
    (("bond", "b1", "--mode", "active-backup", "--slave", "eno1", "--miimon", "99999999999999"),
     ("--miimon", "0 to 2147483647 milliseconds")),
    (("bond", "b1", "--mode", "active-backup", "--slave", "eno1", "--arp-interval", "2147483648",
      "--arp-ip-target", "192.0.2.1"), ("--arp-interval", "0 to 2147483647 milliseconds")),
    (("attach", "web1", "--bridge", "br100", "--model", "a b"), ("'a b' is not a NIC model name",)),
    (("attach", "web1", "--bridge", "br100", "--model", "e1000'/><x"), ("is not a NIC model name",)),
])
def test_refused_with_a_reason(args, words):
    line = one_line(plan(*args))
    for word in words:
        assert word in line, line


def test_the_largest_interval_and_plain_models_pass():
    proc = plan("attach", "web1", "--bridge", "br100", "--model", "usb-net")
    assert proc.returncode == 0 and '<model type="usb-net"/>' in proc.stdout, proc.stderr
    assert plan("vlan", "bond0", "5").returncode == 0  # a bond, and a bridge, carry VLANs
    assert plan("vlan", "br-mgmt", "5").returncode == 0


def test_macvtap_defaults_to_vepa_like_libvirt():
    proc = plan("attach", "web1", "--macvtap", "bond0")
    assert proc.returncode == 0, proc.stderr
    assert 'mode="vepa"' in proc.stdout and "macvtap vepa:" in proc.stdout


def test_no_macvtap_beside_a_passthrough_one(tmp_path):
    """db1's macvtap0 on bond0 turned into a passthrough: bond0 is the guest's alone."""
    doc = json.loads(EXAMPLE.read_text())
    for link in doc["links"]:
        if link["ifname"] == "macvtap0":
            link["info_data"]["mode"] = "passthru"
    for domain in doc["domains"]:
        for nic in domain["interfaces"]:
            if nic.get("target") == "macvtap0":
                nic["mode"] = "passthrough"
    recorded = tmp_path / "passthrough.json"
    recorded.write_text(json.dumps(doc))
    line = one_line(plan("attach", "web1", "--macvtap", "bond0", "--mode", "bridge", recorded=recorded))
    assert "bond0 is given whole to guest db1 (macvtap passthrough)" in line


def test_stp_with_moved_addresses_warns_about_the_pause(tmp_path):
    """eno3 freed from br-mgmt, holding the host's address: a new STP bridge takes it over."""
    doc = json.loads(EXAMPLE.read_text())
    doc["links"] = [link for link in doc["links"] if link["ifname"] != "br-mgmt"]
    for link in doc["links"]:
        if link["ifname"] == "eno3":
            link.update(master=None, slave_kind=None, info_slave_data=None)
            link["addresses"].insert(0, {"family": "inet", "local": "192.0.2.10", "prefixlen": 24, "scope": "global"})
    doc["routes"] = [{**r, "dev": "eno3"} if r["dev"] == "br-mgmt" else r for r in doc["routes"]]
    recorded = tmp_path / "uplink.json"
    recorded.write_text(json.dumps(doc))
    proc = plan("bridge", "br0", "--port", "eno3", "--stp", "on", "--forward-delay", "4", "--move-ip-from", "eno3",
                recorded=recorded)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())  # the warnings are wrapped to the terminal
    assert "forwards nothing for about 8 s" in text and "this host's own traffic via br0" in text
    quiet = plan("bridge", "br0", "--port", "eno3", "--move-ip-from", "eno3", recorded=recorded)
    assert quiet.returncode == 0 and "forwards nothing" not in quiet.stdout


def with_free_nics(tmp_path, macvlan_on: str | None = None):
    """The example host with two free NICs eno4 and eno5 (copies of eno2 outside the bond),
    and a macvlan ml0 on `macvlan_on` if given."""
    doc = json.loads(EXAMPLE.read_text())
    template = next(link for link in doc["links"] if link["ifname"] == "eno2")
    top = max(link["ifindex"] for link in doc["links"])
    for number, name in enumerate(("eno4", "eno5"), start=1):
        doc["links"].append({**template, "ifname": name, "ifindex": top + number, "master": None, "slave_kind": None,
                             "info_slave_data": None, "flags": ["BROADCAST", "NOARP", "UP", "LOWER_UP"],
                             "mac": f"02:00:00:00:00:0{number}", "addresses": []})
    if macvlan_on:
        macvtap = next(link for link in doc["links"] if link["ifname"] == "macvtap0")
        doc["links"].append({**macvtap, "ifname": "ml0", "ifindex": top + 3, "kind": "macvlan", "link": macvlan_on,
                             "mac": "02:00:00:00:00:09", "addresses": []})
    recorded = tmp_path / "free-nics.json"
    recorded.write_text(json.dumps(doc))
    return recorded


@pytest.mark.parametrize("args, words", [
    # the kernel gives a device's frames to one taker: its bond or bridge, or the macvtaps on it (EBUSY)
    (("attach", "web1", "--macvtap", "eno2"),  # the README's own example
     ("--macvtap: eno2 is a slave of bond bond0", "the kernel refuses a macvtap on it (EBUSY)", "put the macvtap on bond0")),
    (("attach", "web1", "--macvtap", "bond0.100"),
     ("bond0.100 is a port of bridge br100", "EBUSY", "attach to the bridge instead (--bridge br100)")),
    (("attach", "web1", "--macvtap", "br100"), ("br100 is a bridge: attach to the bridge instead (--bridge br100)",)),
    (("bridge", "br0", "--port", "bond0"),
     ("--port: bond0 carries macvtap0 (guest db1's)", "refuses to make it a bridge port (EBUSY)", "Detach or delete")),
    # the real reason first: bond0 has VLAN 100 already, whatever its name
    (("vlan", "bond0", "100"), ("VLAN 100 already exists on bond0 as bond0.100",)),
    (("vlan", "bond0", "100", "--name", "v100"), ("VLAN 100 already exists on bond0 as bond0.100",)),
    # QEMU refuses an unknown model when the guest starts or the NIC is hot-plugged
    (("attach", "web1", "--bridge", "br100", "--model", "bogus"),
     ("--model: QEMU has no NIC model 'bogus'", "virtio, ", "e1000e", "rtl8139", "vmxnet3", "i82559er")),
    (("bond", "b1", "--mode", "7", "--slave", "eno1"),
     ("--mode: unknown bonding mode '7'; one of balance-rr (0), active-backup (1)", "balance-alb (6)")),
    (("bond", "b1", "--mode", "fast", "--slave", "eno1"), ("unknown bonding mode 'fast'",)),
    # an empty value would read as not given: a new MAC, no address move, the default name
    (("attach", "web1", "--bridge", "br100", "--mac", ""), ("--mac: the value is empty",)),
    (("bridge", "br0", "--port", "eno3", "--move-ip-from", ""), ("--move-ip-from: the value is empty",)),
    (("delete", "br-mgmt", "--move-ip-to", ""), ("--move-ip-to: the value is empty",)),
    (("vlan", "bond0", "7", "--name", ""), ("--name: the value is empty",)),
    (("bridge", "br0", "--port", ""), ("--port: the value is empty",)),
    (("bond", "b1", "--mode", "", "--slave", "eno1"), ("--mode: the value is empty",)),
])
def test_refused_as_the_kernel_libvirt_or_qemu_would(args, words):
    line = one_line(plan(*args))
    for word in words:
        assert word in line, line


@pytest.mark.parametrize("args, words", [
    (("bridge", "br0", "--port", "eno4"), ("--port: eno4 carries ml0, which take the frames", "bridge port (EBUSY)")),
    (("bond", "b1", "--mode", "active-backup", "--slave", "eno4"), ("--slave: eno4 carries ml0", "a bond slave (EBUSY)")),
])
def test_a_device_carrying_a_macvlan_cannot_join(tmp_path, args, words):
    line = one_line(plan(*args, recorded=with_free_nics(tmp_path, macvlan_on="eno4")))
    for word in words:
        assert word in line, line


def test_bond_options_by_the_kernels_number_as_ip_takes_them(tmp_path):
    recorded = with_free_nics(tmp_path)
    proc = plan("bond", "b1", "--mode", "4", "--slave", "eno4", "--slave", "eno5", "--lacp-rate", "1",
                "--xmit-hash-policy", "1", recorded=recorded)
    assert proc.returncode == 0, proc.stderr
    assert "create bond b1 (802.3ad)" in proc.stdout
    assert "mode 802.3ad" in proc.stdout and "lacp_rate fast" in proc.stdout and "xmit_hash_policy layer3+4" in proc.stdout
    line = one_line(plan("bond", "b1", "--mode", "802.3ad", "--slave", "eno4", "--xmit-hash-policy", "6", recorded=recorded))
    assert "--xmit-hash-policy: unknown transmit hash policy '6'; one of layer2 (0), layer3+4 (1)" in line
    line = one_line(plan("bond", "b1", "--mode", "802.3ad", "--slave", "eno4", "--lacp-rate", "medium", recorded=recorded))
    assert "--lacp-rate: unknown LACP rate 'medium'; one of slow (0), fast (1)" in line


def test_free_nics_pass_and_macvtap_on_a_free_nic_passes(tmp_path):
    recorded = with_free_nics(tmp_path)
    assert plan("bridge", "br0", "--port", "eno4", recorded=recorded).returncode == 0
    assert plan("attach", "web1", "--macvtap", "eno4", "--model", "e1000e", recorded=recorded).returncode == 0


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_every_plan_option_has_a_help_line_with_its_values_and_defaults():
    """Walks the parser (what --help prints), then reads two --help outputs as a user does."""
    for verb in ("plan", "apply"):
        for what, sub in _subparsers(_subparsers(build_parser())[verb]).items():
            for action in sub._actions:
                assert action.help, f"{verb} {what}: {action.option_strings or action.dest} has no help line"
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    bond = kvmtui("plan", "bond", "--help", env=env).stdout
    assert "balance-rr (0)" in bond and "802.3ad (4)" in bond and "layer3+4 (1)" in bond and "fast (1)" in bond
    attach = kvmtui("apply", "attach", "--help", env=env).stdout
    assert "default: without --live and --config, the running guest and the definition" in attach
    assert "default: vepa" in attach and "i82559er" in attach
