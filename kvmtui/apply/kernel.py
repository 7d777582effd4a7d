"""The kernel backend: runs a step through pyroute2, in the plan's network namespace (a
thread that run_in_netns put there), and tells a device deleted meanwhile from a failure."""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable

import kvmtui.kinds  # noqa: F401 - the device kinds register how their devices are made (NEW_DEVICES)
from kvmtui.apply.backend import refuse_if_readonly
from kvmtui.errors import KvmtuiError, NetlinkError
from kvmtui.plan import steps as s
from kvmtui.plan.steps.links import NEW_DEVICES, SETTABLE_KINDS
from kvmtui.vocabulary import (
    BRIDGE_FLAGS_SELF,
    BRIDGE_VLAN_INFO_PVID,
    BRIDGE_VLAN_INFO_UNTAGGED,
    IFA_F_NODAD,
    NTF_MASTER,
    NTF_SELF,
    NTF_STICKY,
    NUD_NOARP,
    NUD_PERMANENT,
    PROTOCOL_NUMBERS,
    RTNH_F_ONLINK,
    SCOPE_NUMBERS,
)

BRPORT_NAMES = {"hairpin": "mode", "flood": "unicast_flood"}  # bridge's words -> IFLA_BRPORT_*
Index = Callable[[str], int]  # a device's name -> its ifindex now, or LinkGone


class LinkGone(KvmtuiError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} does not exist")
        self.name = name


class KernelBackend:
    def __init__(self, netns: str | None):
        self.netns = netns
        self._ifindexes: dict[str, int] = {}  # the device each name stood for when a step acted on it

    def run(self, step: s.Step) -> None:
        refuse_if_readonly()
        from kvmtui.collect.netns import run_in_netns

        run_in_netns(self.netns, lambda: self._run(step))

    def _run(self, step: s.Step) -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError as Pyroute2Error

        with IPRoute() as ipr:  # created in this thread, which run_in_netns put in the namespace
            def index(name: str) -> int:
                found = ipr.link_lookup(ifname=name)
                if not found:
                    raise LinkGone(name)
                self._ifindexes[name] = found[0]
                return found[0]

            try:
                _netlink_call(ipr, step, index)
            except Pyroute2Error as exc:
                raise NetlinkError(exc.code, step.command) from None
            if step.target not in self._ifindexes and (found := ipr.link_lookup(ifname=step.target)):
                self._ifindexes[step.target] = found[0]  # a device this step made

    def gone(self, step: s.Step, exc: BaseException) -> bool:
        """The device is gone when its ifindex is gone too: not if it was renamed, nor when
        another device the step names (a master, a lower device) is missing."""
        missing = isinstance(exc, LinkGone) and exc.name == step.target or \
            isinstance(exc, NetlinkError) and exc.errno == errno.ENODEV
        ifindex = self._ifindexes.get(step.target)
        if not missing or ifindex is None:
            return False
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError as Pyroute2Error

        from kvmtui.collect.netns import run_in_netns

        def exists() -> bool:
            with IPRoute() as ipr:
                try:
                    ipr.link("get", index=ifindex)
                except Pyroute2Error as error:
                    if error.code == errno.ENODEV:
                        return False
                    raise
                return True

        try:
            return not run_in_netns(self.netns, exists)
        except Exception:  # noqa: BLE001 - cannot tell: the failure stands
            return False


def _netlink_call(ipr, step: s.Step, index: Index) -> None:
    call = _CALLS.get(type(step))
    if call is None:
        raise KvmtuiError(f"the kernel backend does not run {step.action} steps")
    call(ipr, step, index)


def _link_add(ipr, step: s.LinkAdd, index: Index) -> None:
    ipr.link("add", ifname=step.target, **_kind_args(dict(step.settings), index))


def _link_del(ipr, step: s.LinkDel, index: Index) -> None:
    ipr.link("del", index=index(step.target))


def _link_set(ipr, step: s.LinkSet, index: Index) -> None:
    args: dict[str, object] = {}
    settings = dict(step.values)
    for key, value in settings.items():
        if key == "state":
            args["state"] = value
        elif key == "master":
            args["master"] = index(value) if value else 0
        elif key == "mtu":
            args["mtu"] = int(value)
        elif key == "address":
            args["address"] = value
        elif key == "alias":
            args["ifalias"] = value
    if step.kind in SETTABLE_KINDS:
        args.update(kind=step.kind, **SETTABLE_KINDS[step.kind].netlink_args(settings))
    if step.kind == "bond" and "primary" in settings:  # 0 clears it: only when asked
        args["kind"] = "bond"
        args["bond_primary"] = index(settings["primary"]) if settings.get("primary") else 0
    if args:
        ipr.link("set", index=index(step.target), **args)


def _address_of(step: s.AddrAdd, index: Index) -> dict[str, object]:
    interface = ipaddress.ip_interface(step.cidr)
    return {"index": index(step.target), "address": str(interface.ip), "prefixlen": interface.network.prefixlen}


def _addr_add(ipr, step: s.AddrAdd, index: Index) -> None:
    where = _address_of(step, index)
    if step.nodad:  # usable at once (no DAD), then the flag cleared: DAD on the next link up
        ipr.addr("add", **where, flags=IFA_F_NODAD)
        try:
            ipr.addr("replace", **where)
        except Exception:  # noqa: BLE001, S110 - the address is there and usable; only the flag stays
            pass
    else:
        ipr.addr("add", **where, **{key: value for key, value in (("broadcast", step.broadcast),
                                                                  ("label", step.label)) if value})


def _addr_del(ipr, step: s.AddrDel, index: Index) -> None:
    ipr.addr("del", **_address_of(step, index))


def _route(ipr, step: s.RouteAdd, index: Index) -> None:
    ipr.route(step.verb, **_route_args(dict(step.settings), index(step.target)))


def _brport_set(ipr, step: s.BrportSet, index: Index) -> None:
    ipr.brport("set", index=index(step.target), **{BRPORT_NAMES.get(key, key): _brport_value(value)
                                                    for key, value in step.values})


def _vlan(ipr, step: s.VlanAdd | s.VlanDel, index: Index) -> None:
    first, _, last = step.vids.partition("-")
    adding = isinstance(step, s.VlanAdd)
    flags = (BRIDGE_VLAN_INFO_PVID if adding and step.pvid else 0) | (
        BRIDGE_VLAN_INFO_UNTAGGED if adding and step.untagged else 0)
    own = {"vlan_flags": BRIDGE_FLAGS_SELF} if step.own else {}
    for vid in range(int(first), int(last or first) + 1):  # one by one: a range drops the flags
        ipr.vlan_filter("add" if adding else "del", index=index(step.target),
                        vlan_info={"vid": vid, "flags": flags}, **own)


def _fdb_add(ipr, step: s.FdbAdd, index: Index) -> None:
    if step.dst is not None:  # a vxlan's remote VTEP: `bridge fdb append ... dst IP` (self permanent)
        ipr.fdb("append", ifindex=index(step.target), lladdr=step.mac, dst=step.dst, state=NUD_NOARP | NUD_PERMANENT,
                flags=NTF_SELF)
        return
    ipr.fdb("add", ifindex=index(step.target), lladdr=step.mac, state=NUD_NOARP,
            flags=NTF_MASTER | (NTF_STICKY if step.sticky else 0),
            **({"vlan": step.vlan} if step.vlan is not None else {}))


def _fdb_del(ipr, step: s.FdbDel, index: Index) -> None:
    where = {"dst": step.dst, "flags": NTF_SELF} if step.dst is not None else {"flags": NTF_MASTER}
    ipr.fdb("del", ifindex=index(step.target), lladdr=step.mac, state=NUD_NOARP | NUD_PERMANENT, **where,
            **({"vlan": step.vlan} if step.vlan is not None else {}))


_CALLS: dict[type, Callable[..., None]] = {
    s.LinkAdd: _link_add, s.LinkDel: _link_del, s.LinkSet: _link_set, s.AddrAdd: _addr_add, s.AddrDel: _addr_del,
    s.RouteAdd: _route, s.RouteDel: _route, s.BrportSet: _brport_set, s.VlanAdd: _vlan, s.VlanDel: _vlan,
    s.FdbAdd: _fdb_add, s.FdbDel: _fdb_del,
}


def _route_args(settings: dict[str, str], oif: int) -> dict[str, object]:
    """ip's words for a route -> pyroute2's RTA_* keyword arguments. The scope matters for
    deleting too: the kernel matches an on-link route (scope link) only by its scope."""
    v6 = settings.get("family") == "inet6"
    dst = settings["dst"]
    args: dict[str, object] = {"dst": ("::/0" if v6 else "0.0.0.0/0") if dst == "default" else dst, "oif": oif,
                               "family": socket.AF_INET6 if v6 else socket.AF_INET,
                               "proto": PROTOCOL_NUMBERS.get(settings.get("proto", "boot"), 3),
                               "scope": _scope_number(settings.get("scope", "global"))}
    if "via" in settings:
        args["gateway"] = settings["via"]
    if "src" in settings:
        args["prefsrc"] = settings["src"]
    if "metric" in settings:
        args["priority"] = int(settings["metric"])
    if "onlink" in settings:
        args["flags"] = RTNH_F_ONLINK
    return args


def _brport_value(value: str) -> int:
    return {"on": 1, "off": 0}[value] if value in ("on", "off") else int(value)


def _scope_number(name: str) -> int:
    return SCOPE_NUMBERS[name] if name in SCOPE_NUMBERS else int(name)


def _kind_args(settings: dict[str, str], index: Index) -> dict[str, object]:
    """ip's words for a new link -> pyroute2's IFLA_* keyword arguments: the device's own
    here, the kind's from the kind that made the plan (plan/steps/links.py NEW_DEVICES)."""
    kind = settings["kind"]
    if kind not in NEW_DEVICES:
        raise KvmtuiError(f"kvmtui does not know how to create a {kind} device")
    args: dict[str, object] = {"kind": kind}
    if "link" in settings:
        args["link"] = index(settings["link"])
    if "address" in settings:
        args["address"] = settings["address"]
    if "mtu" in settings:
        args["mtu"] = int(settings["mtu"])
    device = NEW_DEVICES[kind]
    own = {key: str(index(value)) if key in device.device_settings else value for key, value in settings.items()}
    return args | device.netlink_args(own)
