"""Guest rules on the real host with a real libvirt guest (qemu:///system, TCG, diskless).

One guest, shared by every test here and paused right after it starts (its devices stay,
its CPU is free): a NIC on a kt- bridge, one on a kt- libvirt network, a macvtap in VEPA
mode on a kt- veth, and a second bridge NIC. Defined-only guests (never started, so they
cost nothing) supply clashes. Findings are filtered to this module's objects: the root
namespace is shared with others.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import replace

import libvirt
import pytest

from kvmtui.audit import audit
from kvmtui.collect.snapshot import collect_snapshot
from tests.guests import SYSTEM_URI, diskless_guest, kt_bridge, kt_veth, unique_name
from tests.topologies import HOLD_TAPS

pytestmark = pytest.mark.libvirt


def mac() -> str:
    return "52:54:00:" + ":".join(uuid.uuid4().hex[i:i + 2] for i in (0, 2, 4))


def nic(kind: str, source: str, address: str) -> str:
    return f"<interface type='{kind}'><mac address='{address}'/>{source}<model type='virtio'/></interface>"


def sh(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


@contextmanager
def libvirt_network(start: bool = True, forward: str | None = None):
    """A persistent, isolated kt- network (no IP: no dnsmasq, no firewall rules); with
    `forward` (a <forward> element), that network instead, e.g. a macvtap pool."""
    name, bridge = unique_name("net"), unique_name("nb")
    conn = libvirt.open(SYSTEM_URI)
    body = forward or f"<bridge name='{bridge}'/>"
    net = conn.networkDefineXML(f"<network><name>{name}</name>{body}</network>")
    try:
        if start:
            net.create()
        yield name, bridge
    finally:
        try:
            if net.isActive():
                net.destroy()
        except libvirt.libvirtError:
            pass
        try:
            net.undefine()
        except libvirt.libvirtError:
            pass
        conn.close()


@contextmanager
def defined_guest(nics: list[str], start: bool = False):
    """A guest that is defined and never started (or started and paused at once)."""
    with diskless_guest(unique_name("d"), nics, start=start) as dom:
        if start:
            dom.suspend()
        yield dom.UUIDString()


@pytest.fixture(scope="module")
def lab():
    with ExitStack() as stack:
        bridge = stack.enter_context(kt_bridge())
        lower, _ = stack.enter_context(kt_veth())
        port, _ = stack.enter_context(kt_veth())  # a second port of the bridge
        subprocess.run(["ip", "link", "set", port, "master", bridge], check=True)
        network, network_bridge = stack.enter_context(libvirt_network())
        macs = [mac() for _ in range(4)]
        dom = stack.enter_context(diskless_guest(unique_name("g"), [
            nic("bridge", f"<source bridge='{bridge}'/>", macs[0]),
            nic("network", f"<source network='{network}'/>", macs[1]),
            nic("direct", f"<source dev='{lower}' mode='vepa'/>", macs[2]),
            nic("bridge", f"<source bridge='{bridge}'/>", macs[3]),
        ]))
        dom.suspend()  # keeps its taps and macvtap; frees the CPU
        yield {"uuid": dom.UUIDString(), "name": dom.name(), "bridge": bridge, "lower": lower, "port": port,
               "network": network, "network_bridge": network_bridge, "macs": macs}


def ours(lab, findings, *extra_keys: str) -> set[tuple[str, str, str]]:
    """(rule, key, severity) of the findings about this module's objects; not the drift
    rules' (the kt- bridges and veths made here are in no saved configuration of the host)."""
    keys = {f"link:{n}" for n in (lab["bridge"], lab["lower"], lab["port"], lab["network_bridge"])}
    prefixes = (f"guest:{lab['uuid']}:", *extra_keys)
    return {(f.rule, f.key, f.severity) for f in findings
            if (f.key in keys or f.key.startswith(prefixes)) and f.rule != "host-bridge-nf-call-iptables"
            and not f.rule.startswith("drift-")}


def snapshot():
    return collect_snapshot(uri=SYSTEM_URI)


def guest(lab, n: int) -> str:
    """The lab guest's n-th NIC, keyed as the tree keys it: by its MAC."""
    return f"guest:{lab['uuid']}:{lab['macs'][n]}"


def target(snap, lab, n: int) -> str:
    dom = next(d for d in snap.domains if d.uuid == lab["uuid"])
    return dom.interfaces[n].target


def test_clean_guest_says_only_what_macvtap_means(lab):
    snap = snapshot()
    assert ours(lab, audit(snap)) == {
        ("guest-macvtap-vepa", guest(lab, 2), "info"), ("guest-macvtap-host", guest(lab, 2), "info")}
    taps = {f"link:{target(snap, lab, n)}" for n in (0, 1, 3)}
    assert not [f for f in audit(snap) if f.key in taps]
    host = [f for f in audit(snap) if f.rule == "host-bridge-nf-call-iptables"]
    if ("net.bridge.bridge-nf-call-iptables", "1") in snap.sysctls:
        assert host and lab["bridge"] in host[0].what
        assert lab["network_bridge"] in host[0].what


def test_guest_mac_on_another_port(lab):
    mac0 = lab["macs"][0]
    sh("bridge", "fdb", "replace", mac0, "dev", lab["port"], "master", "static", "sticky")
    try:
        findings = [f for f in audit(snapshot()) if f.rule == "bridge-mac-two-ports" and f.key == guest(lab, 0)]
    finally:
        sh("bridge", "fdb", "del", mac0, "dev", lab["port"], "master")
    (finding,) = findings
    assert lab["port"] in finding.what and finding.severity == "warning"


def test_two_guests_with_one_mac(lab):
    with defined_guest([nic("bridge", f"<source bridge='{lab['bridge']}'/>", lab["macs"][0])]) as clone:
        findings = audit(snapshot())
    (finding,) = [f for f in findings if f.rule == "guest-duplicate-mac"
                  and f.key in (guest(lab, 0), f"guest:{clone}:{lab['macs'][0]}")]
    assert finding.key == guest(lab, 0)  # the running one first
    assert finding.severity == "warning" and lab["name"] in finding.what and "shut off" in finding.what
    with defined_guest([nic("bridge", f"<source bridge='{lab['bridge']}'/>", lab["macs"][0])], start=True) as clone:
        findings = audit(snapshot())
    (finding,) = [f for f in findings if f.rule == "guest-duplicate-mac"
                  and f.key in (guest(lab, 0), f"guest:{clone}:{lab['macs'][0]}")]
    assert finding.severity == "error" and finding.what.count("(paused)") == 2


def test_orphan_tap(lab):
    tap, held = unique_name("tp"), unique_name("th")
    sh("ip", "tuntap", "add", tap, "mode", "tap")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_TAPS, held], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # a program outside libvirt holds it
    try:
        assert holder.stdout.readline().strip() == "ready"
        for dev in (tap, held):
            sh("ip", "link", "set", dev, "master", lab["bridge"])
            sh("ip", "link", "set", dev, "up")
        findings = audit(snapshot())
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
        subprocess.run(["ip", "link", "del", tap], capture_output=True)
    # One finding about the tap, not also "port disabled": the orphan rule says why.
    assert {(f.rule, f.severity) for f in findings if f.key == f"link:{tap}"} == {("guest-orphan-tap", "warning")}
    assert {(f.rule, f.severity) for f in findings if f.key == f"link:{held}"} == {("guest-orphan-tap", "info")}
    assert ours(lab, findings) == {
        ("guest-macvtap-vepa", guest(lab, 2), "info"), ("guest-macvtap-host", guest(lab, 2), "info")}


def test_defined_guest_on_inactive_network(lab):
    with libvirt_network(start=False) as (network, _bridge), \
            defined_guest([nic("network", f"<source network='{network}'/>", address := mac())]) as other:
        findings = audit(snapshot())
    assert {(f.rule, f.severity) for f in findings if f.key == f"guest:{other}:{address}"} == {
        ("guest-network-inactive", "warning")}


def test_passthrough_device_also_used_by_another_guest(lab):
    with kt_veth() as (dev, _), \
            defined_guest([nic("direct", f"<source dev='{dev}' mode='passthrough'/>", p_mac := mac())]) as p, \
            defined_guest([nic("direct", f"<source dev='{dev}' mode='bridge'/>", q_mac := mac())]) as q:
        findings = audit(snapshot())
    mine = {(f.rule, f.key, f.severity) for f in findings if f.key in (f"guest:{p}:{p_mac}", f"guest:{q}:{q_mac}")}
    assert mine == {("guest-passthrough-shared", f"guest:{p}:{p_mac}", "error"),
                    ("guest-macvtap-host", f"guest:{q}:{q_mac}", "info")}


def test_guests_on_a_macvtap_network(lab):
    """A libvirt network in forward mode vepa over a pool of two kt- veths. A defined guest
    says only type='network' in its XML (libvirt picks the device at start), so the
    findings name the pool; a running one shows the device libvirt picked."""
    with kt_veth() as (one, _), kt_veth() as (two, _), \
            libvirt_network(forward=f"<forward mode='vepa'><interface dev='{one}'/><interface dev='{two}'/></forward>"
                            ) as (network, _bridge), \
            defined_guest([nic("network", f"<source network='{network}'/>", idle_mac := mac())]) as idle, \
            defined_guest([nic("network", f"<source network='{network}'/>", running_mac := mac())], start=True) as running:
        snap = snapshot()
        findings = audit(snap)
    mine = {(f.rule, f.key, f.severity) for f in findings if f.key.startswith((f"guest:{idle}:", f"guest:{running}:"))}
    assert mine == {(rule, f"guest:{g}:{m}", "info") for rule in ("guest-macvtap-vepa", "guest-macvtap-host")
                    for g, m in ((idle, idle_mac), (running, running_mac))}
    (vepa,) = [f for f in findings if f.key == f"guest:{idle}:{idle_mac}" and f.rule == "guest-macvtap-vepa"]
    assert f"on {one} or {two} (libvirt network {network})" in vepa.what
    assert vepa.commands == (f"virsh net-edit {network}",)
    (live,) = [d for d in snap.domains if d.uuid == running]
    assert live.interfaces[0].type == "direct" and live.interfaces[0].dev in (one, two)


def test_bridge_down_under_a_guest(lab):
    sh("ip", "link", "set", lab["bridge"], "down")
    try:
        findings = audit(snapshot())
    finally:
        sh("ip", "link", "set", lab["bridge"], "up")
    down = [f for f in findings if f.key == f"link:{lab['bridge']}" and f.rule != "host-bridge-nf-call-iptables"
            and not f.rule.startswith("drift-")]
    assert [(f.rule, f.severity) for f in down] == [("bridge-down-with-guests", "error")]
    assert f"guest {lab['name']}" in down[0].what
    assert ours(lab, findings) == {
        ("bridge-down-with-guests", f"link:{lab['bridge']}", "error"),
        ("guest-macvtap-vepa", guest(lab, 2), "info"), ("guest-macvtap-host", guest(lab, 2), "info")}


def test_running_guest_on_destroyed_network(lab):
    conn = libvirt.open(SYSTEM_URI)
    try:
        conn.networkLookupByName(lab["network"]).destroy()
    finally:
        conn.close()
    findings = audit(snapshot())
    assert ("guest-network-inactive", guest(lab, 1), "error") in ours(lab, findings)


def test_guest_tap_deleted(lab):
    tap = target(snapshot(), lab, 3)
    sh("ip", "link", "del", tap)
    findings = audit(snapshot())
    assert ("guest-target-missing", guest(lab, 3), "error") in ours(lab, findings)
    (finding,) = [f for f in findings if f.key == guest(lab, 3)]
    assert tap in finding.what
    # Guests of a remote libvirt (or the test driver) have their devices elsewhere: not judged.
    snap = snapshot()
    for uri in ("qemu+ssh://elsewhere/system", "test:///default"):
        remote = replace(snap, host=replace(snap.host, libvirt_uri=uri))
        assert not [f for f in audit(remote) if f.rule in ("guest-target-missing", "guest-orphan-tap")]


def test_defined_guests_are_gone():
    """The defined-only guests were undefined by the tests that made them (the shared
    guest goes when the module's fixture ends)."""
    names = sh("virsh", "list", "--all", "--name").split()
    assert not [n for n in names if n.startswith("kt-d")]
