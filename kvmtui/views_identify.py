"""Port identification as lines of text: a NIC's facts and what listening to it heard.
Pure (records in, strings out), shared by `kvmtui identify` and the details pane."""

from __future__ import annotations

from collections.abc import Iterable

from kvmtui.facts import libvirt_read
from kvmtui.model import Domain, Snapshot
from kvmtui.model.wire import Bpdu, Neighbour, NicFacts, WireReport

NA = "n/a"
# drivers of devices that are not one cable: listening there hears what reaches the device
DRIVER_KINDS = {"bridge": "bridge", "bonding": "bond", "802.1Q VLAN Support": "vlan", "team": "team",
                "openvswitch": "openvswitch", "macvlan": "macvlan", "tun": "tun/tap"}


def _or_na(value: object) -> str:
    return NA if value is None or value == "" else str(value)


def _row(label: str, text: str) -> str:
    return f"  {label:<15}{text}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def link_kind(facts: NicFacts | None) -> str | None:
    """"bridge", "bond"...: a device that is not a port, told by its driver; None for a NIC or veth."""
    return DRIVER_KINDS.get(facts.driver or "") if facts else None


def nic_lines(facts: NicFacts, held: dict[str, str] | None = None) -> list[str]:
    """`held`: the VFs' guests (`vf_holders`), None when libvirt was not read."""
    return [_row(label, value) for label, value in nic_rows(facts) + vf_rows(facts, held)]


def vf_holders(domains: Iterable[Domain]) -> dict[str, str]:
    """PCI address -> the guest it is given to: `<interface type='hostdev'>` (the SR-IOV way,
    with a MAC and VLAN) or a plain `<hostdev>` PCI function; a running guest's before a defined one."""
    held: dict[str, str] = {}
    for domain in sorted(domains, key=lambda d: not d.active):
        state = "" if domain.active else f", {domain.state}"
        addresses = [nic.address for nic in domain.interfaces if nic.type == "hostdev" and nic.address]
        for address in (*addresses, *domain.pci_hostdevs):
            held.setdefault(address, f"guest {domain.name}{state}")
    return held


def vf_rows(facts: NicFacts, held: dict[str, str] | None) -> list[tuple[str, str]]:
    """One row per enabled VF: its PCI address, then its host netdev or the guest holding it
    (`held` None: the guests were not read)."""
    def holder(vf) -> str:
        if held is not None and vf.bus_address in held:
            return held[vf.bus_address]
        if vf.ifname:
            return f"host {vf.ifname}"
        return "no host netdev" if held is None else "no host netdev, no guest"
    return [("" if n else "VFs", f"VF {vf.index} {vf.bus_address}: {holder(vf)}")
            for n, vf in enumerate(facts.sriov_vfs)]


def libvirt_silent_line(error: str) -> str:
    """Under the VFs when libvirt was asked and did not answer: the list says no guest, not none."""
    return _row("libvirt", f"did not answer ({error}): which guest holds each VF is not known")


def nic_rows(facts: NicFacts) -> list[tuple[str, str]]:
    speed = f"{facts.speed_mbps} Mb/s" if facts.speed_mbps else "speed n/a"
    duplex = f"{facts.duplex} duplex" if facts.duplex else "duplex n/a"
    autoneg = NA if facts.autoneg is None else ("on" if facts.autoneg else "off")
    offloads = ", ".join(f"{name} {'on' if on else 'off'}" for name, on in facts.offloads) or NA
    sriov = (NA if facts.sriov_totalvfs is None
             else f"{_or_na(facts.sriov_numvfs)} of {facts.sriov_totalvfs} VFs enabled")
    return [
        ("driver", f"{_or_na(facts.driver)} {facts.driver_version or ''}".rstrip()),
        ("firmware", _or_na(facts.firmware_version)),
        ("bus address", _or_na(facts.bus_address)),
        ("link", f"{speed}, {duplex}, autoneg {autoneg}"),
        ("link modes", " ".join(facts.link_modes) or NA),
        ("permanent MAC", _or_na(facts.permanent_mac)),
        ("offloads", offloads),
        ("rings", f"rx {_or_na(facts.rx_ring)}, tx {_or_na(facts.tx_ring)}"),
        ("SR-IOV", sriov),
    ]


def neighbour_rows(n: Neighbour, label: str = "neighbour") -> list[tuple[str, str]]:
    return [(label, f"{n.protocol.upper()} {_or_na(n.system_name)} port {_or_na(n.port_id)}"
                    + (f" ({n.port_description})" if n.port_description else "")),
            ("", f"chassis {_or_na(n.chassis_id)}, native VLAN {_or_na(n.native_vlan)}, management "
                 f"{', '.join(n.management_addresses) or NA}" + (f", platform {n.platform}" if n.platform else "")
                 + (f", VLANs {', '.join(map(str, n.vlans))}" if n.vlans else ""))]


def known_neighbour_rows(snapshot: Snapshot, ifname: str) -> list[tuple[str, str]]:
    """The neighbours the Snapshot knows on `ifname` (the ones its tree row names), each
    labelled by who heard it: lldpd, NetworkManager or networkd."""
    return [row for heard in snapshot.neighbours_on.get(ifname, ())
            for row in neighbour_rows(heard.neighbour, heard.source)]


def lldpd_lines(interface: str, known: dict[str, tuple[Neighbour, ...]] | None) -> list[str]:
    """What the running lldpd knows of the interface (nothing when no lldpd answers)."""
    if known is None:
        return []
    rows = [row for n in known.get(interface, ()) for row in neighbour_rows(n, "lldpd")]
    return [_row(label, value) for label, value in rows or [("lldpd", f"no neighbour on {interface}")]]


def _bpdu_text(bpdu: Bpdu) -> str:
    if bpdu.root_id is None:
        return f"{bpdu.protocol} (topology change notification)"
    return (f"root {bpdu.root_id}, cost {bpdu.root_path_cost} ({bpdu.protocol} from bridge {bpdu.bridge_id}"
            f" port {bpdu.port_id})")


def wire_lines(report: WireReport) -> list[str]:
    where = f"{report.kind} {report.interface}" if report.kind else report.interface
    head = f"listened {report.seconds:g} s on {where}: {_plural(report.frames, 'frame')}"
    lines = [head + (" (stopped early)" if report.stopped_early else "")]
    if report.dropped:
        lines.append(_row("note", f"{_plural(report.dropped, 'frame')} more arrived than kvmtui could read: "
                                  "the counts below are a sample, the VLANs may be incomplete"))
    if report.kind:
        lines.append(_row("note", f"{report.interface} is a {report.kind}, not a port: this is what reaches "
                                  f"the {report.kind} itself, not one cable"))
    vlans = ", ".join(f"{seen.vlan} ({_plural(seen.frames, 'frame')})" for seen in report.vlans)
    lines.append(_row("VLANs", vlans or "none seen"))
    lines.append(_row("untagged", _plural(report.untagged, "frame")))
    if not report.neighbours:
        lines.append(_row("neighbours", "none announced (LLDP, CDP)"))
    for n in report.neighbours:
        lines += [_row(label, value) for label, value in neighbour_rows(n)]
    lines += [_row("STP", _bpdu_text(bpdu)) for bpdu in report.bpdus] or [_row("STP", "no BPDU seen")]
    by_vlan: dict[int | None, list[str]] = {}
    for seen in report.macs:
        by_vlan.setdefault(seen.vlan, []).append(f"{seen.mac} ({seen.frames})")
    for vlan, macs in by_vlan.items():
        label = f"VLAN {vlan}" if vlan is not None else "untagged"
        lines.append(_row(f"MACs {label}", " ".join(macs)))
    return lines


def nic_detail_lines(facts: NicFacts | None, snapshot: Snapshot | None = None) -> list[tuple[str, str]]:
    """The details pane's (label, value) lines of a NIC; before the facts are read, one line.
    With the snapshot, each SR-IOV VF names the guest that holds it."""
    if facts is None:
        return [("nic", "reading the driver's facts...")]
    held = vf_holders(snapshot.domains) if snapshot is not None and libvirt_read(snapshot) else None
    rows = nic_rows(facts) + vf_rows(facts, held)
    return [(f"nic {label}" if label else "", value) for label, value in rows]
