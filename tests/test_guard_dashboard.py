"""Confirm-or-revert guards in the dashboard, by keys at 80x24 on real namespaces with real
guard processes: a guard started by the CLI (another session) shows in the bar under the
status line, counting down, whether it was there before the dashboard or came after; y
keeps it, u reverts it now, a dead guard's journal is offered the same way; --readonly
shows it and refuses the keys; a recorded host shows none. The dashboard's own apply of a
plan at risk is guarded too: the confirmation announces the countdown, then "Keep these
changes?" asks, n reverts now, the deadline reverts by itself, and quitting decides nothing.
What is asserted is the screen, the journal and the kernel.

The guards here count the real minimum (10 s) or more: nothing shortens a deadline.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time

import pytest

from kvmtui.guard import control, journal
from kvmtui.guard.journal import KEPT, PENDING, REVERTED
from kvmtui.serialize import read_snapshot_file
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.forms import ConfirmScreen, ProgressScreen, WizardScreen
from kvmtui.ui.keep_screen import KeepScreen
from tests.dashboard import SIZE, guard_bar, notifications, screen_text, select_in_tree, tree_keys, wait_for
from tests.helpers import EXAMPLE, kvmtui_in, links, sh
from tests.topologies import ns_json

ADDRESS = "10.9.0.2"
TITLE = "delete bridge kt-br0"


@pytest.fixture
def ns(netns):
    """kt-br0 holding 10.9.0.2/24, with port kt-p1 (a veth); afterwards, no guard of it is
    left counting (one that outlived its test would revert into a deleted namespace)."""
    sh("ip", "-n", netns, "link", "add", "kt-br0", "type", "bridge")
    sh("ip", "-n", netns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    sh("ip", "-n", netns, "link", "set", "kt-p1", "master", "kt-br0")
    sh("ip", "-n", netns, "addr", "add", f"{ADDRESS}/24", "dev", "kt-br0")
    for dev in ("kt-br0", "kt-p1", "kt-q1"):
        sh("ip", "-n", netns, "link", "set", dev, "up")
    yield netns
    for record in control.open_guards():
        if record.netns == netns:
            try:
                control.keep(record.id, who="the test's cleanup")
            except control.GuardError:
                pass


def cli_guard(ns: str, seconds: int) -> str:
    """The CLI deletes kt-br0 (its address onto kt-p1) under a guard of `seconds`; its id."""
    done = kvmtui_in(ns, "apply", "delete", "kt-br0", "--move-ip-to", "kt-p1", "--yes", "--confirm", str(seconds),
                     check=True)
    return re.search(r"^guard: ([0-9a-f]{8})$", done.stdout, re.M).group(1)


def addresses(ns: str, dev: str) -> list[str]:
    (link,) = ns_json(ns, "ip", "-j", "addr", "show", "dev", dev)
    return [a["local"] for a in link["addr_info"] if a["family"] == "inet"]


def assert_deleted(ns: str) -> None:
    assert "kt-br0" not in links(ns) and addresses(ns, "kt-p1") == [ADDRESS]


def assert_as_before(ns: str) -> None:
    now = links(ns)
    assert "kt-br0" in now and now["kt-p1"].get("master") == "kt-br0"
    assert addresses(ns, "kt-br0") == [ADDRESS] and addresses(ns, "kt-p1") == []


def app_on(ns: str, **options) -> KvmtuiApp:
    return KvmtuiApp(DashboardOptions(netns=ns, with_libvirt=False, **{"interval": 1.0, **options}))


def state(guard_id: str) -> str | None:
    record = journal.read(guard_id)
    return record.state if record else None


def seconds_in(text: str) -> int:
    return int(re.search(r"(\d+) s", text).group(1))


async def test_started_while_a_guard_is_pending_the_dashboard_shows_its_countdown_and_y_keeps_it(ns):
    guard_id = cli_guard(ns, 10)
    app = app_on(ns)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: guard_id in guard_bar(app), timeout=5, what="the guard bar")
        shown = guard_bar(app)
        assert shown.startswith(f"GUARD {TITLE}: reverts in ") and "unless kept · y keep · u revert now" in shown
        await wait_for(pilot, lambda: f"guard {guard_id}" in screen_text(app), timeout=3,
                       what="the whole bar in view at 80x24")
        first = seconds_in(shown)
        await wait_for(pilot, lambda: seconds_in(guard_bar(app)) < first, timeout=3, what="the countdown")
        await pilot.press("y")
        await wait_for(pilot, lambda: state(guard_id) == KEPT, timeout=5, what="the guard kept")
        await wait_for(pilot, lambda: guard_bar(app) == "", timeout=5, what="the bar gone")
        assert any(f"guard {guard_id} ({TITLE}): kept" in text for text in notifications(app))
    record = journal.read(guard_id)
    assert record.reason == "kept by y in the kvmtui dashboard"
    while journal.boottime() < record.deadline + 1:  # past the deadline: nothing reverts it
        time.sleep(0.2)
    assert state(guard_id) == KEPT and not journal.alive(guard_id)
    assert_deleted(ns)


async def test_a_guard_made_while_the_dashboard_runs_shows_and_u_reverts_it(ns):
    app = app_on(ns)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.guards.reads > 0, what="the first reads")
        assert guard_bar(app) == ""
        guard_id = await asyncio.to_thread(cli_guard, ns, 30)  # "another SSH session"
        await wait_for(pilot, lambda: guard_id in guard_bar(app), timeout=3, what="the guard bar")
        assert_deleted(ns)
        await pilot.press("n", "escape")  # n is still "new" here: the menu opens, and closes
        await wait_for(pilot, lambda: len(app.screen_stack) == 1, what="back on the main screen")
        await pilot.press("u")
        await wait_for(pilot, lambda: state(guard_id) == REVERTED, timeout=10, what="the revert")
        await wait_for(pilot, lambda: guard_bar(app) == "", timeout=5, what="the bar gone")
        told = "\n".join(notifications(app))
        assert f"guard {guard_id} ({TITLE}): reverted: asked to revert now" in told
        assert "re-read the host: as it was before the change" in told
    assert_as_before(ns)


async def test_a_guard_that_died_is_offered_the_same_way_and_u_reverts_here(ns):
    guard_id = cli_guard(ns, 30)
    os.kill(journal.read(guard_id).guard_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while journal.alive(guard_id):
        assert time.monotonic() < deadline, "the guard did not die"
        time.sleep(0.05)
    app = app_on(ns)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: guard_id in guard_bar(app), timeout=5, what="the guard bar")
        assert "its guard died: u reverts the change, y keeps it as it is" in guard_bar(app)
        await pilot.press("u")
        await wait_for(pilot, lambda: state(guard_id) == REVERTED, timeout=10, what="the revert here")
    record = journal.read(guard_id)
    assert "its guard had died" in record.reason, record
    assert "kt-br0" in links(ns), record
    assert_as_before(ns)


async def test_readonly_shows_the_guard_and_refuses_y_and_u_and_a_recording_shows_none(ns):
    guard_id = cli_guard(ns, 30)
    app = app_on(ns, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: guard_id in guard_bar(app), timeout=5, what="the guard bar")
        for key, verb in (("y", "keep"), ("u", "revert")):
            await pilot.press(key)
            await wait_for(pilot, lambda: any(f"read-only: this kvmtui cannot {verb} guard {guard_id}" in text
                                                for text in notifications(app)), timeout=3, what=f"{key} refused")
        await pilot.pause(0.5)
        assert state(guard_id) == PENDING and "y keep · u revert now" in guard_bar(app)
    assert_deleted(ns)
    recorded = KvmtuiApp(DashboardOptions(netns=ns, with_libvirt=False, interval=1.0),
                         recorded=read_snapshot_file(str(EXAMPLE)))
    async with recorded.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: recorded.snapshot is not None, what="the recording")
        await pilot.pause(1.5)
        assert guard_bar(recorded) == "" and recorded.guards.reads == 0
        await pilot.press("y")
        assert state(guard_id) == PENDING


async def delete_from_the_dashboard(pilot, app, seconds: int = 10) -> KeepScreen:
    """`d` on kt-br0, its address to kt-p1 (the wizard's default), the confirmation that
    announces the countdown, y: the question, once the change is verified."""
    await wait_for(pilot, lambda: "link:kt-br0" in tree_keys(app), what="the bridge in the tree")
    await select_in_tree(pilot, app, "link:kt-br0")
    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.focused is not None,
                   what="the delete wizard")
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
    await wait_for(pilot, lambda: f"After the change, a countdown of {seconds} s: keep the change with y"
                   in screen_text(app), timeout=3, what="the countdown announced")
    await pilot.press("y")
    await wait_for(pilot, lambda: isinstance(app.screen, KeepScreen), timeout=10, what="the question")
    return app.screen


async def test_the_dashboards_own_guarded_apply_asks_to_keep_it_and_n_reverts(ns):
    app = app_on(ns, interval=60, confirm=10)
    async with app.run_test(size=SIZE) as pilot:
        question = await delete_from_the_dashboard(pilot, app)
        await wait_for(pilot, lambda: re.search(r"Keep these changes\? \d+ s: y keep, n revert now", screen_text(app)),
                       timeout=3, what="the countdown on screen")
        assert "applied 5 step(s) and verified the result" in screen_text(app)
        assert_deleted(ns)
        guard_id = question.record.id
        assert state(guard_id) == PENDING
        await pilot.press("n")
        await wait_for(pilot, lambda: question.ended and "Enter or Esc closes" in screen_text(app), timeout=10,
                       what="the revert's outcome")
        shown = screen_text(app)
        assert "Reverted: the change was undone." in shown and "reverted: asked to revert now" in shown
        assert "re-read the host: as it was before the change" in shown and "Enter or Esc closes" in shown
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, KeepScreen), what="the question closed")
        assert state(guard_id) == REVERTED
    assert_as_before(ns)


async def test_unkept_the_guard_reverts_at_the_deadline_and_the_question_says_so(ns):
    app = app_on(ns, interval=60, confirm=10)
    async with app.run_test(size=SIZE) as pilot:
        question = await delete_from_the_dashboard(pilot, app)
        await pilot.press("escape")  # hidden: the bar still counts
        await wait_for(pilot, lambda: not isinstance(app.screen, KeepScreen), what="the question hidden")
        await wait_for(pilot, lambda: question.record.id in guard_bar(app), timeout=3, what="the bar")
        await wait_for(pilot, lambda: guard_bar(app) == "", timeout=15, what="the guard's revert")
        told = "\n".join(notifications(app))
        assert f"({TITLE}): reverted: not kept within 10 s" in told
    assert_as_before(ns)


async def test_the_question_stays_until_the_guard_decides_and_says_what_it_did(ns):
    app = app_on(ns, interval=60, confirm=10)
    async with app.run_test(size=SIZE) as pilot:
        question = await delete_from_the_dashboard(pilot, app)
        await wait_for(pilot, lambda: question.ended and "Enter or Esc closes" in screen_text(app), timeout=15,
                       what="the deadline's revert")
        shown = screen_text(app)
        assert "Reverted: the change was undone." in shown and "reverted: not kept within 10 s" in shown
        await pilot.press("y")  # too late: nothing to keep, the screen stays
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, KeepScreen), what="the question closed")
    assert state(question.record.id) == REVERTED
    assert_as_before(ns)


async def test_quitting_during_the_countdown_keeps_nothing_and_reverts_nothing(ns):
    app = app_on(ns, interval=60, confirm=30)
    async with app.run_test(size=SIZE) as pilot:
        guard_id = (await delete_from_the_dashboard(pilot, app, 30)).record.id
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, timeout=5, what="kvmtui quit")
    assert state(guard_id) == PENDING and journal.alive(guard_id)  # the guard decides
    assert_deleted(ns)
    assert control.revert_now(guard_id).state == REVERTED
    assert_as_before(ns)


async def test_an_apply_on_what_a_guard_holds_is_refused_where_the_user_looks(ns):
    guard_id = cli_guard(ns, 30)
    app = app_on(ns, interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "link:kt-p1" in tree_keys(app), what="kt-p1 in the tree")
        await pilot.press("n", "b")
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.focused is not None,
                       what="the bridge wizard")
        await pilot.press("ctrl+u", *"kt-br9")
        ports = app.screen.query_one("#field-ports")
        ports.focus()
        await pilot.pause()
        ports.select("kt-p1")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen) and app.screen.finished,
                       what="the refusal")
        shown = screen_text(app)
        assert f"kt-p1 is under guard {guard_id}" in shown and "nothing changed" in shown
    assert "kt-br9" not in links(ns) and state(guard_id) == PENDING
