"""Read guests and virtual networks from libvirt into frozen model objects.

The only module that talks to libvirt. It opens read-only (a dashboard must
never change the host), silences libvirt's default error printer (it would
write over the TUI), and never raises for an unreachable daemon: the caller
gets a LibvirtState with `error` set and the rest of the snapshot carries on.

Round trips are kept constant per collection except one XMLDesc per domain and
per network: state comes from one bulk stats call, persistence / activity /
autostart from flag-filtered list calls.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

import libvirt

from kvmtui.libvirt_xml import LibvirtXmlError, parse_domain_xml, parse_network_xml
from kvmtui.errors import LibvirtUnavailable
from kvmtui.model.libvirt import Domain, DomainInterface, Network

__all__ = [
    "DEFAULT_URI", "LibvirtState", "collect_libvirt", "open_connection", "resolve_uri",
    "state_name",
]

DEFAULT_URI = "qemu:///system"

# virsh's words for virDomainState (tools/virsh-domain-monitor.c).
_STATE_NAMES = {
    libvirt.VIR_DOMAIN_NOSTATE: "no state",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "idle",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "in shutdown",
    libvirt.VIR_DOMAIN_SHUTOFF: "shut off",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "pmsuspended",
}


@dataclass(frozen=True, slots=True)
class LibvirtState:
    """What one collection saw. `error`: libvirt unreachable; `problems`: objects skipped."""

    uri: str
    version: str | None
    domains: tuple[Domain, ...]
    networks: tuple[Network, ...]
    error: str | None = None
    problems: tuple[str, ...] = ()


def resolve_uri(uri: str | None) -> str:
    """The URI we will use: the argument, else $LIBVIRT_DEFAULT_URI, else qemu:///system."""
    return uri or os.environ.get("LIBVIRT_DEFAULT_URI") or DEFAULT_URI


def state_name(state: int) -> str:
    """virsh's name for a virDomainState number."""
    return _STATE_NAMES.get(state, "no state")


def _version_string(number: int) -> str:
    """libvirt's encoded version 9000000 -> "9.0.0"."""
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


_SOCKET = re.compile(r"Failed to connect socket to '([^']*)': (.*)")


def readable_reason(message: str) -> str:
    """Turn libvirt's connection error into a sentence saying what to do."""
    message = message.strip()
    match = _SOCKET.search(message)
    if match:
        path, why = match.groups()
        if "No such file" in why or "Connection refused" in why:
            return f"libvirtd does not seem to be running (no daemon listening on {path})"
        if "Permission denied" in why:
            return (f"permission denied on {path}: run as root or as a member "
                    "of the 'libvirt' group")
        return f"cannot reach libvirtd on {path}: {why}"
    if "authentication unavailable" in message or "authentication failed" in message:
        return f"libvirt refused access ({message}): run as root or join the 'libvirt' group"
    if "no connection driver available" in message:
        return f"this libvirt has no driver for that URI ({message}); is the driver installed?"
    return message or "unknown libvirt error"


def _silence_libvirt() -> None:
    """Without this, libvirt prints every error to stderr, over the TUI."""
    libvirt.registerErrorHandler(lambda *_: None, None)


def open_connection(uri: str | None) -> libvirt.virConnect:
    """A read-only connection, or LibvirtUnavailable with a readable reason."""
    resolved = resolve_uri(uri)
    _silence_libvirt()
    try:
        conn = libvirt.openReadOnly(resolved)
    except libvirt.libvirtError as exc:
        raise LibvirtUnavailable(resolved, readable_reason(exc.get_error_message() or str(exc))) from None
    if conn is None:  # very old bindings returned None instead of raising
        raise LibvirtUnavailable(resolved, "libvirt returned no connection")
    return conn


def _gone(exc: libvirt.libvirtError) -> bool:
    return exc.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_NETWORK)


def _domain_states(conn: libvirt.virConnect, doms: list) -> dict[str, int]:
    """UUID -> virDomainState, in one call when the driver has bulk stats."""
    try:
        stats = conn.domainListGetStats(doms, libvirt.VIR_DOMAIN_STATS_STATE)
    except libvirt.libvirtError:
        stats = []
    states = {dom.UUIDString(): record["state.state"] for dom, record in stats
              if "state.state" in record}
    for dom in doms:  # drivers without bulk stats, or a domain the stats skipped
        uuid = dom.UUIDString()
        if uuid not in states:
            try:
                states[uuid] = dom.state()[0]
            except libvirt.libvirtError as exc:
                if not _gone(exc):
                    raise
    return states


def _collect_domains(conn: libvirt.virConnect, problems: list[str]) -> tuple[Domain, ...]:
    doms = conn.listAllDomains(0)
    persistent = {d.UUIDString() for d in
                  conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT)}
    states = _domain_states(conn, doms)
    out = []
    for dom in doms:
        uuid = dom.UUIDString()
        if uuid not in states:  # vanished before we asked for its state
            continue
        try:
            xml = dom.XMLDesc(0)
        except libvirt.libvirtError as exc:
            if not _gone(exc):
                problems.append(f"domain {dom.name()!r}: {exc.get_error_message() or exc}")
            continue
        dom_id = dom.ID()
        try:
            domain = parse_domain_xml(xml, state=state_name(states[uuid]),
                                      id=dom_id if dom_id >= 0 else None, persistent=uuid in persistent)
            defined = _definition(dom, domain)
            out.append(replace(domain, defined_macs=tuple(nic.mac for nic in defined if nic.mac),
                               defined_interfaces=defined if domain.active else ()))
        except LibvirtXmlError as exc:
            problems.append(f"domain {dom.name()!r}: {exc}")
    return tuple(sorted(out, key=lambda d: d.name))  # listAllDomains order is arbitrary


def _definition(dom, domain: Domain) -> tuple[DomainInterface, ...]:
    """The persistent definition's interfaces: for a running guest they may differ from the live ones."""
    if not domain.persistent:
        return ()
    if not domain.active:
        return domain.interfaces
    try:
        inactive = parse_domain_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), state="shut off", id=None, persistent=True)
    except (libvirt.libvirtError, LibvirtXmlError):
        return ()
    return inactive.interfaces


def _collect_networks(conn: libvirt.virConnect, problems: list[str]) -> tuple[Network, ...]:
    nets = conn.listAllNetworks(0)

    def uuids(flag: int) -> set[str]:
        return {n.UUIDString() for n in conn.listAllNetworks(flag)}

    active = uuids(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE)
    persistent = uuids(libvirt.VIR_CONNECT_LIST_NETWORKS_PERSISTENT)
    autostart = uuids(libvirt.VIR_CONNECT_LIST_NETWORKS_AUTOSTART)
    out = []
    for net in nets:
        uuid = net.UUIDString()
        try:
            xml = net.XMLDesc(0)
        except libvirt.libvirtError as exc:
            if not _gone(exc):
                problems.append(f"network {net.name()!r}: {exc.get_error_message() or exc}")
            continue
        try:
            out.append(parse_network_xml(
                xml, active=uuid in active, persistent=uuid in persistent,
                autostart=uuid in autostart,
            ))
        except LibvirtXmlError as exc:
            problems.append(f"network {net.name()!r}: {exc}")
    return tuple(sorted(out, key=lambda n: n.name))


def collect_libvirt(uri: str | None = None) -> LibvirtState:
    """Everything libvirt knows about guests and networks; never raises for libvirt trouble."""
    resolved = resolve_uri(uri)
    try:
        conn = open_connection(resolved)
    except LibvirtUnavailable as exc:
        return LibvirtState(uri=resolved, version=None, domains=(), networks=(), error=str(exc))
    problems: list[str] = []
    try:
        version = _version_string(conn.getLibVersion())
        domains = _collect_domains(conn, problems)
        networks = _collect_networks(conn, problems)
    except libvirt.libvirtError as exc:  # e.g. the daemon went away mid-collection
        reason = readable_reason(exc.get_error_message() or str(exc))
        return LibvirtState(uri=resolved, version=None, domains=(), networks=(),
                            error=str(LibvirtUnavailable(resolved, reason)),
                            problems=tuple(problems))
    finally:
        try:
            conn.close()
        except libvirt.libvirtError:
            pass
    return LibvirtState(uri=resolved, version=version, domains=domains, networks=networks,
                        problems=tuple(problems))


def read_inactive_domain(uri: str | None, name: str) -> Domain | None:
    """A guest's persistent definition (what survives a restart), or None."""
    try:
        conn = open_connection(uri)
    except LibvirtUnavailable:
        return None
    try:
        dom = conn.lookupByName(name)
        if not dom.isPersistent():
            return None
        xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        return parse_domain_xml(xml, state="shut off", id=None, persistent=True)
    except libvirt.libvirtError:
        return None
    finally:
        conn.close()
