"""The one rule every live read follows (kvmtui/ui/single_flight.py), on a fake clock.

The clock and the timer are fakes on purpose: the rule is about time (a quiet spell, a
burst, a trailing run), and a fake timer lets a test fire exactly the runs that are due.
The live tests (test_dashboard_live, test_fdb_live) check the same rule on real netlink.
"""

from __future__ import annotations

from kvmtui.ui.single_flight import DEBOUNCE, SOON, SingleFlight


class FakeLoop:
    """A clock the test moves and the timers set on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, object]] = []

    def clock(self) -> float:
        return self.now

    def set_timer(self, delay: float, callback) -> None:
        self.timers.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        """Time passes; every timer due meanwhile fires, in order."""
        self.now += seconds
        while due := sorted((t for t in self.timers if t[0] <= self.now), key=lambda t: t[0]):
            self.timers.remove(due[0])
            due[0][1]()


def flight(loop: FakeLoop, has_work: bool = True) -> tuple[SingleFlight, list[float]]:
    starts: list[float] = []

    def start() -> bool:
        starts.append(loop.now)
        return has_work

    return SingleFlight(start, loop.set_timer, loop.clock), starts


def test_a_request_after_a_quiet_spell_runs_at_once():
    loop = FakeLoop()
    reads, starts = flight(loop)
    reads.request()
    loop.advance(SOON)
    assert starts == [100.0 + SOON] and reads.running


def test_a_burst_during_a_run_makes_exactly_one_more_run_after_it():
    loop = FakeLoop()
    reads, starts = flight(loop)
    reads.request()
    loop.advance(SOON)
    for _ in range(50):  # events while the first read is in flight
        reads.request()
        loop.advance(0.01)
    assert len(starts) == 1  # never two in flight
    reads.done()
    loop.advance(DEBOUNCE)
    assert len(starts) == 2  # one trailing run for the whole burst
    reads.done()
    loop.advance(10)
    assert len(starts) == 2 and not reads.running  # nothing asked since: nothing more


def test_requests_soon_after_a_run_collapse_into_one_trailing_run():
    loop = FakeLoop()
    reads, starts = flight(loop)
    reads.request()
    loop.advance(SOON)
    reads.done()
    for _ in range(5):  # within the quiet period after the last start: not a leading edge
        reads.request()
        loop.advance(0.01)
    assert len(starts) == 1
    loop.advance(DEBOUNCE)
    assert len(starts) == 2


def test_nothing_to_do_releases_the_flight():
    loop = FakeLoop()
    reads, starts = flight(loop, has_work=False)  # e.g. no bridge on screen: no FDB to read
    reads.request()
    loop.advance(SOON)
    assert starts and not reads.running
    reads.request()
    loop.advance(DEBOUNCE)
    assert len(starts) == 2


def test_in_flight_for_measures_the_run_only_while_it_goes():
    loop = FakeLoop()
    reads, _ = flight(loop)
    assert reads.in_flight_for() == 0.0
    reads.request()
    loop.advance(SOON)
    loop.advance(4.0)
    assert reads.in_flight_for() == 4.0  # the status line calls a read slow after 3 s
    reads.done()
    assert reads.in_flight_for() == 0.0
