"""`kvmtui plan` on the recorded host (examples/kvm-host.json): what must be refused is
refused with one line that says why, and what is allowed warns where it should. A plan
on a recording changes nothing, so these run anywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "kvm-host.json"


def plan(*args: str, recorded=EXAMPLE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kvmtui", "--from", str(recorded), "plan", *args],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


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
