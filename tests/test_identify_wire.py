"""`kvmtui identify` on a real wire: two namespaces joined by a veth pair; from one side a
packet socket writes tagged frames, LLDP, CDP and an RSTP BPDU, the other side listens.
Also the NIC facts of a veth, blink (veth cannot), read-only and bad input."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import pytest

from kvmtui.collect.netns import run_in_netns
from tests.helpers import REPO, kvmtui_in, sh, wait_until
from tests.wire_samples import listening, sample_traffic, wire_pair

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--")


@pytest.fixture
def wire(make_netns):
    """(sending namespace, receiving namespace), joined by kt-tx/kt-rx."""
    return wire_pair(make_netns)


def _send(sender: str, frames: list[bytes]) -> None:
    """Written as they are, tags included, through a packet socket made in `sender`."""
    def open_socket() -> socket.socket:
        raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        raw.bind(("kt-tx", 0))
        return raw

    with run_in_netns(sender, open_socket) as raw:
        for frame in frames:
            raw.send(frame)


def _identify_listening(receiver: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kvmtui", "--netns", receiver, "--no-libvirt", "identify", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})


def _heard(sender: str, receiver: str, *args: str) -> tuple[subprocess.Popen, str, str]:
    """`identify kt-rx ARGS` listening while the sample traffic is sent -> (process, stdout, stderr)."""
    proc = _identify_listening(receiver, "kt-rx", *args)
    try:
        wait_until(lambda: listening(receiver) or proc.poll() is not None, timeout=30, interval=0.02,
                   what="kvmtui's packet socket")
        _send(sender, sample_traffic())
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc, out, err


@pytest.mark.parametrize("rxvlan", ["on", "off"])
def test_listen_reports_exactly_the_vlans_neighbours_and_root(wire, rxvlan):
    sender, receiver = wire
    sh("ip", "netns", "exec", receiver, "ethtool", "-K", "kt-rx", "rxvlan", rxvlan)
    proc, out, err = _heard(sender, receiver, "--listen", "3", "--json")
    assert proc.returncode == 0, err
    document = json.loads(out)
    assert document["nic"]["offloads"]["rx-vlan-offload"] is (rxvlan == "on")
    wire_report = document["wire"]
    assert wire_report["vlans"] == [{"vlan": 10, "frames": 3}, {"vlan": 20, "frames": 5}, {"vlan": 4094, "frames": 1}]
    assert (wire_report["untagged"], wire_report["frames"], wire_report["stopped_early"]) == (2, 14, False)
    assert wire_report["dropped"] == 0
    if rxvlan == "on":  # the tag is not in the frame: only PACKET_AUXDATA has it
        assert wire_report["tags_in_auxdata"] == 9
    lldp, cdp = wire_report["neighbours"]
    assert (lldp["protocol"], lldp["chassis_id"], lldp["port_id"], lldp["port_description"], lldp["system_name"]) == (
        "lldp", "00:11:22:33:44:55", "Gi1/0/7", "uplink to kvm07", "sw-core-1")
    assert (lldp["native_vlan"], lldp["management_addresses"]) == (10, ["192.0.2.10"])
    assert (cdp["protocol"], cdp["chassis_id"], cdp["port_id"], cdp["native_vlan"]) == (
        "cdp", "sw-cdp-2", "GigabitEthernet0/3", 10)
    assert [(b["protocol"], b["root_id"]) for b in wire_report["bpdus"]] == [("rstp", "1000.00:aa:bb:cc:dd:01")]
    assert {(m["mac"], m["vlan"], m["frames"]) for m in wire_report["macs"]} == {
        ("02:00:00:00:00:01", None, 2), ("02:00:00:00:00:0a", 10, 3), ("02:00:00:00:00:14", 20, 5),
        ("02:00:00:00:0f:fe", 4094, 1)}
    # the promiscuous membership went with the socket
    assert "PROMISC" not in sh("ip", "-n", receiver, "link", "show", "kt-rx")
    assert not listening(receiver)


def test_text_output_names_vlans_neighbours_and_root(wire):
    sender, receiver = wire
    proc, out, err = _heard(sender, receiver, "--listen", "2")
    assert proc.returncode == 0, err
    assert "VLANs          10 (3 frames), 20 (5 frames), 4094 (1 frame)" in out
    assert "untagged       2 frames" in out
    assert "LLDP sw-core-1 port Gi1/0/7 (uplink to kvm07)" in out and "CDP sw-cdp-2 port GigabitEthernet0/3" in out
    assert "STP            root 1000.00:aa:bb:cc:dd:01" in out


def test_facts_of_a_veth_match_ethtool(wire):
    _, receiver = wire
    doc = json.loads(kvmtui_in(receiver, "identify", "kt-rx", "--json", check=True).stdout)
    ethtool = dict(line.split(": ", 1) for line in sh("ip", "netns", "exec", receiver, "ethtool", "-i", "kt-rx").splitlines()
                   if ": " in line)
    nic = doc["nic"]
    assert (nic["driver"], nic["driver_version"]) == (ethtool["driver"], ethtool["version"]) == ("veth", "1.0")
    assert nic["firmware_version"] is None and nic["bus_address"] is None and doc["wire"] is None
    assert (nic["speed_mbps"], nic["duplex"], nic["autoneg"]) == (10000, "full", False)
    assert nic["sriov_totalvfs"] is None and nic["permanent_mac"] is None
    sh("ip", "netns", "exec", receiver, "ethtool", "-K", "kt-rx", "rxvlan", "off", "gro", "on")
    again = json.loads(kvmtui_in(receiver, "identify", "kt-rx", "--json", check=True).stdout)["nic"]["offloads"]
    assert (again["rx-vlan-offload"], again["generic-receive-offload"]) == (False, True)
    text = kvmtui_in(receiver, "identify", "kt-rx", check=True).stdout
    assert "firmware       n/a" in text and "driver         veth 1.0" in text


def test_blink_on_a_veth_says_the_driver_cannot(wire):
    _, receiver = wire
    started = time.monotonic()
    proc = kvmtui_in(receiver, "identify", "kt-rx", "--blink", "5")
    assert (proc.returncode, proc.stderr) == (1, "kvmtui: the driver veth cannot blink its port LED\n")
    assert time.monotonic() - started < 5  # refused at once, not after the 5 s
    assert "driver         veth" in proc.stdout  # the facts are still shown


def test_blink_is_refused_in_readonly_mode(wire):
    _, receiver = wire
    proc = kvmtui_in(receiver, "--readonly", "identify", "kt-rx", "--blink", "5")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == ("kvmtui: read-only mode: blinking the port LED of kt-rx is a change to the device, "
                           "so kvmtui does not do it\n")
    listening = kvmtui_in(receiver, "--readonly", "identify", "kt-rx", "--listen", "1", "--json")
    assert listening.returncode == 0, listening.stderr  # listening changes nothing: allowed
    assert json.loads(listening.stdout)["wire"]["frames"] == 0


def test_bad_input(wire):
    _, receiver = wire
    missing = kvmtui_in(receiver, "identify", "kt-nope", "--listen", "1")
    assert (missing.returncode, missing.stderr) == (
        1, f"kvmtui: there is no interface 'kt-nope' in network namespace '{receiver}' (see `ip link`)\n")
    zero = kvmtui_in(receiver, "identify", "kt-rx", "--listen", "0")
    assert zero.returncode == 2 and "argument --listen: 0 is outside 1 to 3600 seconds" in zero.stderr
    recorded = kvmtui_in(receiver, "--from", "/nonexistent.json", "identify", "kt-rx")
    assert recorded.returncode == 1 and "cannot run on a recording" in recorded.stderr
    nobody = subprocess.run(["ip", "netns", "exec", receiver, *NOBODY, sys.executable, "-m", "kvmtui", "--no-libvirt",
                             "identify", "kt-rx", "--listen", "1"], capture_output=True, text=True, timeout=60,
                            cwd="/", env={"PYTHONPATH": str(REPO)})
    assert (nobody.returncode, nobody.stderr) == (1, "kvmtui: listening on the wire needs root (CAP_NET_RAW)\n")


def test_listening_on_a_bridge_says_so(wire):
    _, receiver = wire
    sh("ip", "-n", receiver, "link", "add", "kt-br", "type", "bridge")
    sh("ip", "-n", receiver, "link", "set", "kt-br", "up")
    proc = kvmtui_in(receiver, "identify", "kt-br", "--listen", "1")
    assert proc.returncode == 0, proc.stderr
    assert "listened 1 s on bridge kt-br" in proc.stdout and "not one cable" in proc.stdout
    assert "firmware       n/a" in proc.stdout  # the bridge driver's own "N/A"


def test_ctrl_c_ends_listening_early_with_what_was_heard(wire):
    sender, receiver = wire
    proc = _identify_listening(receiver, "kt-rx", "--listen", "60", "--json")
    try:
        wait_until(lambda: listening(receiver) or proc.poll() is not None, timeout=30, interval=0.02,
                   what="kvmtui's packet socket")
        _send(sender, sample_traffic()[:3])
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    report = json.loads(out)["wire"]
    assert report["stopped_early"] and report["seconds"] < 30
    assert report["vlans"] == [{"vlan": 10, "frames": 3}]
    assert not listening(receiver)


def test_a_blink_stops_early_when_asked(wire, monkeypatch):
    """No driver here blinks, so the ioctl is one that blocks as PHYS_ID does in the kernel:
    until a signal reaches its thread (then PHYS_ID puts the LED back and returns 0)."""
    from kvmtui.apply import blink

    _, receiver = wire
    calls = []

    def blocking_phys_id(sock, interface, request):
        calls.append((interface, request))
        signal.pause()
        return request

    monkeypatch.setattr(blink, "ethtool_ioctl", blocking_phys_id)
    before = signal.getsignal(blink.WAKE_SIGNAL)
    blinker = blink.Blinker("kt-rx", 30, receiver).start()
    try:
        assert not blinker.wait(0.5) and blinker.running()
        started = time.monotonic()
        blinker.stop()
        assert blinker.wait(2) and time.monotonic() - started < 2
        assert blinker.error is None and calls == [("kt-rx", bytes.fromhex("1c0000001e000000"))]  # PHYS_ID, 30 s
    finally:
        blinker.close()
        signal.signal(blink.WAKE_SIGNAL, before)
