"""Steps that plug a guest's interface in or out, or change it in place, through libvirt."""

from __future__ import annotations

from dataclasses import replace

from kvmtui.model import Domain, DomainInterface
from kvmtui.plan.steps.base import Settings, SimulatedHost, Step, q, step_type


@step_type
class Attach(Step):
    """`target` is the domain; `live`: the running guest, `config`: its definition."""

    action = "attach"
    backend = "libvirt"
    xml: str
    live: bool
    config: bool
    verb = "attach"

    @property
    def command(self) -> str:
        flags = (" --live" if self.live else "") + (" --config" if self.config else "")
        return f"virsh {self.verb}-device {q(self.target)} nic.xml{flags}"

    @property
    def settings(self) -> Settings:
        return (("xml", self.xml), ("live", str(self.live)), ("config", str(self.config)))

    def simulate(self, host: SimulatedHost) -> None:
        if self.target in host.domains:
            host.domains[self.target], device = _guest(host.domains[self.target], self)
            if device is not None and host.guests_in_view:  # libvirt deletes the NIC's tap or macvtap with it
                host.links.pop(device, None)


@step_type
class Detach(Attach):
    action = "detach"
    verb = "detach"


@step_type
class UpdateDevice(Step):
    """A guest NIC's element replaced in place (`virsh update-device`, which domif-setlink
    uses too): link state, bridge, model. Its inverse puts back the element libvirt printed."""

    action = "update_device"
    backend = "libvirt"
    xml: str
    live: bool
    config: bool

    @property
    def command(self) -> str:
        flags = (" --live" if self.live else "") + (" --config" if self.config else "")
        return f"virsh update-device {q(self.target)} nic.xml{flags}"

    @property
    def settings(self) -> Settings:
        return (("xml", self.xml), ("live", str(self.live)), ("config", str(self.config)))

    def simulate(self, host: SimulatedHost) -> None:
        from kvmtui.libvirt_xml import parse_interface_xml

        domain = host.domains.get(self.target)
        if domain is None:
            return
        nic: DomainInterface = parse_interface_xml(self.xml)

        def swapped(nics: tuple[DomainInterface, ...]) -> tuple[DomainInterface, ...]:
            return tuple(nic if n.mac == nic.mac else n for n in nics)

        if domain.active and not self.live:
            host.domains[self.target] = replace(domain, defined_interfaces=swapped(domain.defined_interfaces))
            return
        host.domains[self.target] = replace(domain, interfaces=swapped(domain.interfaces))
        tap = next((n.target for n in domain.interfaces if n.mac == nic.mac and n.target), None)
        # the tap changes bridge (an OVS port's kernel master is ovs-system whatever its bridge)
        if self.live and tap in host.links and nic.bridge and not nic.virtualport and host.guests_in_view:
            host.links[tap] = replace(host.links[tap], master=nic.bridge)


def update_device(domain: str, before: str, after: str, live: bool, config: bool) -> UpdateDevice:
    return UpdateDevice(domain, after, live, config, inverse=UpdateDevice(domain, before, live, config))


def attach(domain: str, xml: str, live: bool, config: bool) -> Attach:
    return Attach(domain, xml, live, config, inverse=Detach(domain, xml, live, config))


def detach(domain: str, xml: str, live: bool, config: bool) -> Detach:
    return Detach(domain, xml, live, config, inverse=attach(domain, xml, live, config))


def _guest(domain: Domain, step: Attach) -> tuple[Domain, str | None]:
    """The guest after an attach or detach, and the host device a live detach takes away.
    A definition-only change of a running guest changes its definition, not what it runs
    with; a live attach has no device yet and is drawn where it lands."""
    from kvmtui.libvirt_xml import parse_interface_xml

    nic: DomainInterface = parse_interface_xml(step.xml)
    adding = not isinstance(step, Detach)

    def changed(nics: tuple[DomainInterface, ...]) -> tuple[DomainInterface, ...]:
        return tuple(n for n in nics if n.mac != nic.mac) + ((nic,) if adding else ())

    if domain.active and not step.live:
        macs = tuple(m for m in domain.defined_macs if m != nic.mac) + ((nic.mac,) if adding and nic.mac else ())
        return replace(domain, defined_interfaces=changed(domain.defined_interfaces), defined_macs=macs), None
    device = None if adding or not domain.active else next(
        (n.target for n in domain.interfaces if n.mac == nic.mac and n.target), None)
    return replace(domain, interfaces=changed(domain.interfaces)), device
