"""Command palette entries: "view: fdb", "filter: <text>", "refresh"."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

VIEWS = ("details", "fdb", "bonds", "guests", "networks", "findings")


class KvmtuiCommands(Provider):
    def _commands(self) -> list[tuple[str, object, str]]:
        app = self.app
        commands = [(f"view: {view}", partial(app.action_view, view), f"show the {view} pane") for view in VIEWS]
        commands.append(("view: topology", app.action_focus_tree, "focus the topology tree"))
        commands.append(("refresh", app.action_refresh, "re-read everything now"))
        commands.append(("filter: clear", partial(app.apply_tree_filter, ""), "show the whole tree"))
        return commands

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
