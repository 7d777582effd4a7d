"""Keys and screens (issue 9): the tree's arrows, its glyphs, the filter's cursor and its
"no match", checkboxes that read without colour, the FDB's order, human units, ctrl+c,
the findings in words. On examples/kvm-host.json at 80x24, as a user reads the screen."""

from __future__ import annotations

import json
import threading

from kvmtui.audit import counts_text
from kvmtui.cli import read_snapshot_file
from kvmtui.render import REF_SYMBOL, STATE_STYLES
from kvmtui.ui.fdb_pane import FdbPane
from kvmtui.ui.forms import CHECKED, UNCHECKED, Field, WizardScreen
from kvmtui.ui.topology_pane import TopologyTree
from kvmtui.views import link_details
from scripts.screenshots import EXAMPLE, loaded, select
from tests.dashboard import select_in_tree, status_line, tree_labels, wait_for
from tests.dashboard import SIZE, details_title, example_app, screen_text


def tree_line(app, name: str) -> str:
    """The screen line of the tree (left of the divider) that shows device `name` in full."""
    width = app.query_one("#left").region.width - 1  # the divider is the left side's border
    for line in screen_text(app).splitlines()[1:]:
        left = line[:width]
        text = left.lstrip("│├└ ")  # the guides
        if name in text.split()[:3] and REF_SYMBOL not in text:
            return text.strip()
    return ""


async def test_left_and_right_collapse_expand_and_walk_the_tree():
    """Right on an open node goes to its first child, on a closed one opens it; Left closes
    an open node, and on a closed one or a leaf goes to its parent."""
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await select(pilot, "dummy", "eno1")
        await wait_for(pilot, lambda: details_title(app) == "eno1", what="eno1 chosen")
        assert tree_line(app, "eno1").startswith("- ● eno1")  # open: its children shown
        await pilot.press("right")  # open already: to the first child
        await wait_for(pilot, lambda: details_title(app) == "bond0", what="the first child, bond0")
        await pilot.press("right")
        await wait_for(pilot, lambda: details_title(app) == "bond0.100", what="bond0's first child")
        await pilot.press("left")  # open: closes, the cursor stays
        await wait_for(pilot, lambda: tree_line(app, "bond0.100").startswith("+ ● bond0.100"), what="closed")
        assert details_title(app) == "bond0.100" and "vnet0" not in screen_text(app)
        await pilot.press("left")  # closed: to the parent
        await wait_for(pilot, lambda: details_title(app) == "bond0", what="the parent, bond0")
        await pilot.press("down", "right")  # on bond0.100 again, closed: opens, the cursor stays
        await wait_for(pilot, lambda: tree_line(app, "bond0.100").startswith("- ● bond0.100"), what="opened")
        assert details_title(app) == "bond0.100" and "vnet0 tun" in screen_text(app)
        await select(pilot, "loopback", "lo")
        await wait_for(pilot, lambda: details_title(app) == "lo", what="lo chosen")
        await pilot.press("right", "left")  # a leaf at the top: nothing to open, no parent to go to
        await pilot.pause()
        assert details_title(app) == "lo" and app.selected == "link:lo"


async def test_tree_glyphs_differ_from_every_state_symbol_under_no_color(monkeypatch):
    """The open/closed marks are not the running guest's ▶ (nor any state's symbol)."""
    monkeypatch.setenv("NO_COLOR", "1")
    symbols = {symbol for symbol, _ in STATE_STYLES.values()} | {REF_SYMBOL, "·"}
    marks = {TopologyTree.ICON_NODE.strip(), TopologyTree.ICON_NODE_EXPANDED.strip()}
    assert len(marks) == 2 and not marks & symbols
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await select(pilot, "dummy", "eno2")
        await pilot.press("left")
        await wait_for(pilot, lambda: tree_line(app, "eno2").startswith("+ ● eno2"), what="eno2 closed")
        assert tree_line(app, "eno1").startswith("- ● eno1")
        assert tree_line(app, "web1").startswith("▶ web1 guest")  # a running guest: a leaf, no mark


async def test_filter_moves_the_details_to_the_first_match_and_esc_keeps_the_cursor():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await select(pilot, "dummy", "eno3")
        await pilot.press("slash", *"macvtap")
        await wait_for(pilot, lambda: details_title(app) == "macvtap0", what="the details of the first match")
        assert "eno3" not in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: any("lo loopback" in label for label in tree_labels(app)), what="the whole tree again")
        assert details_title(app) == "macvtap0" and app.query_one(TopologyTree).cursor_node.data == "link:macvtap0"
        await select(pilot, "bridge", "br-mgmt")
        await pilot.press("slash", *"br")  # the chosen node matches itself: the cursor stays on it
        await wait_for(pilot, lambda: not any("lo loopback" in label for label in tree_labels(app)), what="the filtered tree")
        assert details_title(app) == "br-mgmt"
        await pilot.press("escape")


async def test_filter_without_a_match_says_so_and_esc_restores_the_node():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await select(pilot, "bridge", "br-mgmt")
        await wait_for(pilot, lambda: details_title(app) == "br-mgmt", what="br-mgmt chosen")
        await pilot.press("slash", *"xyz")
        await wait_for(pilot, lambda: "no node matches 'xyz'" in screen_text(app), what="the message")
        shown = screen_text(app)
        assert shown.splitlines()[1].strip().startswith("no node matches 'xyz'")  # where the tree was
        assert details_title(app) == "no node matches 'xyz'" and "br-mgmt" not in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: details_title(app) == "br-mgmt", what="br-mgmt's details again")
        assert "no node matches" not in screen_text(app) and app.selected == "link:br-mgmt"
        assert app.query_one(TopologyTree).cursor_node.data == "link:br-mgmt"


async def test_checkboxes_and_lists_show_their_state_in_the_glyph_under_no_color(monkeypatch):
    """A wizard's flag and multiple choice, as any wizard builds them: [x] and [ ]."""
    monkeypatch.setenv("NO_COLOR", "1")
    fields = (Field("ports", "Ports", "many", ("eno3",), (("eno3", "eno3"), ("lo", "lo"))),
              Field("stp", "Spanning tree (STP)", "flag", False))
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.push_screen(WizardScreen("New bridge", fields, lambda values: None, app.snapshot))
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.focused is not None,
                       what="the wizard")
        await pilot.pause()
        shown = screen_text(app)
        assert f"{CHECKED} eno3" in shown and f"{UNCHECKED} lo" in shown
        assert f"{UNCHECKED} Spanning tree (STP)" in shown
        await pilot.press("down", "space", "up", "space")  # tick lo, untick eno3
        await pilot.press("tab", "space")  # the checkbox
        await wait_for(pilot, lambda: f"{CHECKED} Spanning tree (STP)" in screen_text(app), what="STP ticked")
        shown = screen_text(app)
        assert f"{UNCHECKED} eno3" in shown and f"{CHECKED} lo" in shown
        assert app.screen.values()["ports"] == ("lo",) and app.screen.values()["stp"] is True


async def test_fdb_lists_the_learned_guest_macs_first_by_default():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await select_in_tree(pilot, app, "link:vnet0")  # a port of br100
        await pilot.press("2")
        pane = app.query_one(FdbPane)
        await wait_for(pilot, lambda: pane.visible_rows, what="the FDB of br100")
        states = [row.state for row in pane.visible_rows]
        assert "permanent" in states and states == sorted(states, key=lambda s: s != "learned")
        assert states[-1] == "permanent" and pane.visible_rows[0].owner.startswith("guest")
        lines = screen_text(app).splitlines()
        assert "by state" in lines[3] and "MAC" in lines[4]
        assert f"{pane.visible_rows[0].mac} vnet0" in lines[5] and "guest web1" in lines[5]  # the first row


def test_details_say_bytes_in_units_and_bridge_timers_in_seconds():
    snapshot = read_snapshot_file(str(EXAMPLE))
    lines = dict(link_details(snapshot, snapshot.link("br100")))
    assert lines["bridge.forward_delay"] == "4 s" and lines["bridge.hello_time"] == "2 s"
    assert lines["bridge.max_age"] == "20 s" and lines["bridge.ageing_time"] == "300 s"
    recorded = json.loads(EXAMPLE.read_text())  # the recording (`dump --json`) keeps the kernel's centiseconds
    br100 = next(link for link in recorded["links"] if link["ifname"] == "br100")
    assert (br100["info_data"]["forward_delay"], br100["info_data"]["ageing_time"]) == (400, 30000)


def test_counters_read_in_k_m_g():
    from dataclasses import replace

    from kvmtui.counters import human_bytes, human_count
    from kvmtui.model import LinkStats

    assert (human_bytes(512), human_bytes(1_234_567), human_bytes(3_500_000_000)) == ("512 B", "1.2 MB", "3.5 GB")
    assert (human_count(12), human_count(3_400), human_count(5_600_000)) == ("12", "3.4k", "5.6M")
    snapshot = read_snapshot_file(str(EXAMPLE))
    stats = LinkStats(rx_bytes=3_500_000_000, tx_bytes=1_234_567, rx_packets=2_400_000, tx_packets=900,
                      rx_errors=0, tx_errors=0, rx_dropped=7, tx_dropped=0)
    link = replace(snapshot.link("eno1"), stats=stats)
    lines = dict(link_details(snapshot, link))
    assert lines["rx"] == "3.5 GB, 2.4M pkts, 0 errors, 7 dropped" and lines["tx"].startswith("1.2 MB, 900 pkts")


async def test_bond_speeds_read_in_gbit():
    from kvmtui.views import _speed

    assert (_speed(100), _speed(1000), _speed(2500), _speed(10000)) == (
        "100 Mbit/s", "1 Gbit/s", "2.5 Gbit/s", "10 Gbit/s")


async def test_ctrl_c_quits_when_nothing_runs():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not app.is_running, what="the app quitting")
    assert app.return_code == 0


async def test_ctrl_c_and_q_wait_for_an_apply():
    """A worker in the "apply" group that waits on an event stands in for an apply, so
    that the keys land while it runs for sure (the real apply is a thread like it). The
    notice is read from the app's notifications: the headless driver draws no toasts."""
    app = example_app()
    release = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.run_worker(lambda: release.wait(30), group="apply", thread=True)
        await wait_for(pilot, lambda: app.applying, what="the apply running")
        await pilot.press("ctrl+c", "q")
        await wait_for(pilot, lambda: len(notices(app)) == 2, what="the notices")
        assert all("being applied" in notice for notice in notices(app)) and app.is_running
        release.set()
        await wait_for(pilot, lambda: not app.applying, what="the apply done")
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not app.is_running, what="the app quitting")


def notices(app) -> list[str]:
    return [notification.message for notification in app._notifications]


async def test_status_line_counts_findings_in_words():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: "findings" in status_line(app), what="the findings in the status line")
        assert "findings: 1 info" in status_line(app) and "1i" not in status_line(app)


def test_counts_in_words_leave_out_zeros():
    from tests.samples import sample_findings

    findings = sample_findings()
    assert counts_text(findings, zeros=False) == "4 warnings"
    assert counts_text(findings) == "0 errors, 4 warnings, 0 info"
    assert counts_text((), zeros=False) == ""
