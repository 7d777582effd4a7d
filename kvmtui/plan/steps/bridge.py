"""Steps on what a bridge knows of its ports: port settings, VLAN entries, static FDB
entries. Plans use them on the undo side only (Step.then): what a bridge forgets; and a
vxlan's own FDB entries for its remote VTEPs (`bridge fdb append ... dst IP`, undone by
`bridge fdb del`)."""

from __future__ import annotations

from kvmtui.model import BridgeVlan
from kvmtui.plan.steps.base import Settings, SimulatedHost, Step, q, step_type, words


@step_type
class BrportSet(Step):
    action = "brport_set"
    values: Settings = ()  # in `bridge link set`'s words: (("cost", "50"), ("hairpin", "on"))

    @property
    def command(self) -> str:
        return f"bridge link set dev {q(self.target)} {words(self.values)}"

    @property
    def settings(self) -> Settings:
        return self.values


@step_type
class VlanAdd(Step):
    """VLAN entries of a bridge port, or of the bridge itself (`own`: bridge's `self`)."""

    action = "vlan_add"
    vids: str  # one VLAN or a range, "30-39"
    pvid: bool = False
    untagged: bool = False
    own: bool = False

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(word for word, on in (("pvid", self.pvid), ("untagged", self.untagged), ("self", self.own)) if on)

    @property
    def command(self) -> str:
        return f"bridge vlan add dev {q(self.target)} vid {self.vids}" + "".join(f" {word}" for word in self.flags)

    @property
    def settings(self) -> Settings:
        return (("vid", self.vids),) + tuple((word, "on") for word in self.flags)

    def interrupts(self) -> bool:
        return self.pvid or self.untagged  # untagged frames go to another VLAN, or leave untagged

    def simulate(self, host: SimulatedHost) -> None:
        """As the kernel does: an entry added again takes the new flags, and a new PVID
        takes the flag from the port's old one."""
        added = vid_list(self.vids)
        host.bridge_vlans = [
            BridgeVlan(v.ifname, v.vlan, v.pvid and not self.pvid, v.untagged) if v.ifname == self.target else v
            for v in host.bridge_vlans if not (v.ifname == self.target and v.vlan in added)]
        host.bridge_vlans += [BridgeVlan(self.target, vid, self.pvid, self.untagged) for vid in added]


@step_type
class VlanDel(Step):
    action = "vlan_del"
    vids: str
    own: bool = False

    @property
    def command(self) -> str:
        return f"bridge vlan del dev {q(self.target)} vid {self.vids}" + (" self" if self.own else "")

    @property
    def settings(self) -> Settings:
        return (("vid", self.vids),) + ((("self", "on"),) if self.own else ())

    def interrupts(self) -> bool:
        return True

    def simulate(self, host: SimulatedHost) -> None:
        gone = vid_list(self.vids)
        host.bridge_vlans = [v for v in host.bridge_vlans if not (v.ifname == self.target and v.vlan in gone)]


@step_type
class FdbAdd(Step):
    """A static entry of the bridge's FDB (`master static`): not aged out, not a local address.
    With `dst`: a vxlan's own entry for a remote VTEP (`self`), appended beside the others
    with the same MAC (00:00:00:00:00:00: flood there too), as `bridge fdb append` does."""

    action = "fdb_add"
    mac: str
    vlan: int | None = None
    sticky: bool = False
    dst: str | None = None

    @property
    def command(self) -> str:
        if self.dst is not None:
            return f"bridge fdb append {self.mac} dev {q(self.target)} dst {self.dst}"
        extra = (f" vlan {self.vlan}" if self.vlan is not None else "") + (" sticky" if self.sticky else "")
        return f"bridge fdb add {self.mac} dev {q(self.target)} master static{extra}"

    @property
    def settings(self) -> Settings:
        return (("mac", self.mac),) + ((("vlan", str(self.vlan)),) if self.vlan is not None else ()) + (
            (("sticky", "on"),) if self.sticky else ()) + ((("dst", self.dst),) if self.dst is not None else ())


@step_type
class FdbDel(Step):
    """An FDB entry removed: a vxlan's remote VTEP (`dst`), else the bridge's (`master`)."""

    action = "fdb_del"
    mac: str
    vlan: int | None = None
    dst: str | None = None

    @property
    def command(self) -> str:
        where = f" dst {self.dst}" if self.dst is not None else " master"
        return f"bridge fdb del {self.mac} dev {q(self.target)}{where}" + (
            f" vlan {self.vlan}" if self.vlan is not None else "")

    @property
    def settings(self) -> Settings:
        return (("mac", self.mac),) + ((("vlan", str(self.vlan)),) if self.vlan is not None else ()) + (
            (("dst", self.dst),) if self.dst is not None else ())


def vid_list(vids: str) -> list[int]:
    """"30-39" -> 30, 31, ... 39; "7" -> 7."""
    first, _, last = vids.partition("-")
    return list(range(int(first), int(last or first) + 1))


def brport_set(port: str, settings: Settings) -> BrportSet:
    """A bridge port's own settings, in `bridge link set`'s words (cost 50, hairpin on)."""
    return BrportSet(port, settings)


def vlan_add(dev: str, vids: str, pvid: bool = False, untagged: bool = False, own: bool = False) -> VlanAdd:
    return VlanAdd(dev, vids, pvid, untagged, own)


def vlan_del(dev: str, vids: str, own: bool = False) -> VlanDel:
    return VlanDel(dev, vids, own)


def fdb_add(port: str, mac: str, vlan: int | None = None, sticky: bool = False) -> FdbAdd:
    return FdbAdd(port, mac, vlan, sticky)


def fdb_append(dev: str, dst: str, mac: str = "00:00:00:00:00:00") -> FdbAdd:
    """A vxlan's remote VTEP: frames for `mac` (all zeros: unknown and broadcast ones) go to `dst` too."""
    return FdbAdd(dev, mac, dst=dst, inverse=FdbDel(dev, mac, dst=dst))
