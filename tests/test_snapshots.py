"""SVG snapshots of the dashboard on examples/kvm-host.json, at 80x24 and 160x50.

A recorded file makes them deterministic: nothing is read from this host and the status
bar says "recorded <time>", not an age. The scenes are the README's screenshots
(scripts/screenshots.py). After an intended UI change, look at the report pytest writes
(snapshot_report.html), then accept with `pytest tests/test_snapshots.py --snapshot-update`.

snap_compare runs the app in this process's environment, and Textual reads NO_COLOR
(even empty) when an App is created: the colour baselines are taken without it, and one
monochrome baseline is taken with it on purpose.
"""

from __future__ import annotations

import asyncio

import pytest

from scripts.screenshots import confirm, example_app, fdb, fdb_zoomed, loaded, select, topology, view

SCENES = {
    "tree": topology,
    "fdb": fdb,
    "bonds": view("3", "bond", "bond0"),
    "help": view("question_mark"),
    "confirm": confirm,
}


@pytest.fixture(autouse=True)
def colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("scene", SCENES)
def test_dashboard(snap_compare, scene, size):
    assert snap_compare(example_app(), terminal_size=size, run_before=SCENES[scene])


def test_fdb_zoomed_at_80x24(snap_compare):
    """`z`: beside the tree the FDB stops at STATE; zoomed, the owners show."""
    assert snap_compare(example_app(), terminal_size=(80, 24), run_before=fdb_zoomed)


def test_dashboard_no_color(snap_compare, monkeypatch):
    """NO_COLOR: every state still reads by its symbol."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(example_app(), terminal_size=(80, 24), run_before=topology)


def test_fdb_pane_no_color_wide(monkeypatch):
    """NO_COLOR's monochrome filter once crashed on the FDB pane's unstyled padding."""
    monkeypatch.setenv("NO_COLOR", "1")

    async def show() -> None:
        app = example_app()
        async with app.run_test(size=(160, 50)) as pilot:
            await loaded(pilot)
            await select(pilot, "tun", "vnet0")
            await pilot.press("2")
            await pilot.pause()
            assert "OWNER" in app.export_screenshot()

    asyncio.run(asyncio.wait_for(show(), 30))
