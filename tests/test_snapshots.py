"""SVG snapshots of the dashboard on examples/kvm-host.json, at 80x24 and 160x50.

A recorded file makes them deterministic: nothing is read from this host and the status
bar says "recorded <time>", not an age. The scenes are the README's screenshots
(scripts/screenshots.py). After an intended UI change, look at the report pytest writes
(snapshot_report.html), then accept with `pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest

from scripts.screenshots import example_app, fdb, topology, view

SCENES = {
    "tree": topology,
    "fdb": fdb,
    "bonds": view("3", "bond", "bond0"),
    "help": view("question_mark"),
}


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("scene", SCENES)
def test_dashboard(snap_compare, scene, size):
    assert snap_compare(example_app(), terminal_size=size, run_before=SCENES[scene])
