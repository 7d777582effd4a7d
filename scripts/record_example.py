"""Record examples/kvm-host.json, the snapshot behind `kvmtui --from examples/kvm-host.json`.

No machine here holds a whole KVM host: libvirt guests run only on this host, whose kernel
lacks bonding, 802.1Q, dummy and bridge VLAN filtering, and the throwaway kernel VM
(tests/kernelvm) has those but no libvirtd. So the example is a composite of two real
`kvmtui dump --json` recordings, each taken unedited from a real system:

1. Host (libvirt part): the real libvirtd runs three diskless guests on kt- plumbing:
   web1 (type='bridge' NIC on a kt- bridge), db1 (a type='direct' macvtap NIC in mode
   bridge on a kt- veth, plus a type='network' NIC on lan100, a bridge-mode network over
   that bridge) and build1 (defined, shut off). A NAT network `default` is defined but
   never started. Everything is destroyed and undefined in a `finally`.
2. Kernel VM (kernel part): `ip` builds a host-like network: dummy NICs eno1+eno2 ->
   bond0 (active-backup, miimon 100) -> bond0.100 -> br100 (STP, VLAN filtering); eno3 ->
   br-mgmt with 192.0.2.10/24 and a default route; free NICs eno4 (198.51.100.10/24),
   eno5 and eno6, in nothing (for the README's examples); and the guests' host devices, with the
   names, MACs and lower devices the host recording gave them (taps on br100, a macvtap on
   bond0). Once STP has settled, a frame with each tap guest's MAC as source is written
   into its tap, so br100 learns that MAC on the tap for real. Then
   `kvmtui --no-libvirt dump --json`.
3. Merge: links, fdb, bridge_vlans, routes, bonds, sysctls and host (hostname kvm-host,
   kernel, time) from the VM (everything but the libvirt part, so fields added to the
   schema later follow); domains, networks, libvirt URI and version from the host, keeping
   only the guests and networks defined here (others may be running on this libvirtd).
   The host recording's kt- names are renamed, and nothing else is changed: RENAME is the
   whole list (on the host everything must be named kt-..., and libvirt will not take
   vnet*/macvtap* target names; the VM builds the devices under the example names). `problems` is emptied; the tree is rebuilt from the merged
   snapshot; the result must be coherent (every running guest's device in the links).

Run as root from the checkout: .venv/bin/python scripts/record_example.py [--out FILE]
It takes about a minute (two TCG guests, one VM boot, STP settling). tests/test_example.py checks the file.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OUT = REPO / "examples" / "kvm-host.json"
HOSTNAME = "kvm-host"

# Host (kt-) name -> example name. Applied to the libvirt part only, to exact values.
RENAME = {
    "kt-exweb1": "web1",      # guests
    "kt-exdb1": "db1",
    "kt-exbuild1": "build1",
    "kt-exlan100": "lan100",  # networks
    "kt-exdefault": "default",
    "kt-exbr100": "br100",    # the bridge web1 and lan100 land on
    "kt-exlow": "bond0",      # db1's macvtap lower device
    "kt-exvirbr0": "virbr0",  # default's bridge (never created: the network stays inactive)
    "kt-exw1": "vnet0",       # guest host devices (libvirt refuses to be given vnet*/macvtap* names)
    "kt-exd1n": "vnet1",
    "kt-exd1m": "macvtap0",
}

# NICs in nothing, so every wizard and the README's examples have something to work on:
# eno4 carries an address of its own (a bridge over it moves it: --move-ip-from), eno5 and
# eno6 carry nothing (a new bond's slaves, a macvtap's lower device).
FREE_NICS = ("eno4", "eno5", "eno6")
STORAGE_ADDRESS = "198.51.100.10/24"
# The NICs' MACs, fixed (a dummy's is random) so a re-recording changes only what changed:
# eno1's is bond0's (and so br100's), as tests and screenshots show it.
NIC_MACS = {"eno1": "26:5d:84:4b:3d:c1", "eno2": "16:69:06:0a:ca:4f", "eno3": "06:75:ef:63:c3:33",
            "eno4": "3a:0e:51:7c:d4:04", "eno5": "3a:0e:51:7c:d4:05", "eno6": "3a:0e:51:7c:d4:06"}

WEB1_MAC, DB1_MAC, DB1_NET_MAC, BUILD1_MAC = (f"52:54:00:6b:{n:02x}:01" for n in (1, 2, 3, 4))


def nic(kind: str, mac: str, source: str, target: str | None = None) -> str:
    target_xml = f"<target dev='{target}'/>" if target else ""
    return f"<interface type='{kind}'><mac address='{mac}'/>{source}{target_xml}<model type='virtio'/></interface>"


# --- 1. the host: real guests under the real libvirtd --------------------------------------

LAN100_XML = """<network><name>kt-exlan100</name><forward mode='bridge'/><bridge name='kt-exbr100'/></network>"""
DEFAULT_XML = """<network><name>kt-exdefault</name><forward mode='nat'/>
  <mac address='52:54:00:2f:b7:46'/><bridge name='kt-exvirbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp>
  </ip></network>"""


def record_host() -> dict:
    """Guests up, one `kvmtui dump --json`, everything removed again."""
    import libvirt

    from tests.guests import SYSTEM_URI, diskless_guest, kt_bridge, kt_veth

    conn = libvirt.open(SYSTEM_URI)
    networks = []
    try:
        with kt_bridge("kt-exbr100") as bridge, kt_veth("kt-exlow") as (lower, _peer):
            lan100 = conn.networkDefineXML(LAN100_XML)
            networks.append(lan100)
            lan100.create()
            networks.append(conn.networkDefineXML(DEFAULT_XML))  # defined, never started
            web1 = [nic("bridge", WEB1_MAC, f"<source bridge='{bridge}'/>", "kt-exw1")]
            db1 = [nic("direct", DB1_MAC, f"<source dev='{lower}' mode='bridge'/>", "kt-exd1m"),
                   nic("network", DB1_NET_MAC, "<source network='kt-exlan100'/>", "kt-exd1n")]
            build1 = [nic("network", BUILD1_MAC, "<source network='kt-exlan100'/>")]
            with diskless_guest("kt-exweb1", web1), diskless_guest("kt-exdb1", db1), \
                    diskless_guest("kt-exbuild1", build1, start=False):
                dump = subprocess.run([sys.executable, "-m", "kvmtui", "dump", "--json"], cwd=REPO,
                                      capture_output=True, text=True, timeout=120, check=True)
    finally:
        for network in networks:
            try:
                if network.isActive():
                    network.destroy()
                network.undefine()
            except libvirt.libvirtError:
                pass
        conn.close()
    return json.loads(dump.stdout)


def renamed(value):
    """The libvirt part with RENAME applied to exact string values, and to exact attribute
    values inside the XML libvirt printed (an <interface> element); nothing else touched."""
    if isinstance(value, dict):
        return {k: renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [renamed(v) for v in value]
    if isinstance(value, str) and value.startswith("<"):
        return re.sub(r"""(=(["']))([^"']*)\2""", lambda m: m[1] + RENAME.get(m[3], m[3]) + m[2], value)
    return RENAME.get(value, value) if isinstance(value, str) else value


def _strings(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def guest_devices(host: dict) -> dict:
    """What the VM must create so the guests' devices exist there as on the host."""
    links = {link["ifname"]: link for link in host["links"]}
    taps, macvtaps = [], []
    for domain in host["domains"]:
        if not domain["name"].startswith("kt-ex") or domain["id"] is None:
            continue
        for iface in domain["interfaces"]:
            link = links[iface["target"]]  # KeyError: libvirt reported a device that is not there
            if link["kind"] == "tun":
                taps.append({"name": RENAME[link["ifname"]], "mac": link["mac"], "guest_mac": iface["mac"],
                             "bridge": RENAME[link["master"]], "vnet_hdr": link["info_data"]["vnet_hdr"]})
            elif link["kind"] == "macvtap":
                macvtaps.append({"name": RENAME[link["ifname"]], "mac": link["mac"],
                                 "lower": RENAME[link["link"]], "mode": link["info_data"]["mode"]})
            else:
                raise RuntimeError(f"unexpected {link['kind']} device {link['ifname']} for {domain['name']}")
    return {"taps": taps, "macvtaps": macvtaps}


# --- 2. the kernel VM: the host-like network, built with ip --------------------------------

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


def open_tap(name: str, vnet_hdr: bool) -> int:
    """Attach to (create) tap `name` as QEMU would: the fd held open is what gives it carrier."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    flags = IFF_TAP | IFF_NO_PI | (IFF_VNET_HDR if vnet_hdr else 0)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
    return fd


def arp_probe(guest_mac: str) -> bytes:
    """What a booting guest sends first: a broadcast ARP request from its own MAC."""
    mac = bytes.fromhex(guest_mac.replace(":", ""))
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, bytes(4), bytes(6), socket.inet_aton("192.0.2.50"))
    frame = b"\xff" * 6 + mac + b"\x08\x06" + arp
    return frame.ljust(60, b"\0")


def wait_settled(bridge: str, timeout: float = 90.0) -> None:
    """Wait until STP has walked every port to forwarding and the topology change that
    caused is over (max_age + forward_delay): meanwhile the kernel ages FDB entries after
    forward_delay, so a learned entry would read `stale` within seconds."""
    sysfs = Path("/sys/class/net") / bridge / "bridge"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ports = json.loads(subprocess.run(["bridge", "-j", "link", "show"], capture_output=True,
                                          text=True, check=True).stdout)
        states = [p.get("state") for p in ports if p.get("master") == bridge]
        changing = any((sysfs / name).read_text().strip() != "0"
                       for name in ("topology_change", "topology_change_detected"))
        if states and all(state == "forwarding" for state in states) and not changing:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{bridge} did not settle: port states {states}, topology change {changing}")


def build_and_record_in_vm(spec_path: str, out_path: str) -> None:
    """Runs inside the kernel VM (its own throwaway root namespace): build, learn, dump."""
    if os.environ.get("KVMTUI_IN_KERNELVM") != "1":
        raise SystemExit("--in-kernelvm builds interfaces in the root namespace: only inside the kernel VM")
    spec = json.loads(Path(spec_path).read_text())
    socket.sethostname(HOSTNAME)
    # Without these options loading the modules would add a stray bond0 / dummy0.
    subprocess.run(["modprobe", "bonding", "max_bonds=0"], check=True)
    subprocess.run(["modprobe", "dummy", "numdummies=0"], check=True)
    subprocess.run(["modprobe", "tun"], check=True)  # nothing here loads it for /dev/net/tun
    for nic_name, mac in NIC_MACS.items():
        ip("link", "add", nic_name, "address", mac, "type", "dummy")
    ip("link", "add", "bond0", "type", "bond", "mode", "active-backup", "miimon", "100")
    for slave in ("eno1", "eno2"):
        ip("link", "set", slave, "master", "bond0")
    ip("link", "set", "bond0", "type", "bond", "primary", "eno1")
    ip("link", "add", "link", "bond0", "name", "bond0.100", "type", "vlan", "id", "100")
    ip("link", "add", "br100", "type", "bridge", "stp_state", "1", "forward_delay", "400", "vlan_filtering", "1")
    ip("link", "set", "bond0.100", "master", "br100")
    ip("link", "add", "br-mgmt", "type", "bridge")
    ip("link", "set", "eno3", "master", "br-mgmt")
    for name in ("eno1", "eno2", "eno3", *FREE_NICS, "bond0", "bond0.100", "br100", "br-mgmt"):
        ip("link", "set", name, "up")
    ip("addr", "add", "192.0.2.10/24", "dev", "br-mgmt")
    ip("addr", "add", STORAGE_ADDRESS, "dev", FREE_NICS[0])
    ip("route", "add", "default", "via", "192.0.2.1", "dev", "br-mgmt")
    for mv in spec["macvtaps"]:
        ip("link", "add", "link", mv["lower"], "name", mv["name"], "address", mv["mac"],
           "type", "macvtap", "mode", mv["mode"])
        ip("link", "set", mv["name"], "up")
    fds = []
    for tap in spec["taps"]:
        fds.append((open_tap(tap["name"], tap["vnet_hdr"]), tap))
        ip("link", "set", tap["name"], "address", tap["mac"], "master", tap["bridge"], "up")
    for bridge in {tap["bridge"] for tap in spec["taps"]}:
        wait_settled(bridge)
    for fd, tap in fds:
        os.write(fd, bytes(10 if tap["vnet_hdr"] else 0) + arp_probe(tap["guest_mac"]))  # virtio_net_hdr first
    time.sleep(1)
    with open(out_path, "w") as out:
        subprocess.run([sys.executable, "-m", "kvmtui", "--no-libvirt", "dump", "--json"], cwd=REPO,
                       stdout=out, check=True)  # while the taps' fds are open: carrier up


def record_kernel(spec: dict, workdir: Path) -> dict:
    from tests.kernelvm import vm

    spec_path, out_path = workdir / "spec.json", workdir / "kernel.json"
    spec_path.write_text(json.dumps(spec))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--in-kernelvm", str(spec_path), str(out_path)]
    result = vm.run(cmd, cwd=REPO, rw_dirs=[workdir], out=sys.stderr.buffer)
    if result.status != 0:
        raise RuntimeError(f"the kernel VM step failed with status {result.status}")
    return json.loads(out_path.read_text())


# --- 3. the composite ----------------------------------------------------------------------


def merge(kernel: dict, host: dict) -> dict:
    """Kernel part from the VM, libvirt part from the host; the tree rebuilt from both."""
    from kvmtui.serialize import snapshot_document, snapshot_from_document, to_jsonable
    from kvmtui.topology import build_forest

    doc = dict(kernel)
    doc["host"] = dict(kernel["host"], libvirt_uri=host["host"]["libvirt_uri"],
                       libvirt_version=host["host"]["libvirt_version"])
    doc["domains"] = renamed([d for d in host["domains"] if d["name"].startswith("kt-ex")])
    doc["networks"] = renamed([n for n in host["networks"] if n["name"].startswith("kt-ex")])
    doc["libvirt_error"] = None
    doc["problems"] = []
    leftover = {v for v in _strings([doc["domains"], doc["networks"]]) if v.startswith("kt-")}
    if leftover:
        raise RuntimeError(f"host names not in RENAME: {sorted(set(leftover))}")
    links = {link["ifname"] for link in doc["links"]}
    for domain in doc["domains"]:
        for iface in domain["interfaces"]:
            for device in (iface["target"], iface["bridge"], iface["dev"]):
                if device is not None and device not in links:
                    raise RuntimeError(f"{domain['name']}: {device} is not in the kernel recording")
    snapshot = snapshot_from_document(doc, "composite")
    return snapshot_document(snapshot, to_jsonable(build_forest(snapshot)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--in-kernelvm", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.in_kernelvm:
        build_and_record_in_vm(*args.in_kernelvm)
        return 0
    if os.geteuid() != 0:
        raise SystemExit("record_example.py needs root (libvirt guests, the kernel VM)")
    with tempfile.TemporaryDirectory(prefix="kt-example-") as tmp:
        print("record_example: host recording (libvirt guests)", file=sys.stderr)
        host = record_host()
        print("record_example: kernel VM recording", file=sys.stderr)
        kernel = record_kernel(guest_devices(host), Path(tmp))
    document = merge(kernel, host)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    shown = subprocess.run([sys.executable, "-m", "kvmtui", "--from", str(args.out), "dump"], cwd=REPO,
                           capture_output=True, text=True, check=True)
    print(shown.stdout, end="")
    print(f"record_example: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
