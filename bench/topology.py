"""Builds the large benchmark topology: a namespace that looks like a busy KVM host,
and a libvirt test-driver file with 300 guests."""

from __future__ import annotations

import os
import subprocess
import tempfile

BRIDGES = 20
TAPS_PER_BRIDGE = 20  # 400 taps
VETH_PAIRS = 300  # 600 veth ends; one end of each on a bridge
MACVTAPS = 100  # on free veth ends
FDB_ENTRIES = 50_000
DOMAINS = 300


def _batch(netns: str, lines: list[str], tool: str = "ip") -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
    try:
        subprocess.run([tool, "-n", netns, "-batch", handle.name], check=True)
    finally:
        os.unlink(handle.name)


def build_namespace(netns: str) -> dict[str, int]:
    subprocess.run(["ip", "netns", "add", netns], check=True)
    lines = []
    for b in range(BRIDGES):
        lines += [f"link add br{b} type bridge", f"link set br{b} up"]
    for t in range(BRIDGES * TAPS_PER_BRIDGE):
        lines += [f"tuntap add tap{t} mode tap", f"link set tap{t} master br{t % BRIDGES}"]
    for v in range(VETH_PAIRS):
        lines += [f"link add ve{v} type veth peer name vp{v}", f"link set ve{v} master br{v % BRIDGES}"]
    for m in range(MACVTAPS):
        lines.append(f"link add mvt{m} link vp{m} type macvtap mode bridge")
    _batch(netns, lines)
    fdb = [
        f"fdb add 02:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:00:01 dev tap{i % (BRIDGES * TAPS_PER_BRIDGE)} master static"
        for i in range(FDB_ENTRIES)
    ]
    _batch(netns, fdb, tool="bridge")
    return {"taps": BRIDGES * TAPS_PER_BRIDGE, "veth": 2 * VETH_PAIRS, "macvtap": MACVTAPS,
            "bridges": BRIDGES, "static_fdb": FDB_ENTRIES}


def write_libvirt_node(path: str) -> None:
    """A test:/// driver file: 300 running guests, two NICs each, and one network."""
    domains = []
    for d in range(DOMAINS):
        nics = "".join(
            f"<interface type='bridge'><mac address='52:54:00:{d >> 8:02x}:{d & 255:02x}:{n:02x}'/>"
            f"<source bridge='br{d % BRIDGES}'/><target dev='tap{(d * 2 + n) % 400}'/><model type='virtio'/></interface>"
            for n in range(2)
        )
        domains.append(
            f"<domain type='test'><name>guest{d:03d}</name><memory>131072</memory>"
            f"<os><type>hvm</type></os><devices>{nics}</devices></domain>"
        )
    network = ("<network><name>default</name><bridge name='virbr0'/><forward mode='nat'/>"
               "<ip address='192.168.122.1' netmask='255.255.255.0'/></network>")
    with open(path, "w") as handle:
        handle.write(f"<node>{''.join(domains)}{network}</node>")
