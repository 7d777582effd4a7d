"""A new VXLAN device: point-to-point (a remote VTEP), multicast (a group joined on an
underlay device) or with static FDB entries for each remote VTEP, optionally a bridge port."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, comma_separated, device_choices, free_name, tuple_of
from kvmtui.model import Link, Snapshot, VxlanInfo
from kvmtui.plan import steps as s
from kvmtui.plan.expect import Expectation, LinkPresent, LinkSetting
from kvmtui.plan.model import Plan
from kvmtui.plan.steps.links import NewDevice, new_device_kind
from kvmtui.plan.validate import PlanError, check_new_name, ethernet_link, existing_link

VNI_MAX = 2**24 - 1
IANA_PORT, LINUX_PORT = 4789, 8472  # the standard port; the kernel's own default (ip link add without dstport)
OVERHEAD = {4: 50, 6: 70}  # outer Ethernet 14 + IP 20/40 + UDP 8 + VXLAN 8
MISMATCH = (f"{IANA_PORT} is the IANA port (switches, Open vSwitch, most VTEPs), {LINUX_PORT} Linux's own default "
            "(ip link add without dstport, flannel): the two ends of a tunnel on different ports never hear each other")


@dataclass(frozen=True, slots=True)
class CreateVxlan:
    name: str
    vni: int
    remote: str | None = None  # the one peer VTEP (point-to-point)
    group: str | None = None  # a multicast group, joined on `dev`
    dev: str | None = None  # the underlay device (needed with a group)
    local: str | None = None  # the source address: one of this host's
    dstport: int = IANA_PORT
    learning: bool = True
    fdb_remotes: tuple[str, ...] = ()  # remote VTEPs as static all-zeros FDB entries
    mtu: int | None = None  # default: the underlay's minus the encapsulation
    bridge: str | None = None  # made a port of this bridge


def _underlays(snapshot: Snapshot, selection: Selection) -> Offer:
    links = [l for l in snapshot.links if "LOOPBACK" not in l.flags and l.kind not in ("vxlan", "macvtap")]
    chosen = selection.ifname if selection.ifname in {l.ifname for l in links} else None
    return Offer(chosen, device_choices(links))


def _bridges(snapshot: Snapshot, selection: Selection) -> Offer:
    return Offer(None, device_choices([l for l in snapshot.links if l.kind == "bridge"]))


PARAMS = (
    Param("name", "the new vxlan device's name", label="Name", offer=lambda snapshot, _: Offer(free_name(snapshot, "vx"))),
    Param("vni", f"the VXLAN network identifier, 1 to {VNI_MAX}", "--vni", "N", type=int, required=True,
          label=f"VNI (1-{VNI_MAX})", widget="number", empty=0),
    Param("remote", "the peer VTEP's address (point-to-point)", "--remote", "IP", exclusive="peer",
          label="Remote VTEP address (point-to-point)"),
    Param("group", "a multicast group for the VTEPs of this VNI (needs --dev)", "--group", "MCAST", exclusive="peer",
          label="…or multicast group (needs the underlay device)"),
    Param("dev", "the underlay device (needed with --group; default: the route to the remote)", "--dev", "UNDERLAY",
          label="Underlay device (empty: the route to the remote)", widget="choice", offer=_underlays, optional=True),
    Param("local", "the source address, one of this host's (default: the route's)", "--local", "IP",
          label="Local address (empty: the route's source)"),
    Param("dstport", f"UDP destination port (default: {IANA_PORT}, the IANA port; Linux's own default is {LINUX_PORT})",
          "--dstport", "PORT", type=int, cli_default=IANA_PORT, label=f"UDP port ({IANA_PORT}: IANA; {LINUX_PORT}: "
          "Linux's default)", widget="number", form_default=IANA_PORT),
    Param("learning", "do not learn remote MACs' VTEPs from the packets received", "--no-learning", flag=True,
          from_cli=lambda given: not given, label="Learn remote MACs' VTEPs from the traffic", widget="flag",
          form_default=True, from_form=bool),
    Param("fdb_remotes", "a remote VTEP as a static FDB entry (bridge fdb append 00:00:00:00:00:00 ... dst IP; "
                         "repeat for more)", "--fdb-remote", "IP", repeat=True, cli_default=[], from_cli=tuple_of,
          label="Remote VTEPs as static FDB entries (comma separated)", from_form=comma_separated,
          form_help="each floods unknown and broadcast frames to that VTEP: a remote for each peer, no multicast"),
    Param("mtu", "default: the underlay's minus 50 (IPv4) or 70 (IPv6)", "--mtu", type=int,
          label="MTU (empty: underlay's − 50, IPv6 − 70)", widget="number"),
    Param("bridge", "make it a port of this bridge", "--bridge", "BR", label="Port of bridge (empty: none)",
          widget="choice", offer=_bridges, optional=True),
)


def _ip(field: str, text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise PlanError(field, f"{text!r} is not an IP address") from None


def _owner(snapshot: Snapshot, address: str) -> Link | None:
    """The device of this host that holds `address`, if any."""
    return next((l for l in snapshot.links for a in l.addresses if a.local == address), None)


def _peer(snapshot: Snapshot, field: str, text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A remote VTEP: a unicast address of another host."""
    address = _ip(field, text)
    if address.is_multicast:
        raise PlanError(field, f"{address} is a multicast address: give it as the group (--group, with --dev)")
    if address.is_unspecified or address.is_loopback:
        raise PlanError(field, f"{address} is no remote host: give the peer VTEP's address")
    if (owner := _owner(snapshot, str(address))) is not None:
        raise PlanError(field, f"{address} is this host's own address (on {owner.ifname}): the remote is the other "
                               "end's VTEP")
    return address


def _check_vni(intent: CreateVxlan, snapshot: Snapshot) -> list[str]:
    """Refuse a VNI out of range or in use on the same port; warn of the 4789/8472 mismatch."""
    if not 1 <= intent.vni <= VNI_MAX:
        raise PlanError("vni", f"VNIs are 1 to {VNI_MAX}; {intent.vni} is not one")
    if not 1 <= intent.dstport <= 65535:
        raise PlanError("dstport", f"a UDP port is 1 to 65535; {intent.dstport} is not one")
    others = [l for l in snapshot.links if l.kind == "vxlan" and isinstance(l.info_data, VxlanInfo)
              and l.info_data.id == intent.vni]
    for other in others:
        if other.info_data.port == intent.dstport:
            raise PlanError("vni", f"VNI {intent.vni} on port {intent.dstport} is already {other.ifname}'s: the kernel "
                                   "gives each VNI and port to one device (add this remote to it: bridge fdb append)")
    warnings = [f"vxlan {other.ifname} has VNI {intent.vni} on port {other.info_data.port}, this one port "
                f"{intent.dstport}: {MISMATCH}" for other in others]
    if intent.dstport == LINUX_PORT and not warnings:
        warnings.append(f"port {LINUX_PORT}: {MISMATCH}; the other end must use {LINUX_PORT} too")
    return warnings


def _addresses(intent: CreateVxlan, snapshot: Snapshot) -> tuple[list[str], int | None]:
    """Check remote, group, local and the FDB remotes; their one IP version (None: none given)."""
    given: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    if intent.remote:
        given.append(_peer(snapshot, "remote", intent.remote))
    if intent.group:
        group = _ip("group", intent.group)
        if not group.is_multicast:
            raise PlanError("group", f"{group} is not a multicast address (224.0.0.0/4, ff00::/8); a single peer is "
                                     "--remote")
        if not intent.dev:
            raise PlanError("dev", "a multicast group is joined on a device: give the underlay (--dev)")
        given.append(group)
    seen: set[str] = set()
    for text in intent.fdb_remotes:
        address = _peer(snapshot, "fdb_remotes", text)
        if str(address) in seen:
            raise PlanError("fdb_remotes", f"{address} is listed twice")
        if intent.remote and address == given[0]:
            raise PlanError("fdb_remotes", f"{address} is the remote already")
        seen.add(str(address))
        given.append(address)
    if not given:
        raise PlanError("remote", "give the peer VTEP (--remote), a multicast group with its device (--group, --dev) "
                                  "or static FDB entries (--fdb-remote): else the vxlan sends nowhere")
    if intent.local:
        local = _ip("local", intent.local)
        if _owner(snapshot, str(local)) is None:
            raise PlanError("local", f"{local} is not an address of this host: the local address is the source of "
                                     "the tunnel's packets")
        given.append(local)
    versions = {a.version for a in given}
    if len(versions) > 1:
        raise PlanError("local" if intent.local else "fdb_remotes", "the addresses mix IPv4 and IPv6: a vxlan's "
                                                                    "tunnel is one or the other")
    return [str(a) for a in given], versions.pop()


def _normal(text: str | None) -> str | None:
    return str(ipaddress.ip_address(text)) if text else None


def _underlay(intent: CreateVxlan, snapshot: Snapshot, peers: list[str]) -> Link | None:
    if intent.dev:
        link = ethernet_link(snapshot, intent.dev, "dev")
        if link.kind == "vxlan":
            raise PlanError("dev", f"{link.ifname} is a vxlan itself: the underlay is the device the packets leave by")
        return link
    routed = snapshot.route_dev(peers[0])
    if routed is None and intent.local:
        routed = getattr(_owner(snapshot, intent.local), "ifname", None)
    return snapshot.link(routed) if routed else None


def _mtu(intent: CreateVxlan, underlay: Link | None, version: int) -> tuple[int | None, list[str]]:
    """The underlay's MTU less the encapsulation, or the one asked for (a warning if larger)."""
    if underlay is None:
        return intent.mtu, []
    fits = underlay.mtu - OVERHEAD[version]
    if intent.mtu is None:
        return fits, []
    if intent.mtu > fits:
        return intent.mtu, [f"MTU {intent.mtu} is more than {underlay.ifname}'s {underlay.mtu} less the "
                            f"{OVERHEAD[version]} bytes of VXLAN over IPv{version} ({fits}): larger frames are dropped "
                            f"or fragmented; raise {underlay.ifname}'s MTU to {intent.mtu + OVERHEAD[version]}"]
    return intent.mtu, []


def _bridge(snapshot: Snapshot, name: str | None) -> Link | None:
    if not name:
        return None
    link = existing_link(snapshot, name, "bridge")
    if link.kind != "bridge":
        raise PlanError("bridge", f"{link.ifname} is a {link.kind or 'NIC'}, not a bridge")
    return link


def plan_create_vxlan(intent: CreateVxlan, snapshot: Snapshot) -> Plan:
    check_new_name(snapshot, intent.name)
    warnings = _check_vni(intent, snapshot)
    peers, version = _addresses(intent, snapshot)
    underlay = _underlay(intent, snapshot, peers)
    mtu, too_big = _mtu(intent, underlay, version)
    bridge = _bridge(snapshot, intent.bridge)
    if underlay is not None and not underlay.is_up:
        warnings.append(f"the underlay {underlay.ifname} is down: nothing passes until it is up")
    options: s.Settings = ((("mtu", str(mtu)),) if mtu is not None else ()) + (("id", str(intent.vni)),)
    remote, group, local = _normal(intent.remote), _normal(intent.group), _normal(intent.local)  # as the kernel says them
    fdb_remotes = tuple(map(_normal, intent.fdb_remotes))
    options += (("remote", remote),) if remote else ()
    options += (("group", group),) if group else ()
    options += (("local", local),) if local else ()
    options += (("dev", intent.dev),) if intent.dev else ()
    options += (("dstport", str(intent.dstport)),) + ((("nolearning", ""),) if not intent.learning else ())
    steps: list[s.Step] = [s.link_add(intent.name, "vxlan", options)]
    steps += [s.fdb_append(intent.name, dst) for dst in fdb_remotes]
    expectations: list[Expectation] = [LinkPresent(intent.name, "vxlan", up=True),
                                       LinkSetting(intent.name, "id", intent.vni),
                                       LinkSetting(intent.name, "port", intent.dstport)]
    if remote:
        expectations.append(LinkSetting(intent.name, "remote", remote))
    if bridge is not None:
        join = s.link_set(intent.name, (("master", bridge.ifname),), (("master", ""),))
        alone = not any(l.master == bridge.ifname for l in snapshot.links)
        # A bridge takes its first port's MAC and has none (zeros) once its last port left
        steps.append(s.undone_with(join, [s.link_set(bridge.ifname, (("address", bridge.mac),), ())])
                     if alone and bridge.mac else join)
        expectations.append(LinkPresent(intent.name, master=bridge.ifname))
        if mtu is not None and bridge.mtu > mtu:
            warnings.append(f"{bridge.ifname} has MTU {bridge.mtu}; with {intent.name} (MTU {mtu}) as a port, the kernel "
                            f"lowers the bridge's to {mtu} unless it was set by hand")
    steps.append(s.link_set(intent.name, (("state", "up"),), (("state", "down"),)))
    peer = remote or group or ", ".join(fdb_remotes)
    title = f"create vxlan {intent.name} (VNI {intent.vni} to {peer}, port {intent.dstport})"
    return Plan(intent, title, tuple(steps), tuple(expectations), tuple(warnings + too_big))


def _usage(values: dict) -> str | None:
    if values.get("group") and not values.get("dev"):
        return "--group needs --dev: a multicast group is joined on the underlay device"
    return None


SPEC = KindSpec("vxlan", CreateVxlan, PARAMS, plan_create_vxlan, help="create a VXLAN tunnel device", title="New VXLAN",
                noun="VXLAN", new_key="x", usage=_usage,
                form_order=("name", "vni", "remote", "group", "dev", "fdb_remotes", "local", "dstport", "learning",
                            "mtu", "bridge"))


def vxlan_netlink_args(settings: dict[str, str]) -> dict[str, object]:
    """ip's words -> IFLA_VXLAN_*: the remote and the group are both IFLA_VXLAN_GROUP(6)."""
    args: dict[str, object] = {"vxlan_id": int(settings["id"]), "vxlan_port": int(settings.get("dstport", LINUX_PORT)),
                               "vxlan_learning": 0 if "nolearning" in settings else 1}
    for word, attribute in (("remote", "vxlan_group"), ("group", "vxlan_group"), ("local", "vxlan_local")):
        if word in settings:
            address = ipaddress.ip_address(settings[word])
            args[attribute + ("6" if address.version == 6 else "")] = str(address)
    if "dev" in settings:
        args["vxlan_link"] = int(settings["dev"])  # the executor's ifindex (device_settings)
    if "ttl" in settings:  # an undone delete's: the wizard leaves it to the route
        args["vxlan_ttl"] = int(settings["ttl"])
    return args


def new_vxlan_info(settings: dict[str, str]) -> VxlanInfo:
    return VxlanInfo(int(settings["id"]), int(settings.get("dstport", LINUX_PORT)), settings.get("local"),
                     settings.get("remote"), settings.get("group"), settings.get("dev"), "nolearning" not in settings,
                     ttl=int(settings.get("ttl", 0)))


new_device_kind("vxlan", NewDevice(vxlan_netlink_args, new_vxlan_info, device_settings=("dev",)))
