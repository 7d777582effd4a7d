"""Command palette entries: every action that has a key, for who does not remember it.

Each entry names the app action it runs; the app's check_action decides, as for the
keys, so --readonly and a recorded snapshot never offer new/attach/delete here either.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from kvmtui.kinds import COMMANDS, new_nouns
from kvmtui.ui.identify_screen import BLINK, LISTEN, open_identify
from kvmtui.views import FDB_SORT_KEYS

VIEWS = ("details", "fdb", "bonds", "guests", "networks", "findings")


class KvmtuiCommands(Provider):
    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        entries: list[tuple[str, str, Callable[[], object], str]] = [
            (f"view: {view}", "show_view", partial(app.action_show_view, view), f"show the {view} pane (key {n})")
            for n, view in enumerate(VIEWS, 1)
        ]
        entries += [
            ("view: topology", "focus_tree", app.action_focus_tree, "focus the topology tree (t)"),
            ("zoom", "zoom", app.action_zoom, "the tree or the pane in focus takes the whole width, and back (z)"),
            ("refresh", "refresh", app.action_refresh, "re-read everything now (r)"),
            ("filter: clear", "filter_tree", partial(app.apply_tree_filter, ""), "show the whole tree (Esc)"),
            ("help", "help", app.action_help, "every key (?)"),
            (f"new: {new_nouns()}", "new", app.action_new, "plan a new device, confirm before it is made (n)"),
            ("attach: a NIC to a guest", "attach", app.action_attach,
             "plan an attachment, confirm before it is made (a)"),
            ("edit: the selected device", "edit", app.action_edit,
             "change its MTU, state, MAC, alias; a bridge's ports, STP, timers; a bond's slaves, options, mode (e)"),
            ("vlans: the selected bridge port's VLANs", "port_vlans", app.action_port_vlans,
             f"{COMMANDS['vlans'].spec.help} (v)"),
            ("delete: the selected device, or detach the guest NIC", "delete", app.action_delete,
             "plan the removal, confirm before anything changes (d)"),
            ("identify: listen on the selected NIC (30 s)", "identify", partial(open_identify, app, LISTEN),
             "VLANs, LLDP/CDP neighbours, STP root and MACs heard on the wire (docs/identify.md)"),
            ("identify: blink the selected NIC's port LED (20 s)", "identify", partial(open_identify, app, BLINK),
             "ethtool PHYS_ID, Esc stops; a change to the device: refused in read-only mode"),
        ]
        entries += [(f"fdb: sort by {key}", "show_view", partial(self._sort_fdb, key),
                     "the FDB pane, sorted (s cycles)") for key in FDB_SORT_KEYS]
        return [(title, run, help_text) for title, action, run, help_text in entries
                if app.check_action(action, ()) is not False]

    def _sort_fdb(self, key: str) -> None:
        """Through the pane's own `s`: one step from the key before this one."""
        from kvmtui.ui.fdb_pane import FdbPane

        self.app.action_show_view("fdb")
        pane = self.app.query_one(FdbPane)
        pane.sort_key = FDB_SORT_KEYS[FDB_SORT_KEYS.index(key) - 1]
        pane.action_cycle_sort()

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
        text = query.removeprefix("filter:").strip()
        if text:
            yield Hit(0.5, f"filter: {text}", partial(self.app.apply_tree_filter, text),
                      help="filter the topology tree by name, MAC, guest or kind")
