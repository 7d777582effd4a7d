"""Assemble one Snapshot from every source: kernel, bonding files, libvirt.

The kernel part runs inside the requested namespace (a thread that entered it);
libvirt is host-wide and is read concurrently, since it mostly waits on the daemon.
"""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from kvmtui import __version__
from kvmtui.collect.bonding import collect_bonds
from kvmtui.collect.counters import read_counters
from kvmtui.collect.netlink import NetlinkState, read_netlink
from kvmtui.collect.netns import proc_net_dir, run_in_netns
from kvmtui.model import Bond, HostInfo, LinkStats, Snapshot

SYSFS_NET = Path("/sys/class/net")
# Sysctls the audit judges. /proc/sys/net shows the namespace of the thread that opens it,
# so they are read inside the namespace thread; one is missing when its module is not loaded.
SYSCTLS = ("net.bridge.bridge-nf-call-iptables",)


def collect_snapshot(netns: str | None = None, uri: str | None = None, with_libvirt: bool = True,
                     with_fdb: bool = True) -> Snapshot:
    """One full picture. Raises only for what makes the whole snapshot meaningless
    (an unknown namespace); anything partial is reported in `problems`."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="libvirt") as pool:
        libvirt_future = pool.submit(_read_libvirt, uri) if with_libvirt else None
        kernel, bonds, bond_problems, sysctls = run_in_netns(netns, lambda: _read_kernel(netns, with_fdb))
        libvirt_state = libvirt_future.result() if libvirt_future else None
    problems = list(bond_problems)
    if libvirt_state is not None:
        problems.extend(libvirt_state.problems)
    host = HostInfo(
        hostname=socket.gethostname(),
        kernel=os.uname().release,
        taken_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        netns=netns,
        libvirt_uri=libvirt_state.uri if libvirt_state else None,
        libvirt_version=libvirt_state.version if libvirt_state else None,
        kvmtui_version=__version__,
    )
    return Snapshot(
        host=host,
        links=kernel.links,
        fdb=kernel.fdb,
        bridge_vlans=kernel.bridge_vlans,
        routes=kernel.routes,
        bonds=bonds,
        domains=libvirt_state.domains if libvirt_state else (),
        networks=libvirt_state.networks if libvirt_state else (),
        libvirt_error=libvirt_state.error if libvirt_state else None,
        problems=tuple(problems),
        sysctls=sysctls,
        monotonic=time.monotonic(),
    )


def _read_kernel(netns: str | None, with_fdb: bool = True) -> tuple[NetlinkState, tuple[Bond, ...], tuple[str, ...], tuple[tuple[str, str], ...]]:
    state = read_netlink(with_fdb=with_fdb)
    bond_names = [link.ifname for link in state.links if link.kind == "bond"]
    # sysfs shows the namespace it was mounted in, so it is a fallback only for our own.
    bonds, problems = collect_bonds(
        bond_names,
        proc_dir=Path(proc_net_dir(netns)) / "bonding",
        sysfs_net=None if netns else SYSFS_NET,
    )
    return state, bonds, problems, read_sysctls()


def read_sysctls(names: tuple[str, ...] = SYSCTLS) -> tuple[tuple[str, str], ...]:
    """(name, value) of each sysctl this kernel has, in the calling thread's namespace."""
    found = []
    for name in names:
        try:
            value = Path("/proc/sys", *name.split(".")).read_text().strip()
        except OSError:  # absent (module not loaded) or unreadable: the audit then stays silent
            continue
        found.append((name, value))
    return tuple(found)


def read_polled(netns: str | None, bond_names: tuple[str, ...],
                counters_of: str | None) -> tuple[float, dict[str, LinkStats], tuple[Bond, ...]]:
    """What has no change events: counters (of one device) and the bonding files
    (problems are left to the next full snapshot, which reports them)."""

    def read() -> tuple[float, dict[str, LinkStats], tuple[Bond, ...]]:
        taken, counters = read_counters(counters_of) if counters_of else (time.monotonic(), {})
        bonds, _problems = collect_bonds(bond_names, proc_dir=Path(proc_net_dir(netns)) / "bonding",
                                         sysfs_net=None if netns else SYSFS_NET)
        return taken, counters, bonds

    return run_in_netns(netns, read)


def _read_libvirt(uri: str | None):
    from kvmtui.collect.libvirt import collect_libvirt  # libvirt-python is only needed here

    return collect_libvirt(uri)
