"""A VLAN-aware bridge and its ports' VLANs in the saved configuration.

Pure (on the recorded host: br100 filters VLANs, bond0.100 is its port): what each backend
writes, what it refuses to half-save and says instead, and that a second rendering against
what the first wrote changes nothing. The real backends then build the bridge from the
rendered files in the kernel VM (this host's kernel has no VLAN filtering): kvmtui builds
it live with `bridge --vlan-filtering --trunk` and `vlans PORT`, records `bridge -j vlan
show`, the bridge is deleted as at a reboot, and systemd-networkd or NetworkManager must
make exactly that table again.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kvmtui.cli import read_snapshot_file
from kvmtui.collect.netconfig import read_netconfig, read_text
from kvmtui.collect.snapshot import collect_kernel
from kvmtui.kinds import CreateBridge, SetLink, SetPortVlans, make_plan
from kvmtui.model.netconfig import ConfiguredVlan, SavedConfig
from kvmtui.persist.saved import saved_change
from tests.helpers import EXAMPLE, kvmtui_in, sh, stop_process, wait_until, write_changes

NETDIR = "etc/systemd/network"
TRUNK = SetPortVlans("bond0.100", trunk="10-11,30", on_bridge=True)
ACCESS = SetPortVlans("bond0.100", access=20)


@pytest.fixture
def host(tmp_path):
    """The recorded host, its saved configuration an empty tree (ifupdown2: the loopback only)."""
    (tmp_path / "etc/network").mkdir(parents=True)
    (tmp_path / "etc/network/interfaces").write_text("auto lo\niface lo inet loopback\n")
    return replace(read_snapshot_file(str(EXAMPLE)), netconfig=SavedConfig(str(tmp_path)))


def saved_files(intent, host, backend: str) -> dict[str, str]:
    """The files `backend` gets for the plan: file name -> text; a second rendering against them changes nothing."""
    plan = make_plan(intent, host)
    saved = saved_change(plan, host, read_text, forced=backend)
    assert saved.backend == backend and not saved.left_out, saved.lines()
    under = {c.path: c for c in saved.changes}
    if backend != "NetworkManager":  # NM's profiles name the host's paths: written through D-Bus
        write_changes(saved.changes)
        again = replace(host, netconfig=read_netconfig(host.netconfig.root, host.links, runtime=False))
        assert again.netconfig.problems == ()  # the reader takes every line: the drift audit flags none
        assert saved_change(plan, again, read_text, forced=backend).changes == ()
    return {Path(path).name: change.after for path, change in under.items()}


def test_networkd_says_vlan_filtering_and_every_table(host):
    files = saved_files(TRUNK, host, "systemd-networkd")
    assert "[Bridge]\nSTP=yes\nForwardDelaySec=4\nVLANFiltering=yes\n" in files["10-kvmtui-br100.netdev"]
    tables = ("\n[BridgeVLAN]\nVLAN=1\nPVID=1\nEgressUntagged=1\n\n[BridgeVLAN]\nVLAN=10-11\n\n"
              "[BridgeVLAN]\nVLAN=30\n")
    assert files["10-kvmtui-bond0.100.network"].endswith("[Network]\nBridge=br100\n" + tables)
    assert files["10-kvmtui-br100.network"].endswith(tables)  # the bridge's own (self) VLANs


def test_networkmanager_says_them_in_bridge_and_bridge_port(host):
    files = saved_files(TRUNK, host, "NetworkManager")
    assert "vlan-filtering=true\nvlans=1 pvid untagged, 10-11, 30\n" in files["br100.nmconnection"]
    assert "\n[bridge-port]\nvlans=1 pvid untagged, 10-11, 30\n" in files["bond0.100.nmconnection"]
    files = saved_files(SetPortVlans("bond0.100", trunk="1,10", pvid="20"), host, "NetworkManager")
    assert "\n[bridge-port]\nvlans=1, 10, 20 pvid untagged\n" in files["bond0.100.nmconnection"]
    assert "vlan-filtering=true\n" in files["br100.nmconnection"] and "vlans" not in files["br100.nmconnection"]


def test_ifupdown2_says_an_access_port_and_a_trunk(host):
    text = saved_files(ACCESS, host, "ifupdown2")["interfaces"]
    assert "iface bond0.100 inet manual\n    bridge-access 20\n" in text, text
    assert "    bridge-vlan-aware yes\n" in text.split("iface br100")[1]
    plan = make_plan(SetPortVlans("bond0.100", trunk="10-11,30", pvid="5"), host)
    saved = saved_change(plan, replace(host, netconfig=read_netconfig(host.netconfig.root, host.links, runtime=False)),
                         read_text, forced="ifupdown2")
    assert "-    bridge-access 20\n+    bridge-vids 10-11 30\n+    bridge-pvid 5\n" in saved.lines()[1], saved.lines()


@pytest.mark.parametrize("backend, intent, words", [
    ("netplan", ACCESS, "not saved: netplan cannot describe a VLAN-aware bridge (br100): netplan 0.106 has no VLAN "
                        "filtering"),
    ("ifupdown", ACCESS, "not saved: kvmtui writes a VLAN-aware bridge (br100) in ifupdown2's words only"),
    ("systemd-networkd", ACCESS, "not saved: systemd-networkd 252 ([BridgeVLAN]) only adds VLANs and cannot take "
                                 "VLAN 1 off bond0.100, which the kernel gives every port that joins"),
    ("NetworkManager", ACCESS, "not saved: NetworkManager 1.42 (bridge-port.vlans) only adds VLANs and cannot take "
                               "VLAN 1 off bond0.100"),
    ("ifupdown2", TRUNK, "not saved: ifupdown2 sets no VLANs on the bridge br100 itself"),
    ("NetworkManager", SetPortVlans("bond0.100", trunk="1,10", pvid="none"),
     "not saved: NetworkManager gives bond0.100 the bridge's default PVID"),
])
def test_what_a_backend_cannot_say_saves_nothing(host, backend, intent, words):
    lines = saved_change(make_plan(intent, host), host, read_text, forced=backend).lines()
    assert len(lines) == 1 and lines[0].startswith(words), lines


def test_a_bridge_that_stops_filtering_loses_the_words(host):
    saved_files(TRUNK, host, "systemd-networkd")
    again = replace(host, netconfig=read_netconfig(host.netconfig.root, host.links, runtime=False))
    assert again.netconfig.devices and any(d.name == "bond0.100" and ConfiguredVlan(10, 11) in d.vlans
                                           for d in again.netconfig.devices)
    plan = make_plan(SetLink("br100", vlan_filtering=False), again)
    (change,) = [c for c in saved_change(plan, again, read_text, forced="systemd-networkd").changes
                 if c.path.endswith(".netdev")]
    assert "VLANFiltering" in change.before and "VLANFiltering" not in change.after


def test_a_guest_taps_vlans_save_nothing(host):
    """libvirt makes the tap again at every guest start (the plan says so): neither the tap
    nor, for its sake, its bridge is written."""
    plan = make_plan(SetPortVlans("vnet0", access=20), host)
    assert saved_change(plan, host, read_text, forced="systemd-networkd").lines() == (
        "not saved: the change touches no device a configuration describes",)


# --- the real backends, in the kernel VM ---------------------------------------------------------

PORTS = ("kt-d0", "kt-d1")
MADE = (CreateBridge("kt-br0", PORTS, vlan_filtering=True, trunk="10,20-22"),
        ("bridge", "kt-br0", "--port", "kt-d0", "--port", "kt-d1", "--vlan-filtering", "--trunk", "10,20-22"))


def vlan_view(ns: str) -> dict:
    """Each test link's master, whether the bridge filters, and its VLAN table as `bridge vlan show` has it."""
    links = {l["ifname"]: l for l in json.loads(sh("ip", "-n", ns, "-d", "-j", "link", "show"))}
    out = {}
    for entry in json.loads(sh("ip", "netns", "exec", ns, "bridge", "-j", "vlan", "show") or "[]"):
        vids = []
        for v in entry.get("vlans", []):
            flags = v.get("flags", [])
            vids += [(vid, "PVID" in flags, "Egress Untagged" in flags) for vid in range(v["vlan"], v.get("vlanEnd", v["vlan"]) + 1)]
        out[entry["ifname"]] = {"vlans": vids}
    for name in ("kt-br0", *PORTS):
        link = links.get(name, {})
        out.setdefault(name, {"vlans": []}).update(master=link.get("master"), filtering=link.get(
            "linkinfo", {}).get("info_data", {}).get("vlan_filtering"))
    return out


def built(ns: str, view: dict, seconds: float, alive=lambda: None) -> dict:
    deadline = time.monotonic() + seconds
    while (got := vlan_view(ns)) != view and time.monotonic() < deadline:
        alive()
        time.sleep(0.3)
    return got


def live(ns: str, args: tuple[str, ...]) -> None:
    proc = kvmtui_in(ns, "apply", "--no-persist", "--yes", "--no-confirm", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.kernelvm
def test_networkd_builds_the_bridge_kvmtui_saved(netns, tmp_path):
    """A trunk on both ports, then kt-d1 changed to 10,40 with the bridge in them too (networkd
    only adds VLANs: every table keeps VLAN 1, which an access port would lose)."""
    from tests.backends import start_networkd

    ns = netns
    root = tmp_path / "root"
    (root / NETDIR).mkdir(parents=True)
    for name in PORTS:
        sh("ip", "-n", ns, "link", "add", name, "type", "dummy")
    for intent, args in (MADE, (SetPortVlans("kt-d1", trunk="10,40", on_bridge=True),
                                ("vlans", "kt-d1", "--trunk", "10,40", "--on-bridge"))):
        before = collect_kernel(netns=ns)
        before = replace(before, netconfig=read_netconfig(root, before.links, runtime=False))
        saved = saved_change(make_plan(intent, before), before, read_text, forced="systemd-networkd")
        assert saved.backend and saved.changes, saved.lines()
        write_changes(saved.changes)
        live(ns, args)
    recorded = vlan_view(ns)
    assert recorded["kt-d1"]["vlans"] == [(1, True, True), (10, False, False), (40, False, False)], recorded
    assert recorded["kt-br0"]["vlans"] == recorded["kt-d1"]["vlans"] and recorded["kt-br0"]["filtering"] == 1
    sh("ip", "-n", ns, "link", "del", "kt-br0")
    log = tmp_path / "networkd.log"
    proc = start_networkd(ns, root / NETDIR, log)

    def alive():
        assert proc.poll() is None, f"systemd-networkd exited {proc.returncode}:\n{log.read_text()}"

    try:
        got = built(ns, recorded, 25, alive)
    finally:
        stop_process(proc)
    files = "".join(f"--- {p.name}\n{p.read_text()}" for p in sorted((root / NETDIR).iterdir()))
    assert got == recorded, f"networkd built {got}\nfrom:\n{files}--- its log ---\n{log.read_text()}"


@pytest.mark.kernelvm
def test_networkmanager_builds_the_bridge_kvmtui_saved(netns, tmp_path, monkeypatch):
    """A trunk whose native VLAN is 10 and VLAN 1 tagged, the bridge in its VLANs too (NM, like
    networkd, only adds: every table keeps VLAN 1). NM (private, RECIPES.md) makes the
    dummies from profiles of its own, kvmtui builds the bridge live, and NM must build it
    again from the profiles rendered for both plans, handed to it over D-Bus."""
    from kvmtui.apply.nm_profiles import write_profiles
    from kvmtui.persist import networkmanager
    from kvmtui.persist.desired import desired_config
    from kvmtui.persist.model import Desired
    from tests.networkmanager import nm_root, nmcli, private_networkmanager, reader_of

    ns = netns
    with private_networkmanager(ns, tmp_path / "nm") as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        for name in PORTS:
            nmcli(address, "connection", "add", "type", "dummy", "ifname", name, "con-name", name,
                  "ipv4.method", "disabled", "ipv6.method", "disabled")
        wait_until(lambda: set(PORTS) <= {l["ifname"] for l in json.loads(sh("ip", "-n", ns, "-j", "link", "show"))},
                   timeout=15, what="NM making the dummies")
        first = collect_kernel(netns=ns)
        wanted: dict = {}
        for intent, args in (MADE, (SetPortVlans("kt-d1", trunk="1,20-22,40", pvid="10", on_bridge=True),
                                    ("vlans", "kt-d1", "--trunk", "1,20-22,40", "--pvid", "10", "--on-bridge"))):
            before = collect_kernel(netns=ns)
            wanted.update((d.name, d) for d in desired_config(make_plan(intent, before), before).devices)
            live(ns, args)
        recorded = vlan_view(ns)
        assert recorded["kt-d1"]["vlans"][:2] == [(1, False, False), (10, True, True)], recorded
        assert (40, False, False) in recorded["kt-br0"]["vlans"], recorded
        root = nm_root(address)
        changes = networkmanager.render(read_netconfig(root, first.links, runtime=False),
                                        Desired(tuple(wanted.values())), reader_of(root))
        sh("ip", "-n", ns, "link", "del", "kt-br0")
        lines = write_profiles(changes)
        got = built(ns, recorded, 30)
        assert got == recorded, f"NM built {got} ({lines}) from:\n" + "".join(
            f"--- {c.path}\n{c.after}" for c in changes)
