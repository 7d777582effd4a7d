"""A guest of the real libvirtd (qemu:///system) on an Open vSwitch bridge, attaching a guest
NIC to OVS with a VLAN tag, and retagging the guest's NIC (`guest-set --vlan`).

libvirtd runs ovs-vsctl with a cleaned environment, so the OVS is the one at the default
/var/run/openvswitch (tests/ovs.py's default_path_ovs: started here with the dummy datapath
unless one is running). Stood in for: the bridge's kernel device, a kt- tap of its name
(a kernel or netdev datapath makes it on a real host; libvirt reads its MTU). One guest for
the module. The plan tests below it are pure (a recorded host with an OVS added)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pytest

from kvmtui import cli
from kvmtui.apply import Executor
from kvmtui.audit import audit
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import SetGuestNic, make_plan
from kvmtui.kinds.attach import AttachInterface
from kvmtui.kinds.attach_bridge import PARAMS
from kvmtui.kinds.spec import Selection
from kvmtui.model import OvsBridge, OvsFakeBridge, OvsInterface, OvsPort, OvsState
from kvmtui.plan import PlanError
from kvmtui.serialize import snapshot_from_document
from kvmtui.topology import GROUP_ORPHANS, build_forest
from tests.guests import SYSTEM_URI, diskless_guest, domiflist, sh, unique_name
from tests.helpers import EXAMPLE, kvmtui
from tests.ovs import DefaultPathOvs, default_path_ovs, tree_chains

GUEST_MAC = "52:54:00:4b:79:01"


@dataclass
class Lab:
    ovs: DefaultPathOvs
    bridge: str
    guest: str


@pytest.fixture(scope="module")
def lab():
    with default_path_ovs() as ovs:
        bridge = unique_name("ovs")
        ovs.add_bridge(bridge)
        nic = (f"<interface type='bridge'><mac address='{GUEST_MAC}'/><source bridge='{bridge}'/>"
               "<virtualport type='openvswitch'/><model type='virtio'/></interface>")
        with diskless_guest(unique_name("ovsg"), [nic]) as dom:
            yield Lab(ovs, bridge, dom.name())


def _under_bridge(lab: Lab, tap: str) -> bool:
    """The dump's tree has bridge -> tap -> guest (the guest's name on the port's child)."""
    tree = json.loads(kvmtui("dump", "--json", env=lab.ovs.env, check=True).stdout)["tree"]
    return any(path[-3:] == (lab.bridge, tap, lab.guest) for path in tree_chains(tree))


def _chains(nodes, above: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every root-to-node chain of keys in the tree."""
    found = set()
    for node in nodes:
        chain = (*above, node.key)
        found |= {chain} | _chains(node.children, chain)
    return found


@pytest.mark.libvirt
def test_libvirt_plugs_the_guest_into_ovs_and_the_tree_shows_its_port(lab, monkeypatch):
    tap = domiflist(lab.guest)[GUEST_MAC]["target"]
    assert tap in lab.ovs.vsctl("list-ports", lab.bridge).split()  # libvirt ran ovs-vsctl add-port
    assert lab.ovs.vsctl("get", "Interface", tap, "external_ids:attached-mac").strip() == f'"{GUEST_MAC}"'
    assert _under_bridge(lab, tap)
    text = kvmtui("dump", env=lab.ovs.env, check=True).stdout
    assert f"{lab.bridge} ovs-bridge  ovs, " in text and f"{tap} tun  tap, ovs {lab.bridge}" in text
    assert f"{lab.guest} guest  {GUEST_MAC}" in text
    # the dashboard's tree and the audit, of one snapshot: the bridge's own tap is OVS's, no orphan
    monkeypatch.setenv("OVS_RUNDIR", lab.ovs.rundir)
    snapshot = collect_snapshot()
    chains = _chains(build_forest(snapshot))
    guest = next(key for *_above, key in chains if key.startswith("guest:") and GUEST_MAC in key)
    assert (f"link:{lab.bridge}", f"link:{tap}", guest) in {chain[-3:] for chain in chains}
    orphans = {key.rsplit("->", 1)[-1] for chain in chains if chain[0] == GROUP_ORPHANS for key in chain[1:]}
    assert f"link:{lab.bridge}" not in orphans  # listed there as a reference, when it was
    assert not [f for f in audit(snapshot) if f.key in (f"link:{lab.bridge}", f"link:{tap}")]


@pytest.mark.libvirt
def test_attach_to_ovs_with_a_vlan_tag_hotplugged_then_detached(lab):
    """usb-net: the diskless guest answers no PCI unplug (see test_apply_guest.py)."""
    mac = "52:54:00:4b:79:42"
    proc = kvmtui("apply", "--yes", "attach", lab.guest, "--bridge", lab.bridge, "--vlan", "42", "--mac", mac,
                  "--model", "usb-net", "--live", env=lab.ovs.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = domiflist(lab.guest)[mac]
    assert (row["type"], row["source"], row["model"]) == ("bridge", lab.bridge, "usb-net")
    assert lab.ovs.vsctl("get", "Port", row["target"], "tag").strip() == "42"
    assert _under_bridge(lab, row["target"])
    proc = kvmtui("apply", "--yes", "detach", lab.guest, mac, "--live", env=lab.ovs.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert mac not in domiflist(lab.guest) and row["target"] not in lab.ovs.vsctl("list-ports", lab.bridge).split()


@pytest.mark.libvirt
def test_the_tag_of_a_persistent_attach_is_set_again_at_the_next_start(lab):
    mac = "52:54:00:4b:79:43"
    proc = kvmtui("apply", "--yes", "attach", lab.guest, "--bridge", lab.bridge, "--vlan", "43", "--mac", mac,
                  "--config", env=lab.ovs.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "<tag id='43'/>" in sh("virsh", "dumpxml", "--inactive", lab.guest)
    sh("virsh", "destroy", lab.guest)
    sh("virsh", "start", lab.guest)
    tap = domiflist(lab.guest)[mac]["target"]
    assert lab.ovs.vsctl("get", "Port", tap, "tag").strip() == "43"


def _nic_xml(guest: str, mac: str, *flags: str) -> str:
    """The guest's <interface> element with this MAC, as `virsh dumpxml` prints it."""
    return next(part for part in sh("virsh", "dumpxml", *flags, guest).split("<interface")[1:] if mac in part)


@pytest.mark.libvirt
def test_guest_set_retags_the_running_ovs_nic_and_its_definition(lab, monkeypatch):
    monkeypatch.setenv("OVS_RUNDIR", lab.ovs.rundir)
    tap = domiflist(lab.guest)[GUEST_MAC]["target"]
    assert cli.main(["apply", "--yes", "guest-set", lab.guest, GUEST_MAC, "--vlan", "42"]) == 0
    assert lab.ovs.vsctl("get", "Port", tap, "tag").strip() == "42"
    assert "<tag id='42'/>" in _nic_xml(lab.guest, GUEST_MAC) and "<tag id='42'/>" in _nic_xml(
        lab.guest, GUEST_MAC, "--inactive")
    assert domiflist(lab.guest)[GUEST_MAC]["target"] == tap  # the same port, retagged
    assert cli.main(["apply", "--yes", "guest-set", lab.guest, GUEST_MAC, "--vlan", "none"]) == 0
    assert lab.ovs.vsctl("get", "Port", tap, "tag").strip() == "[]"
    assert "<vlan>" not in _nic_xml(lab.guest, GUEST_MAC) and "<vlan>" not in _nic_xml(
        lab.guest, GUEST_MAC, "--inactive")


@pytest.mark.libvirt
def test_a_port_gone_between_plan_and_apply_leaves_the_guest_as_it_was(lab, monkeypatch):
    """Injected: the guest's OVS port deleted after the plan (put back afterwards). Both
    updates run (libvirt 9.0 retags a port that is not there without a word); the check
    after apply reads OVS back, misses the port, and both steps are undone."""
    monkeypatch.setenv("OVS_RUNDIR", lab.ovs.rundir)
    tap = domiflist(lab.guest)[GUEST_MAC]["target"]
    live, inactive = _nic_xml(lab.guest, GUEST_MAC), _nic_xml(lab.guest, GUEST_MAC, "--inactive")
    plan = make_plan(SetGuestNic(lab.guest, GUEST_MAC, vlan="77"), collect_snapshot(uri=SYSTEM_URI))
    lab.ovs.vsctl("del-port", lab.bridge, tap)
    try:
        report = Executor(None, SYSTEM_URI).apply(plan)
    finally:
        lab.ovs.vsctl("--may-exist", "add-port", lab.bridge, tap)
    assert not report.ok and report.unmet == (f"OVS port {tap} is missing from {lab.bridge}",), report
    assert [step.live for step in report.undone] == [True, False]  # the running guest first, then the definition
    assert (_nic_xml(lab.guest, GUEST_MAC), _nic_xml(lab.guest, GUEST_MAC, "--inactive")) == (live, inactive)
    assert "77" not in lab.ovs.vsctl("get", "Port", tap, "tag")


@pytest.mark.libvirt
def test_a_shut_off_guest_moves_to_another_ovs_bridge_with_a_tag(lab, monkeypatch):
    """libvirt moves no running NIC onto, off or between OVS bridges, so the move is the
    definition's; the guest's next start plugs its tap into the new bridge with the tag.
    Then the failure injected: the bridge of a move deleted between plan and apply."""
    monkeypatch.setenv("OVS_RUNDIR", lab.ovs.rundir)
    mac = "52:54:00:4b:79:60"
    nic = (f"<interface type='bridge'><mac address='{mac}'/><source bridge='{lab.bridge}'/>"
           "<virtualport type='openvswitch'/><model type='virtio'/></interface>")
    second, doomed = unique_name("ovs"), unique_name("ovs")
    lab.ovs.add_bridge(second), lab.ovs.add_bridge(doomed)  # deleted with the lab's
    with diskless_guest(unique_name("ovso"), [nic], start=False) as dom:
        assert cli.main(["apply", "--yes", "guest-set", dom.name(), mac, "--bridge", second, "--vlan", "30"]) == 0
        moved = _nic_xml(dom.name(), mac, "--inactive")
        assert f"<source bridge='{second}'/>" in moved and "<tag id='30'/>" in moved and "openvswitch" in moved
        plan = make_plan(SetGuestNic(dom.name(), mac, bridge=doomed), collect_snapshot(uri=SYSTEM_URI))
        lab.ovs.vsctl("del-br", doomed)
        report = Executor(None, SYSTEM_URI).apply(plan)
        assert not report.ok and report.unmet == (f"OVS bridge {doomed} is missing",), report
        assert _nic_xml(dom.name(), mac, "--inactive") == moved  # rolled back
        dom.create()
        tap = domiflist(dom.name())[mac]["target"]
        assert tap in lab.ovs.vsctl("list-ports", second).split()
        assert lab.ovs.vsctl("get", "Port", tap, "tag").strip() == "30"


# -- plans (pure): a recorded host with an OVS bridge and a fake bridge -------------------
@pytest.fixture(scope="module")
def host():
    recorded = snapshot_from_document(json.loads(EXAMPLE.read_text()))
    local = OvsPort("ovsbr0", (OvsInterface("ovsbr0", "internal", 65534, "up", "up"),))
    fake = OvsPort("ovsbr0.7", (OvsInterface("ovsbr0.7", "internal", 1, "up", "up"),), tag=7, fake_bridge=True)
    return replace(recorded, ovs=OvsState(bridges=(OvsBridge("ovsbr0", "system", (local, fake)),),
                                          fake_bridges=(OvsFakeBridge("ovsbr0.7", "ovsbr0", 7),)))


def _refusal(host, **intent) -> PlanError:
    with pytest.raises(PlanError) as caught:
        make_plan(AttachInterface("web1", **intent), host)
    return caught.value


def test_an_ovs_bridge_gets_a_virtualport_and_the_tag(host):
    plan = make_plan(AttachInterface("web1", bridge="ovsbr0", vlan=42, mac="52:54:00:4b:79:50"), host)
    assert plan.xml == ('<interface type="bridge"><mac address="52:54:00:4b:79:50"/><source bridge="ovsbr0"/>'
                        '<virtualport type="openvswitch"/><vlan><tag id="42"/></vlan><model type="virtio"/>'
                        "</interface>",)
    assert plan.title.endswith("to ovsbr0 on VLAN 42")
    fake = make_plan(AttachInterface("web1", bridge="ovsbr0.7", mac="52:54:00:4b:79:51"), host).xml[0]
    assert '<virtualport type="openvswitch"/>' in fake and "<vlan>" not in fake  # ovs-vsctl tags it with 7
    linux = make_plan(AttachInterface("web1", bridge="br-mgmt"), host).xml[0]
    assert "virtualport" not in linux and "vlan" not in linux


def test_the_wizard_offers_ovs_bridges_beside_linux_ones(host):
    bridge = next(p for p in PARAMS if p.name == "bridge")
    offered = dict((value, shown) for shown, value in bridge.offered(host, Selection()).options)
    assert offered["ovsbr0"] == "ovsbr0 (ovs bridge)" and offered["ovsbr0.7"] == "ovsbr0.7 (ovs, vlan 7 of ovsbr0)"
    assert offered["br-mgmt"] == "br-mgmt (bridge)"


@pytest.mark.parametrize("intent, words", [
    ({"bridge": "ovsbr0", "vlan": 0}, "VLAN ids are 1 to 4094 (0 and 4095 are reserved); 0 is not"),
    ({"bridge": "ovsbr0", "vlan": 4095}, "4095 is not one"),
    ({"bridge": "br-mgmt", "vlan": 42}, "br-mgmt is a Linux bridge without VLAN filtering"),
    ({"bridge": "br100", "vlan": 42}, "libvirt does not keep a Linux bridge port's VLAN"),
    ({"bridge": "ovsbr0.7", "vlan": 8}, "attach to ovsbr0 with --vlan 8"),
    ({"macvtap": "eno4", "vlan": 5}, "a macvtap NIC has no VLAN of its own"),
])
def test_a_vlan_where_it_cannot_be_kept_is_refused_at_the_field(host, intent, words):
    error = _refusal(host, **intent)
    assert error.field == "vlan" and words in str(error), str(error)
    if intent.get("bridge", "").startswith("br"):
        assert "a bridge per VLAN" in str(error) and "Open vSwitch bridge with --vlan 42" in str(error)


async def test_the_attach_wizard_offers_the_ovs_bridge_and_checks_the_vlan_at_its_field(host):
    """The form as the screen has it (a recording: the wizard plans, nothing is applied)."""
    from textual.widgets import Input

    from kvmtui.ui.app import DashboardOptions, KvmtuiApp
    from kvmtui.ui.forms import WizardScreen
    from kvmtui.ui.wizards import attach_wizard
    from tests.dashboard import field_error, wait_for

    plans = []
    app = KvmtuiApp(DashboardOptions(), recorded=host)
    async with app.run_test(size=(120, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the recorded snapshot")
        await app.push_screen(attach_wizard(host, "web1", "ovsbr0"), plans.append)
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen), what="the attach wizard")
        assert app.screen.values()["bridge"] == "ovsbr0"
        app.screen.query_one("#field-vlan", Input).value = "4095"
        await pilot.press("ctrl+s")
        await field_error(pilot, app, "vlan", "4095 is not one")
        assert plans == []
        app.screen.query_one("#field-vlan", Input).value = "42"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: plans, what="the plan")
    assert '<virtualport type="openvswitch"/><vlan><tag id="42"/></vlan>' in plans[0].xml[0]
