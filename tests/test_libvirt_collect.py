"""The libvirt collector: the test driver, an unreachable daemon, and one real guest."""

from __future__ import annotations

from dataclasses import replace

import os
import re
import subprocess

import libvirt
import pytest

from kvmtui.collect import libvirt as collect
from kvmtui.collect.libvirt import (
    LibvirtState,
    collect_libvirt,
    open_connection,
    readable_reason,
    resolve_uri,
    state_name,
)
from kvmtui.libvirt_xml import LibvirtXmlError, parse_domain_xml
from kvmtui.errors import LibvirtUnavailable
from tests.helpers import OWN_FIXTURES
from tests.guests import SYSTEM_URI, diskless_guest, kt_bridge, kt_veth, unique_name, wait_until

UNREACHABLE = "qemu+unix:///system?socket=/nonexistent"
# KVMTUI_RECORD_FIXTURES=1 rewrites tests/fixtures/libvirt/*-kvmtui.xml from the real guest;
# the names and MACs pinned in test_libvirt_xml.py must then be updated by hand.
RECORD = os.environ.get("KVMTUI_RECORD_FIXTURES") == "1"


# --- no daemon needed ----------------------------------------------------------------


def test_test_driver_default():
    state = collect_libvirt("test:///default")
    assert isinstance(state, LibvirtState)
    assert state.error is None and state.problems == ()
    assert state.uri == "test:///default"
    assert re.fullmatch(r"\d+\.\d+\.\d+", state.version)
    (dom,) = state.domains
    assert (dom.name, dom.state, dom.id, dom.persistent) == ("test", "running", 1, True)
    (nic,) = dom.interfaces
    assert (nic.type, nic.network, nic.mac, nic.target) == ("network", "default", "aa:bb:cc:dd:ee:ff", "testnet0")
    (net,) = state.networks
    assert (net.name, net.active, net.persistent, net.forward, net.bridge) == (
        "default", True, True, "nat", "virbr0")
    assert net.addresses == ("192.168.122.1/24",)


def test_unreachable_daemon_is_an_error_not_an_exception():
    state = collect_libvirt(UNREACHABLE)
    assert state.uri == UNREACHABLE
    assert state.domains == () and state.networks == () and state.version is None
    assert "libvirtd does not seem to be running" in state.error
    assert "/nonexistent" in state.error


def test_open_connection_raises_a_readable_error():
    with pytest.raises(LibvirtUnavailable) as info:
        open_connection(UNREACHABLE)
    assert info.value.uri == UNREACHABLE
    assert "Failed to connect socket" not in info.value.reason


def test_unknown_driver():
    state = collect_libvirt("nosuchdriver:///x")
    assert "no driver" in state.error


def test_uri_resolution(monkeypatch):
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)
    assert resolve_uri(None) == "qemu:///system"
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "test:///default")
    assert resolve_uri(None) == "test:///default"
    assert resolve_uri("qemu:///session") == "qemu:///session"
    assert collect_libvirt(None).uri == "test:///default"


def test_readable_reasons():
    assert "does not seem to be running" in readable_reason(
        "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory")
    assert "does not seem to be running" in readable_reason(
        "Failed to connect socket to '/var/run/libvirt/libvirt-sock': Connection refused")
    assert "'libvirt' group" in readable_reason(
        "Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied")
    assert readable_reason("something else") == "something else"


def test_state_names_are_virshs():
    assert [state_name(s) for s in range(8)] == [
        "no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed", "pmsuspended"]


def node_file(tmp_path, count: int) -> str:
    """A test-driver host with `count` domains (half of them shut off) and two networks."""
    doms = "".join(
        f"""<domain type='test'><name>vm;{i}</name><memory>1024</memory><os><type>hvm</type></os>
        <devices><interface type='bridge'><mac address='52:54:00:00:{i // 256:02X}:{i % 256:02X}'/>
        <source bridge='br0'/></interface></devices></domain>"""
        for i in range(count))
    path = tmp_path / "node.xml"
    path.write_text(f"""<node>{doms}
      <network><name>default</name><bridge name='virbr0'/><forward/>
        <ip address='192.168.122.1' netmask='255.255.255.0'/></network>
      <network><name>iso</name><bridge name='virbr9'/></network></node>""")
    return f"test://{path}"


def test_many_domains_on_the_test_driver(tmp_path):
    state = collect_libvirt(node_file(tmp_path, 300))
    assert state.error is None and state.problems == ()
    assert len(state.domains) == 300
    assert {d.state for d in state.domains} == {"running"}
    assert len({d.uuid for d in state.domains}) == 300
    assert [d.name for d in state.domains] == sorted(d.name for d in state.domains)
    by_name = {d.name: d for d in state.domains}
    assert by_name["vm;257"].interfaces[0].mac == "52:54:00:00:01:01"
    assert {n.name: n.forward for n in state.networks} == {"default": "nat", "iso": "isolated"}


def test_one_bad_domain_is_a_problem_the_rest_still_collected(tmp_path, monkeypatch):
    real_parse = collect.parse_domain_xml

    def parse(xml, **kw):
        if "<name>vm;1</name>" in xml:
            raise LibvirtXmlError("the domain XML is not well-formed: boom")
        return real_parse(xml, **kw)

    monkeypatch.setattr(collect, "parse_domain_xml", parse)
    state = collect_libvirt(node_file(tmp_path, 3))
    assert sorted(d.name for d in state.domains) == ["vm;0", "vm;2"]
    assert state.problems == ("domain 'vm;1': the domain XML is not well-formed: boom",)
    assert state.error is None


def test_domain_vanishing_before_xmldesc_is_skipped(tmp_path, monkeypatch):
    real_xmldesc = libvirt.virDomain.XMLDesc

    def xmldesc(self, flags=0):
        if self.name() == "vm;0":
            err = libvirt.libvirtError("Domain not found")
            err.err = (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_FROM_DOM, "Domain not found",
                       2, None, None, None, 0, 0)
            raise err
        return real_xmldesc(self, flags)

    monkeypatch.setattr(libvirt.virDomain, "XMLDesc", xmldesc)
    state = collect_libvirt(node_file(tmp_path, 3))
    assert sorted(d.name for d in state.domains) == ["vm;1", "vm;2"]
    assert state.problems == () and state.error is None


# --- the real daemon ---------------------------------------------------------------


def virsh(*args: str) -> str:
    proc = subprocess.run(["virsh", "-c", SYSTEM_URI, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def domiflist(name: str) -> list[dict[str, str | None]]:
    """`virsh domiflist` rows as dicts; "-" means none."""
    lines = virsh("domiflist", name).splitlines()
    header = lines[0].split()
    rows = []
    for line in lines[2:]:
        if line.strip():
            rows.append({k.lower(): (None if v == "-" else v) for k, v in zip(header, line.split())})
    return rows


def ours(state: LibvirtState, name: str):
    return next((d for d in state.domains if d.name == name), None)


@pytest.mark.libvirt
def test_real_guest_bridge_and_macvtap():
    name = unique_name("lv")
    with kt_bridge() as bridge, kt_veth() as (lower, _peer):
        nics = [
            f"<interface type='bridge'><source bridge='{bridge}'/><model type='virtio'/></interface>",
            f"<interface type='direct'><source dev='{lower}' mode='bridge'/>"
            "<model type='virtio'/></interface>",
        ]
        with diskless_guest(name, nics) as dom:
            state = collect_libvirt(SYSTEM_URI)
            assert state.error is None, state.error
            assert state.uri == SYSTEM_URI and state.version
            found = ours(state, name)
            assert found is not None, [d.name for d in state.domains]
            assert (found.state, found.id, found.persistent) == ("running", dom.ID(), True)
            assert found.uuid == dom.UUIDString()

            rows = domiflist(name)
            assert [(i.target, i.type, i.source, i.model, i.mac) for i in found.interfaces] == [
                (r["interface"], r["type"], r["source"], r["model"], r["mac"]) for r in rows]
            br, mv = found.interfaces
            assert (br.type, br.bridge, br.source, br.alias) == ("bridge", bridge, bridge, "net0")
            assert (mv.type, mv.dev, mv.mode, mv.source, mv.alias) == (
                "direct", lower, "bridge", lower, "net1")
            assert br.target.startswith("vnet") and mv.target.startswith("macvtap")

            live_xml = virsh("dumpxml", name)
            expected = parse_domain_xml(live_xml, state="running", id=dom.ID(), persistent=True)
            assert replace(expected, defined_macs=tuple(nic.mac for nic in expected.interfaces)) == found
            if RECORD:
                (OWN_FIXTURES / "libvirt" / "live-bridge-direct-macvtap-kvmtui.xml").write_text(live_xml)

            dom.suspend()
            assert ours(collect_libvirt(SYSTEM_URI), name).state == "paused"

            dom.destroy()
            off = ours(collect_libvirt(SYSTEM_URI), name)
            assert (off.state, off.id, off.persistent) == ("shut off", None, True)
            assert [i.target for i in off.interfaces] == [None, None]  # vnetN/macvtapN are live-only
            assert [i.mac for i in off.interfaces] == [i.mac for i in found.interfaces]
            if RECORD:
                (OWN_FIXTURES / "libvirt" / "inactive-bridge-direct-macvtap-kvmtui.xml").write_text(
                    virsh("dumpxml", name))

            dom.undefine()
            wait_until(lambda: ours(collect_libvirt(SYSTEM_URI), name) is None, timeout=10,
                       what=f"{name} gone from libvirt")
    assert name not in virsh("list", "--all", "--name").split()
