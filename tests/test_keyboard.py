"""Keyboard and small terminals (issue 3): zoom, the tree filter by MAC, the help that
scrolls, the palette that follows --readonly. On examples/kvm-host.json, at 80x24."""

from __future__ import annotations


from kvmtui.cli import read_snapshot_file
from kvmtui.topology import build_forest, walk
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.topology_pane import filter_forest, search_texts
from scripts.screenshots import EXAMPLE, loaded, select
from tests.dashboard import tree_labels, wait_for
from tests.dashboard import SIZE, details_title, example_app, footer_keys, screen_text



def test_filter_finds_macs_that_labels_do_not_show():
    snapshot = read_snapshot_file(str(EXAMPLE))
    forest, texts = build_forest(snapshot), search_texts(snapshot)

    def names(needle: str) -> set[str]:
        return {node.name for _, node in walk(filter_forest(forest, needle, texts)) if node.ref is None}

    assert "fe:54:00:6b:01:01" not in str(forest)  # a tap's MAC is in no label
    assert {"vnet0", "web1"} <= names("FE:54:00:6B:01:01") and "vnet1" not in names("fe:54:00:6b:01:01")
    assert {"br100", "vnet0", "vnet1"} <= names("26:5d:84:4b:3d:c1")  # a bridge's MAC, and all under it
    assert "vnet1" in names("DB1") and "vnet0" not in names("db1")  # a tap by its guest's name
    assert {node.kind for _, node in walk(filter_forest(forest, "macvtap", texts)) if node.ref is None} >= {"macvtap"}


async def test_slash_filters_the_tree_by_a_taps_mac():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"fe:54:00:6b:03:01")
        await wait_for(pilot, lambda: "vnet0" not in " ".join(tree_labels(app)), what="the filtered tree")
        shown = screen_text(app)
        assert "vnet1 tun" in shown and "db1 guest" in shown and "vnet0" not in shown


async def test_z_zooms_the_fdb_to_the_full_width_and_back():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await select(pilot, "tun", "vnet0")
        await pilot.press("2")
        await pilot.pause()
        assert "OWNER" in screen_text(app) and "AGE" not in screen_text(app)  # beside the tree: the owner first
        assert "z Zoom" in footer_keys(app)
        await pilot.press("z")
        await wait_for(pilot, lambda: "AGE" in screen_text(app), what="the zoomed FDB")
        shown = screen_text(app)
        assert "guest web1" in shown and "eno1 dummy" not in shown  # the tree is hidden
        await pilot.press("t")  # the tree takes the width: no key lands on a hidden widget
        await wait_for(pilot, lambda: "eno1 dummy" in screen_text(app), what="the zoomed tree")
        assert "shown under its first parent" in screen_text(app)  # a label in full
        assert "OWNER" not in screen_text(app)
        await pilot.press("1")  # a pane in place of the zoomed tree, the focus with it
        await wait_for(pilot, lambda: "eno1 dummy" not in screen_text(app), what="the zoomed details")
        assert "fe:54:00:6b:01:01" in screen_text(app) and app.focused.id == "details-pane"
        await pilot.press("z")
        await wait_for(pilot, lambda: "1 Node" in screen_text(app), what="both sides again")
        assert "eno1 dummy" in screen_text(app)


async def test_bond_alert_is_on_screen_at_80x24():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("3")
        await pilot.pause()
        header = next(line for line in screen_text(app).splitlines() if "BOND" in line)
        assert "ALERT" in header and "MII" in header


async def test_help_scrolls_by_keyboard_and_says_there_is_more():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "more below" in screen_text(app), what="the help saying there is more")
        shown = screen_text(app)
        assert "z          zoom" in shown and "esc Close" in shown
        assert "Findings" not in shown  # further down
        await pilot.press("pagedown", "pagedown", "pagedown")
        await wait_for(pilot, lambda: "end of help" in screen_text(app), what="the end of the help")
        shown = screen_text(app)
        assert "enter      jump to the finding's object" in shown and "more below" not in shown
        await pilot.press("home")
        await wait_for(pilot, lambda: "Anywhere" in screen_text(app), what="the top again")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0], what="the help closed")


def test_help_names_every_key_of_the_dashboard():
    from kvmtui.ui.help import HELP

    keys = {b.key for b in KvmtuiApp.BINDINGS if b.show}
    words = {"question_mark": "?", "slash": "/"}
    assert all(f"\n  {words.get(key, key)} " in HELP for key in keys), keys


async def palette_titles(pilot, app, query: str) -> list[str]:
    from textual.command import CommandList

    await pilot.press("ctrl+p", *query)
    await wait_for(pilot, lambda: any(l.option_count for l in app.screen.query(CommandList)), what=f"'{query}' offered")
    await pilot.pause(0.3)  # every provider's hits
    lists = list(app.screen.query(CommandList))
    titles = [str(lists[0].get_option_at_index(i).prompt) for i in range(lists[0].option_count)]
    await pilot.press("escape")
    return titles


async def test_palette_offers_every_action_but_changes_in_readonly():
    class Live(KvmtuiApp):
        live = True  # as on a host: changes are offered, unless --readonly (nothing is read: it is recorded)

    for readonly in (False, True):
        app = Live(DashboardOptions(readonly=readonly), recorded=read_snapshot_file(str(EXAMPLE)))
        async with app.run_test(size=(100, 30)) as pilot:
            await loaded(pilot)
            titles = " | ".join(await palette_titles(pilot, app, "e"))
            for title in ("zoom", "help", "fdb: sort by owner", "refresh"):
                assert title in " | ".join(await palette_titles(pilot, app, title)), title
            changing = ("new: bridge", "attach: a NIC", "delete: the selected")
            assert all((title in titles) != readonly for title in changing), (readonly, titles)


async def test_palette_sorts_the_fdb_and_zooms():
    from textual.command import CommandList

    from kvmtui.ui.fdb_pane import FdbPane
    from kvmtui.ui.layout import MainArea

    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await select(pilot, "tun", "vnet0")
        for query in ("fdb: sort by owner", "zoom"):
            await pilot.press("ctrl+p", *query)
            await wait_for(pilot, lambda: any(l.option_count for l in app.screen.query(CommandList)), what=query)
            await pilot.press("enter")
            await pilot.pause()
        await wait_for(pilot, lambda: app.query_one(MainArea).zoomed, what="the zoom")
        assert app.query_one(FdbPane).sort_key == "owner"
        assert "by owner" in screen_text(app) and "OWNER" in screen_text(app)


async def test_details_show_the_first_node_at_once_and_down_moves_on():
    """No key yet: the cursor is on the tree's first line and the details show it; the
    first Down goes to the second line."""
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: details_title(app) == "network default", what="the first node's details")
        assert "uuid" in screen_text(app)
        await pilot.press("down")
        await wait_for(pilot, lambda: details_title(app) == "network lan100", what="the second node's details")


async def test_the_first_snapshot_keeps_a_node_chosen_before_it():
    """The first line is only a default: a node the user already chose stays chosen."""
    app = example_app()
    app.selected = "link:eno2"  # as if chosen while the host was being read
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: details_title(app) == "eno2", what="eno2's details")
        await pilot.pause(0.2)
        assert app.selected == "link:eno2" and "network default" not in screen_text(app)


async def test_every_key_of_the_fdb_context_fits_80_columns_live(netns):
    """Live and read-write (n/a/d offered), the FDB focused: the footer's keys all fit."""
    app = KvmtuiApp(DashboardOptions(netns=netns, with_libvirt=False, interval=60))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the first snapshot")
        await pilot.press("2")
        await pilot.pause()
        keys = footer_keys(app)
        for key in ("s Sort", "f Find", "? Help", "z Zoom", "t Tree", "n New", "a Attach", "d Delete", "q Quit"):
            assert key in keys, keys
