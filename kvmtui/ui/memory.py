"""After a burst of links came and went: what the dashboard does so that its memory
shrinks back with the host, measured by `make bench` (dashboard-burst-kept-mib; with
KVMTUI_BENCH_MEMDUMP it writes where the memory is, bench/memdump.py).

Measured there after 3,000 veth pairs came and went, the dashboard keeps as many live
objects as before the burst; what it keeps more is the allocators' free memory: CPython
returns a 1 MiB pymalloc arena only once every object in it is gone, and memo caches
filled while the burst was drawn, and whatever else lived on, pin them; glibc keeps its
free pages until malloc_trim.
"""

from __future__ import annotations

from collections.abc import Callable

RENDERING = ("rich.", "textual.")  # the packages whose memo caches release_memory empties
SHRINK = 500  # links fewer than the most seen, after which freed memory is handed back
QUIET = 2.0  # seconds without a further drop before that


def release_memory() -> None:
    """Rich's and Textual's memo caches (styles, colours, cell widths: thousands of entries
    made while the burst was drawn, each pinning an arena) are emptied and refill from
    what is on screen; gc.collect() frees the cycles now (Textual's widgets and nodes hold
    many), and malloc_trim(0) returns the free pages of every glibc arena (each worker
    thread's too)."""
    import ctypes
    import functools
    import gc

    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper) and obj.__module__.startswith(RENDERING):
            obj.cache_clear()
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): the allocator keeps it
        pass


class AfterBurst:
    """Follows the number of links on screen: once it has fallen SHRINK below the most seen
    and stayed so for QUIET seconds (a deletion of thousands of links lands in many
    refreshes), release_memory runs, once."""

    def __init__(self, set_timer: Callable[..., object]) -> None:
        self._set_timer = set_timer
        self.most = 0  # links, the most seen since the last release
        self._links = 0
        self._timer = None

    def shown(self, links: int) -> None:
        self._links = links
        if self.most - links >= SHRINK:
            if self._timer is not None:
                self._timer.stop()
            self._timer = self._set_timer(QUIET, self._release)
        else:
            self.most = max(self.most, links)

    def _release(self) -> None:
        self._timer, self.most = None, self._links
        release_memory()
