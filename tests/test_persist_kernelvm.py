"""Bond + VLAN saved by kvmtui.persist, rebuilt by the real backend, inside the kernel VM.
(NetworkManager, at the end, in a namespace of its own: see its test.)

This machine's kernel has no bonding and no 802.1Q, so tests/test_persist_*.py check bonds
and VLANs only by reading the rendered files back. Here (tests/kernelvm: a stock Debian
kernel with bonding, 8021q and dummy) the truth is the kernel, as in those files' bridge
tests: kvmtui builds `bond kt-bond0 --mode 802.3ad --slave kt-d0 --slave kt-d1 --lacp-rate
fast` then `vlan kt-bond0 100` live in a namespace (the dummies stand for NICs); each
plan's Desired (computed on the snapshot before it) is rendered into a tmp root, the second
render against what the first wrote, for all three backends at once (one live build per
module: VM time is slow); the state is recorded. Then, per backend: the bond (and its VLAN
with it) is deleted and the dummies put back bare; the real systemd-networkd, ifupdown2, or
netplan generate + systemd-networkd builds from the files, and the state must come back.

Compared (`view`): each test link's kind and slave kind, master, UP flag, global
addresses; the bond's mode, LACP rate and MII interval; the VLAN's id, protocol and
parent. Not compared: MACs (networkd gives a .netdev bond a MAC of its own) and
ifupdown2/netplan policy defaults the plan did not set (xmit_hash_policy and the like).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from kvmtui.collect.netconfig import read_netconfig, read_text
from kvmtui.collect.snapshot import collect_kernel
from kvmtui.kinds import make_plan
from kvmtui.kinds.bond import CreateBond
from kvmtui.kinds.vlan import CreateVlan
from kvmtui.apply.nm_profiles import write_profiles
from kvmtui.persist import ifupdown, netplan, networkd
from kvmtui.persist import networkmanager as nm_persist
from kvmtui.persist.desired import desired_config
from kvmtui.persist.model import Desired
from tests.backends import NETPLAN, NETWORKD, ifupdown2, start_networkd
from tests.helpers import kvmtui_in, sh, stop_process, wait_until, write_changes
from tests.networkmanager import nm_root, nmcli, private_networkmanager, reader_of
from tests.states import steady

pytestmark = pytest.mark.kernelvm

TEST_LINKS = ("kt-d0", "kt-d1", "kt-bond0", "kt-bond0.100")
INTERFACES_HEAD = "# kvmtui test host\nauto lo\niface lo inet loopback\n"
def view(ns: str) -> dict:
    """The normalised state of the test links (see the module docstring)."""
    out = {}
    for link in json.loads(sh("ip", "-n", ns, "-d", "-j", "addr", "show")):
        if link["ifname"] not in TEST_LINKS:
            continue
        info = link.get("linkinfo", {})
        data = info.get("info_data", {})
        entry = {"kind": info.get("info_kind"), "slave_kind": info.get("info_slave_kind"),
                 "master": link.get("master"), "up": "UP" in link.get("flags", []),
                 "addresses": sorted(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                                     if a.get("scope") == "global")}
        if entry["kind"] == "bond":
            entry.update(mode=data.get("mode"), lacp_rate=data.get("ad_lacp_rate"), miimon=data.get("miimon"))
        if entry["kind"] == "vlan":
            entry.update(vlan_id=data.get("id"), protocol=data.get("protocol"), parent=link.get("link"))
        out[link["ifname"]] = entry
    return out


def wait_view(ns: str, expected: dict, seconds: float, alive=lambda: None) -> dict:
    deadline = time.monotonic() + seconds
    while (state := view(ns)) != expected and time.monotonic() < deadline:
        alive()
        time.sleep(0.2)
    if state == expected:
        state = steady(ns, 5, read=view)
    return state


EXPECTED = {
    "kt-d0": {"kind": "dummy", "slave_kind": "bond", "master": "kt-bond0", "up": True, "addresses": []},
    "kt-d1": {"kind": "dummy", "slave_kind": "bond", "master": "kt-bond0", "up": True, "addresses": []},
    "kt-bond0": {"kind": "bond", "slave_kind": None, "master": None, "up": True, "addresses": [],
                 "mode": "802.3ad", "lacp_rate": "fast", "miimon": 100},
    "kt-bond0.100": {"kind": "vlan", "slave_kind": None, "master": None, "up": True, "addresses": [],
                     "vlan_id": 100, "protocol": "802.1Q", "parent": "kt-bond0"},
}


# kvmtui builds these live, one after the other: (intent, the `kvmtui apply` words of it)
PLANS = ((CreateBond("kt-bond0", "802.3ad", ("kt-d0", "kt-d1"), lacp_rate="fast"),
          ("bond", "kt-bond0", "--mode", "802.3ad", "--slave", "kt-d0", "--slave", "kt-d1", "--lacp-rate", "fast")),
         (CreateVlan("kt-bond0", 100), ("vlan", "kt-bond0", "100")))
RENDERERS = {"networkd": networkd.render, "ifupdown2": ifupdown.render, "netplan": netplan.render}


def start_root(tmp: Path, backend: str) -> Path:
    """An empty host configuration of `backend` (ifupdown2: the loopback stanza only)."""
    root = tmp / backend
    {"networkd": root / "etc/systemd/network", "ifupdown2": root / "etc/network",
     "netplan": root / "etc/netplan"}[backend].mkdir(parents=True)
    if backend == "ifupdown2":
        (root / "etc/network/interfaces").write_text(INTERFACES_HEAD)
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """kvmtui builds the bond, then the VLAN, live in a namespace of this module; each plan's
    Desired (on the snapshot before it) rendered into one tmp root per backend in turn, the
    second render against what the first wrote. -> (namespace, recorded view, roots)."""
    import uuid

    ns = f"kt-{uuid.uuid4().hex[:8]}"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        tmp = tmp_path_factory.mktemp("persist-kernelvm")
        roots = {backend: start_root(tmp, backend) for backend in RENDERERS}
        for name in ("kt-d0", "kt-d1"):
            sh("ip", "-n", ns, "link", "add", name, "type", "dummy")
        for intent, args in PLANS:
            before = collect_kernel(netns=ns)
            desired = desired_config(make_plan(intent, before), before)
            proc = kvmtui_in(ns, "apply", "--no-persist", "--yes", "--no-confirm", *args)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            for backend, render in RENDERERS.items():
                saved = read_netconfig(roots[backend], before.links, runtime=False)
                write_changes(render(saved, desired, read_text))
        recorded = wait_view(ns, EXPECTED, 10)
        assert recorded == EXPECTED, recorded  # what kvmtui built is what the plans asked for
        yield ns, recorded, roots
    finally:
        sh("ip", "netns", "del", ns, check=False)


def torn_down(ns: str) -> None:
    """What a backend is to build is gone: the bond deleted (its VLAN goes with it), the
    dummies ("NICs") back bare and down, as after a reboot."""
    sh("ip", "-n", ns, "link", "del", "kt-bond0", check=False)
    for name in ("kt-d0", "kt-d1"):
        sh("ip", "-n", ns, "link", "set", name, "nomaster", check=False)
        sh("ip", "-n", ns, "link", "set", name, "down")
        sh("ip", "-n", ns, "addr", "flush", "dev", name)
    assert view(ns) == {name: {"kind": "dummy", "slave_kind": None, "master": None, "up": False, "addresses": []}
                        for name in ("kt-d0", "kt-d1")}


def networkd_builds(ns: str, files: Path, tmp_path: Path, expected: dict, seconds: float = 25.0) -> dict:
    """The real systemd-networkd (RECIPES.md) on `files` in `ns` until `expected` holds."""
    log = tmp_path / "networkd.log"
    proc = start_networkd(ns, files, log)

    def alive():
        assert proc.poll() is None, f"systemd-networkd exited {proc.returncode}:\n{log.read_text()}"

    try:
        got = wait_view(ns, expected, seconds, alive)
    finally:
        stop_process(proc)
    assert got == expected, (f"networkd built {got} from {sorted(p.name for p in files.iterdir())}\n"
                             + "".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(files.iterdir()))
                             + "--- networkd log ---\n" + log.read_text())
    return got


def test_bond_and_vlan_export_as_nmstate(built):
    """`kvmtui export --format nmstate` of the bond and its VLAN as kvmtui built them (first:
    the tests below rebuild them with each backend). nmstate is not installable here: the
    check is its documented field names and the kernel's values."""
    from ruamel.yaml import YAML

    ns, _, _ = built
    proc = kvmtui_in(ns, "export", "--format", "nmstate")
    assert proc.returncode == 0, proc.stderr
    got = {i["name"]: i for i in YAML(typ="safe").load(proc.stdout)["interfaces"]}
    bond = got["kt-bond0"]
    assert bond["type"] == "bond" and bond["link-aggregation"]["mode"] == "802.3ad"
    assert bond["link-aggregation"]["port"] == ["kt-d0", "kt-d1"]
    assert bond["link-aggregation"]["options"]["lacp_rate"] == "fast"
    assert bond["link-aggregation"]["options"]["miimon"] == 100
    assert got["kt-bond0.100"]["vlan"] == {"base-iface": "kt-bond0", "id": 100, "protocol": "802.1q"}
    assert got["kt-d0"]["type"] == "dummy" and got["kt-d0"]["state"] == "up"


@pytest.mark.skipif(not os.path.exists(NETWORKD), reason=f"{NETWORKD} is not installed")
def test_bond_and_vlan_come_back_from_networkd(built, tmp_path):
    ns, recorded, roots = built
    files = roots["networkd"] / "etc/systemd/network"
    names = sorted(p.name for p in files.iterdir())
    assert names == sorted(f"{networkd.PREFIX}{n}.{ext}" for n, ext in (
        ("kt-bond0", "netdev"), ("kt-bond0", "network"), ("kt-bond0.100", "netdev"), ("kt-bond0.100", "network"),
        ("kt-d0", "network"), ("kt-d1", "network"))), names
    assert "VLAN=kt-bond0.100\n" in (files / f"{networkd.PREFIX}kt-bond0.network").read_text()
    torn_down(ns)
    networkd_builds(ns, files, tmp_path, recorded)


@pytest.mark.skipif(shutil.which("ifup") is None, reason="ifupdown2 is not installed")
def test_bond_and_vlan_come_back_from_ifupdown2(built, tmp_path):
    ns, recorded, roots = built
    interfaces = roots["ifupdown2"] / "etc/network/interfaces"
    text = interfaces.read_text()
    assert text.startswith(INTERFACES_HEAD) and "iface kt-bond0.100" in text and "iface kt-bond0 " in text, text
    torn_down(ns)
    proc = ifupdown2(ns, tmp_path / "up", "ifup", "-i", str(interfaces), "-a")
    assert proc.returncode == 0 and "error" not in proc.stderr, proc.stderr + "\n--- interfaces ---\n" + text
    got = wait_view(ns, recorded, 10)
    assert got == recorded, f"ifupdown2 built {got} from:\n{text}"


@pytest.mark.skipif(not Path(NETPLAN).exists() or not os.path.exists(NETWORKD),
                    reason="netplan.io / systemd not installed")
def test_bond_and_vlan_come_back_from_netplan(built, tmp_path):
    ns, recorded, roots = built
    root = roots["netplan"]
    proc = subprocess.run([NETPLAN, "generate", "--root-dir", str(root)], capture_output=True, text=True, timeout=60)
    own = (root / netplan.OWN_FILE.lstrip("/")).read_text()
    assert proc.returncode == 0, proc.stderr + "\n--- yaml ---\n" + own
    torn_down(ns)
    networkd_builds(ns, root / "run/systemd/network", tmp_path, recorded)


def test_bond_and_vlan_come_back_from_networkmanager(netns, tmp_path, monkeypatch):
    """NM (private, RECIPES.md) makes the dummies that stand for NICs from profiles of its
    own (without udev it leaves devices made with `ip` unmanaged, the bond kvmtui builds
    too: so the profiles go to NM once that bond is deleted, as after a reboot); kvmtui
    builds the bond and the VLAN live; NM must build the recorded state again from the
    profiles rendered from both plans, handed to it over D-Bus."""
    ns = netns
    with private_networkmanager(ns, tmp_path / "nm") as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        for name in ("kt-d0", "kt-d1"):
            nmcli(address, "connection", "add", "type", "dummy", "ifname", name, "con-name", name,
                  "ipv4.method", "disabled", "ipv6.method", "disabled")
        wait_until(lambda: {"kt-d0", "kt-d1"} <= set(view(ns)), timeout=15, what="NM making the dummies")
        root = nm_root(address)
        wanted_devices: dict = {}
        first = collect_kernel(netns=ns)
        for intent, args in PLANS:
            before = collect_kernel(netns=ns)
            wanted_devices.update((d.name, d) for d in desired_config(make_plan(intent, before), before).devices)
            proc = kvmtui_in(ns, "apply", "--no-persist", "--yes", "--no-confirm", *args)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        recorded = wait_view(ns, EXPECTED, 20)
        assert recorded == EXPECTED, recorded

        changes = nm_persist.render(read_netconfig(root, first.links, runtime=False),
                                    Desired(tuple(wanted_devices.values()), ()), reader_of(root))
        torn_down(ns)
        lines = write_profiles(changes)
        got = wait_view(ns, recorded, 30)
        profiles = "".join(f"--- {p.name}\n{p.read_text()}"
                           for p in sorted((root / nm_persist.DIRECTORY.lstrip("/")).iterdir()))
        assert got == recorded, f"NM built {got} ({lines}) from:\n{profiles}"
