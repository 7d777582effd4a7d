"""A detach undoes with the element libvirt printed, per place (pure: no daemon).

The real-daemon proof is tests/test_detach_rollback.py; these pin the plan's shape, the
fallback for recordings made before the element was kept, and the dump's round trip.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from kvmtui.model import Domain, DomainInterface, Snapshot
from kvmtui.kinds import DetachInterface
from kvmtui.kinds.detach import plan_detach
from kvmtui.plan.guest_nic import interface_xml
from kvmtui.plan.validate import PlanError
from kvmtui.serialize import snapshot_document, snapshot_from_document
from tests.samples import LIBVIRT_HOST

UUID = "6f1b2c3d-0000-4000-8000-00000000e1f1"  # a domain is keyed by a real UUID
MAC = "52:54:00:aa:bb:cc"
LIVE_XML = ('<interface type="bridge"><mac address="52:54:00:aa:bb:cc" /><source bridge="br0" />'
            '<target dev="vnet7" /><model type="virtio" /><link state="down" /><mtu size="1400" />'
            '<alias name="net1" /><address type="pci" domain="0x0000" bus="0x00" slot="0x07" function="0x0" />'
            '</interface>')
CONFIG_XML = ('<interface type="bridge"><mac address="52:54:00:aa:bb:cc" /><source bridge="br0" />'
              '<bandwidth><inbound average="1000" /></bandwidth><model type="virtio" /><mtu size="1400" />'
              '<address type="pci" domain="0x0000" bus="0x00" slot="0x07" function="0x0" /></interface>')
NIC = DomainInterface("bridge", MAC, "virtio", "vnet7", "br0", "br0", None, None, None, None, "down",
                      mtu=1400, alias="net1", xml=LIVE_XML)
DEFINED = replace(NIC, target=None, link_state=None, alias=None, xml=CONFIG_XML)


def snapshot(*domains: Domain) -> Snapshot:
    return Snapshot(host=LIBVIRT_HOST, domains=domains)


def running(live=(NIC,), defined=(DEFINED,)) -> Domain:
    return Domain("web1", UUID, "running", 3, True, tuple(live), tuple(n.mac for n in defined), tuple(defined))


def detach(domain: Domain, live=False, config=False):
    return plan_detach(DetachInterface("web1", MAC, live, config), snapshot(domain))


def shown(plan) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(step.action, step.setting("live"), step.setting("config"), step.setting("xml")) for step in plan.steps]


def test_each_place_undoes_with_its_own_element_definition_first():
    plan = detach(running())
    assert shown(plan) == [("detach", "False", "True", CONFIG_XML), ("detach", "True", "False", LIVE_XML)]
    assert [(s.inverse.action, s.inverse.setting("xml")) for s in plan.steps] == [
        ("attach", CONFIG_XML), ("attach", LIVE_XML)]
    assert plan.commands == ("virsh detach-device web1 nic.xml --config", "virsh detach-device web1 nic.xml --live")
    assert plan.xml == (CONFIG_XML, LIVE_XML)


def test_shut_off_guest_undoes_with_its_definition():
    off = Domain("web1", UUID, "shut off", None, True, (DEFINED,), (MAC,))
    assert shown(detach(off)) == [("detach", "False", "True", CONFIG_XML)]


def test_a_nic_only_in_the_definition_of_a_running_guest_is_detached_there():
    guest = running(live=())
    assert shown(detach(guest)) == [("detach", "False", "True", CONFIG_XML)]
    with pytest.raises(PlanError, match="is not in the running guest web1"):
        detach(guest, live=True)


def test_a_live_only_nic_keeps_the_definition_alone():
    assert shown(detach(running(defined=()), live=True)) == [("detach", "True", "False", LIVE_XML)]
    with pytest.raises(PlanError, match="plugged in live only"):
        detach(running(defined=()), config=True)


def test_recordings_without_the_element_fall_back_to_the_few_fields():
    """As before the element was kept; the live alias would match nothing in a definition."""
    old = replace(NIC, xml=None)
    guest = Domain("web1", UUID, "running", 3, True, (old,), (MAC,))
    minimal = interface_xml(old)
    assert "<address" not in minimal and shown(detach(guest)) == [
        ("detach", "False", "True", minimal), ("detach", "True", "False", minimal)]
    assert detach(guest).xml == (minimal,)
    with_live_element = Domain("web1", UUID, "running", 3, True, (NIC,), (MAC,))
    assert shown(detach(with_live_element))[0] == ("detach", "False", "True", minimal)


def test_the_dump_carries_both_elements_and_old_dumps_still_open():
    document = json.loads(json.dumps(snapshot_document(snapshot(running()))))
    (domain,) = document["domains"]
    assert domain["interfaces"][0]["xml"] == LIVE_XML and domain["defined_interfaces"][0]["xml"] == CONFIG_XML
    (again,) = snapshot_from_document(document).domains
    assert again == running() and again.defined_interfaces == (DEFINED,)
    for nic in domain["interfaces"]:
        del nic["xml"]
    del domain["defined_interfaces"]
    (old,) = snapshot_from_document(document).domains
    assert old.interfaces[0].xml is None and old.defined_interfaces == ()
    assert shown(plan_detach(DetachInterface("web1", MAC, True, False), snapshot(old)))[0][3] == interface_xml(
        old.interfaces[0])
