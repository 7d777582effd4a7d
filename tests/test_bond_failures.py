"""Bonds pane: a slave's link failure count, and how much it grew since kvmtui first saw
that slave in that bond (slaves enslaved later included; one that left and came back,
or a re-created bond, counts afresh)."""

from __future__ import annotations

from dataclasses import replace

from kvmtui.cli import read_snapshot_file
from kvmtui.model import Snapshot
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.messages import PartRead, PollDone, PollResult
from kvmtui.views import bond_rows, failure_baseline
from scripts.screenshots import EXAMPLE, loaded
from tests.dashboard import wait_for
from tests.dashboard import screen_text


def with_slaves(snapshot: Snapshot, **counts: int | None) -> Snapshot:
    """bond0 of the example with these slaves (name=count; None drops a slave). A slave
    the example lacks is a copy of eno2 under the new name."""
    bond = snapshot.bonds[0]
    known = {s.name: s for s in bond.slaves}
    template = known["eno2"]
    slaves = dict(known)
    for name, count in counts.items():
        if count is None:
            slaves.pop(name, None)
        else:
            slaves[name] = replace(known.get(name, replace(template, name=name, perm_hwaddr=None)),
                                   link_failure_count=count)
    return replace(snapshot, bonds=(replace(bond, slaves=tuple(slaves.values())),))


def grown(snapshot: Snapshot, baseline) -> dict[str, tuple[int, str]]:
    return {row.slave: (row.failures_grew, row.alarm) for row in bond_rows(snapshot, baseline)}


def test_a_slave_enslaved_later_counts_from_when_it_appeared():
    example = read_snapshot_file(str(EXAMPLE))
    baseline = failure_baseline({}, with_slaves(example, eno1=1, eno2=0))
    assert baseline == {("bond0", "eno1"): 1, ("bond0", "eno2"): 0}
    later = with_slaves(example, eno1=1, eno2=0, eno3=5)  # it flapped before it was enslaved
    baseline = failure_baseline(baseline, later)
    assert baseline[("bond0", "eno3")] == 5 and grown(later, baseline)["eno3"] == (0, "")
    flapped = with_slaves(example, eno1=3, eno2=0, eno3=7)
    baseline = failure_baseline(baseline, flapped)
    assert grown(flapped, baseline) == {"eno1": (2, "+2 failures"), "eno2": (0, ""), "eno3": (2, "+2 failures")}


def test_a_slave_that_left_and_came_back_or_a_recreated_bond_counts_afresh():
    example = read_snapshot_file(str(EXAMPLE))
    baseline = failure_baseline({}, with_slaves(example, eno1=1, eno2=0))
    baseline = failure_baseline(baseline, with_slaves(example, eno1=1, eno2=None))  # eno2 released
    assert ("bond0", "eno2") not in baseline
    back = with_slaves(example, eno1=1, eno2=4)
    baseline = failure_baseline(baseline, back)
    assert grown(back, baseline)["eno2"] == (0, "")
    recreated = with_slaves(example, eno1=0, eno2=4)  # bond0 deleted and made again: the kernel counts from 0
    baseline = failure_baseline(baseline, recreated)
    assert baseline[("bond0", "eno1")] == 0
    again = with_slaves(example, eno1=1, eno2=4)
    assert grown(again, failure_baseline(baseline, again))["eno1"] == (1, "+1 failures")


def bonds_shown(app: KvmtuiApp) -> dict[str, str]:
    """Slave -> its line in the zoomed Bonds pane, as the screen shows it."""
    lines = [line for line in screen_text(app).splitlines() if " bond0 " in line]
    return {line.split()[1]: line for line in lines}


async def test_growth_of_a_slave_enslaved_while_kvmtui_runs_is_on_screen():
    """As the live app gets them: a re-read of the host (eno3 enslaved, 5 failures from
    before), then the bonding files' poll (eno3 at 7)."""
    example = read_snapshot_file(str(EXAMPLE))
    app = KvmtuiApp(DashboardOptions(interval=3600), recorded=with_slaves(example, eno1=0, eno2=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("3", "z")  # the Bonds pane, zoomed to the full width
        await wait_for(pilot, lambda: {"eno1", "eno2"} <= bonds_shown(app).keys(), what="the bond's slaves")
        app.post_message(PartRead("netlink", with_slaves(example, eno1=0, eno2=0, eno3=5)))
        await wait_for(pilot, lambda: "eno3" in bonds_shown(app), what="eno3 in the Bonds pane")
        assert "failures" not in bonds_shown(app)["eno3"] and " 5 " in bonds_shown(app)["eno3"]
        bonds = with_slaves(app.snapshot, eno1=0, eno2=0, eno3=7).bonds
        app.post_message(PollDone(PollResult(1.0, {}, bonds)))
        await wait_for(pilot, lambda: "7 (+2)" in bonds_shown(app).get("eno3", ""), what="eno3's growth")
        assert "! +2 failures" in bonds_shown(app)["eno3"]
        assert "failures" not in bonds_shown(app)["eno1"] + bonds_shown(app)["eno2"]
