"""`make bench`: one full snapshot of a large namespace against iproute2 reading the same.

Prints timings, then the two lines CI and people compare:
    snapshot-vs-iproute2: <ratio>    (<= 1.0 is the bar)
    snapshot-rss-mib: <MiB>          (< 150 is the bar)
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from bench.topology import build_namespace, write_libvirt_node

ROUNDS = 9
IPROUTE2 = (
    ("ip", "-d", "-j", "link", "show"),
    ("ip", "-j", "addr", "show"),
    ("bridge", "-j", "fdb", "show"),
    ("bridge", "-j", "link", "show"),
)


def time_iproute2(netns: str) -> float:
    start = time.perf_counter()
    for cmd in IPROUTE2:
        subprocess.run(["ip", "netns", "exec", netns, *cmd] if cmd[0] == "bridge" else [cmd[0], "-n", netns, *cmd[1:]],
                       check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def child(netns: str, uri: str) -> None:
    """Runs in a fresh process so its peak RSS is the snapshot's own (iproute2 runs in
    children of its own, which RUSAGE_SELF does not count). The two are timed in turns,
    so a busy machine slows both alike."""
    from kvmtui.collect.libvirt import collect_libvirt
    from kvmtui.collect.snapshot import collect_snapshot

    times, ip_times = [], []
    for _ in range(ROUNDS):
        ip_times.append(time_iproute2(netns))
        start = time.perf_counter()
        snapshot = collect_snapshot(netns=netns, with_libvirt=False)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    state = collect_libvirt(uri)
    libvirt_time = time.perf_counter() - start
    print(json.dumps({
        "times": times, "ip_times": ip_times, "libvirt": libvirt_time, "domains": len(state.domains), "libvirt_error": state.error,
        "links": len(snapshot.links), "fdb": len(snapshot.fdb),
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return 0
    netns = f"kt-bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        node = os.path.join(tmp, "node.xml")
        write_libvirt_node(node)
        try:
            start = time.perf_counter()
            built = build_namespace(netns)
            print(f"built {built} in {time.perf_counter() - start:.1f} s")
            proc = subprocess.run([sys.executable, "-m", "bench.snapshot", "--child", netns, f"test://{node}"],
                                  check=True, capture_output=True, text=True)
            result = json.loads(proc.stdout)
        finally:
            subprocess.run(["ip", "netns", "del", netns], check=False)
    ours, theirs = statistics.median(result["times"]), statistics.median(result["ip_times"])
    print(f"snapshot: {result['links']} links, {result['fdb']} fdb entries, median {ours * 1000:.0f} ms "
          f"(rounds: {', '.join(f'{t * 1000:.0f}' for t in result['times'])})")
    print(f"iproute2 (ip -d -j link, ip -j addr, bridge -j fdb, bridge -j link): median {theirs * 1000:.0f} ms "
          f"(rounds: {', '.join(f'{t * 1000:.0f}' for t in result['ip_times'])})")
    print(f"libvirt: {result['domains']} domains in {result['libvirt'] * 1000:.0f} ms"
          + (f" (error: {result['libvirt_error']})" if result["libvirt_error"] else ""))
    print(f"snapshot-vs-iproute2: {ours / theirs:.2f}")
    print(f"snapshot-rss-mib: {result['rss_mib']:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
