"""Who owns what, on hosts the real backends set up: NetworkManager (asked over D-Bus),
netplan rendering for NM and for systemd-networkd, systemd-networkd, ifupdown2.

Each backend builds its devices in a test namespace from its own files; kvmtui reads the
links there and the files and run state where the daemon sees them (/proc/PID/root for a
daemon in a private mount namespace), and must name the backend and its file per link,
and nobody for a device made by hand.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

from kvmtui.collect.netconfig import read_netconfig
from kvmtui.collect.netconfig.nm_devices import FLAG_EXTERNAL, states_of
from kvmtui.collect.snapshot import collect_kernel
from kvmtui.model.netconfig import SavedConfig
from kvmtui.views import config_lines
from tests.backends import NETPLAN, ifupdown2, start_networkd
from tests.helpers import sh, stop_process, wait_until
from tests.networkmanager import nm_root, nmcli, private_networkmanager


def owners(saved: SavedConfig) -> dict[str, tuple[str | None, str | None]]:
    return {o.ifname: (o.backend, o.file) for o in saved.owners}


def generated_by_netplan(tmp_path: Path, name: str, yaml: str) -> Path:
    """A root whose /etc/netplan/NAME is `yaml`, after the real `netplan generate` on it."""
    root = tmp_path / "root"
    (root / "etc/netplan").mkdir(parents=True)
    (root / "etc/netplan" / name).write_text(yaml)
    (root / "etc/netplan" / name).chmod(0o600)
    subprocess.run([NETPLAN, "generate", "--root-dir", str(root)], check=True, capture_output=True)
    return root


def handmade_veth(ns: str) -> None:
    sh("ip", "-n", ns, "link", "add", "kt-x", "type", "veth", "peer", "name", "kt-y")


def test_networkmanager_devices_profiles_and_unmanaged_ones_over_dbus(netns, tmp_path, monkeypatch):
    ns = netns
    handmade_veth(ns)  # NM keeps it unmanaged (state 10): no udev told it otherwise
    with private_networkmanager(ns, tmp_path / "nm") as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        nmcli(address, "connection", "add", "type", "bridge", "ifname", "kt-br0", "con-name", "kt-br0",
              "ipv4.method", "manual", "ipv4.addresses", "10.91.0.1/24", "ipv6.method", "disabled")
        # netplan's NM renderer: its generated profile, handed to NM as netplan's generator would
        root = generated_by_netplan(tmp_path, "60-lab.yaml", "network:\n  version: 2\n  renderer: NetworkManager\n"
                                    "  bridges:\n    kt-br1:\n      addresses: [10.92.0.1/24]\n")
        generated = next((root / "run/NetworkManager/system-connections").glob("netplan-*"))
        nm_view = nm_root(address)
        (nm_view / "run/NetworkManager/system-connections").mkdir(exist_ok=True)
        shutil.copy(generated, nm_view / "run/NetworkManager/system-connections" / generated.name)
        nmcli(address, "connection", "reload")
        nmcli(address, "connection", "up", "netplan-kt-br1")
        wait_until(lambda: {"kt-br0", "kt-br1"} <= set(collect_kernel(ns).links_by_name), 20)
        links = collect_kernel(ns).links

        # NM's own view of the files: its profile and netplan's
        seen = owners(read_netconfig(nm_view, links))
        assert seen["kt-br0"] == ("NetworkManager", "/etc/NetworkManager/system-connections/kt-br0.nmconnection")
        assert seen["kt-br1"] == ("netplan", f"/run/NetworkManager/system-connections/{generated.name}")
        assert "kt-x" not in seen and "kt-y" not in seen

        # no file readable at all (another mount namespace): D-Bus alone names the profiles
        bare = read_netconfig(tmp_path / "empty", links)
        seen = owners(bare)
        assert seen["kt-br0"] == ("NetworkManager", "/etc/NetworkManager/system-connections/kt-br0.nmconnection")
        assert seen["kt-br1"][0] == "netplan"
        assert bare.dbus and {b.backend: b.in_use for b in bare.backends}["NetworkManager"] is True
        lines = config_lines(replace(collect_kernel(ns), netconfig=bare), "kt-br0")
        assert any("NetworkManager" in value for _, value in lines), lines


def test_an_external_connection_is_not_nms_to_save():
    """NM mirrors a device someone else configured with a generated, EXTERNAL-flagged
    profile. Shaped as GetManagedObjects answers (the flag cannot be provoked here: NM
    without udev leaves such devices unmanaged)."""
    objects = {
        "/d/1": {"org.freedesktop.NetworkManager.Device": {"Interface": "br9", "State": 100, "Managed": True,
                                                            "ActiveConnection": "/a/1"}},
        "/a/1": {"org.freedesktop.NetworkManager.Connection.Active": {"Uuid": "u-1", "Connection": "/s/1"}},
        "/s/1": {"org.freedesktop.NetworkManager.Settings.Connection": {
            "Filename": "/run/NetworkManager/system-connections/br9.nmconnection", "Flags": FLAG_EXTERNAL}},
        "/d/2": {"org.freedesktop.NetworkManager.Device": {"Interface": "eth9", "State": 10, "Managed": False,
                                                            "ActiveConnection": "/"}},
    }
    states = states_of(objects, {"br9", "eth9"})
    assert states["br9"].external and states["br9"].managed and states["br9"].uuid == "u-1"
    assert states["eth9"].managed is False and states["eth9"].profile is None


def test_systemd_networkd_and_netplan_on_networkd(netns, tmp_path):
    ns = netns
    sh("ip", "-n", ns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    handmade_veth(ns)
    units = tmp_path / "units"
    units.mkdir()
    (units / "10-kt-br0.netdev").write_text("[NetDev]\nName=kt-br0\nKind=bridge\n")
    (units / "20-kt-br0.network").write_text("[Match]\nName=kt-br0\n\n[Network]\nAddress=10.93.0.1/24\n")
    (units / "30-kt-p1.network").write_text("[Match]\nName=kt-p1\n\n[Network]\nBridge=kt-br0\n")
    (units / "90-kt-x.network").write_text("[Match]\nName=kt-x\n\n[Link]\nUnmanaged=yes\n")
    daemon = start_networkd(ns, units, tmp_path / "networkd.log")
    try:
        view = Path(f"/proc/{daemon.pid}/root")
        wait_until(lambda: _networkd_configured(view, ns, "kt-br0", "kt-p1"), 30)
        saved = read_netconfig(view, collect_kernel(ns).links)
    finally:
        stop_process(daemon)
    seen = owners(saved)
    assert seen["kt-br0"] == ("systemd-networkd", "/etc/systemd/network/20-kt-br0.network")
    assert seen["kt-p1"] == ("systemd-networkd", "/etc/systemd/network/30-kt-p1.network")
    assert seen.get("kt-x", (None,))[0] is None  # Unmanaged=yes: networkd leaves it alone
    assert "kt-q1" not in seen

    # netplan on networkd: its YAML is the owner, not the .network it generated
    root = generated_by_netplan(tmp_path, "50-kt.yaml", "network:\n  version: 2\n  renderer: networkd\n  ethernets:\n"
                                "    kt-q1: {}\n  bridges:\n    kt-br1:\n      interfaces: [kt-q1]\n"
                                "      addresses: [10.94.0.1/24]\n")
    daemon = start_networkd(ns, root / "run/systemd/network", tmp_path / "netplan.log", "/run/systemd/network")
    try:
        view = Path(f"/proc/{daemon.pid}/root")
        wait_until(lambda: _networkd_configured(view, ns, "kt-br1", "kt-q1"), 30)
        # networkd's own run state, beside the YAML it came from
        shutil.copytree(view / "run/systemd/netif/links", root / "run/systemd/netif/links")
    finally:
        stop_process(daemon)
    seen = owners(read_netconfig(root, collect_kernel(ns).links))
    assert seen["kt-br1"] == ("netplan", "/etc/netplan/50-kt.yaml")
    assert seen["kt-q1"] == ("netplan", "/etc/netplan/50-kt.yaml")


def _networkd_configured(view: Path, ns: str, *names: str) -> bool:
    links = collect_kernel(ns).links_by_name
    if not all(name in links for name in names):
        return False
    states = [(view / "run/systemd/netif/links" / str(links[name].ifindex)) for name in names]
    return all(path.exists() and "NETWORK_FILE=" in path.read_text() for path in states)


def test_ifupdown2(netns, tmp_path):
    ns = netns
    sh("ip", "-n", ns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    handmade_veth(ns)
    root = tmp_path / "root"
    (root / "etc/network").mkdir(parents=True)
    (root / "usr").symlink_to("/usr")  # ifupdown2 as installed on this machine
    interfaces = root / "etc/network/interfaces"
    interfaces.write_text("auto kt-p1\niface kt-p1 inet manual\n\n"
                          "auto kt-br0\niface kt-br0 inet static\n    address 10.95.0.1/24\n"
                          "    bridge-ports kt-p1\n    bridge-stp off\n")
    proc = ifupdown2(ns, tmp_path / "private", "ifup", "-a", "-i", str(interfaces))
    assert proc.returncode == 0, proc.stderr
    links = collect_kernel(ns).links
    assert {link.ifname: link.master for link in links}["kt-p1"] == "kt-br0"
    seen = owners(read_netconfig(root, links))
    assert seen["kt-br0"] == ("ifupdown2", "/etc/network/interfaces")
    assert seen["kt-p1"] == ("ifupdown2", "/etc/network/interfaces")
    assert "kt-x" not in seen and "kt-q1" not in seen
