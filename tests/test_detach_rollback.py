"""A detach that is rolled back gives the guest back the same NIC (real libvirtd).

The guest runs with a usb-net NIC in both places (a diskless guest never acknowledges a
PCI unplug; a USB NIC goes without its help) and has a virtio NIC in its definition only,
attached --config after the start: this kernel has no tc police/sfq, so a running guest
cannot have a <bandwidth>, and a definition can. Each test breaks the apply after the
detach and reads back `virsh dumpxml` (live and --inactive).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from kvmtui.apply import Executor
from kvmtui.libvirt_xml import element_xml
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import DetachInterface
from kvmtui.kinds.detach import plan_detach
from kvmtui.plan.expect import GuestNic
from tests.helpers import sh
from tests.guests import SYSTEM_URI, diskless_guest, kt_bridge, unique_name

pytestmark = pytest.mark.libvirt
USB_MAC, PCI_MAC, NOWHERE = "52:54:00:4b:77:01", "52:54:00:4b:77:02", "52:54:00:4b:77:99"


def element(name: str, mac: str, *flags: str) -> str | None:
    """The guest's <interface> with this MAC as `virsh dumpxml` prints it, compact."""
    root = ET.fromstring(sh("virsh", "dumpxml", *flags, name))
    return next((element_xml(n) for n in root.iter("interface") if n.find(f"mac[@address='{mac}']") is not None), None)


def without_target(xml: str) -> str:
    """libvirt names a re-plugged tap afresh (vnetN): the one part a re-attach cannot keep."""
    node = ET.fromstring(xml)
    node.remove(node.find("target"))
    return element_xml(node)


@pytest.fixture(scope="module")
def guest():
    with kt_bridge() as bridge:
        usb = (f"<interface type='bridge'><mac address='{USB_MAC}'/><source bridge='{bridge}'/><model type='usb-net'/>"
               "<link state='down'/><mtu size='1400'/><address type='usb' bus='0' port='1'/></interface>")
        pci = (f"<interface type='bridge'><mac address='{PCI_MAC}'/><source bridge='{bridge}'/><model type='virtio'/>"
               "<link state='down'/><mtu size='1400'/><bandwidth><inbound average='1000' peak='2000' burst='64'/>"
               "<outbound average='500'/></bandwidth>"
               "<address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/></interface>")
        with diskless_guest(unique_name("rb"), [usb]) as dom:
            dom.attachDeviceFlags(pci, 2)  # VIR_DOMAIN_AFFECT_CONFIG
            yield dom.name()


def apply_broken(name: str, mac: str, **executor):
    """Detach, then fail: a verification that cannot hold, or `executor`'s own failure."""
    plan = plan_detach(DetachInterface(name, mac, False, False), collect_snapshot(uri=SYSTEM_URI, with_fdb=False))
    plan = replace(plan, expectations=plan.expectations + (GuestNic(name, NOWHERE, True, False, True),))
    return plan, Executor(None, SYSTEM_URI, readonly=False, **executor).apply(plan)


def test_failed_verification_puts_back_the_same_nic_live_and_in_the_definition(guest):
    live, defined = element(guest, USB_MAC), element(guest, USB_MAC, "--inactive")
    assert 'state="down"' in live and 'size="1400"' in live and '<address type="usb" bus="0" port="1" />' in live
    plan, report = apply_broken(guest, USB_MAC)
    assert [s.command.rsplit(" ", 1)[1] for s in plan.steps] == ["--config", "--live"]
    assert not report.ok and report.unmet == (f"{NOWHERE} is missing from the guest's definition",), report.summary()
    assert len(report.undone) == 2 and report.undo_errors == ()
    assert without_target(element(guest, USB_MAC)) == without_target(live)  # alias net0, USB port, link, mtu
    assert element(guest, USB_MAC, "--inactive") == defined


def test_a_failed_live_step_undoes_the_definition_with_its_element(guest):
    live, defined = element(guest, USB_MAC), element(guest, USB_MAC, "--inactive")

    def fail_live(number, step):
        if step.setting("live") == "True":
            raise RuntimeError("injected")

    _, report = apply_broken(guest, USB_MAC, before_step=fail_live)
    assert not report.ok and report.failed.setting("live") == "True" and report.undo_errors == ()
    assert [s.setting("config") for s in report.undone] == ["True"]
    assert element(guest, USB_MAC) == live  # never touched: the same tap even
    assert element(guest, USB_MAC, "--inactive") == defined


def test_a_definition_only_nic_comes_back_with_its_pci_slot_bandwidth_mtu_and_link(guest):
    defined = element(guest, PCI_MAC, "--inactive")
    assert element(guest, PCI_MAC) is None
    for words in ('slot="0x07"', 'state="down"', 'size="1400"', '<inbound average="1000" peak="2000" burst="64" />',
                  '<outbound average="500" />', '<model type="virtio" />'):
        assert words in defined
    plan, report = apply_broken(guest, PCI_MAC)
    assert plan.commands == (f"virsh detach-device {guest} nic.xml --config",) and plan.xml == (defined,)
    assert not report.ok and len(report.undone) == 1 and report.undo_errors == (), report.summary()
    assert element(guest, PCI_MAC, "--inactive") == defined
    assert element(guest, PCI_MAC) is None


def test_the_whole_elements_detach_for_real(guest):
    """The same elements as detach XML: libvirt matches them (alias, PCI slot) and removes them."""
    snapshot = collect_snapshot(uri=SYSTEM_URI, with_fdb=False)
    for mac in (USB_MAC, PCI_MAC):
        report = Executor(None, SYSTEM_URI, readonly=False).apply(plan_detach(DetachInterface(guest, mac, False, False),
                                                                               snapshot))
        assert report.ok and not report.waiting, report.summary()
        assert element(guest, mac) is None and element(guest, mac, "--inactive") is None
