"""kvmtui/persist/networkd.py against the real systemd-networkd 252.

The truth is the kernel: kvmtui builds a change live in a namespace, the renderer writes
the networkd files the plan's Desired asks for (into a tmp root that starts as a host
configured by networkd would: a .network holding the uplink's address), the state is
recorded, what the plan made is torn down, and the real systemd-networkd, started in the
namespace on exactly those files, must build the recorded state again.

Compared is what an administrator compares (`admin_view`): each test link's kind, MAC,
MTU, master, UP flag, bridge STP and forward delay, its IPv4 and global IPv6 addresses,
the bridge ports, and the IPv4 routes by destination, gateway and device. Left out, as
networkd sets them differently by nature and no file says them: ifindexes, IPv6
link-local addresses (networkd turns link-local addressing off on a bridge port),
addr_gen_mode, a route's protocol ("static" where ip's is "boot"), timers and counters.
"""

from __future__ import annotations

import difflib
import os
import time
from pathlib import Path

import pytest

from kvmtui.collect.netconfig import read_netconfig, read_text
from kvmtui.collect.snapshot import collect_kernel
from kvmtui.kinds import make_plan
from kvmtui.kinds.bridge import CreateBridge
from kvmtui.kinds.delete import DeleteLink
from kvmtui.model.netconfig import ConfiguredRoute
from kvmtui.persist.desired import desired_config
from kvmtui.persist.model import Desired, wanted
from kvmtui.persist.networkd import PREFIX, render
from tests.helpers import kvmtui_in, sh, stop_process, write_changes
from tests.states import changes, no_dad, steady, undo_state
from tests.backends import NETWORKD, start_networkd

NETDIR = "etc/systemd/network"
WIRED = ("# kt-p1: the host's uplink, as an installer wrote it\n"
         "[Match]\n"
         "Name=kt-p1\n"
         "\n"
         "[Network]\n"
         "Address=10.88.0.2/24\n"
         "Gateway=10.88.0.1\n"
         "DNS=10.88.0.53\n"
         "\n"
         "[Link]\n"
         "RequiredForOnline=yes\n")
TEST_LINKS = ("kt-br0", "kt-p1", "kt-q1")

needs_networkd = pytest.mark.skipif(not os.path.exists(NETWORKD), reason=f"{NETWORKD} is not installed")






def uplink_ns(ns: str) -> None:
    """kt-p1 (veth, peer kt-q1 in the same namespace, both up) with 10.88.0.2/24 and the default route."""
    no_dad(ns)
    sh("ip", "-n", ns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    sh("ip", "-n", ns, "addr", "add", "10.88.0.2/24", "dev", "kt-p1")
    sh("ip", "-n", ns, "link", "set", "kt-p1", "up")
    sh("ip", "-n", ns, "link", "set", "kt-q1", "up")
    sh("ip", "-n", ns, "route", "add", "default", "via", "10.88.0.1", "dev", "kt-p1")


def host_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / NETDIR).mkdir(parents=True)
    (root / NETDIR / "20-wired.network").write_text(WIRED)
    return root


def admin_view(state: dict) -> dict:
    """The part of tests.states.undo_state an administrator compares (see the module docstring)."""
    links = {}
    for link in state["link"]:
        if link["ifname"] not in TEST_LINKS:
            continue
        info = link.get("linkinfo", {})
        data = info.get("info_data", {})
        links[link["ifname"]] = {
            "kind": info.get("info_kind"), "mac": link.get("address"), "mtu": link.get("mtu"),
            "master": link.get("master"), "up": "UP" in link.get("flags", []),
            "stp_state": data.get("stp_state"), "forward_delay": data.get("forward_delay"),
        }
    addresses = {a["ifname"]: sorted(f"{i['local']}/{i['prefixlen']}" for i in a.get("addr_info", [])
                                     if i.get("scope") != "link" and a["ifname"] in TEST_LINKS)
                 for a in state["addr"] if a["ifname"] in TEST_LINKS}
    routes = sorted((r["dst"], r.get("gateway"), r.get("dev"), r.get("scope"), r.get("prefsrc")) for r in state["route"])
    ports = sorted((b["ifname"], b.get("master")) for b in state["bridge"])
    return {"links": links, "addresses": addresses, "routes": routes, "ports": ports}


def networkd_builds(ns: str, root: Path, tmp_path: Path, expected: dict, seconds: float = 20.0) -> dict:
    """Start networkd on root's files, wait until the namespace shows `expected` (then a
    steady second more), stop networkd; the admin view it settled at."""
    files = root / NETDIR
    log = tmp_path / "networkd.log"
    proc = start_networkd(ns, files, log)
    try:
        deadline = time.monotonic() + seconds
        while (view := admin_view(undo_state(ns))) != expected and time.monotonic() < deadline:
            assert proc.poll() is None, f"systemd-networkd exited {proc.returncode}:\n{log.read_text()}"
            time.sleep(0.2)
        if view == expected:
            view = admin_view(steady(ns, seconds=5))
    finally:
        stop_process(proc)
    assert view == expected, (f"networkd built something else from {sorted(p.name for p in files.iterdir())}:\n"
                              + changes(expected, view) + "\n--- networkd log ---\n" + log.read_text())
    return view


def bare(ns: str, *names: str) -> None:
    """As after a reboot: no address, no route, no master, down."""
    for name in names:
        sh("ip", "-n", ns, "link", "set", name, "nomaster")
        sh("ip", "-n", ns, "addr", "flush", "dev", name)
        sh("ip", "-n", ns, "route", "flush", "dev", name)
        sh("ip", "-n", ns, "link", "set", name, "down")


def create_bridge(ns: str, root: Path, stp: bool = False, forward_delay: int | None = None):
    """kvmtui builds kt-br0 over kt-p1 live; the renderer writes its files into root. -> (recorded view, changes)."""
    before = collect_kernel(netns=ns)
    intent = CreateBridge("kt-br0", ports=("kt-p1",), stp=stp, forward_delay=forward_delay, move_ip_from="kt-p1")
    desired = desired_config(make_plan(intent, before), before)
    options = ("--stp", "on" if stp else "off") + (("--forward-delay", str(forward_delay)) if forward_delay else ())
    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", "bridge", "kt-br0", "--port", "kt-p1",
                     "--move-ip-from", "kt-p1", *options)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recorded = admin_view(steady(ns))
    saved = read_netconfig(root, before.links, runtime=False)
    rendered = render(saved, desired, read_text)
    write_changes(rendered)
    return recorded, rendered, desired


@needs_networkd
@pytest.mark.parametrize("stp, forward_delay", [(False, None), (True, 4)], ids=["stp-off", "stp-on-fd4"])
def test_bridge_from_uplink_comes_back_from_networkd(netns, tmp_path, stp, forward_delay):
    uplink_ns(netns)
    root = host_root(tmp_path)
    recorded, rendered, desired = create_bridge(netns, root, stp, forward_delay)
    assert recorded["links"]["kt-p1"]["master"] == "kt-br0" and recorded["addresses"]["kt-br0"] == ["10.88.0.2/24"]
    assert ("default", "10.88.0.1", "kt-br0", None, None) in recorded["routes"]
    assert recorded["links"]["kt-br0"]["stp_state"] == int(stp)
    assert recorded["links"]["kt-br0"]["forward_delay"] == (forward_delay or 15) * 100

    # (b) what was written reads back as the desired devices
    again = read_netconfig(root, (), runtime=False)
    assert not again.problems, again.problems
    by_name = {d.name: d for d in again.devices}
    bridge, port = by_name["kt-br0"], by_name["kt-p1"]
    want = desired.device("kt-br0")
    assert (bridge.kind, bridge.addresses, set(bridge.routes), bridge.bridge_stp, bridge.mac) == \
           ("bridge", want.addresses, set(want.routes), stp, want.mac)
    assert dict(bridge.bridge_options)["forward_delay"] == str(forward_delay or 15) and bridge.ports == ("kt-p1",)
    assert (port.master, port.addresses, port.routes, port.file) == ("kt-br0", (), (), f"/{NETDIR}/20-wired.network")
    assert sorted(p.name for p in (root / NETDIR).iterdir()) == \
           [f"{PREFIX}kt-br0.netdev", f"{PREFIX}kt-br0.network", "20-wired.network"]

    bare(netns, "kt-p1")
    sh("ip", "-n", netns, "link", "del", "kt-br0")
    assert admin_view(undo_state(netns)) != recorded
    networkd_builds(netns, root, tmp_path, recorded)


def test_edited_network_keeps_its_other_lines(tmp_path):
    """(c) the admin's .network for the new port is edited, not shadowed; all else byte for byte."""
    root = host_root(tmp_path)
    text = WIRED.replace("[Link]\n", "[Link]\n# comment kept\n;another kept\n") + "\n[Address]\nAddress=10.88.0.9/24\n" \
        + "\n[DHCPv4]\nUseDNS=no\n"
    (root / NETDIR / "20-wired.network").write_text(text)
    saved = read_netconfig(root, (), runtime=False)
    desired = Desired((wanted("kt-br0", "bridge", ports=("kt-p1",), bridge_stp=True,
                              bridge_options=(("forward_delay", "4"),), addresses=("10.88.0.2/24", "10.88.0.9/24"),
                              routes=(ConfiguredRoute("default", "10.88.0.1"),)),
                       wanted("kt-p1", "ethernet", master="kt-br0")))
    rendered = {Path(c.path).name: c for c in render(saved, desired, read_text)}
    wired = rendered["20-wired.network"]
    assert wired.before == text
    diff = [line for line in difflib.ndiff(text.splitlines(keepends=True), wired.after.splitlines(keepends=True))
            if line[:2] in ("- ", "+ ")]
    assert sorted(diff) == sorted(["- Address=10.88.0.2/24\n", "- Gateway=10.88.0.1\n", "+ Bridge=kt-br0\n",
                                   "- [Address]\n", "- Address=10.88.0.9/24\n", "- \n"]), diff
    assert "[DHCPv4]\nUseDNS=no\n" in wired.after and "# comment kept\n;another kept\n" in wired.after
    assert set(rendered) == {"20-wired.network", f"{PREFIX}kt-br0.netdev", f"{PREFIX}kt-br0.network"}
    netdev = rendered[f"{PREFIX}kt-br0.netdev"].after
    assert "STP=yes\n" in netdev and "ForwardDelaySec=4\n" in netdev
    # rendering the same again on the written files changes nothing
    write_changes(rendered.values())
    assert render(read_netconfig(root, (), runtime=False), desired, read_text) == ()


def test_bond_and_vlan_read_back(tmp_path):
    """(b) bond (options, primary slave, MTU) and VLAN files read back through the networkd reader."""
    root = tmp_path / "root"
    (root / NETDIR).mkdir(parents=True)
    desired = Desired((
        wanted("bond0", "bond", ports=("kt-p2", "kt-p3"), bond_mode="802.3ad", mtu=9000,
               bond_options=(("miimon", "100"), ("lacp_rate", "fast"), ("xmit_hash_policy", "layer3+4"),
                             ("primary", "kt-p2"))),
        wanted("kt-p2", "ethernet", master="bond0"), wanted("kt-p3", "ethernet", master="bond0"),
        wanted("bond0.10", "vlan", vlan_id=10, parent="bond0", addresses=("192.0.2.1/24",),
               routes=(ConfiguredRoute("198.51.100.0/24", "192.0.2.254", 20),)),
    ))
    write_changes(render(read_netconfig(root, (), runtime=False), desired, read_text))
    saved = read_netconfig(root, (), runtime=False)
    assert not saved.problems, saved.problems
    got = {d.name: d for d in saved.devices}
    bond, vlan = got["bond0"], got["bond0.10"]
    assert (bond.kind, bond.bond_mode, bond.mtu, set(bond.ports)) == ("bond", "802.3ad", 9000, {"kt-p2", "kt-p3"})
    assert dict(bond.bond_options) == {"miimon": "100", "lacp_rate": "fast", "xmit_hash_policy": "layer3+4"}
    assert ("primary", "1") in got["kt-p2"].port_options and ("primary", "1") not in got["kt-p3"].port_options
    assert (vlan.kind, vlan.vlan_id, vlan.parent, vlan.addresses, vlan.routes) == \
           ("vlan", 10, "bond0", ("192.0.2.1/24",), (ConfiguredRoute("198.51.100.0/24", "192.0.2.254", 20),))
    # deleting the VLAN removes its files and the VLAN= line on its parent, nothing else
    before = {p.name: p.read_text() for p in (root / NETDIR).iterdir()}
    removal = render(saved, Desired((), ("bond0.10",)), read_text)
    assert {Path(c.path).name: c.after is None for c in removal} == \
           {f"{PREFIX}bond0.10.netdev": True, f"{PREFIX}bond0.10.network": True, f"{PREFIX}bond0.network": False}
    parent = next(c for c in removal if c.after is not None)
    assert parent.after == before[f"{PREFIX}bond0.network"].replace("VLAN=bond0.10\n", "")


@needs_networkd
def test_delete_with_move_ip_comes_back_from_networkd(netns, tmp_path):
    """(d) `delete kt-br0 --move-ip-to kt-p1` on a bridged host saved by networkd: networkd
    then builds kt-p1 holding the address and the default route, no kt-br0."""
    uplink_ns(netns)
    root = host_root(tmp_path)
    create_bridge(netns, root)
    before = collect_kernel(netns=netns)
    desired = desired_config(make_plan(DeleteLink("kt-br0", move_ip_to="kt-p1"), before), before)
    assert desired.removed == ("kt-br0",)
    proc = kvmtui_in(netns, "apply", "--yes", "--no-confirm", "delete", "kt-br0", "--move-ip-to", "kt-p1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recorded = admin_view(steady(netns))
    assert "kt-br0" not in recorded["links"] and recorded["addresses"]["kt-p1"] == ["10.88.0.2/24"]
    rendered = render(read_netconfig(root, before.links, runtime=False), desired, read_text)
    write_changes(rendered)
    assert sorted(p.name for p in (root / NETDIR).iterdir()) == ["20-wired.network"]
    wired = (root / NETDIR / "20-wired.network").read_text()
    assert "Bridge=" not in wired and "Address=10.88.0.2/24\n" in wired and "Gateway=10.88.0.1\n" in wired
    assert "DNS=10.88.0.53\n" in wired and "RequiredForOnline=yes\n" in wired

    bare(netns, "kt-p1")
    networkd_builds(netns, root, tmp_path, recorded)


def test_vendor_file_copied_to_etc_and_catch_all_not_shadowing(tmp_path):
    """A .network under /usr/lib is overridden by an edited copy of the same name in /etc
    (which masks it); a catch-all `Name=kt-*` sorting before 10-kvmtui- makes kvmtui's own
    file sort before it."""
    root = tmp_path / "root"
    (root / NETDIR).mkdir(parents=True)
    vendor = root / "usr/lib/systemd/network"
    vendor.mkdir(parents=True)
    (vendor / "05-p1.network").write_text(WIRED)
    (root / NETDIR / "01-all.network").write_text("[Match]\nName=kt-q*\n\n[Network]\nDHCP=yes\n")
    desired = Desired((wanted("kt-br0", "bridge", ports=("kt-p1",), bridge_stp=False, addresses=("10.88.0.2/24",)),
                       wanted("kt-p1", "ethernet", master="kt-br0"), wanted("kt-q9", "ethernet", master="kt-br0")))
    rendered = {c.path: c for c in render(read_netconfig(root, (), runtime=False), desired, read_text)}
    copy = rendered[str(root / NETDIR / "05-p1.network")]
    assert copy.before is None and copy.after == WIRED.replace("Address=10.88.0.2/24\nGateway=10.88.0.1\n", "") \
        .replace("DNS=10.88.0.53\n", "DNS=10.88.0.53\nBridge=kt-br0\n")
    assert str(root / NETDIR / "00-kvmtui-kt-q9.network") in rendered
    write_changes(rendered.values())
    got = {d.name: d for d in read_netconfig(root, (), runtime=False).devices}
    assert got["kt-p1"].master == "kt-br0" and got["kt-q9"].master == "kt-br0"
    assert got["kt-p1"].file == f"/{NETDIR}/05-p1.network"
