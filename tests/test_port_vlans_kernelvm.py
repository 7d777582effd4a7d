"""A VLAN-aware bridge made by `kvmtui apply` (inside the kernel VM: this host's kernel has
no bridge VLAN filtering), with a trunk uplink and two access ports, checked against
`bridge -j vlan show` and by traffic: a namespace on an access port reaches the VLAN
sub-interface of its VLAN at the trunk's far end, not the other access VLAN.

    h1 --veth-- kt-a1 (access 10) \\
                                   kt-br0 (vlan_filtering) -- kt-up (trunk 10,20) --veth-- far: kt-far.10, kt-far.20
    h2 --veth-- kt-a2 (access 20) /
"""

from __future__ import annotations

import time

import pytest

from kvmtui import cli
from kvmtui.apply import Executor
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import SetPortVlans, make_plan
from tests.helpers import kvmtui_in, sh
from tests.states import changes, no_dad, undo_state
from tests.traffic import ping
from tests.topologies import ns_json

pytestmark = pytest.mark.kernelvm


def vlan_table(ns: str) -> dict[str, list[tuple[int, bool, bool]]]:
    """`bridge -j vlan show` as port -> (vid, pvid, untagged) each, its ranges spread out."""
    table: dict[str, list[tuple[int, bool, bool]]] = {}
    for port in ns_json(ns, "bridge", "-j", "vlan", "show"):
        for entry in port["vlans"]:
            flags = entry.get("flags", [])
            for vid in range(entry["vlan"], entry.get("vlanEnd", entry["vlan"]) + 1):
                table.setdefault(port["ifname"], []).append((vid, "PVID" in flags, "Egress Untagged" in flags))
    return {name: sorted(entries) for name, entries in table.items()}


def wire(ns: str, port: str, other: str, far_name: str) -> None:
    """A veth from `ns` (`port`) to namespace `other` (`far_name`, up)."""
    sh("ip", "-n", ns, "link", "add", port, "type", "veth", "peer", "name", far_name, "netns", other)
    sh("ip", "-n", ns, "link", "set", port, "up")
    sh("ip", "-n", other, "link", "set", far_name, "up")


def address(ns: str, dev: str, cidr: str) -> None:
    sh("ip", "-n", ns, "addr", "add", cidr, "dev", dev, "nodad")


def vlan_device(ns: str, lower: str, vid: int, cidr: str) -> None:
    name = f"{lower}.{vid}"
    sh("ip", "-n", ns, "link", "add", "link", lower, "name", name, "type", "vlan", "id", str(vid))
    sh("ip", "-n", ns, "link", "set", name, "up")
    address(ns, name, cidr)


def applied(ns: str, *args: str) -> None:
    """`kvmtui apply` in this process (a subprocess costs seconds of imports under TCG)."""
    assert cli.main(["--netns", ns, "--no-libvirt", "apply", "--yes", *args]) == 0


@pytest.fixture
def switch(make_netns):
    """(sw, far, h1, h2): sw holds kt-up, kt-a1, kt-a2 (no bridge yet); far has VLANs 10 and 20
    on its end of the trunk; h1 and h2 are the hosts behind the access ports."""
    sw, far, h1, h2 = (make_netns() for _ in range(4))
    no_dad(sw)  # a state compared after an undo must not catch an IPv6 address still tentative
    wire(sw, "kt-up", far, "kt-far")
    wire(sw, "kt-a1", h1, "kt-h1")
    wire(sw, "kt-a2", h2, "kt-h2")
    vlan_device(far, "kt-far", 10, "10.10.0.254/24")
    vlan_device(far, "kt-far", 20, "10.20.0.254/24")
    address(h1, "kt-h1", "10.10.0.1/24")
    address(h2, "kt-h2", "10.20.0.1/24")
    address(h2, "kt-h2", "10.10.0.2/24")  # in h1's subnet, but on VLAN 20: h1 must not reach it
    return sw, far, h1, h2


def test_trunk_and_access_ports_carry_each_vlan_to_its_place_only(switch):
    sw, far, h1, h2 = switch
    proc = kvmtui_in(sw, "apply", "--yes", "bridge", "kt-br0", "--vlan-filtering", "--port", "kt-up", "--port",
                     "kt-a1", "--port", "kt-a2", "--trunk", "10,20")  # every port a trunk at first; access ports next
    assert proc.returncode == 0, proc.stdout + proc.stderr
    applied(sw, "vlans", "kt-a1", "--access", "10")
    applied(sw, "vlans", "kt-a2", "--access", "20")
    table = vlan_table(sw)
    assert table["kt-up"] == [(1, True, True), (10, False, False), (20, False, False)]
    assert table["kt-a1"] == [(10, True, True)] and table["kt-a2"] == [(20, True, True)]
    assert ns_json(sw, "ip", "-d", "-j", "link", "show", "kt-br0")[0]["linkinfo"]["info_data"]["vlan_filtering"] == 1
    assert ping(h1, "10.10.0.254"), "h1 (access 10) does not reach VLAN 10 at the trunk's far end"
    assert ping(h2, "10.20.0.254"), "h2 (access 20) does not reach VLAN 20 at the trunk's far end"
    assert not ping(h1, "10.10.0.2", 2), "h1 (VLAN 10) reached h2 (VLAN 20)"


def test_the_bridge_itself_joins_a_trunk_vlan_and_the_host_talks_on_it(switch):
    """--on-bridge: `bridge vlan add ... self`, then a VLAN device on the bridge reaches the
    far end's VLAN 20."""
    sw, far, _, _ = switch
    applied(sw, "bridge", "kt-br0", "--vlan-filtering", "--port", "kt-up")
    applied(sw, "vlans", "kt-up", "--trunk", "10,20", "--on-bridge")
    assert vlan_table(sw)["kt-br0"] == [(1, True, True), (10, False, False), (20, False, False)]
    vlan_device(sw, "kt-br0", 20, "10.20.0.100/24")
    assert ping(sw, "10.20.0.254"), "the host's kt-br0.20 does not reach VLAN 20 at the trunk's far end"


def test_a_failure_at_any_step_leaves_the_port_vlans_as_they_were(switch):
    """Failure injection: the executor's before_step hook raises at step N; the steps before
    it ran for real (a new native VLAN moved the PVID flag) and their undo is real."""
    sw, _, _, _ = switch
    applied(sw, "bridge", "kt-br0", "--vlan-filtering", "--port", "kt-up", "--trunk", "10-12,20")
    deadline = time.monotonic() + 10
    while not ((br := ns_json(sw, "ip", "-j", "addr", "show", "dev", "kt-br0")[0])["operstate"] == "UP" and any(
            a["family"] == "inet6" for a in br["addr_info"])):  # its carrier, then its link-local address, come later
        assert time.monotonic() < deadline, "kt-br0 did not come up"
        time.sleep(0.1)
    before = undo_state(sw)
    snapshot = collect_snapshot(netns=sw, with_libvirt=False)
    plan = make_plan(SetPortVlans("kt-up", trunk="11,20,30", pvid="5", on_bridge=True), snapshot)
    assert [step.command for step in plan.steps] == [
        "bridge vlan add dev kt-up vid 30", "bridge vlan add dev kt-up vid 5 pvid untagged",
        "bridge vlan del dev kt-up vid 1", "bridge vlan del dev kt-up vid 10", "bridge vlan del dev kt-up vid 12",
        "bridge vlan add dev kt-br0 vid 5 self", "bridge vlan add dev kt-br0 vid 11 self",
        "bridge vlan add dev kt-br0 vid 20 self", "bridge vlan add dev kt-br0 vid 30 self"]
    for failing in range(1, len(plan.steps) + 1):
        def fail(number, step, failing=failing):
            if number == failing:
                raise RuntimeError(f"injected failure at step {number}")

        report = Executor(sw, None, readonly=False, before_step=fail).apply(plan)
        assert not report.ok and not report.undo_errors
        after = undo_state(sw)
        assert after == before, f"failed at step {failing}: {plan.steps[failing - 1].command}\n" + changes(before, after)
    report = Executor(sw, None, readonly=False).apply(plan)
    assert report.ok, report
    assert vlan_table(sw)["kt-up"] == [(5, True, True), (11, False, False), (20, False, False), (30, False, False)]
