"""Deleting a vxlan (bridge port, static FDB entries, an address) and a macvtap host-reach
shim (a bridge-mode macvlan with an address and a route to the guests): gone from the
namespace after `kvmtui apply delete`; a failure at any step puts the device back exactly
(`ip -d link`, addresses, routes, bridge ports and the vxlan's FDB entries, minus ifindexes)."""

from __future__ import annotations

import pytest

from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import DeleteLink, make_plan
from tests.helpers import kvmtui_in, sh, wait_until
from tests.states import assert_every_failure_undone, no_dad
from tests.topologies import ip, ns_json

VTEPS = {("00:00:00:00:00:00", "10.77.0.2"), ("00:00:00:00:00:00", "10.77.0.9"), ("52:54:00:00:00:01", "10.77.0.8")}


def underlay(ns: str) -> None:
    """kt-u (a veth, 10.77.0.1/24), up with its carrier: a vxlan takes its operstate from
    the underlay's when it comes up."""
    no_dad(ns)
    ip(ns, "link", "add", "kt-u", "type", "veth", "peer", "name", "kt-u2")
    ip(ns, "addr", "add", "10.77.0.1/24", "dev", "kt-u")
    for dev in ("kt-u", "kt-u2"):
        ip(ns, "link", "set", dev, "up")
    wait_until(lambda: ns_json(ns, "ip", "-j", "link", "show", "kt-u")[0]["operstate"] == "UP", timeout=10,
               what="kt-u's carrier")


@pytest.fixture
def vxlan_ns(make_netns):
    """kt-vx0: VNI 77 to 10.77.0.2 from 10.77.0.1 on the underlay kt-u, port 4790, no learning,
    TTL 9, MTU 1400, a port of kt-br, two more remote VTEPs as static FDB entries, 10.99.0.1/24."""
    ns = make_netns()
    underlay(ns)
    ip(ns, "link", "add", "kt-br", "type", "bridge")
    ip(ns, "link", "add", "kt-p", "type", "veth", "peer", "name", "kt-q")
    ip(ns, "link", "set", "kt-p", "master", "kt-br")
    ip(ns, "link", "add", "kt-vx0", "mtu", "1400", "type", "vxlan", "id", "77", "remote", "10.77.0.2", "local",
       "10.77.0.1", "dev", "kt-u", "dstport", "4790", "nolearning", "ttl", "9")
    ip(ns, "link", "set", "kt-vx0", "master", "kt-br")
    sh("bridge", "-n", ns, "fdb", "append", "00:00:00:00:00:00", "dev", "kt-vx0", "dst", "10.77.0.9")
    sh("bridge", "-n", ns, "fdb", "add", "52:54:00:00:00:01", "dev", "kt-vx0", "dst", "10.77.0.8")
    ip(ns, "addr", "add", "10.99.0.1/24", "dev", "kt-vx0")
    for dev in ("kt-p", "kt-q", "kt-br", "kt-vx0"):
        ip(ns, "link", "set", dev, "up")
    return ns


@pytest.fixture
def shim_ns(make_netns):
    """kt-nic (10.40.0.1/24) wired to a switch namespace; kt-shim, its bridge-mode macvlan
    with 10.40.0.2/32 and the route to a guest 10.40.0.50 through it."""
    ns, switch = make_netns(), make_netns()
    no_dad(ns)
    ip(ns, "link", "add", "kt-nic", "type", "veth", "peer", "name", "kt-wire", "netns", switch)
    ip(switch, "link", "set", "kt-wire", "up")
    ip(ns, "addr", "add", "10.40.0.1/24", "dev", "kt-nic")
    ip(ns, "link", "set", "kt-nic", "up")
    ip(ns, "link", "add", "kt-shim", "link", "kt-nic", "type", "macvlan", "mode", "bridge")
    ip(ns, "addr", "add", "10.40.0.2/32", "dev", "kt-shim")
    ip(ns, "link", "set", "kt-shim", "up")
    ip(ns, "route", "add", "10.40.0.50", "dev", "kt-shim", "src", "10.40.0.2")
    return ns


def vteps(ns: str) -> set[tuple[str, str]]:
    return {(e["mac"], e["dst"]) for e in ns_json(ns, "bridge", "-j", "fdb", "show") if e["ifname"] == "kt-vx0"
            and "dst" in e}


def names(ns: str) -> set[str]:
    return {link["ifname"] for link in ns_json(ns, "ip", "-d", "-j", "link", "show")}


def test_a_vxlan_is_deleted_with_its_fdb_entries_and_its_undo_makes_it_again(vxlan_ns):
    ns = vxlan_ns
    assert vteps(ns) == VTEPS
    plan = make_plan(DeleteLink("kt-vx0"), collect_snapshot(netns=ns, with_libvirt=False))
    undo = [st.inverse.command for st in plan.steps] + [then.command for st in plan.steps for then in st.inverse.then]
    assert "ip link add name kt-vx0 address {mac} mtu 1400 type vxlan id 77 remote 10.77.0.2 local 10.77.0.1 dev kt-u "\
           "dstport 4790 nolearning ttl 9".format(mac=ns_json(ns, "ip", "-j", "link", "show", "kt-vx0")[0]["address"]) \
        in undo
    assert {"bridge fdb append 00:00:00:00:00:00 dev kt-vx0 dst 10.77.0.9",
            "bridge fdb append 52:54:00:00:00:01 dev kt-vx0 dst 10.77.0.8"} <= set(undo)
    assert "ip link set kt-vx0 master kt-br" in undo
    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", "delete", "kt-vx0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kt-vx0" not in names(ns) and {"kt-br", "kt-u"} <= names(ns)
    assert not any(e.get("ifname") == "kt-vx0" or "dst" in e for e in ns_json(ns, "bridge", "-j", "fdb", "show"))
    assert not any(r.get("dev") == "kt-vx0" for r in ns_json(ns, "ip", "-j", "route"))


def test_a_failed_vxlan_delete_puts_it_back_exactly(vxlan_ns):
    plan = make_plan(DeleteLink("kt-vx0"), collect_snapshot(netns=vxlan_ns, with_libvirt=False))
    assert_every_failure_undone(vxlan_ns, plan)  # its FDB entries with a dst are compared too (undo_state)
    assert vteps(vxlan_ns) == VTEPS


def test_the_shim_is_deleted_with_its_address_and_route(shim_ns):
    ns = shim_ns
    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", "delete", "kt-shim")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ip route del 10.40.0.50 src 10.40.0.2 scope link dev kt-shim" in proc.stdout
    assert "kt-shim" not in names(ns) and "kt-nic" in names(ns)
    routes = ns_json(ns, "ip", "-j", "route")
    assert not any(r["dst"] == "10.40.0.50" for r in routes) and any(r.get("dev") == "kt-nic" for r in routes)


def test_a_failed_shim_delete_puts_it_back_with_its_mode_mac_address_and_route(shim_ns):
    snapshot = collect_snapshot(netns=shim_ns, with_libvirt=False)
    plan = make_plan(DeleteLink("kt-shim"), snapshot)
    recreate = next(st.inverse for st in plan.steps if st.action == "link_del")
    assert recreate.command == (f"ip link add link kt-nic name kt-shim address {snapshot.link('kt-shim').mac} mtu 1500 "
                                "type macvlan mode bridge")
    assert_every_failure_undone(shim_ns, plan)


def test_a_guests_macvtap_is_still_refused(shim_ns):
    ip(shim_ns, "link", "add", "kt-tap", "link", "kt-nic", "type", "macvtap", "mode", "bridge")
    proc = kvmtui_in(shim_ns, "apply", "--yes", "delete", "kt-tap")
    assert proc.returncode == 1 and proc.stderr.startswith("kvmtui: ifname: kt-tap is macvtap; kvmtui deletes "), \
        proc.stderr


def test_a_flow_based_vxlan_is_refused(netns):
    """One whose VNI comes with each packet (`external`, Open vSwitch's kind) belongs to the
    program that made it: refused at the field, nothing planned."""
    from kvmtui.plan import PlanError

    ip(netns, "link", "add", "kt-vxe", "type", "vxlan", "external", "dstport", "4799")
    with pytest.raises(PlanError) as refused:
        make_plan(DeleteLink("kt-vxe"), collect_snapshot(netns=netns, with_libvirt=False))
    assert refused.value.field == "ifname" and "the program that made it deletes it" in str(refused.value)


def test_a_failed_delete_of_a_multicast_vxlan_puts_it_back(netns):
    """Its group is joined on the underlay again; the entry the kernel makes for the group is
    not appended a second time."""
    underlay(netns)
    ip(netns, "link", "add", "kt-vx1", "type", "vxlan", "id", "9", "group", "239.1.1.9", "dev", "kt-u",
       "dstport", "4789")
    ip(netns, "link", "set", "kt-vx1", "up")
    plan = make_plan(DeleteLink("kt-vx1"), collect_snapshot(netns=netns, with_libvirt=False))
    assert not any(then.action == "fdb_add" for st in plan.steps for then in st.inverse.then)
    assert_every_failure_undone(netns, plan)
