"""bench/dashboard.py and bench/guard.py say whether each bar holds, judging the numbers as they print them."""

from __future__ import annotations

from bench import guard
from bench.dashboard import bar_lines


def test_each_bar_is_judged_as_printed():
    lines = bar_lines({"dashboard-cpu-percent": 2.004, "dashboard-rss-mib": 150.4, "dashboard-event-ms": 200.6,
                       "dashboard-burst-kept-mib": 15.2})
    assert lines == ["bar dashboard-cpu-percent <= 2: holds (2.00)", "bar dashboard-rss-mib <= 150: holds (150)",
                     "bar dashboard-event-ms <= 200: MISSED (201)", "bar dashboard-burst-kept-mib <= 15: holds (15)"]


def test_the_guard_bar_is_under_two_seconds_as_printed():
    assert guard.bar_lines({"guard-revert-ms": 93.4, "guard-revert-max-ms": 1999.6}) == [
        "bar guard-revert-ms < 2000: holds (93)", "bar guard-revert-max-ms < 2000: MISSED (2000)"]
