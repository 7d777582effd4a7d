"""Real guests and host plumbing for tests that need the real libvirtd (qemu:///system).

Everything created here is named kt-<something> and removed in a `finally`, even
when the test fails. Nothing here touches lo, eth0 or any root-namespace address
or route: the only host objects are kt- bridges and kt- veth pairs.

A diskless guest boots into iPXE and keeps one CPU busy under TCG; keep it short.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from xml.sax.saxutils import escape

import libvirt

from tests.helpers import sh, wait_until  # noqa: F401 - guest tests import it from here

SYSTEM_URI = "qemu:///system"
PREFIX = "kt-"
IFNAMSIZ = 15  # longest Linux interface name


def unique_name(stem: str = "") -> str:
    """kt-<stem><6 hex>, short enough for an interface name when the stem is <= 6 chars."""
    return f"{PREFIX}{stem}{uuid.uuid4().hex[:6]}"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def _check_ifname(name: str) -> None:
    if not name.startswith(PREFIX) or len(name) > IFNAMSIZ:
        raise ValueError(f"test interface names must start with {PREFIX!r} and fit "
                         f"{IFNAMSIZ} characters: {name!r}")


def link_exists(name: str) -> bool:
    return _ip("link", "show", "dev", name, check=False).returncode == 0


@contextmanager
def kt_bridge(name: str | None = None) -> Iterator[str]:
    """A kt- Linux bridge in the root namespace, up; deleted afterwards."""
    name = name or unique_name("br")
    _check_ifname(name)
    _ip("link", "add", name, "type", "bridge")
    try:
        _ip("link", "set", name, "up")
        yield name
    finally:
        _ip("link", "del", name, check=False)


@contextmanager
def kt_veth(name: str | None = None, peer: str | None = None) -> Iterator[tuple[str, str]]:
    """A kt- veth pair in the root namespace, both ends up; deleted afterwards."""
    name = name or unique_name("va")
    peer = peer or f"{name}p"
    _check_ifname(name)
    _check_ifname(peer)
    _ip("link", "add", name, "type", "veth", "peer", "name", peer)
    try:
        _ip("link", "set", name, "up")
        _ip("link", "set", peer, "up")
        yield name, peer
    finally:
        _ip("link", "del", name, check=False)  # takes the peer with it
        _ip("link", "del", peer, check=False)


def domain_xml(name: str, interfaces_xml: list[str]) -> str:
    """The smallest bootable guest: TCG, no disk, PXE boot, a serial pty."""
    nics = "\n    ".join(interfaces_xml)
    return f"""<domain type='qemu'>
  <name>{escape(name)}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='network'/>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    {nics}
    <serial type='pty'/>
  </devices>
</domain>"""


def _remove_domain(conn: libvirt.virConnect, domain_uuid: str) -> None:
    """Destroy and undefine, tolerating a test that already did either."""
    try:
        dom = conn.lookupByUUIDString(domain_uuid)
    except libvirt.libvirtError:
        return
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError:
        pass
    try:
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    except libvirt.libvirtError:
        try:
            dom.undefine()
        except libvirt.libvirtError:
            pass


@contextmanager
def diskless_guest(name: str, interfaces_xml: list[str],
                   start: bool = True) -> Iterator[libvirt.virDomain]:
    """Define (and start) a kt- diskless guest; destroy and undefine it afterwards.

    Yields the virDomain on a read-write connection, so the test may destroy it.
    """
    if not name.startswith(PREFIX):
        name = PREFIX + name
    conn = libvirt.open(SYSTEM_URI)
    domain_uuid = None
    try:
        dom = conn.defineXML(domain_xml(name, interfaces_xml))
        domain_uuid = dom.UUIDString()
        if start:
            dom.create()
        yield dom
    finally:
        if domain_uuid is not None:
            _remove_domain(conn, domain_uuid)
        conn.close()


def domiflist(name: str) -> dict[str, dict[str, str]]:
    out = sh("virsh", "-q", "domiflist", name)
    rows = {}
    for line in out.splitlines():
        target, kind, source, model, mac = line.split()
        rows[mac] = {"target": target, "type": kind, "source": source, "model": model}
    return rows
