"""Where the dashboard's memory is, measured inside the bench's child process.

`KVMTUI_BENCH_MEMDUMP=DIR make bench` (or `python -m bench.dashboard`): the child runs
under tracemalloc, and each SIGUSR1 from the bench (before the burst, at its peak, after
it is gone) writes DIR/<n>-<label>.txt: /proc/self/smaps_rollup, glibc's mallinfo2 and
per-arena malloc_info, sys._debugmallocstats (pymalloc arenas), live objects by type
(and the change since the last dump), and tracemalloc's top allocations by traceback,
absolute and compared with the last dump. Not for a user: it slows the dashboard down.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import linecache
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ENV = "KVMTUI_BENCH_MEMDUMP"
LABELS = ("before", "peak", "after")
FRAMES = int(os.environ.get("KVMTUI_BENCH_MEMDUMP_FRAMES", "12"))  # 0: no tracemalloc (it bloats glibc's heap)
TOP = 40


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _glibc() -> str:
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    mib = {name: getattr(info, name) / 2**20 for name, _ in _Mallinfo2._fields_ if name not in ("ordblks", "smblks")}
    text = "mallinfo2 (MiB): " + ", ".join(f"{k}={v:.1f}" for k, v in mib.items()) + "\n"
    with tempfile.TemporaryFile("w+") as handle:
        libc.fdopen.restype = ctypes.c_void_p
        stream = libc.fdopen(os.dup(handle.fileno()), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        handle.seek(0)
        keep = ("<heap", "<system type=\"current", "<total type=\"rest")
        return text + "".join(line for line in handle if line.lstrip().startswith(keep))


def _pymalloc() -> str:
    """sys._debugmallocstats writes to the C stderr: borrow fd 2 for it."""
    sys.stderr.flush()
    with tempfile.TemporaryFile("w+") as handle:
        saved = os.dup(2)
        os.dup2(handle.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        handle.seek(0)
        lines = handle.read().splitlines()
    # the summary at the end (arenas allocated/reclaimed/highwater, bytes in blocks) is what counts
    return "\n".join(line for line in lines if not line.startswith(("  ", "class", "---"))) + "\n"


RELEASES: list[float] = []


def _caches() -> list[str]:
    """The memo caches of rich and Textual (functools' and Textual's own) with most entries."""
    import functools

    from textual.cache import FIFOCache, LRUCache

    sizes = collections.Counter()
    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper):
            sizes[f"lru {obj.__module__}.{obj.__qualname__}"] += obj.cache_info().currsize
        elif isinstance(obj, (LRUCache, FIFOCache)):
            sizes[f"{type(obj).__name__} instances"] += len(obj)
    return ["caches by entries:\n", *(f"{n:9d} {name}\n" for name, n in sizes.most_common(25))]


def _count_releases() -> None:
    import kvmtui.ui.memory as memory

    release = memory.release_memory

    def counted() -> None:
        RELEASES.append(round(time.monotonic(), 1))
        release()

    memory.release_memory = counted


class Dumper:
    def __init__(self, directory: str):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.snapshot = None
        self.types: collections.Counter = collections.Counter()
        if FRAMES:
            tracemalloc.start(FRAMES)
        signal.signal(signal.SIGUSR1, lambda *_: self.dump())
        _count_releases()

    def dump(self) -> None:
        label = LABELS[self.count] if self.count < len(LABELS) else f"extra{self.count}"
        self.count += 1
        gc.collect()
        out = [f"# {label}\n", Path("/proc/self/smaps_rollup").read_text(), _glibc(), _pymalloc()]
        types = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
        out.append(f"gc objects: {sum(types.values())}\n")
        out += [f"{n:9d} {n - self.types[name]:+9d} {name}\n" for name, n in types.most_common(TOP)]
        grown = sorted(types, key=lambda name: types[name] - self.types[name], reverse=True)[:TOP]
        out.append("grown most since the last dump:\n")
        out += [f"{types[name] - self.types[name]:+9d} {name}\n" for name in grown]
        self.types = types
        out += _caches()
        out.append(f"release_memory calls: {RELEASES}\n")
        if FRAMES:
            out += self._traced()
        (self.directory / f"{self.count}-{label}.txt").write_text("".join(out))

    def _traced(self) -> list[str]:
        out = []
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)])
        out.append(f"tracemalloc traced: {tracemalloc.get_traced_memory()[0] / 2**20:.1f} MiB\n")
        out += self._top("by file:line", snapshot.statistics("lineno")[:TOP])
        out += self._top("by traceback", snapshot.statistics("traceback")[:15], tracebacks=True)
        if self.snapshot is not None:
            out += self._top("grown since the last dump, by file:line", snapshot.compare_to(self.snapshot, "lineno")[:TOP])
            out += self._top("grown since the last dump, by traceback",
                             snapshot.compare_to(self.snapshot, "traceback")[:12], tracebacks=True)
        self.snapshot = snapshot
        linecache.clearcache()  # formatting the tracebacks filled it: not the dashboard's memory
        return out

    @staticmethod
    def _top(title: str, stats, tracebacks: bool = False) -> list[str]:
        lines = [f"\n## {title}\n"]
        for stat in stats:
            lines.append(f"{stat}\n")
            if tracebacks:
                lines += [f"      {line}\n" for line in stat.traceback.format()]
        return lines


def install() -> None:
    """From the child, before the app starts: dumps on SIGUSR1 when the switch is set."""
    if os.environ.get(ENV):
        Dumper(os.environ[ENV])


def request(pid: int, timeout: float = 300.0) -> None:
    """From the bench: one dump, when the switch is set, and back once it is written."""
    if not os.environ.get(ENV):
        return
    directory = Path(os.environ[ENV])
    done = len(list(directory.glob("*.txt")))
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while len(list(directory.glob("*.txt"))) == done and time.monotonic() < deadline:
        time.sleep(0.2)
