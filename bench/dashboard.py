"""`make bench`, part one: the live dashboard on the large namespace of bench/topology.py.

The dashboard runs as a child process with Textual's real terminal driver, in a
160x50 pane of a private tmux server, so its CPU includes building and writing every
screen update, as it would for a person. (A headless `run_test()` renders nothing to
a terminal and would flatter it.) The child is the real KvmtuiApp plus one probe: after
each snapshot it logs when the forest had reached the tree widget, when the screen had
been refreshed after that, and which probe taps the forest holds. The tree stays
unfiltered, so the latency includes rebuilding the whole 1,100-node tree; an unattached
tap sorts to the top of it, so that refresh is the one that shows the tap.

Prints, after some detail:
    dashboard-cpu-percent: <% of one core over 60 s, default 2 s interval>  (bar <= 2)
    dashboard-rss-mib: <peak RSS of the dashboard process, VmHWM>              (bar <= 150)
    dashboard-event-ms: <median, `ip tuntap add` -> tap on screen>            (bar <= 200)
    dashboard-burst-kept-mib: <RSS after 3,000 veth pairs came and went, minus before> (bar <= 15)
and then whether each bar holds, one line each:
    bar dashboard-cpu-percent <= 2: holds (1.30)    (or MISSED)
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

from bench import memdump
from bench.topology import build_namespace

REPO = Path(__file__).resolve().parents[1]
SIZE = (160, 50)
PROBE = "kt-lat"  # new taps are named kt-lat<n>
SETTLE = 10.0  # seconds after the first snapshot on screen before measuring CPU
CPU_WINDOW = 60.0
EVENTS = 5
TIMEOUT = 60.0
BURST = 3000  # veth pairs created at once, then deleted (issue 9: the dashboard kept ~200 MiB of them)
BURST_PREFIX = "kt-bu"
# name, bar, decimals printed (a number is judged as printed: "150" MiB holds a 150 bar)
BARS = (("dashboard-cpu-percent", 2.0, 2), ("dashboard-rss-mib", 150.0, 0), ("dashboard-event-ms", 200.0, 0),
        ("dashboard-burst-kept-mib", 15.0, 0))


def child(netns: str, log_path: str) -> None:
    """The dashboard, with the probe. Runs in the tmux pane."""
    from kvmtui.topology import walk
    from kvmtui.ui.app import DashboardOptions, KvmtuiApp

    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the app

    def record(**fields) -> None:
        log.write(json.dumps(fields) + "\n")

    class ProbedApp(KvmtuiApp):
        def show_snapshot(self, snapshot) -> None:
            super().show_snapshot(snapshot)  # forest built and handed to the tree widget
            in_tree = time.monotonic()
            names = sorted(node.name for _, node in walk(self.forest) if node.name.startswith(PROBE))
            links = len(snapshot.links)
            self.call_after_refresh(lambda: record(tree=in_tree, screen=time.monotonic(), names=names, links=links))

    memdump.install()
    record(pid=os.getpid())
    ProbedApp(DashboardOptions(netns=netns, with_libvirt=False)).run()  # default interval: 2 s
    record(exit=time.monotonic())


class Log:
    """Reads the child's JSON lines as they come."""

    def __init__(self, path: Path):
        self.path, self.records = path, []

    def poll(self) -> list[dict]:
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        self.records = [json.loads(line) for line in lines if line.endswith("}")]
        return self.records

    def wait(self, predicate, what: str, tmux, timeout: float = TIMEOUT, start: int = 0) -> dict:
        """The first record from the `start`th on that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.poll()[start:]:
                if predicate(record):
                    return record
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not within {timeout:g} s; the pane shows:\n{tmux.screen()}")
            time.sleep(0.005)


def measure(netns: str, tmp: Path) -> dict:
    from tests.sshd import Tmux

    log = Log(tmp / "probe.jsonl")
    tmux = Tmux()
    try:
        dump = [f"{memdump.ENV}={os.environ[memdump.ENV]}"] if os.environ.get(memdump.ENV) else []
        command = shlex.join(["env", "TERM=xterm-256color", "COLORTERM=truecolor", *dump, sys.executable,
                              "-m", "bench.dashboard", "--child", netns, str(log.path)])
        started = time.monotonic()
        tmux.start(f"cd {shlex.quote(str(REPO))} && exec {command}", *SIZE)
        pid = log.wait(lambda r: "pid" in r, "the dashboard process", tmux)["pid"]
        proc = psutil.Process(pid)
        first = log.wait(lambda r: "screen" in r, "the first snapshot on screen", tmux)
        startup = first["screen"] - started
        time.sleep(SETTLE)
        hwm_startup = _vm_hwm(pid)

        cpu0, wall0 = proc.cpu_times(), time.monotonic()
        rss = []
        while time.monotonic() - wall0 < CPU_WINDOW:
            rss.append(proc.memory_info().rss)
            time.sleep(1.0)
        cpu1, wall1 = proc.cpu_times(), time.monotonic()
        user, system = cpu1.user - cpu0.user, cpu1.system - cpu0.system
        busy = user + system
        cpu_percent = 100 * busy / (wall1 - wall0)
        snapshots_in_window = sum(1 for r in log.poll() if "screen" in r and wall0 <= r["tree"] <= wall1)

        events = []
        for n in range(EVENTS):
            name = f"{PROBE}{n}"
            time.sleep(1.0)  # between events: nothing in flight
            start = time.monotonic()
            subprocess.run(["ip", "-n", netns, "tuntap", "add", name, "mode", "tap"], check=True)
            shown = log.wait(lambda r, name=name: name in r.get("names", ()), f"{name} on screen", tmux)
            events.append({"tree_ms": (shown["tree"] - start) * 1000, "screen_ms": (shown["screen"] - start) * 1000})
        tmux.wait_screen(lambda text: f"{PROBE}{EVENTS - 1} " in text, "the last probe tap", timeout=10)
        status = proc.memory_full_info()
        hwm = _vm_hwm(pid)
        burst = measure_burst(netns, proc, log, tmux)
        tmux.keys("q")
        log.wait(lambda r: "exit" in r, "the dashboard quitting on q", tmux)
        _wait_pane_dead(tmux)
        return {"startup_s": startup, "cpu_percent": cpu_percent, "cpu_user_s": user, "cpu_system_s": system,
                "snapshots_in_window": snapshots_in_window, "rss_mib_window_max": max(rss) / 2**20,
                "rss_mib_end": status.rss / 2**20, "uss_mib_end": status.uss / 2**20, "rss_mib_peak": hwm / 2**20,
                "rss_mib_peak_startup": hwm_startup / 2**20,
                "events": events, **burst}
    finally:
        tmux.kill()


def measure_burst(netns: str, proc, log: Log, tmux) -> dict:
    """RSS before BURST veth pairs appear, at their peak, and once they are gone again and
    the dashboard has shown that (links back to where they were) and settled."""
    def ip_batch(lines: list[str]) -> None:
        subprocess.run(["ip", "-n", netns, "-batch", "-"], input="\n".join(lines) + "\n", text=True, check=True)

    links = log.poll()[-1]["links"]
    before = proc.memory_info().rss
    memdump.request(proc.pid)
    ip_batch([f"link add {BURST_PREFIX}a{n} type veth peer name {BURST_PREFIX}b{n}" for n in range(BURST)])
    log.wait(lambda r: r.get("links", 0) >= links + 2 * BURST, "the burst on screen", tmux, timeout=300)
    time.sleep(SETTLE)
    peak = proc.memory_info().rss
    memdump.request(proc.pid)
    ip_batch([f"link del {BURST_PREFIX}a{n}" for n in range(BURST)])
    shown = len(log.poll())
    log.wait(lambda r: r.get("links") == links, "the burst gone", tmux, timeout=300, start=shown)
    time.sleep(SETTLE)
    after = proc.memory_info().rss
    memdump.request(proc.pid)
    return {"burst_rss_mib_before": before / 2**20, "burst_rss_mib_peak": peak / 2**20,
            "burst_rss_mib_after": after / 2**20}


def _wait_pane_dead(tmux, timeout: float = TIMEOUT) -> None:
    """The pane's process has ended (tmux saw its pty close). Not psutil's wait(): when a
    pane closes, Debian's tmux (built with libutempter) forks a helper and waits for it,
    and a pane process exiting just then was seen to stay a zombie, unreaped, until the
    tmux server got another SIGCHLD."""
    deadline = time.monotonic() + timeout
    while tmux.pane("#{pane_dead}") != "1":
        if time.monotonic() > deadline:
            raise RuntimeError(f"the dashboard did not end; the pane shows:\n{tmux.screen()}")
        time.sleep(0.05)


def _vm_hwm(pid: int) -> int:
    """Peak resident set of the process so far (bytes), as the kernel counts it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return 0
    netns = f"kt-dash-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="kt-dash-") as tmp:
        try:
            start = time.perf_counter()
            built = build_namespace(netns)
            print(f"built {built} in {time.perf_counter() - start:.1f} s")
            result = measure(netns, Path(tmp))
        finally:
            subprocess.run(["ip", "netns", "del", netns], check=False)
    events = result["events"]
    screen = statistics.median(e["screen_ms"] for e in events)
    print(f"dashboard: first snapshot on screen {result['startup_s']:.1f} s after launch; "
          f"{result['snapshots_in_window']} snapshots during the {CPU_WINDOW:.0f} s CPU window "
          f"({result['cpu_user_s']:.2f} s user + {result['cpu_system_s']:.2f} s system)")
    print(f"dashboard memory: RSS {result['rss_mib_end']:.0f} MiB at the end (max {result['rss_mib_window_max']:.0f} "
          f"in the window, USS {result['uss_mib_end']:.0f}), peak {result['rss_mib_peak_startup']:.0f} after startup, "
          f"{result['rss_mib_peak']:.0f} after the events")
    print("new tap -> in the tree widget / on screen (ms): "
          + ", ".join(f"{e['tree_ms']:.0f}/{e['screen_ms']:.0f}" for e in events)
          + f"; median in tree {statistics.median(e['tree_ms'] for e in events):.0f}")
    print(f"dashboard-cpu-percent: {result['cpu_percent']:.2f}")
    print(f"dashboard-rss-mib: {result['rss_mib_peak']:.0f}")
    kept = result["burst_rss_mib_after"] - result["burst_rss_mib_before"]
    print(f"burst of {BURST} veth pairs: RSS {result['burst_rss_mib_before']:.0f} MiB before, "
          f"{result['burst_rss_mib_peak']:.0f} with them, {result['burst_rss_mib_after']:.0f} after they are gone")
    print(f"dashboard-event-ms: {screen:.0f}")
    print(f"dashboard-burst-kept-mib: {kept:.0f}")
    for line in bar_lines({"dashboard-cpu-percent": result["cpu_percent"],
                           "dashboard-rss-mib": result["rss_mib_peak"], "dashboard-event-ms": screen,
                           "dashboard-burst-kept-mib": kept}):
        print(line)
    return 0


def bar_lines(measured: dict[str, float]) -> list[str]:
    """Whether each measured number is within its bar: a verdict nobody has to work out."""
    lines = []
    for name, bar, decimals in BARS:
        value = round(measured[name], decimals)
        lines.append(f"bar {name} <= {bar:g}: {'holds' if value <= bar else 'MISSED'} ({value:.{decimals}f})")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
