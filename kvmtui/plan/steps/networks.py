"""Steps on libvirt's own networks: define/undefine, start/destroy, autostart on/off.

Run by the libvirt backend on its read-write connection. An undefine keeps the whole
XML, so its inverse defines exactly that network again (same UUID, same DHCP hosts)."""

from __future__ import annotations

from dataclasses import replace

from kvmtui.plan.steps.base import Settings, SimulatedHost, Step, q, step_type


@step_type
class NetDefine(Step):
    """`target` is the network's name; `xml` its whole <network> document."""

    action = "net_define"
    backend = "libvirt"
    xml: str

    @property
    def command(self) -> str:
        return f"virsh net-define {q(self.target + '.xml')}"

    @property
    def settings(self) -> Settings:
        return (("xml", self.xml),)

    def simulate(self, host: SimulatedHost) -> None:
        from kvmtui.libvirt_xml import parse_network_xml

        old = host.networks.get(self.target)
        new = parse_network_xml(self.xml, active=False, persistent=True, autostart=False)
        host.networks[self.target] = replace(new, active=old.active) if old is not None else new


@step_type
class NetUndefine(NetDefine):
    action = "net_undefine"

    @property
    def command(self) -> str:
        return f"virsh net-undefine {q(self.target)}"

    def simulate(self, host: SimulatedHost) -> None:
        network = host.networks.get(self.target)
        if network is not None and network.active:  # a running network stays, transient, until destroyed
            host.networks[self.target] = replace(network, persistent=False, autostart=False)
        else:
            host.networks.pop(self.target, None)


@step_type
class NetStart(Step):
    action = "net_start"
    backend = "libvirt"

    @property
    def command(self) -> str:
        return f"virsh net-start {q(self.target)}"

    def simulate(self, host: SimulatedHost) -> None:
        if self.target in host.networks:
            host.networks[self.target] = replace(host.networks[self.target], active=True)


@step_type
class NetDestroy(Step):
    action = "net_destroy"
    backend = "libvirt"

    @property
    def command(self) -> str:
        return f"virsh net-destroy {q(self.target)}"

    def simulate(self, host: SimulatedHost) -> None:
        network = host.networks.get(self.target)
        if network is not None and not network.persistent:
            host.networks.pop(self.target)
        elif network is not None:
            host.networks[self.target] = replace(network, active=False)


@step_type
class NetAutostart(Step):
    action = "net_autostart"
    backend = "libvirt"
    on: bool

    @property
    def command(self) -> str:
        return f"virsh net-autostart {q(self.target)}" + ("" if self.on else " --disable")

    @property
    def settings(self) -> Settings:
        return (("autostart", "on" if self.on else "off"),)

    def simulate(self, host: SimulatedHost) -> None:
        if self.target in host.networks:
            host.networks[self.target] = replace(host.networks[self.target], autostart=self.on)


NETWORK_STEPS = (NetDefine, NetStart, NetDestroy, NetAutostart)  # NetUndefine is a NetDefine


def net_define(name: str, xml: str) -> NetDefine:
    return NetDefine(name, xml, inverse=NetUndefine(name, xml))


def net_undefine(name: str, xml: str) -> NetUndefine:
    return NetUndefine(name, xml, inverse=NetDefine(name, xml))


def net_start(name: str) -> NetStart:
    return NetStart(name, inverse=NetDestroy(name))


def net_destroy(name: str) -> NetDestroy:
    return NetDestroy(name, inverse=NetStart(name))


def net_autostart(name: str, on: bool) -> NetAutostart:
    return NetAutostart(name, on, inverse=NetAutostart(name, not on))
