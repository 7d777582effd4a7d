"""A guarded change to a real guest (real libvirtd, qemu:///system) that nobody keeps
undoes itself, in the running guest and in its definition; one that is kept stays.

The NIC is a virtio one, attached --live --config. Its live detach is only a request
that the guest's OS completes (an ACPI eject): the diskless iPXE guest of tests/guests.py
never completes it, not even with <acpi/> (the NIC stays in `virsh domiflist`), and the
usb-net NIC that test_apply_guest.py hotplugs without the guest's help cannot go into a
definition (libvirt 9.0: "Cannot automatically add a new PCI bus for a device with
connect flags 00"). So the guest here boots the kernel VM's stock Debian kernel
(tests/kernelvm, cached) with a busybox initramfs that only idles: the kernel's built-in
ACPI PCI hotplug driver (acpiphp) ejects the NIC. Under TCG it boots in about 3 s; it
runs for this module only.
"""

from __future__ import annotations

import gzip
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import escape

import libvirt
import pytest

from kvmtui.guard import journal
from kvmtui.guard.control import wait_until_ended
from kvmtui.guard.journal import KEPT, PENDING, REVERTED
from kvmtui.guard.revert import fully_restored
from tests.guests import SYSTEM_URI, domiflist, kt_veth, link_exists, unique_name, wait_until
from tests.helpers import kvmtui, sh

pytestmark = pytest.mark.libvirt

BUSYBOX = Path("/bin/busybox")  # busybox-static, as the kernel VM's initramfs
READY = "kt-guest-ready"
# /init: no root filesystem, nothing to run; PID 1 must not end (the kernel would panic)
INIT = f"""#!/bin/busybox sh
/bin/busybox mount -t devtmpfs dev /dev
echo {READY} >/dev/ttyS0
while :; do /bin/busybox sleep 3600; done
"""
SECONDS = 10  # the shortest countdown the CLI takes
AFTER_DEADLINE = 60.0  # the revert: libvirt waits up to 5 s for the eject, the re-read up to DETACH_GRACE


def _cpio(files: dict[str, tuple[int, bytes]]) -> bytes:
    """A newc cpio archive of {path: (mode, content)}."""
    out = bytearray()
    for ino, (name, (mode, data)) in enumerate([*files.items(), ("TRAILER!!!", (0, b""))], 1):
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        for part in (b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0", data):
            out += part + b"\0" * (-(len(out) + len(part)) % 4)
    return bytes(out)


def _domain_xml(name: str, kernel: Path, initrd: Path, console: Path) -> str:
    return f"""<domain type='qemu'>
  <name>{escape(name)}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(str(kernel))}</kernel>
    <initrd>{escape(str(initrd))}</initrd>
    <cmdline>console=ttyS0 panic=-1 mitigations=off quiet</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'><source path='{escape(str(console))}'/></serial>
  </devices>
</domain>"""


@contextmanager
def linux_guest() -> Iterator[str]:
    """A running kt- guest whose Linux handles ACPI hotplug; destroyed and undefined afterwards."""
    from tests.kernelvm import vm

    image = vm.prepare()[0]  # downloads and unpacks the pinned kernel once, as the kernelvm tests do
    name = unique_name("gg")
    work = Path(tempfile.mkdtemp(prefix="kt-guard-guest-"))
    conn = libvirt.open(SYSTEM_URI)
    dom = None
    try:
        work.chmod(0o755)  # QEMU runs as libvirt-qemu: it reads the kernel, writes the console
        kernel, initrd, console = work / "vmlinux", work / "initrd.gz", work / "console.log"
        shutil.copyfile(image, kernel)
        initrd.write_bytes(gzip.compress(_cpio({
            "bin": (0o040755, b""), "dev": (0o040755, b""),
            "bin/busybox": (0o100755, BUSYBOX.read_bytes()), "init": (0o100755, INIT.encode())})))
        dom = conn.defineXML(_domain_xml(name, kernel, initrd, console))
        dom.create()
        wait_until(lambda: console.exists() and READY in console.read_text(errors="replace"), timeout=180,
                   interval=0.2, what=f"{name} booting to its /init")
        yield name
    finally:
        if dom is not None:
            try:
                dom.destroy()
            except libvirt.libvirtError:
                pass
            dom.undefine()
        conn.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def guest():
    with kt_veth() as (lower, _), linux_guest() as name:
        yield {"name": name, "lower": lower}


def in_definition(name: str, mac: str) -> bool:
    return f"<mac address='{mac}'/>" in sh("virsh", "dumpxml", "--inactive", name)


def guarded_attach(guest: dict, mac: str) -> tuple[str, str]:
    """`kvmtui apply attach ... --confirm 10 --yes`: (the guard's id, the NIC's macvtap)."""
    name, lower = guest["name"], guest["lower"]
    proc = kvmtui("apply", "attach", name, "--macvtap", lower, "--mode", "bridge", "--mac", mac,
                  "--live", "--config", "--yes", "--confirm", str(SECONDS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"^guard: ([0-9a-f]{8})$", proc.stdout, re.M)
    assert found, proc.stdout
    row = domiflist(name)[mac]
    assert (row["type"], row["source"], row["model"]) == ("direct", lower, "virtio")
    assert link_exists(row["target"]) and in_definition(name, mac)
    return found.group(1), row["target"]


def test_an_unconfirmed_guarded_attach_is_detached_live_and_from_the_definition(guest):
    name, mac = guest["name"], "52:54:00:4b:78:01"
    guard_id, macvtap = guarded_attach(guest, mac)
    record = journal.read(guard_id)
    assert record.state == PENDING and record.domains == (name,)
    ended = wait_until_ended(guard_id, (record.seconds_left() or 0.0) + AFTER_DEADLINE)
    assert ended.state == REVERTED, ended
    assert ended.reason == f"not kept within {SECONDS} s"
    assert ended.restored_at is not None and ended.restored_at >= ended.deadline
    assert fully_restored(ended) and "re-read the host: as it was before the change" in ended.outcome, ended.outcome
    assert not any(line.startswith("waiting for the guest") for line in ended.outcome), ended.outcome
    assert mac not in domiflist(name)  # the guest's OS released it: gone live
    assert not link_exists(macvtap)  # and libvirt deleted its macvtap
    assert not in_definition(name, mac)  # and from the persistent definition
    wait_until(lambda: not journal.alive(guard_id), timeout=10, what="the guard to end")


def test_a_confirmed_guarded_attach_stays_after_the_deadline(guest):
    name, mac = guest["name"], "52:54:00:4b:78:02"
    guard_id, macvtap = guarded_attach(guest, mac)
    try:
        proc = kvmtui("confirm", guard_id)
        assert proc.returncode == 0 and "kept" in proc.stdout, proc.stdout + proc.stderr
        record = journal.read(guard_id)
        assert record.state == KEPT
        time.sleep(max(0.0, record.deadline - journal.boottime()) + 2.0)  # past the deadline the guard had
        assert journal.read(guard_id).state == KEPT
        wait_until(lambda: not journal.alive(guard_id), timeout=10, what="the guard to stand down")
        assert domiflist(name)[mac]["target"] == macvtap and link_exists(macvtap) and in_definition(name, mac)
    finally:  # the guard, if it did revert after all, has left nothing to detach
        if mac in domiflist(name) or in_definition(name, mac):
            kvmtui("apply", "--yes", "detach", name, mac, "--live", "--config")
    assert mac not in domiflist(name) and not in_definition(name, mac)
