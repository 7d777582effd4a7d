"""libvirt networks defined, started and undefined through the real libvirtd (qemu:///system).

Every network and bridge is named kt-<hex> and removed in a finalizer, even when a test
fails. Subnets are 10.213.N.0/24, which nothing on a test host routes. One diskless TCG
guest in the whole file asks the NAT network's dnsmasq for an address (iPXE's DHCP)."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET

import pytest

from tests.guests import diskless_guest, kt_bridge, kt_veth, link_exists, unique_name, wait_until
from tests.helpers import kvmtui, sh

pytestmark = pytest.mark.libvirt


def virsh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["virsh", "-c", "qemu:///system", *args], capture_output=True, text=True)


def remove_network(name: str) -> None:
    virsh("net-destroy", name)
    virsh("net-undefine", name)


@pytest.fixture
def net_name():
    """kt-<stem><hex> network names, each destroyed and undefined afterwards, whatever happened."""
    made: list[str] = []

    def make(stem: str = "n") -> str:
        made.append(unique_name(stem))
        return made[-1]

    try:
        yield make
    finally:
        for name in made:
            remove_network(name)


def defined() -> set[str]:
    return set(virsh("net-list", "--all", "--name").stdout.split())


def dumpxml(name: str) -> ET.Element:
    proc = virsh("net-dumpxml", name)
    assert proc.returncode == 0, proc.stderr
    return ET.fromstring(proc.stdout)


def info(name: str) -> dict[str, str]:
    rows = (line.split(":", 1) for line in virsh("net-info", name).stdout.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in rows}


def apply(*args: str) -> subprocess.CompletedProcess:
    return kvmtui("apply", "--yes", "--no-confirm", *args)


def define_and_undefine(name: str, args: tuple[str, ...]) -> ET.Element:
    """Apply net-define NAME ARGS, hand back its live XML after checking it runs as asked,
    then undefine it with kvmtui and check it is gone."""
    proc = apply("net-define", name, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "virsh net-define" in proc.stdout and f"<name>{name}</name>" in proc.stdout  # commands and XML shown
    xml = dumpxml(name)
    state = info(name)
    assert state["Active"] == ("no" if "--no-start" in args else "yes")
    assert state["Autostart"] == ("yes" if "--autostart" in args else "no")
    proc = apply("net-undefine", name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert name not in defined()
    return xml


def test_nat_network_with_dhcp_hosts_and_autostart(net_name):
    name, bridge = net_name(), unique_name("b")
    xml = define_and_undefine(name, ("--forward", "nat", "--bridge", bridge, "--subnet", "10.213.1.0/24",
                                     "--dhcp-range", "10.213.1.10-10.213.1.50",
                                     "--host", "52:54:00:4b:77:01,10.213.1.5,web", "--autostart"))
    assert xml.find("forward").get("mode") == "nat" and xml.find("bridge").get("name") == bridge
    ip = xml.find("ip")
    assert (ip.get("address"), ip.get("prefix")) == ("10.213.1.1", "24")
    assert xml.find("ip/dhcp/range").attrib == {"start": "10.213.1.10", "end": "10.213.1.50"}
    assert xml.find("ip/dhcp/host").attrib == {"mac": "52:54:00:4b:77:01", "ip": "10.213.1.5", "name": "web"}
    assert not link_exists(bridge)  # libvirt deleted the bridge it made


@pytest.mark.parametrize("forward, extra", [
    ("route", ("--subnet", "10.213.2.0/24", "--no-dns")),
    ("isolated", ("--subnet", "10.213.3.0/24", "--autostart")),
    ("open", ("--subnet", "10.213.4.0/24",)),
])
def test_route_isolated_and_open_networks(net_name, forward, extra):
    name, bridge = net_name(), unique_name("b")
    xml = define_and_undefine(name, ("--forward", forward, "--bridge", bridge, *extra))
    mode = xml.find("forward").get("mode") if xml.find("forward") is not None else "isolated"
    assert mode == forward and xml.find("bridge").get("name") == bridge
    assert xml.find("ip").get("address") == extra[1].replace(".0/24", ".1")
    if "--no-dns" in extra:
        assert xml.find("dns").get("enable") == "no"


def test_bridge_network_on_an_existing_host_bridge(net_name):
    with kt_bridge() as host_bridge:
        xml = define_and_undefine(net_name(), ("--forward", "bridge", "--bridge", host_bridge))
        assert xml.find("forward").get("mode") == "bridge" and xml.find("bridge").get("name") == host_bridge
        assert link_exists(host_bridge)  # the host's bridge is not libvirt's to delete


def test_macvtap_pool_on_a_veth(net_name):
    with kt_veth() as (lower, _):
        xml = define_and_undefine(net_name(), ("--forward", "macvtap", "--dev", lower, "--macvtap-mode", "vepa"))
        assert xml.find("forward").get("mode") == "vepa"
        assert [i.get("dev") for i in xml.findall("forward/interface")] == [lower]


def test_nat_dnsmasq_leases_an_address_to_a_guest(net_name):
    """The one guest of this file: it PXE-boots on the NAT network and iPXE asks for DHCP."""
    name, mac = net_name(), "52:54:00:4b:77:42"
    proc = apply("net-define", name, "--forward", "nat", "--bridge", unique_name("b"), "--subnet", "10.213.5.0/24",
                 "--dhcp-range", "10.213.5.100-10.213.5.150")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    nic = (f"<interface type='network'><mac address='{mac}'/><source network='{name}'/>"
           "<model type='virtio'/></interface>")
    with diskless_guest(unique_name("g"), [nic]) as dom:
        def leased() -> str | None:
            leases = virsh("net-dhcp-leases", name, "--mac", mac).stdout
            return leases if "10.213.5." in leases else None

        leases = wait_until(leased, timeout=150, interval=1, what=f"a DHCP lease for {mac} on {name}")
        dom.destroy()
    assert mac in leases


def eth0_subnet() -> str:
    """A subnet this host already routes (its own uplink's), for the overlap refusal."""
    routes = json.loads(sh("ip", "-j", "route", "show", "table", "main"))
    return next(r["dst"] for r in routes if r["dst"] != "default" and "/" in r["dst"] and ":" not in r["dst"])


def test_refusals_define_nothing(net_name):
    name, taken = net_name(), net_name()
    assert apply("net-define", taken, "--forward", "isolated", "--no-start").returncode == 0
    with kt_bridge() as host_bridge:
        cases = [
            ((name, "--forward", "nat", "--subnet", eth0_subnet()), "--subnet: ", "which this host already routes"),
            ((name, "--forward", "nat", "--subnet", "10.213.6.0/24", "--dhcp-range", "10.213.7.5-10.213.7.9"),
             "--dhcp-range: ", "is outside the subnet 10.213.6.0/24"),
            ((name, "--forward", "nat", "--subnet", "10.213.6.0/24", "--dhcp-range", "10.213.6.90-10.213.6.20"),
             "--dhcp-range: ", "the DHCP range is reversed"),
            ((name, "--forward", "nat", "--subnet", "10.213.6.0/24", "--bridge", host_bridge),
             "--bridge: ", f"{host_bridge} is already in use on this host"),
            ((name, "--forward", "route", "--subnet", "10.213.6.0/24", "--bridge", "kt-much-too-long0"),
             "--bridge: ", "interface names are at most 15 bytes"),
            ((taken, "--forward", "isolated"), "name: ", f"a libvirt network named '{taken}' already exists"),
            ((name, "--forward", "macvtap"), "--dev: ", "needs its devices"),
            ((name, "--forward", "macvtap", "--dev", "kt-nosuchdev"), "--dev: ", "there is no device 'kt-nosuchdev'"),
            ((name, "--forward", "bridge", "--bridge", "kt-nosuchbr"), "--bridge: ",
             "there is no bridge 'kt-nosuchbr'"),
        ]
        for args, field, sentence in cases:
            proc = apply("net-define", *args)
            assert proc.returncode == 1 and field in proc.stderr and sentence in proc.stderr, (args, proc.stderr)
            assert name not in defined()
    assert taken in defined() and info(taken)["Active"] == "no"


def test_a_failed_start_leaves_no_network_defined(net_name):
    """Failure injection: the bridge name is taken between plan and apply (another program
    made it), so libvirt cannot start the network; the definition is undone."""
    from kvmtui.apply import Executor
    from kvmtui.collect.snapshot import collect_snapshot
    from kvmtui.kinds import make_plan
    from kvmtui.kinds.libvirt_network import DefineNetwork

    name, bridge = net_name(), unique_name("b")
    plan = make_plan(DefineNetwork(name, "nat", bridge, "10.213.8.0/24", "10.213.8.10-10.213.8.20", autostart=True),
                     collect_snapshot(uri="qemu:///system"))
    assert [step.action for step in plan.steps] == ["net_define", "net_start", "net_autostart"]

    def take_the_bridge(number: int, step) -> None:
        if step.action == "net_start":
            sh("ip", "link", "add", bridge, "type", "dummy")

    try:
        report = Executor(None, "qemu:///system", before_step=take_the_bridge).apply(plan)
    finally:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
    assert not report.ok and report.failed is not None and report.failed.action == "net_start", report.summary()
    assert [step.action for step in report.undone] == ["net_undefine"] and not report.undo_errors
    assert name not in defined()


def test_read_only_defines_nothing(net_name):
    name = net_name()
    proc = kvmtui("--readonly", "apply", "--yes", "--no-confirm", "net-define", name, "--forward", "isolated")
    assert proc.returncode == 1 and "read-only" in proc.stderr, proc.stderr
    assert name not in defined()


def test_a_failed_undefine_puts_the_network_back_as_it_was(net_name):
    """Failure injection on the undefine plan (destroy, autostart off, undefine): the undefine
    fails, the undo turns autostart back on and starts it: the same XML, running."""
    from kvmtui.apply import Executor
    from kvmtui.collect.snapshot import collect_snapshot
    from kvmtui.kinds import make_plan
    from kvmtui.kinds.libvirt_network_undefine import UndefineNetwork

    name = net_name()
    proc = apply("net-define", name, "--forward", "route", "--bridge", unique_name("b"), "--subnet", "10.213.9.0/24",
                 "--dhcp-range", "10.213.9.10-10.213.9.20", "--autostart")
    assert proc.returncode == 0, proc.stderr
    before = virsh("net-dumpxml", name).stdout
    plan = make_plan(UndefineNetwork(name), collect_snapshot(uri="qemu:///system"))
    assert [step.action for step in plan.steps] == ["net_destroy", "net_autostart", "net_undefine"]

    def fail_the_undefine(number: int, step) -> None:
        if step.action == "net_undefine":
            raise RuntimeError("injected failure")

    report = Executor(None, "qemu:///system", before_step=fail_the_undefine).apply(plan)
    assert not report.ok and report.failed.action == "net_undefine" and not report.undo_errors, report.summary()
    assert info(name)["Active"] == "yes" and info(name)["Autostart"] == "yes"
    assert virsh("net-dumpxml", name).stdout == before


async def test_the_wizard_defines_it_and_d_undefines_it(net_name):
    """`n` `n` (new libvirt network), the form's defaults but name and bridge, confirmed;
    then `d` on the network in the tree, confirmed: gone again."""
    from kvmtui.ui.app import DashboardOptions, KvmtuiApp
    from kvmtui.ui.forms import ConfirmScreen, ProgressScreen, WizardScreen
    from tests.dashboard import select_in_tree, tree_keys, wait_for

    name, bridge = net_name(), unique_name("b")

    async def confirm(pilot, app, what: str) -> str:
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what=f"the {what} confirmation")
        shown = str(app.screen.text)
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen) and app.screen.finished, what=what)
        assert "verified" in "\n".join(app.screen.lines), app.screen.lines
        await pilot.press("enter")
        return shown

    app = KvmtuiApp(DashboardOptions(interval=60))
    async with app.run_test(size=(120, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the first snapshot")
        await pilot.press("n", "n")
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.focused is not None,
                       what="the network wizard")
        await pilot.press("ctrl+u", *name)
        app.screen.query_one("#field-bridge").focus()
        await pilot.press("ctrl+u", *bridge, "ctrl+s")
        shown = await confirm(pilot, app, "define")
        assert f"<name>{name}</name>" in shown and f"virsh net-start {name}" in shown
        assert info(name)["Active"] == "yes" and dumpxml(name).find("bridge").get("name") == bridge
        await wait_for(pilot, lambda: f"net:{name}" in tree_keys(app), what="the network in the tree")
        await select_in_tree(pilot, app, f"net:{name}")
        await pilot.press("d")
        shown = await confirm(pilot, app, "undefine")
        assert f"virsh net-undefine {name}" in shown
    assert name not in defined()
