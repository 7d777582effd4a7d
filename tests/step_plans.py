"""Real plans on examples/kvm-host.json, one per kind of change, for the step tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kvmtui.model import BridgeVlan, FdbEntry
from kvmtui.kinds import AttachInterface, CreateBond, CreateBridge, CreateVlan, DeleteLink, DetachInterface, make_plan
from kvmtui.plan.simulate import simulate
from kvmtui.serialize import read_snapshot_file

EXAMPLE = Path(__file__).parent.parent / "examples" / "kvm-host.json"


def hosts() -> dict[str, object]:
    """The example, and hosts derived from it: eno3 freed from br-mgmt with its address and
    default route ("freed") or without ("bare"); bond0 without what is stacked on it; and
    br-mgmt with what a bridge forgets when a port leaves (cost, hairpin, VLANs, static MAC)."""
    host = read_snapshot_file(str(EXAMPLE))
    eno3 = host.link("eno3")
    remembering = replace(
        host, links=tuple(replace(l, info_slave_data=replace(eno3.info_slave_data, cost=50, hairpin=True))
                          if l.ifname == "eno3" else l for l in host.links),
        bridge_vlans=host.bridge_vlans + (BridgeVlan("eno3", 20, False, False), BridgeVlan("eno3", 21, False, False),
                                          BridgeVlan("br-mgmt", 30, False, True)),
        fdb=host.fdb + (FdbEntry("52:54:00:12:34:56", "eno3", eno3.ifindex, "br-mgmt", 20, "static", ("sticky",)),))
    return {"example": host,
            "freed": simulate(host, make_plan(DeleteLink("br-mgmt", "eno3"), host).steps),
            "bare": simulate(host, make_plan(DeleteLink("br-mgmt"), host).steps),
            "no uppers": replace(host, links=tuple(l for l in host.links if l.ifname not in ("bond0.100", "macvtap0"))),
            "remembering": remembering}


PLANS = {  # name -> (intent, the host it is planned on)
    "delete br-mgmt --move-ip-to eno3": (DeleteLink("br-mgmt", "eno3"), "example"),
    "delete br-mgmt, which remembers port settings": (DeleteLink("br-mgmt", "eno3"), "remembering"),
    "delete br100": (DeleteLink("br100"), "example"),
    "delete bond0": (DeleteLink("bond0"), "no uppers"),
    "bridge br0 --port eno3 --move-ip-from eno3 --stp": (CreateBridge("br0", ("eno3",), stp=True, move_ip_from="eno3"),
                                                         "freed"),
    "bond bond1 active-backup --primary eno3": (CreateBond("bond1", "active-backup", ("eno3",), primary="eno3"), "bare"),
    "bond bond2 802.3ad --lacp-rate fast": (CreateBond("bond2", "802.3ad", ("eno3",), lacp_rate="fast",
                                                       xmit_hash_policy="layer3+4"), "bare"),
    "vlan bond0 200": (CreateVlan("bond0", 200), "example"),
    "vlan bond0 300 --protocol 802.1ad --name qinq": (CreateVlan("bond0", 300, "qinq", "802.1ad"), "example"),
    "attach web1 --bridge br100 --live --config": (AttachInterface("web1", bridge="br100", live=True, config=True),
                                                   "example"),
    "attach db1 --macvtap eno3 --mode private": (AttachInterface("db1", macvtap="eno3", mode="private",
                                                                 mac="52:54:00:aa:00:01"), "bare"),
    "detach db1 52:54:00:6b:03:01": (DetachInterface("db1", "52:54:00:6b:03:01"), "example"),
}


def plans():
    known = hosts()
    return {name: (make_plan(intent, known[host]), known[host]) for name, (intent, host) in PLANS.items()}


def commands(step) -> tuple:
    """(command, its inverse's commands, its `then` steps' commands), all the way down."""
    return (step.command, commands(step.inverse) if step.inverse else None, tuple(commands(t) for t in step.then))
