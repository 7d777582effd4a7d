"""One read of a source at a time, however many events ask for it (pure: no Textual).

Every live read of the dashboard (the kernel's part, libvirt's part, the FDB of the
bridge on screen) follows the same rule: a request after a quiet spell starts at once;
requests during a burst collapse into one trailing run; never two runs in flight (an
older read could land after a newer one); a request during a run makes exactly one more
run after it. The timer and the clock are injected: the app passes `set_timer` and
`time.monotonic`, the unit tests a fake clock and a list of pending timers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

DEBOUNCE = 0.2  # seconds: requests closer than this (to the last start) become one run
SOON = 0.001  # the timer's "at once": the run starts from the event loop, not inside the request

Schedule = Callable[[float, Callable[[], None]], object]


class SingleFlight:
    """`start` begins a run and returns whether one began (False: nothing to do, e.g. no
    bridge on screen); the owner calls `done` when the run's result (or failure) is handled."""

    def __init__(self, start: Callable[[], bool | None], schedule: Schedule,
                 clock: Callable[[], float] = time.monotonic, quiet: float = DEBOUNCE) -> None:
        self._start, self._schedule, self._clock, self.quiet = start, schedule, clock, quiet
        self.scheduled = False  # a run is due on the timer
        self.running = False
        self.pending = False  # a request came during the run: one more after it
        self.started_at = float("-inf")  # monotonic time of the last start
        self.runs = 0

    def request(self, delay: float = DEBOUNCE) -> None:
        """Leading edge after a quiet spell; otherwise one run after `delay`."""
        if self.running:
            self.pending = True
        elif not self.scheduled:
            quiet = self._clock() - self.started_at >= self.quiet
            self.scheduled = True
            self._schedule(SOON if quiet else max(delay, SOON), self._fire)

    def _fire(self) -> None:
        self.scheduled = False
        self.running, self.pending = True, False
        self.started_at = self._clock()
        self.runs += 1
        if self._start() is False:
            self.running = False

    def done(self) -> None:
        """The run's result or failure was handled: a request made during it runs now."""
        self.running = False
        if self.pending:
            self.request()

    def in_flight_for(self) -> float:
        """Seconds the current run has been going (0 when none is)."""
        return self._clock() - self.started_at if self.running else 0.0
