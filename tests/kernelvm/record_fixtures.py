"""Record what a stock Debian kernel really shows for bonds, VLANs and a VLAN-filtering bridge.

    python -m tests.kernelvm.record_fixtures

On the host it reruns itself in the kernel VM and, if that worked, replaces
tests/fixtures/kernelvm/ with the result. In the VM it builds the topology below in the
VM's own (throwaway) root namespace, with fixed MAC addresses so reruns differ little, and
saves /proc/net/bonding/*, the bonding sysfs directories, ip/bridge JSON and raw netlink
dumps. commands.txt lists the commands that built what the files show.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.kernelvm import vm

OUT = vm.REPO / "tests" / "fixtures" / "kernelvm"

# bond: (mode, slaves, options)
BONDS = {
    "bond0": ("active-backup", ("kt-d0", "kt-d1"), "miimon 100"),
    "bond1": ("802.3ad", ("kt-d2", "kt-d3"), "miimon 100 lacp_rate fast xmit_hash_policy layer3+4"),
    "bond2": ("balance-rr", ("kt-d4",), "miimon 100"),
    "bond3": ("balance-xor", ("kt-d5",), "miimon 100"),
    "bond4": ("broadcast", ("kt-d6",), "miimon 100"),
    "bond5": ("balance-tlb", ("kt-d7",), "miimon 100"),
    "bond6": ("balance-alb", ("kt-d8",), "miimon 100"),
}
BRIDGE = "kt-br100"


def build(log: list[str]) -> None:
    def run(cmd: str) -> None:
        log.append(cmd)
        subprocess.run(cmd.split(), check=True)

    # No automatic bond0/dummy0: every device here is one we made.
    run("modprobe bonding max_bonds=0")
    run("modprobe dummy numdummies=0")
    for n in range(10):
        run(f"ip link add kt-d{n} address 02:00:00:00:00:d{n} type dummy")
    for bond, (mode, slaves, opts) in BONDS.items():
        run(f"ip link add {bond} type bond mode {mode} {opts}")
        for slave in slaves:
            run(f"ip link set {slave} master {bond}")
        run(f"ip link set {bond} up")
    run("ip link set bond0 type bond primary kt-d0")
    run("ip link add link bond0 name bond0.100 type vlan id 100")
    run("ip link add link bond1 name bond1.300 type vlan proto 802.1ad id 300")
    run(f"ip link add {BRIDGE} address 02:00:00:00:01:00 type bridge vlan_filtering 1")
    for port in ("bond0.100", "kt-d9"):
        run(f"ip link set {port} master {BRIDGE}")
        run(f"ip link set {port} up")
    run("bridge vlan add dev bond0.100 vid 200")
    run("bridge vlan add dev kt-d9 vid 200 pvid untagged")
    run(f"bridge vlan add dev {BRIDGE} vid 200 self")
    run("bridge fdb add 52:54:00:12:34:56 dev bond0.100 master static vlan 200")
    run("ip link set bond1.300 up")
    run(f"ip link set {BRIDGE} up")
    run(f"ip addr add 192.0.2.1/24 dev {BRIDGE}")
    run(f"ip addr add 2001:db8:100::1/64 dev {BRIDGE} nodad")
    time.sleep(2)  # miimon picks the active slaves, 802.3ad settles its aggregators


def netlink_dump(msg_type: int, header: bytes, ext_mask: int | None = None) -> bytes:
    """A raw rtnetlink dump, every datagram as received, NLMSG_DONE included."""
    attrs = struct.pack("HHI", 8, 29, ext_mask) if ext_mask is not None else b""  # IFLA_EXT_MASK
    body = header + attrs
    request = struct.pack("IHHII", 16 + len(body), msg_type, 0x301, 1, 0) + body  # REQUEST|DUMP
    data = b""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.send(request)
        while True:
            chunk = sock.recv(1 << 20)
            data += chunk
            _, kind = struct.unpack_from("IH", chunk)
            if kind in (2, 3):  # NLMSG_ERROR, NLMSG_DONE: the dump is over
                return data


def save(dest: Path, log: list[str]) -> None:
    def out(name: str, content: bytes | str) -> None:
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    def cmd(*args: str) -> bytes:
        return subprocess.run(args, check=True, capture_output=True).stdout

    for bond, (mode, slaves, _) in BONDS.items():
        out(f"proc-bonding-{mode}.txt", Path("/proc/net/bonding", bond).read_bytes())
        for dev, sub in [(bond, "bonding"), *((s, "bonding_slave") for s in slaves)]:
            for f in sorted(Path("/sys/class/net", dev, sub).iterdir()):
                try:
                    out(f"sysfs/{dev}/{sub}/{f.name}", f.read_bytes())
                except OSError:
                    pass  # write-only or refusing in this mode
    out("ip-d-j-link.json", cmd("ip", "-d", "-j", "link", "show"))
    out("ip-j-addr.json", cmd("ip", "-j", "addr", "show"))
    out("bridge-j-vlan.json", cmd("bridge", "-j", "vlan", "show"))
    out("bridge-j-fdb.json", cmd("bridge", "-j", "fdb", "show"))
    out("kernel-release.txt", os.uname().release + "\n")
    ifinfomsg = struct.pack("BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0)
    out("netlink/rtm_getlink.bin", netlink_dump(18, ifinfomsg, ext_mask=1))  # RTEXT_FILTER_VF
    bridge_ifinfomsg = struct.pack("BxHiII", socket.AF_BRIDGE, 0, 0, 0, 0)
    out("netlink/rtm_getlink-af_bridge-brvlan.bin", netlink_dump(18, bridge_ifinfomsg, ext_mask=2))
    ifaddrmsg = struct.pack("BBBBi", socket.AF_UNSPEC, 0, 0, 0, 0)
    out("netlink/rtm_getaddr.bin", netlink_dump(22, ifaddrmsg))
    bridge_ndmsg = struct.pack("BxxxiHBB", socket.AF_BRIDGE, 0, 0, 0, 0)
    out("netlink/rtm_getneigh-af_bridge.bin", netlink_dump(30, bridge_ndmsg))
    out("commands.txt", "".join(f"{line}\n" for line in log))


def main(argv: list[str]) -> int:
    dest = Path(argv[0]) if argv else OUT
    if os.environ.get("KVMTUI_IN_KERNELVM") == "1":
        log: list[str] = []
        build(log)
        save(dest, log)
        return 0
    with tempfile.TemporaryDirectory(prefix="kernelvm-fixtures-") as tmp:
        cmd = [sys.executable, "-m", "tests.kernelvm.record_fixtures", tmp]
        status = vm.run(cmd, cwd=vm.REPO, rw_dirs=[tmp]).status
        if status == 0:
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(tmp, dest)
            dest.chmod(0o755)  # not the temp dir's 0700
            print(f"recorded {sum(1 for p in dest.rglob('*') if p.is_file())} files in {dest}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
