"""Guest interfaces changed through the real libvirtd (qemu:///system, diskless TCG guest).

Live hotplug uses model usb-net: the diskless guest sits in iPXE, which never answers
the ACPI eject a PCI (virtio) unplug waits for, and this ACPI-less guest has no PCI
hotplug at all; a USB NIC comes and goes without the guest's help. The persistent
(--config) path uses virtio and is checked by really restarting the guest (libvirt 9.0
cannot give a usb-net NIC a USB address in a definition by itself).
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import sh
from tests.guests import diskless_guest, kt_bridge, kt_veth, unique_name
from tests.helpers import kvmtui
from tests.guests import domiflist

pytestmark = pytest.mark.libvirt
MODES = ("vepa", "bridge", "private", "passthrough")


def inactive_macs(name: str) -> str:
    return sh("virsh", "dumpxml", "--inactive", name)


@pytest.fixture(scope="module")
def guest():
    with kt_bridge() as bridge, kt_veth() as (v0, _), kt_veth() as (v1, _), kt_veth() as (v2, _), kt_veth() as (v3, _):
        with diskless_guest(unique_name("h"), []) as dom:
            yield {"name": dom.name(), "bridge": bridge, "lowers": dict(zip(MODES, (v0, v1, v2, v3)))}


@pytest.mark.parametrize("mode", MODES)
def test_macvtap_hotplug_in_each_mode(guest, mode):
    name, lower = guest["name"], guest["lowers"][mode]
    mac = f"52:54:00:4b:75:0{MODES.index(mode)}"
    proc = kvmtui("apply", "--yes", "attach", name, "--macvtap", lower, "--mode", mode, "--mac", mac,
                  "--model", "usb-net", "--live")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the host cannot reach this guest through" in proc.stdout
    row = domiflist(name)[mac]
    assert (row["type"], row["source"], row["model"]) == ("direct", lower, "usb-net")
    macvtap = json.loads(sh("ip", "-d", "-j", "link", "show", row["target"]))[0]
    assert macvtap["linkinfo"]["info_kind"] == "macvtap" and macvtap["link"] == lower
    assert macvtap["linkinfo"]["info_data"]["mode"] == ("passthru" if mode == "passthrough" else mode)
    assert mac not in inactive_macs(name)  # --live only: the definition is untouched
    proc = kvmtui("apply", "--yes", "detach", name, mac, "--live")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert mac not in domiflist(name)


def test_bridge_hotplug(guest):
    name, bridge = guest["name"], guest["bridge"]
    mac = "52:54:00:4b:75:10"
    proc = kvmtui("apply", "--yes", "attach", name, "--bridge", bridge, "--mac", mac, "--model", "usb-net", "--live")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = domiflist(name)[mac]
    assert (row["type"], row["source"]) == ("bridge", bridge) and row["target"].startswith("vnet")
    assert json.loads(sh("ip", "-j", "link", "show", row["target"]))[0]["master"] == bridge
    proc = kvmtui("apply", "--yes", "detach", name, mac, "--live")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert mac not in domiflist(name)


def restart(name: str) -> None:
    sh("virsh", "destroy", name)
    sh("virsh", "start", name)


def test_persistent_attach_survives_a_restart_and_agrees_with_domiflist(guest):
    """--config: the definition changes now, the running guest at its next start; after a
    real restart `virsh domiflist` and `virsh dumpxml --inactive` list the same NICs."""
    name, bridge = guest["name"], guest["bridge"]
    wanted = {f"52:54:00:4b:76:0{n}": ("direct", guest["lowers"][mode], mode) for n, mode in enumerate(MODES)}
    wanted["52:54:00:4b:76:10"] = ("bridge", bridge, None)
    for mac, (kind, source, mode) in wanted.items():
        args = ("--bridge", source) if kind == "bridge" else ("--macvtap", source, "--mode", mode)
        proc = kvmtui("apply", "--yes", "attach", name, *args, "--mac", mac, "--config")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert mac not in domiflist(name) and mac in inactive_macs(name)
    restart(name)
    rows = domiflist(name)
    inactive = inactive_macs(name)
    for mac, (kind, source, mode) in wanted.items():
        assert (rows[mac]["type"], rows[mac]["source"], rows[mac]["model"]) == (kind, source, "virtio")
        assert f"<mac address='{mac}'/>" in inactive
        if mode:
            info = json.loads(sh("ip", "-d", "-j", "link", "show", rows[mac]["target"]))[0]["linkinfo"]["info_data"]
            assert info["mode"] == ("passthru" if mode == "passthrough" else mode)
    for mac in wanted:
        proc = kvmtui("apply", "--yes", "detach", name, mac, "--config")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not set(wanted) & set(inactive_macs(name).split("'"))
    restart(name)
    assert not set(wanted) & set(domiflist(name))


@pytest.mark.parametrize("args, words", [
    (("attach", "kt-no-such-guest", "--bridge", "lo"), "there is no guest 'kt-no-such-guest'"),
    (("attach", "{guest}", "--bridge", "{lower}"), "is not a bridge"),
    (("attach", "{guest}", "--macvtap", "{lower}", "--mode", "bridge", "--mac", "01:00:5e:00:00:01"), "multicast"),
    (("detach", "{guest}", "52:54:00:00:00:99"), "has no interface"),
])
def test_bad_guest_input(guest, args, words):
    args = tuple(a.format(guest=guest["name"], lower=guest["lowers"]["vepa"]) for a in args)
    proc = kvmtui("apply", "--yes", *args)
    assert proc.returncode == 1 and words in proc.stderr, proc.stderr


def test_macvtap_on_a_bridge_port_and_shared_passthrough_are_refused(guest):
    name, bridge, lower = guest["name"], guest["bridge"], guest["lowers"]["vepa"]
    mac = "52:54:00:4b:75:12"
    assert kvmtui("apply", "--yes", "attach", name, "--macvtap", lower, "--mode", "vepa", "--mac", mac,
                  "--model", "usb-net", "--live").returncode == 0
    try:
        proc = kvmtui("apply", "--yes", "attach", name, "--macvtap", lower, "--mode", "passthrough", "--live")
        assert proc.returncode == 1 and "passthrough needs" in proc.stderr
    finally:
        assert kvmtui("apply", "--yes", "detach", name, mac, "--live").returncode == 0
    sh("ip", "link", "set", lower, "master", bridge)
    try:
        proc = kvmtui("apply", "--yes", "attach", name, "--macvtap", lower, "--mode", "bridge", "--live")
        assert proc.returncode == 1 and f"is a port of bridge {bridge}" in proc.stderr
    finally:
        sh("ip", "link", "set", lower, "nomaster")


def test_passthrough_needs_a_device_nothing_else_uses(guest):
    """The host's own addresses on the lower device refuse passthrough; a passthrough
    lower device takes no second macvtap; without --mode the macvtap is vepa, as in libvirt."""
    name, lower = guest["name"], guest["lowers"]["passthrough"]
    proc = kvmtui("plan", "attach", name, "--macvtap", lower)
    assert proc.returncode == 0 and 'mode="vepa"' in proc.stdout, proc.stderr
    sh("ip", "addr", "add", "198.51.100.77/32", "dev", lower)  # TEST-NET-2, a /32: no route comes with it
    try:
        proc = kvmtui("apply", "--yes", "attach", name, "--macvtap", lower, "--mode", "passthrough", "--live")
        assert proc.returncode == 1 and f"passthrough needs {lower} to itself" in proc.stderr, proc.stderr
        assert "addresses 198.51.100.77/32" in proc.stderr
    finally:
        sh("ip", "addr", "del", "198.51.100.77/32", "dev", lower)
    mac = "52:54:00:4b:75:13"
    proc = kvmtui("apply", "--yes", "attach", name, "--macvtap", lower, "--mode", "passthrough", "--mac", mac,
                  "--model", "usb-net", "--live")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        for mode in ("vepa", "bridge"):
            proc = kvmtui("apply", "--yes", "attach", name, "--macvtap", lower, "--mode", mode, "--live")
            assert proc.returncode == 1 and f"{lower} is given whole to guest {name}" in proc.stderr, proc.stderr
    finally:
        assert kvmtui("apply", "--yes", "detach", name, mac, "--live").returncode == 0


def test_unreachable_libvirt_is_refused_cleanly():
    proc = kvmtui("--connect", "qemu+unix:///system?socket=/nonexistent", "apply", "--yes", "attach", "x", "--bridge", "y")
    assert proc.returncode == 1 and "libvirt is not reachable" in proc.stderr
