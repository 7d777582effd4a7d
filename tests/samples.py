"""Snapshots and findings built in memory from samples, shared by pure and pilot tests."""

from __future__ import annotations

from dataclasses import replace

from kvmtui.audit import audit
from kvmtui.collect.bonding import parse_bonding_file
from kvmtui.model import Domain, DomainInterface, FdbEntry, HostInfo, Snapshot
from tests.helpers import SHARED_FIXTURES, link

HOST = HostInfo("sample", "6.1.0", "2025-01-01T00:00:00+00:00", None, None, None, "test")  # the audit samples' host
FDB_HOST = HostInfo("h", "k", "t", None, None, None, "0")


def fdb_snapshot(entries: int) -> Snapshot:
    links = (link("br0", 1, "bridge", mac="02:00:00:00:00:01"), link("vnet0", 2, "tun", "br0"),
             link("eth1", 3, None, "br0"), link("br1", 4, "bridge"))
    guest = Domain("web1", "u1", "running", 1, True, (DomainInterface(
        "bridge", "52:54:00:00:00:01", "virtio", "vnet0", "br0", "br0", None, None, None, None, None),))
    fdb = [FdbEntry("52:54:00:00:00:01", "vnet0", 2, "br0", None, "", (), updated=3),
           FdbEntry("02:00:00:00:00:01", "br0", 1, "br0", None, "permanent", ()),
           FdbEntry("33:33:00:00:00:01", "eth1", 3, None, None, "permanent", ("self",)),
           FdbEntry("02:aa:00:00:00:01", "eth9", 9, "br1", None, "", ())]
    fdb += [FdbEntry(f"02:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:00:02", "eth1", 3, "br0", 10, "", (), updated=i % 300)
            for i in range(entries)]
    return Snapshot(host=FDB_HOST, links=links, fdb=tuple(fdb), domains=(guest,))


SAMPLES = ("8023ad-v3.7.1-slave-down-lacp-pdu-layer3+4-linuxnotes.txt",
           "active-backup-fail_over_mac-single-slave-after-ifdown-otus1804.txt")


def sample_findings():
    bonds = tuple(parse_bonding_file(f"bond{n}", (SHARED_FIXTURES / "bonding" / name).read_text())
                  for n, name in enumerate(SAMPLES))
    return audit(Snapshot(host=HOST, bonds=bonds))


LIBVIRT_HOST = replace(HOST, libvirt_uri="qemu:///system", libvirt_version="9.0.0")
