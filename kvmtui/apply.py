"""The only code that changes the host.

Runs a Plan step by step (pyroute2 for the kernel, a read-write libvirt connection
for guests); on a failed step it runs the inverses of the completed steps in reverse;
after success it re-reads the host and checks the plan's expectations, rolling back
if they do not hold. In read-only mode it refuses before touching anything.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from kvmtui.errors import KvmtuiError, NetlinkError
from kvmtui.model import Domain, Snapshot
from kvmtui.plan.expect import GuestNic
from kvmtui.plan.model import Plan
from kvmtui.plan.steps import Step
from kvmtui.vocabulary import (
    AD_SELECT,
    ARP_VALIDATE,
    BOND_MODES,
    BRIDGE_FLAGS_SELF,
    BRIDGE_VLAN_INFO_PVID,
    BRIDGE_VLAN_INFO_UNTAGGED,
    FAIL_OVER_MAC,
    IFA_F_NODAD,
    LACP_RATE,
    NTF_MASTER,
    NTF_STICKY,
    NUD_NOARP,
    PRIMARY_RESELECT,
    PROTOCOL_NUMBERS,
    RTNH_F_ONLINK,
    SCOPE_NUMBERS,
    VLAN_NUMBERS,
    XMIT_HASH,
)

BRPORT_NAMES = {"hairpin": "mode", "flood": "unicast_flood"}  # bridge's words -> IFLA_BRPORT_*
DETACH_GRACE = 10.0  # seconds a guest OS gets to release a device detached from it live
Progress = Callable[[int, Step, str], None]  # step number, step, "running" | "done" | "failed" | "undone" | "gone"


class ReadOnlyRefused(KvmtuiError):
    def __init__(self) -> None:
        super().__init__("read-only mode: kvmtui changes nothing on this host")


class LinkGone(KvmtuiError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} does not exist")
        self.name = name


@dataclass(frozen=True, slots=True)
class ApplyReport:
    ok: bool
    applied: tuple[Step, ...]
    failed: Step | None = None
    error: str | None = None
    undone: tuple[Step, ...] = ()
    undo_errors: tuple[str, ...] = ()
    unmet: tuple[str, ...] = ()  # expectations that did not hold after all steps ran
    snapshot: Snapshot | None = None  # the host as re-read after a success
    interrupted: bool = False  # Ctrl-C or SIGTERM stopped it; the completed steps were undone
    waiting: tuple[str, ...] = ()  # live detaches the guest's OS has not completed yet
    gone: tuple[str, ...] = ()  # devices someone else deleted meanwhile: their inverses had nothing to undo

    def summary(self) -> str:
        if self.ok and self.waiting:
            return (f"applied {len(self.applied)} step(s); waiting for the guest: {'; '.join(self.waiting)} "
                    "(its OS must release the NIC, then libvirt removes it; see `virsh domiflist`)")
        if self.ok:
            return f"applied {len(self.applied)} step(s) and verified the result"
        if self.failed:
            cause = f"{self.error} at step {self.failed.command!r}" if self.interrupted else \
                f"step {self.failed.command!r} failed: {self.error}"
        elif self.error:
            cause = f"stopped {self.error}"
        else:
            cause = "verification failed: " + "; ".join(self.unmet)
        undo = f"; undid {len(self.undone)} step(s)" + "".join(f"; {name} is gone: nothing to undo" for name in self.gone)
        return cause + undo + (f"; could NOT undo: {'; '.join(self.undo_errors)}" if self.undo_errors else "")


class Executor:
    """`before_step` is called before each step runs; tests use it to make a chosen step fail."""

    def __init__(self, netns: str | None, uri: str | None, readonly: bool,
                 before_step: Callable[[int, Step], None] | None = None):
        self.netns, self.uri, self.readonly, self.before_step = netns, uri, readonly, before_step
        self._ifindexes: dict[str, int] = {}  # the device each name stood for when a step acted on it

    def apply(self, plan: Plan, progress: Progress | None = None) -> ApplyReport:
        """Whatever stops the run half-way - a failed step, an exception in `progress` or
        `before_step`, Ctrl-C, a re-read that fails - undoes the completed steps first.
        Ctrl-C is then reported (`interrupted`); other BaseExceptions are raised again."""
        if self.readonly:
            raise ReadOnlyRefused()
        progress = progress or (lambda *_: None)
        self._ifindexes.clear()
        done: list[Step] = []
        number, step = 0, None
        try:
            for number, step in enumerate(plan.steps, 1):
                progress(number, step, "running")
                if self.before_step is not None:
                    self.before_step(number, step)
                self._run(step)
                done.append(step)
                progress(number, step, "done")
            number, step = 0, None
            snapshot, unmet, waiting = self._verify(plan)
        except BaseException as exc:  # noqa: BLE001 - anything that stops the run means: roll back
            failed = step if step is not None and len(done) < number else None
            if failed is not None:
                _quietly(progress, number, failed, "failed")
            undone, errors, gone = self._undo(done, progress)
            if not isinstance(exc, Exception | KeyboardInterrupt):
                raise
            interrupted = isinstance(exc, KeyboardInterrupt)
            reason = f"interrupted ({str(exc) or 'Ctrl-C'})" if interrupted else _reason(exc)  # or SIGTERM (cli_plan)
            if failed is None:
                reason = f"after step {number}: {reason}" if step is not None else f"while re-reading the host: {reason}"
            return ApplyReport(False, tuple(done), failed, reason, undone, errors, interrupted=interrupted, gone=gone)
        if unmet:
            undone, errors, gone = self._undo(done, progress)
            return ApplyReport(False, tuple(done), None, None, undone, errors, unmet, gone=gone)
        return ApplyReport(True, tuple(done), snapshot=snapshot, waiting=waiting)

    def _undo(self, done: list[Step], progress: Progress) -> tuple[tuple[Step, ...], tuple[str, ...], tuple[str, ...]]:
        """Every inverse is tried, in reverse order; one that fails (or is interrupted) is
        reported and the rest still run. One whose device someone else deleted meanwhile
        is done, not failed: nothing of that device is left to undo (returned as gone)."""
        undone, errors, gone = [], [], {}
        for number, step in reversed(list(enumerate(done, 1))):
            if step.inverse is None or not step.inverse.settings and step.inverse.action == "link_set":
                continue
            for part in (step.inverse, *step.inverse.then):  # the `then` steps need the inverse
                try:
                    self._run(part)
                except BaseException as exc:  # noqa: BLE001 - keep undoing the rest, report this one
                    if self._target_gone(part, exc):
                        gone[part.target] = True
                        _quietly(progress, number, part, "gone")
                        continue
                    errors.append(f"{part.command}: {_reason(exc)}")
                    if part is step.inverse:
                        errors += [f"{after.command}: not tried" for after in step.inverse.then]
                        break
                    continue
                undone.append(part)
                _quietly(progress, number, part, "undone")
        return tuple(undone), tuple(errors), tuple(gone)

    def _target_gone(self, step: Step, exc: BaseException) -> bool:
        """Did `step` fail because the very device it acts on was deleted meanwhile (its
        ifindex is gone too)? Not if it was renamed, nor when another device it names (a
        master, a lower device) is missing: those are failures."""
        missing = isinstance(exc, LinkGone) and exc.name == step.target or \
            isinstance(exc, NetlinkError) and exc.errno == errno.ENODEV
        ifindex = self._ifindexes.get(step.target)
        if step.touches_libvirt or not missing or ifindex is None:
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

    def _verify(self, plan: Plan) -> tuple[Snapshot, tuple[str, ...], tuple[str, ...]]:
        """Re-read the host and check the plan's expectations: (snapshot, unmet, waiting).
        A live detach is only a request to the guest, whose OS releases the device a
        moment later: while nothing but such removals is pending, read again for up to
        DETACH_GRACE seconds. One still pending then is `waiting`, not a failure: the
        NIC is still in the guest, so re-attaching it (the rollback) could not work."""
        deadline = time.monotonic() + DETACH_GRACE
        while True:
            snapshot = self._reread(plan)
            pending = [(e, u) for e in plan.expectations if (u := e.unmet(snapshot, self._read_config)) is not None]
            only_guests = all(_awaits_guest(e) for e, _ in pending)
            if not pending or not only_guests:
                return snapshot, tuple(u for _, u in pending), ()
            if time.monotonic() >= deadline:
                return snapshot, (), tuple(u for _, u in pending)
            time.sleep(0.5)

    def _reread(self, plan: Plan) -> Snapshot:
        from kvmtui.collect.snapshot import collect_snapshot

        return collect_snapshot(netns=self.netns, uri=self.uri, with_libvirt=plan.touches_libvirt)

    def _read_config(self, domain: str) -> Domain | None:
        from kvmtui.collect.libvirt import read_inactive_domain

        return read_inactive_domain(self.uri, domain)

    # -- one step ------------------------------------------------------------------
    def _run(self, step: Step) -> None:
        if step.touches_libvirt:
            self._run_libvirt(step)
        else:
            from kvmtui.collect.netns import run_in_netns

            run_in_netns(self.netns, lambda: self._run_netlink(step))

    def _run_netlink(self, step: Step) -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError as Pyroute2Error

        with IPRoute() as ipr:  # created in this thread, which run_in_netns put in the namespace
            def index(name: str) -> int:
                found = ipr.link_lookup(ifname=name)
                if not found:
                    raise LinkGone(name)
                return found[0]

            try:
                _netlink_call(ipr, step, index)
            except Pyroute2Error as exc:
                raise NetlinkError(exc.code, step.command) from None
            found = ipr.link_lookup(ifname=step.target)
            if found:
                self._ifindexes[step.target] = found[0]

    def _run_libvirt(self, step: Step) -> None:
        import libvirt

        from kvmtui.collect.libvirt import resolve_uri

        flags = (libvirt.VIR_DOMAIN_AFFECT_LIVE if step.setting("live") == "True" else 0) | (
            libvirt.VIR_DOMAIN_AFFECT_CONFIG if step.setting("config") == "True" else 0)
        conn = libvirt.open(resolve_uri(self.uri))
        try:
            domain = conn.lookupByName(step.target)
            if step.action == "attach":
                domain.attachDeviceFlags(step.setting("xml"), flags)
            else:
                domain.detachDeviceFlags(step.setting("xml"), flags)
        except libvirt.libvirtError as exc:
            raise KvmtuiError(f"{step.command}: {exc.get_error_message()}") from None
        finally:
            conn.close()


def _netlink_call(ipr, step: Step, index: Callable[[str], int]) -> None:
    settings = dict(step.settings)
    if step.action == "link_add":
        ipr.link("add", ifname=step.target, **_kind_args(settings, index))
    elif step.action == "link_del":
        ipr.link("del", index=index(step.target))
    elif step.action == "link_set":
        args: dict[str, object] = {}
        for key, value in settings.items():
            if key == "state":
                args["state"] = value
            elif key == "master":
                args["master"] = index(value) if value else 0
            elif key == "mtu":
                args["mtu"] = int(value)
            elif key == "address":
                args["address"] = value
        if settings.get("kind") == "bond":
            args["kind"] = "bond"
            args["bond_primary"] = index(settings["primary"]) if settings.get("primary") else 0
        if args:
            ipr.link("set", index=index(step.target), **args)
    elif step.action in ("addr_add", "addr_del"):
        interface = ipaddress.ip_interface(settings["address"])
        where = {"index": index(step.target), "address": str(interface.ip), "prefixlen": interface.network.prefixlen}
        if step.action == "addr_del":
            ipr.addr("del", **where)
        elif "nodad" in settings:  # usable at once (no DAD), then the flag cleared: DAD on the next link up
            ipr.addr("add", **where, flags=IFA_F_NODAD)
            try:
                ipr.addr("replace", **where)
            except Exception:  # noqa: BLE001, S110 - the address is there and usable; only the flag stays
                pass
        else:
            ipr.addr("add", **where, **{key: settings[key] for key in ("broadcast", "label") if key in settings})
    elif step.action in ("route_add", "route_del"):
        ipr.route("add" if step.action == "route_add" else "del", **_route_args(settings, index(step.target)))
    elif step.action == "brport_set":
        ipr.brport("set", index=index(step.target), **{BRPORT_NAMES.get(key, key): _brport_value(value)
                                                        for key, value in settings.items()})
    elif step.action in ("vlan_add", "vlan_del"):
        first, _, last = settings["vid"].partition("-")
        flags = (BRIDGE_VLAN_INFO_PVID if "pvid" in settings else 0) | (
            BRIDGE_VLAN_INFO_UNTAGGED if "untagged" in settings else 0)
        own = {"vlan_flags": BRIDGE_FLAGS_SELF} if "self" in settings else {}
        for vid in range(int(first), int(last or first) + 1):  # one by one: a range drops the flags
            ipr.vlan_filter("add" if step.action == "vlan_add" else "del", index=index(step.target),
                            vlan_info={"vid": vid, "flags": flags}, **own)
    elif step.action == "fdb_add":
        ipr.fdb("add", ifindex=index(step.target), lladdr=settings["mac"], state=NUD_NOARP,
                flags=NTF_MASTER | (NTF_STICKY if "sticky" in settings else 0),
                **({"vlan": int(settings["vlan"])} if "vlan" in settings else {}))
    else:
        raise KvmtuiError(f"unknown step {step.action}")


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


def _kind_args(settings: dict[str, str], index: Callable[[str], int]) -> dict[str, object]:
    """ip's words for a new link -> pyroute2's IFLA_* keyword arguments."""
    kind = settings["kind"]
    args: dict[str, object] = {"kind": kind}
    if "link" in settings:
        args["link"] = index(settings["link"])
    if "address" in settings:
        args["address"] = settings["address"]
    if "mtu" in settings:
        args["mtu"] = int(settings["mtu"])
    if kind == "bridge":
        args["br_stp_state"] = int(settings.get("stp_state", "0"))
        for key in ("forward_delay", "hello_time", "max_age", "ageing_time", "priority", "vlan_filtering"):
            if key in settings:
                args[f"br_{key}"] = int(settings[key])
    elif kind == "bond":
        args["bond_mode"] = BOND_MODES.index(settings["mode"])
        for key, arg in (("miimon", "bond_miimon"), ("arp_interval", "bond_arp_interval")):
            if key in settings:
                args[arg] = int(settings[key])
        if settings.get("arp_ip_target"):
            args["bond_arp_ip_target"] = settings["arp_ip_target"].split(",")
        if "lacp_rate" in settings:
            args["bond_ad_lacp_rate"] = LACP_RATE.index(settings["lacp_rate"])
        if "xmit_hash_policy" in settings:
            args["bond_xmit_hash_policy"] = XMIT_HASH.index(settings["xmit_hash_policy"])
        for key in ("updelay", "downdelay", "min_links"):
            if key in settings:
                args[f"bond_{key}"] = int(settings[key])
        for key, words in (("arp_validate", ARP_VALIDATE), ("primary_reselect", PRIMARY_RESELECT),
                           ("fail_over_mac", FAIL_OVER_MAC), ("ad_select", AD_SELECT)):
            if key in settings:
                args[f"bond_{key}"] = words.index(settings[key])
    elif kind == "vlan":
        args["vlan_id"] = int(settings["id"])
        args["vlan_protocol"] = VLAN_NUMBERS[settings["protocol"]]
    return args


def _quietly(progress: Progress, number: int, step: Step, state: str) -> None:
    """Progress during a rollback: nothing it raises may stop the undoing."""
    try:
        progress(number, step, state)
    except BaseException:  # noqa: BLE001, S110 - a closed terminal or a second Ctrl-C
        pass


def _awaits_guest(expectation: object) -> bool:
    return isinstance(expectation, GuestNic) and expectation.live and not expectation.present


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
