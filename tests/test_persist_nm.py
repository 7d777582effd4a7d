"""NetworkManager keyfiles kvmtui renders (kvmtui/persist/networkmanager.py) and writes over
D-Bus (kvmtui/apply/nm_profiles.py): the truth is the kernel. kvmtui builds a bridge live;
it is deleted; a real NetworkManager in the test namespace (tests/networkmanager.py) builds
it again from the profiles kvmtui wrote, and the state comes back."""

from __future__ import annotations

import os
import shutil

import pytest

from kvmtui.apply.nm_profiles import settings_of, write_profiles
from kvmtui.collect.netconfig import read_netconfig
from kvmtui.collect.netconfig import networkmanager as nm_reader
from kvmtui.collect.snapshot import collect_kernel
from kvmtui.errors import KvmtuiError
from kvmtui.kinds import make_plan
from kvmtui.kinds.bridge import CreateBridge
from kvmtui.model.netconfig import ConfiguredRoute, LinkOwner, SavedConfig
from kvmtui.persist.desired import desired_config
from kvmtui.persist.model import Desired, wanted
from kvmtui.persist.networkmanager import DIRECTORY, render
from tests.helpers import kvmtui_in, sh, wait_until
from tests.networkmanager import nm_root, nmcli, private_networkmanager, reader_of
from tests.states import steady, undo_state

BRIDGE, PORT, PEER = "kt-br0", "kt-p1", "kt-q1"


def normalised(state: dict) -> dict:
    """What the profiles must give back: the links (kind, master, MAC, MTU, bridge STP and
    forward delay), their IPv4 addresses and the routes (destination, device, gateway).
    Not what NM sets its own way by nature: route metrics and protocols, addr_gen_mode
    (NM makes the IPv6 link-local addresses itself: they are left out), operstate details,
    ifindex (in undo_state already)."""
    links = {}
    for link in state["link"]:
        info = link.get("linkinfo", {})
        data = info.get("info_data", {})
        links[link["ifname"]] = {"kind": info.get("info_kind"), "master": link.get("master"), "mac": link["address"],
                                 "mtu": link["mtu"], "stp": data.get("stp_state"),
                                 "forward_delay": data.get("forward_delay"), "up": "UP" in link["flags"]}
    addresses = {a["ifname"]: sorted(f"{i['local']}/{i['prefixlen']}" for i in a["addr_info"] if i["family"] == "inet")
                 for a in state["addr"]}
    routes = sorted((r["dst"], r.get("dev"), r.get("gateway")) for r in state["route"])
    return {"links": links, "addresses": addresses, "routes": routes}


@pytest.fixture
def nm(netns, tmp_path, monkeypatch):
    with private_networkmanager(netns, tmp_path / "nm") as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        yield address


def test_bridge_built_live_comes_back_from_the_profiles_nm_was_given(nm, netns, tmp_path):
    # Without udev NM keeps a veth made with `ip` unmanaged (`nmcli device set kt-p1 managed
    # yes` does not change that in 1.42 here): NM makes kt-p1 and its peer from a veth profile.
    nmcli(nm, "connection", "add", "type", "veth", "ifname", PORT, "veth.peer", PEER, "con-name", PORT,
          "ipv4.method", "manual", "ipv4.addresses", "10.91.0.2/24", "ipv4.gateway", "10.91.0.1",
          "ipv6.method", "link-local", "ipv6.addr-gen-mode", "eui64")
    wait_until(lambda: PORT in normalised(undo_state(netns))["links"], timeout=15, what="NM making kt-p1")
    sh("ip", "-n", netns, "link", "set", PEER, "up")
    wait_until(lambda: ("default", PORT, "10.91.0.1") in normalised(undo_state(netns))["routes"], timeout=15,
               what="NM activating kt-p1 with its address and gateway")
    wait_until(lambda: nmcli(nm, "-g", "GENERAL.STATE", "device", "show", PORT, check=False).startswith("100"),
               timeout=15, what="NM activating kt-p1")
    before_snapshot = collect_kernel(netns=netns)
    # the keyfile NM wrote, under a root of its own for the reader
    root = tmp_path / "root"
    (root / DIRECTORY.lstrip("/")).mkdir(parents=True)
    keyfile = root / DIRECTORY.lstrip("/") / f"{PORT}.nmconnection"
    shutil.copyfile(nm_root(nm) / DIRECTORY.lstrip("/") / f"{PORT}.nmconnection", keyfile)
    os.chmod(keyfile, 0o600)

    done = kvmtui_in(netns, "apply", "--yes", "--no-confirm", "bridge", BRIDGE, "--port", PORT, "--move-ip-from", PORT)
    assert done.returncode == 0, done.stderr
    live = normalised(steady(netns))
    assert live["links"][BRIDGE]["kind"] == "bridge" and live["links"][PORT]["master"] == BRIDGE
    assert live["addresses"][BRIDGE] == ["10.91.0.2/24"] and live["addresses"][PORT] == []

    plan = make_plan(CreateBridge(BRIDGE, (PORT,), move_ip_from=PORT), before_snapshot)
    desired = desired_config(plan, before_snapshot)
    saved = read_netconfig(root, runtime=False)
    changes = render(saved, desired, reader_of(root))
    by_path = {c.path: c for c in changes}
    port_file = f"{DIRECTORY}/{PORT}.nmconnection"
    assert set(by_path) == {port_file, f"{DIRECTORY}/{BRIDGE}.nmconnection"}
    assert by_path[port_file].before == keyfile.read_text()  # an update of kt-p1's own profile
    assert nm_reader.parse(by_path[port_file].after, port_file).devices[0].uuid == saved.devices[0].uuid

    # the bridge gone, kt-p1 bare again; then NM builds it all from the profiles
    sh("ip", "-n", netns, "link", "del", BRIDGE)
    sh("ip", "-n", netns, "addr", "flush", "dev", PORT, "scope", "global")
    assert BRIDGE not in normalised(undo_state(netns))["links"]
    lines = write_profiles(changes)
    assert f"NetworkManager added profile {BRIDGE} ({DIRECTORY}/{BRIDGE}.nmconnection)" in lines, lines
    assert f"NetworkManager updated profile {PORT} ({port_file})" in lines, lines
    try:
        wait_until(lambda: normalised(undo_state(netns)) == live, timeout=20, what="NM building the recorded state")
    except TimeoutError:
        assert normalised(undo_state(netns)) == live

    # what NM wrote to its disk reads back into what kvmtui asked for
    written = nm_reader.read(nm_root(nm))
    bridge = next(d for d in written.devices if d.name == BRIDGE)
    assert (bridge.kind, bridge.addresses, bridge.ports, bridge.mac) == ("bridge", ("10.91.0.2/24",), (PORT,),
                                                                           desired.device(BRIDGE).mac)
    assert next(d for d in written.devices if d.name == PORT).master == BRIDGE


def test_rendered_keyfiles_read_back_as_the_desired_devices(tmp_path):
    desired = Desired((
        wanted("br9", "bridge", ports=("bond9",), addresses=("192.0.2.9/24", "2001:db8::9/64"), mtu=9000,
               routes=(ConfiguredRoute("default", "192.0.2.1"), ConfiguredRoute("198.51.100.0/24", "192.0.2.254", 50)),
               mac="02:00:00:00:00:09", bridge_stp=True, bridge_options=(("forward_delay", "4"),)),
        wanted("bond9", "bond", master="br9", ports=("eth9",), bond_mode="802.3ad",
               bond_options=(("miimon", "100"), ("lacp_rate", "fast"), ("xmit_hash_policy", "layer3+4"))),
        wanted("eth9", "ethernet", master="bond9"),
        wanted("eth9.20", "vlan", vlan_id=20, parent="eth9", addresses=("10.20.0.1/24",)),
    ))
    changes = render(SavedConfig("/"), desired, lambda path: None)
    assert all(c.before is None and c.mode == 0o600 for c in changes)
    for change in changes:
        device = nm_reader.parse(change.after, change.path).devices[0]
        want = desired.device(device.name)
        assert device.backend == "NetworkManager" and device.kind == want.kind
        assert (device.master, device.addresses, device.mtu, device.vlan_id, device.parent) == \
               (want.master, want.addresses, want.mtu, want.vlan_id, want.parent)
        settings_of(change.after, change.path)  # converts to D-Bus settings too
    br9 = nm_reader.parse(changes[0].after, "br9").devices[0]
    assert (br9.bridge_stp, dict(br9.bridge_options)["forward_delay"], br9.mac) == (True, "4", "02:00:00:00:00:09")
    assert set(br9.routes) == {ConfiguredRoute("default", "192.0.2.1"),
                               ConfiguredRoute("198.51.100.0/24", "192.0.2.254", 50)}
    bond = nm_reader.parse(changes[1].after, "bond9").devices[0]
    assert (bond.bond_mode, dict(bond.bond_options)) == ("802.3ad", {"miimon": "100", "lacp_rate": "fast",
                                                                      "xmit_hash_policy": "layer3+4"})
    port = changes[2].after
    assert "master=bond9\nslave-type=bond\n" in port and "[ipv4]\nmethod=disabled\n" in port
    # the same text on every rendering: the diff shown is the file written
    assert render(SavedConfig("/"), desired, lambda path: None) == changes
    # read through a whole root, as kvmtui reads the host
    for change in changes:
        path = tmp_path / change.path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(change.after)
        path.chmod(0o600)
    saved = read_netconfig(tmp_path, runtime=False)
    assert not saved.problems, saved.problems
    assert {d.name: d.master for d in saved.devices} == {"br9": None, "bond9": "br9", "eth9": "bond9", "eth9.20": None}
    assert next(d for d in saved.devices if d.name == "br9").ports == ("bond9",)
    # deleting a device: its profile goes
    removed = render(saved, Desired((), ("eth9.20",)), reader_of(tmp_path))
    assert [(c.path, c.after, c.before is not None) for c in removed] == [(f"{DIRECTORY}/eth9.20.nmconnection", None, True)]


def test_netplan_owned_profile_is_refused_and_nothing_written(tmp_path, monkeypatch):
    netplan_file = "/run/NetworkManager/system-connections/netplan-kt-p1.nmconnection"
    saved = SavedConfig("/", owners=(LinkOwner(PORT, "netplan", netplan_file, 1, "netplan-generated NM profile"),))
    desired = Desired((wanted(BRIDGE, "bridge", ports=(PORT,)), wanted(PORT, "ethernet", master=BRIDGE)))
    read = []
    with pytest.raises(KvmtuiError) as refused:
        render(saved, desired, read.append)
    text = str(refused.value)
    assert text == (f"{PORT} is configured by netplan ({netplan_file}): kvmtui writes no NetworkManager profile of "
                    "it, since the next `netplan generate` would overwrite it; change the netplan YAML instead, or "
                    "apply live only")
    assert read == []  # refused before any file was even read
    # and the writer refuses such a path outright, before it asks NM anything
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    from kvmtui.persist.model import FileChange
    with pytest.raises(KvmtuiError, match=r"is netplan's: kvmtui writes no NetworkManager profile"):
        write_profiles((FileChange(netplan_file, "[connection]\n", "[connection]\nid=x\n"),))


def test_a_profile_nm_refuses_is_one_clear_line(nm, netns):
    bad = render(SavedConfig("/"), Desired((wanted("kt-v9", "vlan", vlan_id=5000, parent="lo"),)), lambda path: None)
    with pytest.raises(KvmtuiError) as refused:
        write_profiles(bad)
    text = str(refused.value)
    assert text.startswith(f"NetworkManager refused the profile of kt-v9 ({DIRECTORY}/kt-v9.nmconnection): "), text
    assert "\n" not in text and "vlan.id" in text, text
    assert "kt-v9" not in nmcli(nm, "-g", "NAME", "connection", "show")


def test_a_refused_profile_takes_back_the_ones_written_before_it(nm, netns):
    """All or nothing, as for files: the bridge's profile went in first, the VLAN's is refused."""
    batch = render(SavedConfig("/"), Desired((wanted("kt-bra", "bridge", bridge_stp=False),
                                              wanted("kt-v9", "vlan", vlan_id=5000, parent="lo"))), lambda path: None)
    with pytest.raises(KvmtuiError) as refused:
        write_profiles(batch)
    assert str(refused.value).endswith("; the profiles written before it are as they were again"), refused.value
    names = nmcli(nm, "-g", "NAME", "connection", "show")
    assert "kt-bra" not in names and "kt-v9" not in names
