"""A vxlan and a macvtap host-reach shim (macvlan) in the saved configuration: the real
backend builds them from what the renderer wrote. kvmtui makes the device live in a
namespace, the renderer writes the files its plan asks for, the device is deleted (as at a
reboot), and systemd-networkd / NetworkManager / ifupdown2, run in the namespace on
exactly those files, must make it again as it ran (its `ip -d link` settings, FDB entries,
addresses and routes); netplan must generate from its YAML the networkd files that do.
Where a backend has no words for something, the confirmation says what is not saved."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from kvmtui.collect.netconfig import read_netconfig, read_text
from kvmtui.collect.snapshot import collect_kernel
from kvmtui.kinds import CreateShim, CreateVxlan, make_plan
from kvmtui.persist import networkd
from kvmtui.persist.desired import desired_config
from kvmtui.persist.model import Desired
from tests.backends import NETPLAN, start_networkd
from tests.helpers import kvmtui_in, stop_process, write_changes
from tests.states import no_dad
from tests.topologies import ip, ns_json

NETDIR = "etc/systemd/network"
VXLAN_ARGS = ("kt-vx0", "--vni", "77", "--remote", "10.77.0.2", "--local", "10.77.0.1", "--dev", "kt-u",
              "--dstport", "4790", "--no-learning", "--fdb-remote", "10.77.0.9", "--mtu", "1400")
UNDERLAY = "[Match]\nName=kt-u\n\n[Network]\nAddress=10.77.0.1/24\n"
NIC = "[Match]\nName=kt-nic\n\n[Network]\nAddress=10.40.0.1/24\n"
NETPLAN_UNDERLAY = ("network:\n  version: 2\n  renderer: networkd\n  ethernets:\n"
                    "    kt-u:\n      addresses: [10.77.0.1/24]\n")


def vxlan_view(ns: str) -> dict | None:
    """kt-vx0 as an administrator checks it: its settings, MTU, state and remote VTEPs."""
    links = ns_json(ns, "ip", "-d", "-j", "link", "show")
    link = next((l for l in links if l["ifname"] == "kt-vx0"), None)
    if link is None:
        return None
    data = link["linkinfo"]["info_data"]
    fdb = ns_json(ns, "bridge", "-j", "fdb", "show", "dev", "kt-vx0")
    return {"settings": {k: data.get(k) for k in ("id", "remote", "local", "link", "port", "learning", "ttl")},
            "mtu": link["mtu"], "up": "UP" in link["flags"],
            "vteps": sorted((e["mac"], e["dst"]) for e in fdb if "dst" in e)}


def shim_view(ns: str) -> dict | None:
    links = ns_json(ns, "ip", "-d", "-j", "addr", "show")
    link = next((l for l in links if l["ifname"] == "kt-shim"), None)
    if link is None:
        return None
    routes = ns_json(ns, "ip", "-j", "route", "show", "dev", "kt-shim")
    return {"mode": link["linkinfo"]["info_data"]["mode"], "lower": link.get("link"), "up": "UP" in link["flags"],
            "addresses": sorted(f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"] if a["family"] == "inet"),
            "routes": sorted(r["dst"] for r in routes if r.get("protocol") != "kernel")}


def eventually(read, ns: str, expected: dict, seconds: float = 20.0, proc=None, log: Path | None = None) -> dict:
    deadline = time.monotonic() + seconds
    while (got := read(ns)) != expected and time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the backend exited {proc.returncode}:\n{log.read_text() if log else ''}")
        time.sleep(0.2)
    return got


def wired(ns: str, name: str, peer: str, cidr: str) -> str:
    """`name` (a veth, its peer up beside it) with `cidr`: a host's NIC."""
    no_dad(ns)
    ip(ns, "link", "add", name, "type", "veth", "peer", "name", peer)
    ip(ns, "addr", "add", cidr, "dev", name)
    for dev in (name, peer):
        ip(ns, "link", "set", dev, "up")
    return ns


@pytest.fixture
def underlay(netns):
    """kt-u, 10.77.0.1/24: a vxlan's underlay."""
    return wired(netns, "kt-u", "kt-u2", "10.77.0.1/24")


@pytest.fixture
def nic(netns):
    """kt-nic, 10.40.0.1/24: a macvtap guests' lower device."""
    return wired(netns, "kt-nic", "kt-wire", "10.40.0.1/24")


def made_live(ns: str, intent, args: tuple[str, ...], read) -> tuple[dict, Desired, object]:
    """kvmtui makes it live; -> (what runs, the plan's Desired, the snapshot before)."""
    before = collect_kernel(netns=ns)
    desired = desired_config(make_plan(intent, before), before)
    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    time.sleep(0.5)
    return read(ns), desired, before


def networkd_root(tmp_path: Path, name: str, text: str) -> Path:
    root = tmp_path / "root"
    (root / NETDIR).mkdir(parents=True)
    (root / NETDIR / f"20-{name}.network").write_text(text)
    return root


def bare(ns: str, name: str) -> None:
    """As after a reboot: no address, down."""
    ip(ns, "addr", "flush", "dev", name)
    ip(ns, "link", "set", name, "down")


def networkd_makes(ns: str, root: Path, tmp_path: Path, read, expected: dict) -> dict:
    log = tmp_path / "networkd.log"
    proc = start_networkd(ns, root / NETDIR, log)
    try:
        got = eventually(read, ns, expected, proc=proc, log=log)
    finally:
        stop_process(proc)
    assert got == expected, f"networkd made {got}\n--- its log ---\n{log.read_text()}"
    return got


def test_networkd_makes_the_vxlan_again_with_its_fdb_entries(underlay, tmp_path):
    ns = underlay
    live, desired, before = made_live(ns, CreateVxlan("kt-vx0", 77, "10.77.0.2", None, "kt-u", "10.77.0.1", 4790,
                                                      False, ("10.77.0.9",), 1400), ("vxlan", *VXLAN_ARGS), vxlan_view)
    assert live["vteps"] == [("00:00:00:00:00:00", "10.77.0.2"), ("00:00:00:00:00:00", "10.77.0.9")]
    root = networkd_root(tmp_path, "kt-u", UNDERLAY)
    write_changes(networkd.render(read_netconfig(root, before.links, runtime=False), desired, read_text))
    netdev = (root / NETDIR / "10-kvmtui-kt-vx0.netdev").read_text()
    assert "VNI=77" in netdev and "DestinationPort=4790" in netdev and "MacLearning=no" in netdev
    assert "VXLAN=kt-vx0" in (root / NETDIR / "20-kt-u.network").read_text()
    ip(ns, "link", "del", "kt-vx0")
    bare(ns, "kt-u")
    networkd_makes(ns, root, tmp_path, vxlan_view, live)
    # read back: the drift audit finds the saved vxlan where it runs
    saved = {d.name: d for d in read_netconfig(root, (), runtime=False).devices}
    assert (saved["kt-vx0"].kind, saved["kt-vx0"].vni, saved["kt-vx0"].parent) == ("vxlan", 77, "kt-u")


def test_networkd_makes_the_shim_again_with_its_address_and_route(nic, tmp_path):
    ns = nic
    live, desired, before = made_live(ns, CreateShim("kt-nic", "kt-shim", "10.40.0.2/32", routes=("10.40.0.50/32",)),
                                      ("shim", "kt-nic", "--name", "kt-shim", "--address", "10.40.0.2/32",
                                       "--route", "10.40.0.50/32"), shim_view)
    assert live == {"mode": "bridge", "lower": "kt-nic", "up": True, "addresses": ["10.40.0.2/32"],
                    "routes": ["10.40.0.50"]}
    root = networkd_root(tmp_path, "kt-nic", NIC)
    write_changes(networkd.render(read_netconfig(root, before.links, runtime=False), desired, read_text))
    assert "MACVLAN=kt-shim" in (root / NETDIR / "20-kt-nic.network").read_text()
    ip(ns, "link", "del", "kt-shim")
    bare(ns, "kt-nic")
    networkd_makes(ns, root, tmp_path, shim_view, live)
    saved = {d.name: d for d in read_netconfig(root, (), runtime=False).devices}
    assert (saved["kt-shim"].kind, saved["kt-shim"].parent, dict(saved["kt-shim"].options).get("mode")) == \
           ("macvlan", "kt-nic", "bridge")


def test_deleting_them_takes_their_files_and_the_lines_naming_them(tmp_path):
    """The networkd files of a deleted vxlan and shim go, and the underlay's VXLAN= and the
    lower's MACVLAN= lines with them; every other line stays."""
    root = networkd_root(tmp_path, "kt-u", UNDERLAY.replace("\n\n[Network]\n", "\n\n[Network]\nVXLAN=kt-vx0\n"
                                                                               "MACVLAN=kt-shim\n"))
    for name, kind, own in (("kt-vx0", "vxlan", "[VXLAN]\nVNI=77\nRemote=10.77.0.2\n"),
                            ("kt-shim", "macvlan", "[MACVLAN]\nMode=bridge\n")):
        (root / NETDIR / f"10-kvmtui-{name}.netdev").write_text(f"[NetDev]\nName={name}\nKind={kind}\n\n{own}")
        (root / NETDIR / f"10-kvmtui-{name}.network").write_text(f"[Match]\nName={name}\n")
    saved = read_netconfig(root, (), runtime=False)
    changes = networkd.render(saved, Desired((), ("kt-vx0", "kt-shim")), read_text)
    gone = sorted(Path(c.path).name for c in changes if c.after is None)
    assert gone == ["10-kvmtui-kt-shim.netdev", "10-kvmtui-kt-shim.network", "10-kvmtui-kt-vx0.netdev",
                    "10-kvmtui-kt-vx0.network"]
    (edited,) = [c for c in changes if c.after is not None]
    assert edited.after == UNDERLAY


def test_the_confirmation_says_what_is_not_saved(nic, tmp_path):
    """A shim on a netplan host: nothing saved (the lower would boot without the shim), and
    how to save it by hand; a vxlan in NetworkManager: saved, less its static FDB entries."""
    from dataclasses import replace

    from kvmtui.model.netconfig import SavedConfig
    from kvmtui.persist.saved import saved_change

    snapshot = replace(collect_kernel(netns=nic), netconfig=SavedConfig(str(tmp_path)))
    shim = make_plan(CreateShim("kt-nic", "kt-shim", "10.40.0.2/32", routes=("10.40.0.50/32",)), snapshot)
    (line,) = saved_change(shim, snapshot, read_text, forced="netplan").lines()
    assert line.startswith("not saved: netplan has no macvlan devices; save kt-shim by hand: a systemd-networkd "), line
    assert "(nmcli connection add type macvlan dev kt-nic mode bridge ifname kt-shim)" in line
    vxlan = make_plan(CreateVxlan("kt-vx0", 77, "10.40.0.9", fdb_remotes=("10.40.0.8",)), snapshot)
    lines = saved_change(vxlan, snapshot, read_text, forced="NetworkManager").lines()
    assert lines[1] == ("not saved: kt-vx0's static FDB entries (00:00:00:00:00:00 dst 10.40.0.8): NetworkManager "
                        "has no words for them; add them at boot (`bridge fdb append 00:00:00:00:00:00 dev kt-vx0 dst "
                        "IP`, e.g. a dispatcher or post-up script)"), lines
    assert "+type=vxlan" in lines[2] and "+remote=10.40.0.9" in lines[2]


def test_what_each_backend_cannot_save():
    from dataclasses import replace

    from kvmtui.persist.model import wanted
    from kvmtui.persist.overlay import left_out, unsavable

    shim = wanted("kt-shim", "macvlan", parent="kt-nic", options=(("mode", "bridge"),))
    vx = wanted("kt-vx0", "vxlan", vni=77, options=(("remote", "10.77.0.2"), ("port", "4789"), ("learning", "1")),
                fdb=(("00:00:00:00:00:00", "10.77.0.9"),))
    assert unsavable("netplan", (shim,)).startswith("netplan has no macvlan devices; save kt-shim by hand")
    assert "ip link add link kt-nic name kt-shim type macvlan mode bridge" in unsavable("ifupdown2", (shim,))
    assert unsavable("systemd-networkd", (shim, vx)) is None and unsavable("NetworkManager", (shim, vx)) is None
    assert left_out("systemd-networkd", (vx,)) == ()
    (note,) = left_out("NetworkManager", (vx,))
    assert note.startswith("kt-vx0's static FDB entries (00:00:00:00:00:00 dst 10.77.0.9): NetworkManager has no words")
    assert unsavable("ifupdown", (vx,)).startswith("ifupdown (not ifupdown2) has no vxlan devices; save kt-vx0 by hand")
    pinned = replace(vx, fdb=vx.fdb + (("52:54:00:00:00:01", "10.77.0.8"),))  # ifupdown2 says all-zeros ones only
    (note,) = left_out("ifupdown2", (pinned,))
    assert note.startswith("kt-vx0's static FDB entries (52:54:00:00:00:01 dst 10.77.0.8): ifupdown2 has no words")


@pytest.fixture
def nm(netns, tmp_path, monkeypatch):
    from tests.networkmanager import private_networkmanager

    with private_networkmanager(netns, tmp_path / "nm") as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        yield address


def nm_underlay(nm: str, ns: str, name: str, peer: str, cidr: str) -> None:
    """NM makes the underlay (a veth it manages: without udev it leaves one made by `ip` alone)."""
    from tests.helpers import wait_until
    from tests.networkmanager import nmcli

    no_dad(ns)
    nmcli(nm, "connection", "add", "type", "veth", "ifname", name, "veth.peer", peer, "con-name", name,
          "ipv4.method", "manual", "ipv4.addresses", cidr, "ipv6.method", "link-local", "ipv6.addr-gen-mode", "eui64")
    wait_until(lambda: any(l["ifname"] == name for l in ns_json(ns, "ip", "-j", "link", "show")), timeout=15,
               what=f"NM making {name}")
    ip(ns, "link", "set", peer, "up")
    wait_until(lambda: nmcli(nm, "-g", "GENERAL.STATE", "device", "show", name, check=False).startswith("100"),
               timeout=15, what=f"NM activating {name}")


def nm_makes(ns: str, tmp_path: Path, desired: Desired, before, read, expected: dict) -> tuple[str, ...]:
    """The keyfiles rendered for `desired` given to NM; -> the profiles' lines NM reports."""
    from kvmtui.apply.nm_profiles import write_profiles
    from kvmtui.persist import networkmanager

    root = tmp_path / "root"
    root.mkdir()
    changes = networkmanager.render(read_netconfig(root, before.links, runtime=False), desired, read_text)
    lines = write_profiles(changes)
    got = eventually(read, ns, expected)
    assert got == expected, (lines, [c.after for c in changes])
    return tuple(lines)


def test_networkmanager_makes_the_vxlan_from_its_profile(nm, netns, tmp_path):
    """NM has no static FDB entries: the remote one comes with the device, the other is not saved."""
    ns = netns
    nm_underlay(nm, ns, "kt-u", "kt-u2", "10.77.0.1/24")
    live, desired, before = made_live(ns, CreateVxlan("kt-vx0", 77, "10.77.0.2", None, "kt-u", "10.77.0.1", 4790,
                                                      False, ("10.77.0.9",), 1400), ("vxlan", *VXLAN_ARGS), vxlan_view)
    ip(ns, "link", "del", "kt-vx0")
    lines = nm_makes(ns, tmp_path, desired, before, vxlan_view,
                     {**live, "vteps": [("00:00:00:00:00:00", "10.77.0.2")]})
    assert "NetworkManager activated kt-vx0" in lines


def test_networkmanager_makes_the_shim_from_its_profile(nm, netns, tmp_path):
    ns = netns
    nm_underlay(nm, ns, "kt-nic", "kt-wire", "10.40.0.1/24")
    live, desired, before = made_live(ns, CreateShim("kt-nic", "kt-shim", "10.40.0.2/32", routes=("10.40.0.50/32",)),
                                      ("shim", "kt-nic", "--name", "kt-shim", "--address", "10.40.0.2/32",
                                       "--route", "10.40.0.50/32"), shim_view)
    ip(ns, "link", "del", "kt-shim")
    nm_makes(ns, tmp_path, desired, before, shim_view, live)


def test_netplan_generates_the_vxlan_that_networkd_makes(underlay, tmp_path):
    """netplan's YAML -> `netplan generate` -> networkd makes it; netplan has no static FDB
    entries: the remote one comes with the device, the other is not saved (and said so)."""
    from kvmtui.persist import netplan
    from kvmtui.persist.overlay import left_out

    ns = underlay
    live, desired, before = made_live(ns, CreateVxlan("kt-vx0", 77, "10.77.0.2", None, "kt-u", "10.77.0.1", 4790,
                                                      False, ("10.77.0.9",), 1400), ("vxlan", *VXLAN_ARGS), vxlan_view)
    root = tmp_path / "root"
    (root / "etc/netplan").mkdir(parents=True)
    (root / "etc/netplan/01-netcfg.yaml").write_text(NETPLAN_UNDERLAY)
    write_changes(netplan.render(read_netconfig(root, before.links, runtime=False), desired, read_text))
    assert "10.77.0.9" in left_out("netplan", desired.devices)[0]
    proc = subprocess.run([NETPLAN, "generate", "--root-dir", str(root)], capture_output=True, text=True)
    assert proc.returncode == 0, f"netplan generate refused it: {proc.stderr}"
    units = root / "run/systemd/network"
    assert "VXLAN=kt-vx0" in next(units.glob("*kt-u.network")).read_text()
    saved = {d.name: d for d in read_netconfig(root, (), runtime=False).devices}
    assert (saved["kt-vx0"].kind, saved["kt-vx0"].vni, saved["kt-vx0"].parent) == ("vxlan", 77, "kt-u")
    ip(ns, "link", "del", "kt-vx0")
    bare(ns, "kt-u")
    log = tmp_path / "networkd.log"
    proc = start_networkd(ns, units, log, "/run/systemd/network")
    try:
        got = eventually(vxlan_view, ns, {**live, "vteps": [("00:00:00:00:00:00", "10.77.0.2")]}, proc=proc, log=log)
    finally:
        stop_process(proc)
    assert got == {**live, "vteps": [("00:00:00:00:00:00", "10.77.0.2")]}, log.read_text()


def test_ifupdown2_makes_the_vxlan_with_its_remote_vteps(underlay, tmp_path):
    """ifupdown2's vxlan-svcnodeip is the remote, each vxlan-remoteip a static all-zeros entry."""
    from kvmtui.persist import ifupdown
    from tests.backends import ifupdown2

    ns = underlay
    live, desired, before = made_live(ns, CreateVxlan("kt-vx0", 77, "10.77.0.2", None, "kt-u", "10.77.0.1", 4790,
                                                      False, ("10.77.0.9",), 1400), ("vxlan", *VXLAN_ARGS), vxlan_view)
    root = tmp_path / "root"
    (root / "etc/network").mkdir(parents=True)
    interfaces = root / "etc/network/interfaces"
    interfaces.write_text("auto lo\niface lo inet loopback\n\n"
                          "auto kt-u\niface kt-u inet static\n    address 10.77.0.1/24\n")
    write_changes(ifupdown.render(read_netconfig(root, before.links, runtime=False), desired, read_text))
    saved = {d.name: d for d in read_netconfig(root, (), runtime=False).devices}
    assert (saved["kt-vx0"].kind, saved["kt-vx0"].vni, saved["kt-vx0"].parent) == ("vxlan", 77, "kt-u")
    assert dict(saved["kt-vx0"].options)["remote"] == "10.77.0.2"
    assert saved["kt-vx0"].fdb == (("00:00:00:00:00:00", "10.77.0.9"),)
    ip(ns, "link", "del", "kt-vx0")
    bare(ns, "kt-u")
    proc = ifupdown2(ns, tmp_path / "up", "ifup", "-i", str(interfaces), "-a")
    assert proc.returncode == 0 and "error" not in proc.stderr, proc.stderr
    assert eventually(vxlan_view, ns, live, seconds=5) == live
    check = ifupdown2(ns, tmp_path / "up", "ifquery", "-i", str(interfaces), "-c", "-a")
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("backend", ["systemd-networkd", "NetworkManager", "netplan", "ifupdown2"])
def test_what_each_renderer_writes_reads_back(tmp_path, backend):
    """The readers see the saved vxlan (and shim, where the backend has it) as what runs: the
    drift audit finds nothing missing; deleted, nothing of them is left."""
    from kvmtui.model.netconfig import ConfiguredRoute
    from kvmtui.persist.model import wanted
    from kvmtui.persist.render import render_for
    from kvmtui.persist.overlay import unsavable

    vx = wanted("kt-vx0", "vxlan", vni=77, parent="kt-u", mtu=1400, options=(
        ("local", "10.77.0.1"), ("remote", "10.77.0.2"), ("port", "4790"), ("learning", "0"), ("ttl", "9")))
    shim = wanted("kt-shim", "macvlan", parent="kt-nic", options=(("mode", "bridge"),), addresses=("10.40.0.2/32",),
                  routes=(ConfiguredRoute("10.40.0.50"),))
    devices = (vx, shim) if unsavable(backend, (shim,)) is None else (vx,)
    root = tmp_path / "root"
    root.mkdir()
    # the underlay as the backend already describes it: netplan names only what it describes,
    # networkd binds a vxlan to an underlay only through the underlay's own .network
    if backend == "netplan":
        (root / "etc/netplan").mkdir(parents=True)
        (root / "etc/netplan/01-netcfg.yaml").write_text(NETPLAN_UNDERLAY)
        (root / "etc/netplan/01-netcfg.yaml").chmod(0o600)
    if backend == "systemd-networkd":
        (root / NETDIR).mkdir(parents=True)
        (root / NETDIR / "20-kt-u.network").write_text(UNDERLAY)

    def under_root(path: str) -> Path:  # NM's renderer names the host's paths, the others the root's
        return Path(path) if path.startswith(str(root)) else root / path.lstrip("/")

    def saved_after(desired: Desired) -> dict:
        saved = read_netconfig(root, (), runtime=False)
        for change in render_for(backend, saved, desired, lambda path: read_text(str(under_root(path)))):
            path = under_root(change.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            if change.after is None:
                path.unlink()
                continue
            path.write_text(change.after)
            path.chmod(change.mode)
        if backend == "netplan":
            proc = subprocess.run([NETPLAN, "generate", "--root-dir", str(root)], capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
        return {d.name: d for d in read_netconfig(root, (), runtime=False).devices if d.backend == backend}

    saved = saved_after(Desired(devices))
    got = saved["kt-vx0"]
    options = dict(got.options)
    assert (got.kind, got.vni, got.parent, got.mtu) == ("vxlan", 77, "kt-u", 1400)
    assert (options["local"], options["remote"], options["port"], options["learning"] in ("0", "false")) == \
           ("10.77.0.1", "10.77.0.2", "4790", True)
    if len(devices) == 2:
        shim_back = saved["kt-shim"]
        assert (shim_back.kind, shim_back.parent, dict(shim_back.options)["mode"], shim_back.addresses) == \
               ("macvlan", "kt-nic", "bridge", ("10.40.0.2/32",))
    saved = saved_after(Desired((), tuple(d.name for d in devices)))
    assert not {"kt-vx0", "kt-shim"} & set(saved), saved
    assert not any("kt-vx0" in d.ports or "kt-shim" in d.ports for d in saved.values())


def test_netplan_leaves_an_underlay_it_does_not_describe_unbound(tmp_path):
    """netplan refuses a `link:` it has no entry for: the vxlan is written without it, and
    netplan makes it independent of any underlay's configuration."""
    from kvmtui.persist import netplan
    from kvmtui.persist.model import wanted

    root = tmp_path / "root"
    root.mkdir()
    vx = wanted("kt-vx0", "vxlan", vni=77, parent="kt-u", options=(("local", "10.77.0.1"), ("remote", "10.77.0.2"),
                                                                   ("port", "4789"), ("learning", "1")))
    write_changes(netplan.render(read_netconfig(root, (), runtime=False), Desired((vx,)), read_text))
    assert "link:" not in (root / "etc/netplan/90-kvmtui.yaml").read_text()
    proc = subprocess.run([NETPLAN, "generate", "--root-dir", str(root)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Independent=true" in next((root / "run/systemd/network").glob("*kt-vx0.netdev")).read_text()
