"""kvmtui.persist.ifupdown against real ifupdown2 3.0 (package `ifupdown2`).

The truth is the kernel: what ifupdown2 builds from the file kvmtui rendered must be what
kvmtui built live. ifupdown2 runs inside `ip netns exec` (a private mount namespace of its
own) with a tmpfs over /run and /var/tmp (its state_dir, lock and state files) and
overlays over /etc/network and /var/lib/ifupdown2: nothing of this machine's network or
its ifupdown2 state is touched.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from kvmtui.collect.netconfig import read_netconfig, read_text
from kvmtui.collect.snapshot import collect_kernel
from kvmtui.kinds import make_plan
from kvmtui.kinds.bridge import CreateBridge
from kvmtui.model.netconfig import ConfiguredRoute
from kvmtui.persist.desired import desired_config
from kvmtui.persist.ifupdown import render
from kvmtui.persist.model import Desired, FileChange, wanted
from tests.helpers import SHARED_FIXTURES, kvmtui_in, sh, write_changes
from tests.states import changes, no_dad, steady
from tests.backends import ifupdown2

pytestmark = pytest.mark.skipif(shutil.which("ifup") is None or shutil.which("ifquery") is None,
                                reason="ifupdown2 is not installed (scripts/setup.sh test)")

PROXMOX = SHARED_FIXTURES / "netconfig" / "interfaces" / "vmbr0-bridge-tabs-source-directory-pve-common.interfaces"
def accepted(path: Path, private: Path) -> None:
    """ifupdown2's own parser and attribute checks (`ifup --syntax-check`) pass with no warning."""
    proc = ifupdown2(None, private, "ifup", "--syntax-check", "-i", str(path), "-a")
    assert proc.returncode == 0 and "warning" not in proc.stderr and "error" not in proc.stderr, proc.stderr
    query = ifupdown2(None, private, "ifquery", "-i", str(path), "-a", "-o", "json")
    assert query.returncode == 0, query.stderr
    return {i["name"]: i for i in json.loads(query.stdout)}


def view(state: dict) -> dict:
    """An undo_state (links with every `ip -d` detail, addresses, routes, bridge ports,
    VLANs, static FDB; ifindexes already out) without what differs between any two ways
    of building the same host: IPv6 link-local addresses (the kernel's own; ifupdown2
    turns address generation off on a bridge port), and a route's `protocol` and `flags`
    (kvmtui's `ip route` says boot, ifupdown2 adds its gateway `proto kernel onlink`)."""
    state = json.loads(json.dumps(state))
    for link in state["addr"]:
        link["addr_info"] = [a for a in link.get("addr_info", []) if a.get("scope") != "link"]
    for route in state["route"]:
        route.pop("protocol", None)
        route.pop("flags", None)
    return state


def wanted_state(state: dict) -> dict:
    """What the plan asked for, picked out of a state: kt-br0 a bridge with STP off and
    kt-p1's MAC, kt-p1 its port, the address on kt-br0, the default route via kt-br0."""
    link = {l["ifname"]: l for l in state["link"]}
    return {"br0": (link["kt-br0"]["linkinfo"]["info_kind"], link["kt-br0"]["linkinfo"]["info_data"]["stp_state"],
                    link["kt-br0"]["address"] == link["kt-p1"]["address"]),
            "port": link["kt-p1"].get("master"),
            "addresses": sorted((a["ifname"], f"{i['local']}/{i['prefixlen']}") for a in state["addr"]
                                for i in a["addr_info"] if i.get("scope") == "global"),
            "default": [(r.get("gateway"), r.get("dev")) for r in state["route"] if r["dst"] == "default"]}


def test_live_bridge_rebuilt_by_ifupdown2_from_rendered_file(netns, tmp_path):
    """(a), (b) and (c): kvmtui builds kt-br0 over kt-p1 live (moving its address,
    default route and MAC); the file rendered from the plan reads back as the desired
    devices, passes ifupdown2's checks, and `ifup -a` on it, in the namespace put back to
    a bare, down kt-p1, builds the same host: the whole recorded state, ignoring only
    ifindexes, IPv6 link-local addresses and routes' protocol/flags (see view())."""
    ns = netns
    no_dad(ns)
    sh("ip", "-n", ns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    sh("ip", "-n", ns, "link", "set", "kt-q1", "up")
    sh("ip", "-n", ns, "link", "set", "kt-p1", "up")
    sh("ip", "-n", ns, "addr", "add", "10.90.0.2/24", "dev", "kt-p1")
    sh("ip", "-n", ns, "route", "add", "default", "via", "10.90.0.1")
    root = tmp_path / "root"
    (root / "etc/network").mkdir(parents=True)
    original = ("# kvmtui test host\nauto lo\niface lo inet loopback\n\n"
                "auto kt-p1\niface kt-p1 inet static\n\taddress 10.90.0.2/24\n\tgateway 10.90.0.1\n")
    (root / "etc/network/interfaces").write_text(original)
    steady(ns)
    before = collect_kernel(netns=ns)

    proc = kvmtui_in(ns, "apply", "--no-persist", "--yes", "--no-confirm", "bridge", "kt-br0", "--port", "kt-p1",
                     "--move-ip-from", "kt-p1")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    desired = desired_config(make_plan(CreateBridge("kt-br0", ports=("kt-p1",), move_ip_from="kt-p1"), before), before)
    saved = read_netconfig(root, before.links, runtime=False)
    files = render(saved, desired, read_text)
    assert [c.path for c in files] == [str(root / "etc/network/interfaces")]
    write_changes(files)
    text = (root / "etc/network/interfaces").read_text()
    assert text.startswith("# kvmtui test host\nauto lo\niface lo inet loopback\n\n"
                           "auto kt-p1\niface kt-p1 inet manual\n")
    assert "\taddress 10.90.0.2/24" in text.split("iface kt-br0")[1], text

    # (c) it reads back as what the plan wants
    back = {d.name: d for d in read_netconfig(root, runtime=False).devices}
    bridge, port = back["kt-br0"], back["kt-p1"]
    assert bridge.kind == "bridge" and bridge.ports == ("kt-p1",) and bridge.addresses == ("10.90.0.2/24",)
    assert bridge.routes == (ConfiguredRoute("default", "10.90.0.1"),) and bridge.bridge_stp is False
    assert bridge.mac == desired.device("kt-br0").mac and bridge.autostart
    assert port.addresses == () and port.routes == () and port.master == "kt-br0"

    # (a) ifupdown2 accepts it and reads the same keys
    query = accepted(root / "etc/network/interfaces", tmp_path / "check")
    assert query["kt-br0"]["config"]["bridge-ports"] == "kt-p1" and query["kt-p1"]["addr_method"] == "manual"

    recorded = steady(ns)
    sh("ip", "-n", ns, "link", "del", "kt-br0")
    sh("ip", "-n", ns, "link", "set", "kt-p1", "down")
    assert wanted_state(recorded) == {"br0": ("bridge", 0, True), "port": "kt-br0",
                                      "addresses": [("kt-br0", "10.90.0.2/24")], "default": [("10.90.0.1", "kt-br0")]}
    assert not any(a.get("scope") == "global" for l in steady(ns)["addr"] for a in l["addr_info"])

    proc = ifupdown2(ns, tmp_path / "up", "ifup", "-i", str(root / "etc/network/interfaces"), "-a")
    assert proc.returncode == 0 and "error" not in proc.stderr, proc.stderr
    again = steady(ns)
    assert view(again) == view(recorded), changes(view(recorded), view(again))
    check = ifupdown2(ns, tmp_path / "up", "ifquery", "-i", str(root / "etc/network/interfaces"), "-c", "-a")
    assert check.returncode == 0, check.stdout + check.stderr


def test_proxmox_sample_gets_a_port_every_other_line_kept(tmp_path):
    """(d) Adding eth1 to the Proxmox sample's vmbr0 (tabs, two-space values, netmask,
    bridge_ports with underscores, a source-directory): only vmbr0's bridge_ports line
    changes, eth1's stanza is appended, ifupdown2 accepts the result."""
    root = tmp_path / "root"
    (root / "etc/network/interfaces.d").mkdir(parents=True)
    original = PROXMOX.read_text()
    (root / "etc/network/interfaces").write_text(original)
    saved = read_netconfig(root, runtime=False)
    vmbr0 = next(d for d in saved.devices if d.name == "vmbr0")
    desired = Desired((replace(vmbr0, ports=("eth0", "eth1"), backend="", file="", line=0),
                       wanted("eth1", "ethernet", master="vmbr0", autostart=False)))
    (change,) = render(saved, desired, read_text)
    assert change.path == str(root / "etc/network/interfaces") and change.before == original
    old, new = original.splitlines(True), change.after.splitlines(True)
    at = old.index("\tbridge_ports eth0\n")
    assert new[:at] == old[:at] and new[at] == "\tbridge_ports eth0 eth1\n"
    assert new[at + 1:len(old)] == old[at + 1:]
    assert new[len(old):] == ["\n", "iface eth1 inet manual\n"]
    write_changes([change])
    back = {d.name: d for d in read_netconfig(root, runtime=False).devices}
    assert back["vmbr0"].ports == ("eth0", "eth1") and back["vmbr0"].addresses == ("10.0.0.2/24",)
    assert back["eth1"].master == "vmbr0"
    accepted(root / "etc/network/interfaces", tmp_path / "check")
    # and deleting vmbr0 takes its auto line, stanza and the blank line before it, no more
    (gone,) = render(saved, Desired((), removed=("vmbr0",)), lambda path: original)
    assert gone.after == original[:original.index("\nauto vmbr0\n")]


def test_edits_in_place_and_removal(tmp_path):
    """A port's `inet static` with its address becomes `inet manual` in its own (sourced)
    file; a bond, a VLAN and a bridge are appended with their options; a removed device's
    stanza, auto line and port-list entries go; everything else stays byte for byte; the
    result passes ifupdown2's checks and reads back."""
    root = tmp_path / "root"
    (root / "etc/network/interfaces.d").mkdir(parents=True)
    main = ("# main\nauto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n\n"
            "auto br9 eno9\niface br9 inet manual\n    bridge-ports eno9 old0\n\n"
            "iface old0 inet manual\n\n# tail comment\n")
    (root / "etc/network/interfaces").write_text(main)
    port = "auto eno4\niface eno4 inet static\n\taddress 192.0.2.4\n\tnetmask 255.255.255.0\n\tgateway 192.0.2.1\n" \
           "\tpost-up echo hi\n"
    (root / "etc/network/interfaces.d/eno4").write_text(port)
    saved = read_netconfig(root, runtime=False)
    desired = Desired((
        wanted("br0", "bridge", ports=("eno4",), addresses=("192.0.2.4/24",), routes=(
            ConfiguredRoute("default", "192.0.2.1"), ConfiguredRoute("10.5.0.0/16", "192.0.2.254", 5)),
            bridge_stp=True, bridge_options=(("forward_delay", "4"),), mac="52:54:00:00:00:04", mtu=9000),
        wanted("eno4", "ethernet", master="br0", mtu=9000),
        wanted("bond0", "bond", ports=("eno5", "eno6"), bond_mode="802.3ad", bond_options=(
            ("miimon", "100"), ("lacp_rate", "fast"), ("xmit_hash_policy", "layer3+4"))),
        wanted("eno5", "ethernet", master="bond0"), wanted("eno6", "ethernet", master="bond0"),
        wanted("bond0.20", "vlan", vlan_id=20, parent="bond0", addresses=("198.51.100.2/24",)),
        wanted("vl30", "vlan", vlan_id=30, parent="bond0"),
    ), removed=("old0",))
    files = {c.path: c for c in render(saved, desired, read_text)}
    sourced, top = files[str(root / "etc/network/interfaces.d/eno4")], files[str(root / "etc/network/interfaces")]
    assert sourced.after == "auto eno4\niface eno4 inet manual\n\tpost-up echo hi\n\tmtu 9000\n"
    assert top.after.startswith("# main\nauto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n\n"
                                "auto br9 eno9\niface br9 inet manual\n    bridge-ports eno9\n\n"
                                "# tail comment\n\nauto br0\niface br0 inet static\n    address 192.0.2.4/24\n"
                                "    gateway 192.0.2.1\n    hwaddress 52:54:00:00:00:04\n"
                                "    bridge-ports eno4\n    bridge-stp on\n    bridge-fd 4\n"
                                "    up ip route add 10.5.0.0/16 via 192.0.2.254 dev br0 metric 5\n"), top.after
    write_changes(files.values())
    back = {d.name: d for d in read_netconfig(root, runtime=False).devices}
    assert "old0" not in back and back["br9"].ports == ("eno9",)
    assert back["br0"].ports == ("eno4",) and back["br0"].bridge_options == (("forward_delay", "4"),)
    assert back["bond0"].bond_mode == "802.3ad" and back["bond0"].ports == ("eno5", "eno6")
    assert dict(back["bond0"].bond_options) == {"miimon": "100", "lacp_rate": "fast", "xmit_hash_policy": "layer3+4"}
    assert (back["bond0.20"].kind, back["bond0.20"].parent, back["bond0.20"].vlan_id) == ("vlan", "bond0", 20)
    assert (back["vl30"].kind, back["vl30"].parent, back["vl30"].vlan_id) == ("vlan", "bond0", 30)
    assert back["eno4"].addresses == () and back["eno4"].master == "br0"
    # a second render of the same wish changes nothing
    again = render(read_netconfig(root, runtime=False), desired, read_text)
    assert [c for c in again if c.changed] == []
    query = accepted(root / "etc/network/interfaces", tmp_path / "check")
    assert query["bond0"]["config"]["bond-mode"] == "802.3ad"


def test_a_bridge_without_ports_passes_ifupdown2s_check():
    """`bridge-ports none` is classic ifupdown's: ifupdown2 refuses it (apply checks the files
    with ifup --syntax-check before anything changes)."""
    from kvmtui.apply.persist_files import ifupdown2_refusal
    from kvmtui.model.netconfig import SavedConfig

    changes = render(SavedConfig("/"), Desired((wanted("kt-lone", "bridge", bridge_stp=False),)), lambda path: None)
    assert "bridge-ports" not in changes[0].after and "bridge-stp off" in changes[0].after
    assert ifupdown2_refusal(changes) is None
    bad = (FileChange(changes[0].path, None, changes[0].after + "    bridge-ports none\n"),)
    assert "invalid value" in ifupdown2_refusal(bad)
