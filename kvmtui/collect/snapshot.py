"""Assemble one Snapshot from every source: kernel, bonding files, saved network
configuration, libvirt.

The kernel part runs inside the requested namespace (a thread that entered it);
libvirt is host-wide and is read concurrently, since it mostly waits on the daemon.
The dashboard reads the two parts apart (a hung libvirtd must not hold up the
kernel's picture) and merges them with `merge_libvirt`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from kvmtui import __version__
from kvmtui.collect.bonding import collect_bonds
from kvmtui.collect.counters import read_counters
from kvmtui.collect.docker import read_docker_networks
from kvmtui.collect.ethtool import facts_of_ports
from kvmtui.collect.lldp_networkd import networkd_port_neighbours
from kvmtui.collect.lldp_nm import nm_port_neighbours
from kvmtui.collect.lldpd import lldpd_port_neighbours
from kvmtui.collect.netconfig import read_netconfig
from kvmtui.collect.netlink import NetlinkState, read_netlink
from kvmtui.collect.netns import proc_net_dir, run_in_netns
from kvmtui.collect.ovs import collect_ovs
from kvmtui.model import Bond, HostInfo, LinkStats, Snapshot
from kvmtui.model.wire import NicFacts

if TYPE_CHECKING:
    from kvmtui.collect.libvirt import LibvirtState

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
        kernel = collect_kernel(netns, with_fdb)
        libvirt_state = libvirt_future.result() if libvirt_future else None
    return merge_libvirt(kernel, libvirt_state)


def in_pid1_netns() -> bool:
    """Is this process in the network namespace of PID 1 (the host's, or a container's own)?"""
    try:
        ours, theirs = os.stat("/proc/self/ns/net"), os.stat("/proc/1/ns/net")
    except OSError:  # not ours to look at: an ordinary user on a host
        return True
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


def collect_kernel(netns: str | None = None, with_fdb: bool = True) -> Snapshot:
    """The kernel's part alone (links, FDB, routes, bonds, sysctls): no guest, no network,
    and no libvirt URI, so nothing judges guests until `merge_libvirt` adds them."""
    kernel, bonds, bond_problems, sysctls, nic_facts = run_in_netns(netns, lambda: _read_kernel(netns, with_fdb))
    host = HostInfo(
        hostname=socket.gethostname(),
        kernel=os.uname().release,
        taken_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        netns=netns,
        libvirt_uri=None,
        libvirt_version=None,
        kvmtui_version=__version__,
    )
    # The saved configuration describes the host's own namespace: NM, networkd, netplan and
    # ifupdown configure only that one. In a named netns (--netns, or `ip netns exec`) the
    # files under / are still the host's, and their names (eth0, br0) would be matched
    # against this namespace's devices, so nothing is read there.
    netconfig = read_netconfig("/", kernel.links) if netns is None and in_pid1_netns() else None
    # NM's own LLDP listening, where NM answered the configuration's reader (the host's namespace)
    backend_neighbours = nm_port_neighbours() if netconfig is not None and netconfig.dbus else ()
    if netconfig is not None:  # and networkd's, from its run files (the host's namespace too)
        backend_neighbours += networkd_port_neighbours({link.ifindex: link.ifname for link in kernel.links})
    # OVS is found by its socket ($OVS_RUNDIR), not by namespace: its ports may sit in any.
    ovs, ovs_problems = collect_ovs()
    # docker's bridges are in the host's namespace, its socket on the host's filesystem: asked there only.
    docker, docker_problem = read_docker_networks() if netns is None and in_pid1_netns() else ((), None)
    return Snapshot(host=host, links=kernel.links, fdb=kernel.fdb, bridge_vlans=kernel.bridge_vlans,
                    routes=kernel.routes, bonds=bonds, problems=kernel.problems + tuple(bond_problems) + ovs_problems
                    + ((docker_problem,) if docker_problem else ()),
                    sysctls=sysctls, netconfig=netconfig, ovs=ovs, docker_networks=docker, nic_facts=nic_facts,
                    neighbours=lldpd_port_neighbours(netns) + backend_neighbours, monotonic=time.monotonic())


def merge_libvirt(snapshot: Snapshot, state: LibvirtState | None, replacing: LibvirtState | None = None) -> Snapshot:
    """`snapshot` with libvirt's part taken from `state` (None: no libvirt). `replacing`:
    the state merged into it before, whose problems give way to the new ones."""
    old = set(replacing.problems) if replacing is not None else set()
    problems = tuple(p for p in snapshot.problems if p not in old) + (state.problems if state else ())
    host = replace(snapshot.host, libvirt_uri=state.uri if state else None,
                   libvirt_version=state.version if state else None)
    return replace(snapshot, host=host, domains=state.domains if state else (),
                   networks=state.networks if state else (), libvirt_error=state.error if state else None,
                   problems=problems)


def keep_known(previous: LibvirtState | None, fresh: LibvirtState) -> LibvirtState:
    """A failed read keeps the guests and networks last seen (with the error, so they
    read as stale and no rule judges them) rather than emptying the panes."""
    if fresh.error is None or previous is None:
        return fresh
    return replace(previous, error=fresh.error, problems=())


class LibvirtReader:
    """libvirt's part, bounded in time. A daemon that accepts connections but never
    answers (hung, stopped) would block a read forever and libvirt has no call
    timeout: the read runs on a daemon thread that is given up after `timeout`, and
    while it is still stuck no second one is started."""

    def __init__(self, uri: str | None, timeout: float = 15.0) -> None:
        self.uri, self.timeout = uri, timeout
        self._stuck: threading.Thread | None = None

    def read(self) -> LibvirtState:
        from kvmtui.collect.libvirt import LibvirtState, resolve_uri

        uri = resolve_uri(self.uri)
        if self._stuck is not None and self._stuck.is_alive():
            return LibvirtState(uri, None, (), (), error=f"libvirt {uri}: still no answer to an earlier read")
        result: list[LibvirtState] = []
        thread = threading.Thread(target=lambda: result.append(_read_libvirt(self.uri)), name="libvirt-read",
                                  daemon=True)
        thread.start()
        thread.join(self.timeout)
        if result:
            return result[0]
        self._stuck = thread
        return LibvirtState(uri, None, (), (), error=f"libvirt {uri}: no answer within {self.timeout:g} s")


def _read_kernel(netns: str | None, with_fdb: bool = True) -> tuple[NetlinkState, tuple[Bond, ...], tuple[str, ...],
                                                                  tuple[tuple[str, str], ...], tuple[NicFacts, ...]]:
    state = read_netlink(with_fdb=with_fdb)
    bond_names = [link.ifname for link in state.links if link.kind == "bond"]
    # sysfs shows the namespace it was mounted in, so it is a fallback only for our own.
    bonds, problems = collect_bonds(
        bond_names,
        proc_dir=Path(proc_net_dir(netns)) / "bonding",
        sysfs_net=None if netns else SYSFS_NET,
    )
    # a NIC (no kind) or one end of a cable: the devices a driver has facts about
    ports = [link.ifname for link in state.links if link.kind in (None, "veth") and "LOOPBACK" not in link.flags]
    return state, bonds, problems, read_sysctls(), facts_of_ports(ports)


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
