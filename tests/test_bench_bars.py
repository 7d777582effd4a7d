"""bench/dashboard.py says whether each bar holds, judging the numbers as it prints them."""

from __future__ import annotations

from bench.dashboard import bar_lines


def test_each_bar_is_judged_as_printed():
    lines = bar_lines({"dashboard-cpu-percent": 2.004, "dashboard-rss-mib": 150.4, "dashboard-event-ms": 200.6,
                       "dashboard-burst-kept-mib": 15.2})
    assert lines == ["bar dashboard-cpu-percent <= 2: holds (2.00)", "bar dashboard-rss-mib <= 150: holds (150)",
                     "bar dashboard-event-ms <= 200: MISSED (201)", "bar dashboard-burst-kept-mib <= 15: holds (15)"]
