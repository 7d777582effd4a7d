"""kvmtui/persist/netplan.py against the real netplan 0.106 and systemd-networkd 252.

The truth is the kernel: netplan generates networkd files from what kvmtui wrote, a real
systemd-networkd builds them in a test namespace, and the host must come back as kvmtui
built it live. Plus: what `netplan generate` accepts, what kvmtui's reader reads back,
and other files edited byte for byte outside the keys that change."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from kvmtui.collect.netconfig import read_netconfig, read_text
from kvmtui.collect.snapshot import collect_kernel
from kvmtui.kinds import make_plan
from kvmtui.kinds.bridge import CreateBridge
from kvmtui.model.netconfig import ConfiguredRoute
from kvmtui.persist.desired import desired_config
from kvmtui.persist.model import Desired, wanted
from kvmtui.persist.netplan import OWN_FILE, render
from tests.helpers import kvmtui_in, sh, write_changes
from tests.states import changes, no_dad, steady
from tests.backends import NETPLAN, NETWORKD, start_networkd

pytestmark = pytest.mark.skipif(not Path(NETPLAN).exists() or not Path(NETWORKD).exists(),
                                reason="netplan.io / systemd not installed (scripts/setup.sh test installs them)")

UPLINK = """\
# The host's uplink, as the installer wrote it.
network:
  version: 2
  renderer: networkd
  ethernets:
    kt-p1:
      # a static address
      addresses:
        - 10.89.0.2/24   # the uplink's
      routes:
        - to: default
          via: 10.89.0.1
      nameservers:
        addresses: [1.1.1.1]   # kept
    kt-p2: {}  # a spare
"""






def generate(root: Path) -> Path:
    proc = subprocess.run([NETPLAN, "generate", "--root-dir", str(root)], capture_output=True, text=True)
    assert proc.returncode == 0, f"netplan generate refused it: {proc.stderr}"
    return root / "run/systemd/network"


def tmp_root(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "root"
    for name, text in files.items():
        path = root / "etc/netplan" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o600)
    return root


def test_netplan_generate_accepts_bridge_bond_and_vlan(tmp_path):
    root = tmp_root(tmp_path, {"01-netcfg.yaml": UPLINK})
    desired = Desired((
        wanted("kt-br0", "bridge", ports=("kt-p1",), addresses=("10.89.0.2/24",), mac="02:00:00:00:00:01",
               routes=(ConfiguredRoute("default", "10.89.0.1"),), bridge_stp=True,
               bridge_options=(("forward_delay", "4"),)),
        wanted("kt-p1", "ethernet", master="kt-br0"),
        wanted("kt-bond0", "bond", ports=("kt-p2", "kt-p3"), bond_mode="802.3ad", mtu=9000,
               bond_options=(("miimon", "100"), ("lacp_rate", "fast"), ("xmit_hash_policy", "layer3+4"))),
        wanted("kt-p2", "ethernet", master="kt-bond0"), wanted("kt-p3", "ethernet", master="kt-bond0"),
        wanted("kt-bond0.10", "vlan", vlan_id=10, parent="kt-bond0", addresses=("10.9.0.1/24",)),
    ))
    out = render(read_netconfig(root), desired, read_text)
    own = next(c for c in out if c.path == str(root) + OWN_FILE)
    assert own.before is None and own.mode == 0o600
    write_changes(out)
    assert (root / OWN_FILE.lstrip("/")).stat().st_mode & 0o777 == 0o600
    units = generate(root)
    netdev = {p.name: p.read_text() for p in units.glob("*.netdev")}
    assert "Kind=bridge" in netdev["10-netplan-kt-br0.netdev"] and "STP=true" in netdev["10-netplan-kt-br0.netdev"]
    assert "ForwardDelaySec=4" in netdev["10-netplan-kt-br0.netdev"]
    assert "MACAddress=02:00:00:00:00:01" in netdev["10-netplan-kt-br0.netdev"]
    bond = netdev["10-netplan-kt-bond0.netdev"]
    assert all(w in bond for w in ("Mode=802.3ad", "LACPTransmitRate=fast", "MIIMonitorSec=100ms",
                                   "TransmitHashPolicy=layer3+4", "MTUBytes=9000"))
    assert "Id=10" in netdev["10-netplan-kt-bond0.10.netdev"]
    port = (units / "10-netplan-kt-p1.network").read_text()
    assert "Bridge=kt-br0" in port and "Address=" not in port and "Gateway=" not in port, port
    bridge = (units / "10-netplan-kt-br0.network").read_text()
    assert bridge.count("Address=10.89.0.2/24") == 1 and "Gateway=10.89.0.1" in bridge


def test_other_files_keep_their_comments_and_other_keys_byte_for_byte(tmp_path):
    root = tmp_root(tmp_path, {"01-netcfg.yaml": UPLINK, "02-lab.yaml": LAB})
    desired = Desired((
        wanted("kt-br0", "bridge", ports=("kt-p1",), addresses=("10.89.0.2/24",),
               routes=(ConfiguredRoute("default", "10.89.0.1"),), bridge_stp=False, bridge_options=(("forward_delay", "0"),)),
        wanted("kt-p1", "ethernet", master="kt-br0"),
        wanted("kt-p5", "ethernet"),  # leaves kt-lab
    ), removed=("kt-old",))
    out = {c.path: c for c in render(read_netconfig(root), desired, read_text)}
    uplink = out[str(root / "etc/netplan/01-netcfg.yaml")]
    assert uplink.before == UPLINK
    assert uplink.after == UPLINK.replace("""      addresses:
        - 10.89.0.2/24   # the uplink's
      routes:
        - to: default
          via: 10.89.0.1
""", "")
    lab = out[str(root / "etc/netplan/02-lab.yaml")]
    assert lab.after == LAB_AFTER
    write_changes(out.values())
    generate(root)


LAB = """\
network:
  bridges:
    kt-lab:  # the lab's bridge
      interfaces: [kt-p4, kt-p5]
      parameters:
        stp: true
    # an old bridge
    kt-old:
      interfaces:
        - kt-p6
  ethernets:
    kt-p4: {}
    kt-p5: {}
    kt-p6: {}
"""
LAB_AFTER = """\
network:
  bridges:
    kt-lab:  # the lab's bridge
      interfaces: [kt-p4]
      parameters:
        stp: true
    # an old bridge
  ethernets:
    kt-p4: {}
    kt-p5: {}
    kt-p6: {}
"""


def view(ns: str) -> dict:
    """What the networkd run must give back, normalised: the bridge (MAC, STP, forward
    delay), its port, the global addresses and the main table's routes. Not compared:
    ifindexes, link-local addresses, route protocol/scope flags (networkd says
    `proto static`, kvmtui's live change `proto boot`), carrier timing."""
    links = {l["ifname"]: l for l in json.loads(sh("ip", "-n", ns, "-d", "-j", "link", "show"))}
    out: dict = {}
    for name in ("kt-br0", "kt-p1"):
        link = links.get(name)
        if link is None:
            out[name] = None
            continue
        info = link.get("linkinfo", {})
        data = info.get("info_data", {})
        out[name] = {"kind": info.get("info_kind"), "master": link.get("master"), "mtu": link["mtu"],
                     "up": "UP" in link["flags"], "mac": link["address"] if name == "kt-br0" else None,
                     "stp": data.get("stp_state"), "forward_delay": data.get("forward_delay")}
    out["addr"] = sorted((a["ifname"], i["local"], i["prefixlen"]) for a in json.loads(sh("ip", "-n", ns, "-j", "addr"))
                         for i in a["addr_info"] if i.get("scope") == "global")
    out["route"] = sorted((r["dst"], r.get("gateway"), r.get("dev")) for r in json.loads(sh("ip", "-n", ns, "-j", "route")))
    return out


def test_networkd_builds_back_what_kvmtui_built_live(netns, tmp_path):
    ns = netns
    no_dad(ns)
    sh("ip", "-n", ns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    sh("ip", "-n", ns, "link", "set", "kt-q1", "up")
    sh("ip", "-n", ns, "link", "set", "kt-p1", "up")
    sh("ip", "-n", ns, "addr", "add", "10.89.0.2/24", "dev", "kt-p1")
    sh("ip", "-n", ns, "route", "add", "default", "via", "10.89.0.1")
    root = tmp_root(tmp_path, {"01-netcfg.yaml": UPLINK})
    before = collect_kernel(netns=ns)

    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", "bridge", "kt-br0", "--port", "kt-p1",
                     "--move-ip-from", "kt-p1")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    desired = desired_config(make_plan(CreateBridge("kt-br0", ("kt-p1",), move_ip_from="kt-p1"), before), before)
    assert {d.name for d in desired.devices} == {"kt-br0", "kt-p1"}
    write_changes(render(read_netconfig(root, before.links), desired, read_text))
    steady(ns)
    live = view(ns)
    assert live["kt-br0"]["kind"] == "bridge" and live["kt-p1"]["master"] == "kt-br0", live
    assert ("default", "10.89.0.1", "kt-br0") in live["route"], live

    # (c) what kvmtui reads back from the files describes what it built
    saved = read_netconfig(root)
    assert not saved.problems, saved.problems
    got = {d.name: d for d in saved.devices}
    assert got["kt-br0"].kind == "bridge" and got["kt-br0"].ports == ("kt-p1",)
    assert got["kt-br0"].addresses == ("10.89.0.2/24",)
    assert got["kt-br0"].routes == (ConfiguredRoute("default", "10.89.0.1"),)
    assert got["kt-br0"].bridge_stp == desired.device("kt-br0").bridge_stp
    assert got["kt-p1"].master == "kt-br0" and got["kt-p1"].addresses == () and got["kt-p1"].routes == ()

    # the host without it: kt-p1 bare and up, no bridge
    sh("ip", "-n", ns, "link", "del", "kt-br0")
    sh("ip", "-n", ns, "addr", "flush", "dev", "kt-p1")
    sh("ip", "-n", ns, "link", "set", "kt-p1", "up")
    assert view(ns)["kt-br0"] is None

    units = generate(root)
    log = tmp_path / "networkd.log"
    daemon = start_networkd(ns, units, log, "/run/systemd/network")
    try:
        deadline = time.monotonic() + 20
        while (now := view(ns)) != live and time.monotonic() < deadline and daemon.poll() is None:
            time.sleep(0.2)
        comm = Path(f"/proc/{daemon.pid}/comm").read_text().strip() if daemon.poll() is None else None
    finally:
        daemon.kill()  # by its pid: unshare and both shells exec'd into systemd-networkd
        daemon.wait(10)
        output = log.read_text()
    assert now == live, changes(live, now) + f"\nsystemd-networkd said:\n{output}"
    assert comm == "systemd-network", comm  # the pid killed was the daemon itself
    assert "Configuring with /run/systemd/network/10-netplan-kt-br0.network" in output, output


def test_a_second_render_changes_nothing_and_a_delete_puts_the_uplink_back(tmp_path):
    root = tmp_root(tmp_path, {"01-netcfg.yaml": UPLINK})
    bridge = Desired((
        wanted("kt-br0", "bridge", ports=("kt-p1",), addresses=("10.89.0.2/24",),
               routes=(ConfiguredRoute("default", "10.89.0.1"),), bridge_stp=False, bridge_options=(("forward_delay", "0"),)),
        wanted("kt-p1", "ethernet", master="kt-br0"),
    ))
    write_changes(render(read_netconfig(root), bridge, read_text))
    written = {p: p.read_text() for p in (root / "etc/netplan").iterdir()}
    assert [c for c in render(read_netconfig(root), bridge, read_text) if c.changed] == []

    back = Desired((wanted("kt-p1", "ethernet", addresses=("10.89.0.2/24",),
                           routes=(ConfiguredRoute("default", "10.89.0.1"),)),), removed=("kt-br0",))
    out = render(read_netconfig(root), back, read_text)
    assert {c.path for c in out} == {str(root) + OWN_FILE}, out  # the installer's file stays as kvmtui left it
    write_changes(out)
    assert (root / "etc/netplan/01-netcfg.yaml").read_text() == written[root / "etc/netplan/01-netcfg.yaml"]
    saved = read_netconfig(root)
    got = {d.name: d for d in saved.devices}
    assert "kt-br0" not in got and not saved.problems, saved
    assert got["kt-p1"].master is None and got["kt-p1"].addresses == ("10.89.0.2/24",)
    assert got["kt-p1"].routes == (ConfiguredRoute("default", "10.89.0.1"),)
    units = generate(root)
    assert not (units / "10-netplan-kt-br0.netdev").exists()
    assert "Address=10.89.0.2/24" in (units / "10-netplan-kt-p1.network").read_text()


def test_flow_style_devices_fall_back_to_a_ruamel_round_trip(tmp_path):
    text = "# flow style\nnetwork:\n  ethernets:\n    kt-p1: {addresses: [10.89.0.2/24], mtu: 1500}  # inline\n"
    root = tmp_root(tmp_path, {"01-flow.yaml": text})
    desired = Desired((wanted("kt-br0", "bridge", ports=("kt-p1",), addresses=("10.89.0.2/24",), bridge_stp=False),
                       wanted("kt-p1", "ethernet", master="kt-br0")))
    out = {c.path: c for c in render(read_netconfig(root), desired, read_text)}
    after = out[str(root / "etc/netplan/01-flow.yaml")].after
    assert after.startswith("# flow style\n") and "10.89.0.2" not in after and "mtu: 1500" in after, after
    write_changes(out.values())
    generate(root)
    assert {d.name: d.addresses for d in read_netconfig(root).devices} == {"kt-br0": ("10.89.0.2/24",), "kt-p1": ()}


def test_validate_runs_netplan_generate_on_a_copy(tmp_path):
    from kvmtui.apply.persist_files import netplan_refusal
    from kvmtui.persist.model import FileChange

    root = tmp_root(tmp_path, {"01-netcfg.yaml": UPLINK})
    saved = read_netconfig(root)
    desired = Desired((wanted("kt-br0", "bridge", ports=("kt-p1",), bridge_stp=False),
                       wanted("kt-p1", "ethernet", master="kt-br0")))
    good = render(saved, desired, read_text)
    assert netplan_refusal(saved.root, good, NETPLAN) is None
    bad = (FileChange(str(root) + OWN_FILE, None, "network:\n  bridges:\n    kt-br0:\n      interfaces: [kt-nope]\n"),)
    assert "kt-nope" in netplan_refusal(saved.root, bad, NETPLAN)
    assert not (root / OWN_FILE.lstrip("/")).exists()  # nothing written under the root
