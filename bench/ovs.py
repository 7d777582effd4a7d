"""`make bench`, Open vSwitch: kvmtui's OVS read of a bridge with 1,000 ports and 20,000
FDB entries against `ovs-vsctl --format=json list Bridge/Port/Interface` plus `ovs-appctl
fdb/show` of the same bridge, timed in turns on a private OVS (tests/ovs.py: userspace
datapath, dummy ports, in a kt- namespace).

Prints timings, then the line to compare:
    ovs-snapshot-vs-ovs-vsctl: <ratio>    (<= 1.0 is the bar)
"""

from __future__ import annotations

import statistics
import subprocess
import time

from tests.ovs import PrivateOvs, private_ovs

ROUNDS = 9
PORTS = 1000
MACS = 20_000
BATCH = 50  # frames per netdev-dummy/receive: its receive queue drops what is past ~100
SINK = "02:00:00:00:00:01"  # learned first on one port: frames to it are not flooded to 1,000 ports


def build(ovs: PrivateOvs) -> None:
    ovs.add_bridge("br0")
    ovs.vsctl("set", "bridge", "br0", f"other_config:mac-table-size={MACS * 2}")  # the default holds 2,048
    ports: list[str] = []
    for n in range(PORTS):
        ports += ["--", "add-port", "br0", f"p{n}"]
    ovs.vsctl(*ports)
    ovs.receive(f"p{PORTS - 1}", SINK)
    for start in range(0, MACS, BATCH):
        flows = [f"eth(src=52:54:{n >> 24 & 255:02x}:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x},dst={SINK}),"
                 "eth_type(0x0800),ipv4(src=10.9.0.1,dst=10.9.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)"
                 for n in range(start, min(start + BATCH, MACS))]
        ovs.appctl("netdev-dummy/receive", f"p{(start // BATCH) % (PORTS - 1)}", *flows)


def time_tools(ovs: PrivateOvs) -> float:
    env = {**ovs.env, "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    start = time.perf_counter()
    for table in ("Bridge", "Port", "Interface"):
        subprocess.run(["ovs-vsctl", "--timeout=10", "--format=json", "list", table], check=True,
                       stdout=subprocess.DEVNULL, env=env)
    subprocess.run(["ovs-appctl", "--timeout=10", "fdb/show", "br0"], check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def main() -> int:
    from kvmtui.collect.ovs import collect_ovs

    with private_ovs() as ovs:
        start = time.perf_counter()
        build(ovs)
        print(f"built a bridge with {PORTS} ports in {time.perf_counter() - start:.1f} s")
        times, tool_times = [], []
        for _ in range(ROUNDS):
            tool_times.append(time_tools(ovs))
            start = time.perf_counter()
            state, problems = collect_ovs(ovs.environ())
            times.append(time.perf_counter() - start)
    bridge = state.bridge("br0")
    ours, theirs = statistics.median(times), statistics.median(tool_times)
    print(f"ovs snapshot: {len(bridge.ports)} ports, {len(bridge.fdb)} fdb entries, median {ours * 1000:.0f} ms "
          f"(rounds: {', '.join(f'{t * 1000:.0f}' for t in times)})" + (f", problems: {problems}" if problems else ""))
    print(f"ovs-vsctl list Bridge/Port/Interface + ovs-appctl fdb/show: median {theirs * 1000:.0f} ms "
          f"(rounds: {', '.join(f'{t * 1000:.0f}' for t in tool_times)})")
    print(f"ovs-snapshot-vs-ovs-vsctl: {ours / theirs:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
