"""What many test files share: where things are, running commands and kvmtui itself,
reading links back from the kernel, building Link records in memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kvmtui.collect.watch import HostEvent, SourceStatus
from kvmtui.model import Link

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
OWN_FIXTURES = REPO / "tests" / "fixtures"
EXAMPLE = REPO / "examples" / "kvm-host.json"
T = TypeVar("T")
UP = ("BROADCAST", "MULTICAST", "UP", "LOWER_UP")


def sh(*cmd: str, check: bool = True) -> str:
    """Run a command, return stdout; failures raise with stderr in the message."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def wait_until(predicate: Callable[[], T], timeout: float = 60.0, interval: float = 0.2,
               what: str = "condition") -> T:
    """Poll until `predicate()` is truthy and return its value; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not hold within {timeout:g} s")
        time.sleep(interval)


def kvmtui(*args: str, netns: str | None = None, prefix: tuple[str, ...] = (), env: dict[str, str] | None = None,
           timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
    """`python -m kvmtui ARGS` of this checkout, run from / (nothing may depend on the
    working directory). `netns`: `--netns NETNS --no-libvirt` first; `prefix`: a command
    to run it under (setpriv...); `env`: variables over this process's; `check`: exit 0."""
    where = ("--netns", netns, "--no-libvirt") if netns else ()
    proc = subprocess.run([*prefix, sys.executable, "-m", "kvmtui", *where, *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}, cwd="/")
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def kvmtui_in(netns: str, *args: str, **options) -> subprocess.CompletedProcess:
    """kvmtui on namespace `netns`, without libvirt."""
    return kvmtui(*args, netns=netns, **options)


def write_changes(changes) -> None:
    """FileChanges of a persist renderer written plainly (a test's tree: no backups, no checks)."""
    for change in changes:
        path = Path(change.path)
        if change.after is None:
            path.unlink(missing_ok=True)
            continue
        existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(change.after)
        if not existed:
            path.chmod(change.mode)


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 5 s: a daemon a test started."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def guard_process_alive(journal: dict) -> bool:
    """A guard journal's guard_pid is a live guard of that journal (not a pid reused since)."""
    try:
        cmdline = Path(f"/proc/{journal['guard_pid']}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"kvmtui.guard" in cmdline and journal["id"].encode() in cmdline


def links(netns: str | None) -> dict[str, dict]:
    """`ip -d -j link show` (in `netns`, or here) by name."""
    where = ("-n", netns) if netns else ()
    return {link["ifname"]: link for link in json.loads(sh("ip", *where, "-d", "-j", "link", "show"))}


def link(name: str, index: int, kind: str | None, master: str | None = None, operstate: str = "UP",
         flags: tuple[str, ...] = UP, info=None, mac: str | None = None) -> Link:
    """A Link as the kernel would report it, with only what a test cares about set."""
    return Link(index, name, kind, mac, 1500, operstate, flags, "LOWER_UP" in flags, 0, master, None, None,
                None, None, None, info_data=info)


class Recorder:
    def __init__(self) -> None:
        self.events: list[HostEvent] = []
        self.statuses: list[SourceStatus] = []
        self.changed = threading.Event()

    def event(self, e: HostEvent) -> None:
        self.events.append(e)
        self.changed.set()

    def status(self, s: SourceStatus) -> None:
        self.statuses.append(s)
        self.changed.set()

    def wait(self, predicate, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            self.changed.wait(0.1)
            self.changed.clear()
