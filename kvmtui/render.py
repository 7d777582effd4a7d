"""Text rendering shared by `kvmtui dump` and the dashboard: a symbol for every
state so the tree reads without colour (NO_COLOR, monochrome terminals)."""

from __future__ import annotations

import textwrap

from rich.text import Text
from rich.tree import Tree

from kvmtui.topology import TopologyNode

# state -> (symbol, style). Each symbol differs, so colour is never the only signal.
STATE_STYLES: dict[str, tuple[str, str]] = {
    "up": ("●", "green"),
    "down": ("○", "red"),
    "lowerlayerdown": ("◌", "red"),
    "no-carrier": ("◌", "red"),  # up, nothing behind it: not the same fix as "down"
    "going down": ("◐", "yellow"),
    "going back": ("◐", "yellow"),
    "unknown": ("◍", "cyan"),
    "dormant": ("◐", "yellow"),
    "running": ("▶", "green"),
    "paused": ("‖", "yellow"),
    "shut off": ("■", "dim"),
    "crashed": ("✗", "red"),
    "active": ("●", "green"),
    "inactive": ("○", "dim"),
}
REF_SYMBOL = "↪"


def state_symbol(state: str) -> tuple[str, str]:
    return STATE_STYLES.get(state, ("·", ""))


def node_label(node: TopologyNode) -> Text:
    symbol, style = state_symbol(node.state)
    text = Text()
    if node.kind == "group":
        text.append(f"{node.name} ({node.summary})", style="bold")
        return text
    text.append(symbol + " ", style=style)
    text.append(node.name, style="bold" if node.kind != "guest" else "bold underline")
    text.append(f" {node.kind}", style="dim")
    if node.state and node.state not in ("up", "running", "active"):  # before the summary: never cut off
        text.append(f" [{node.state}]", style=style)
    if node.summary:
        text.append(f"  {node.summary}")
    if node.ref is not None:
        text.append(f"  {REF_SYMBOL} shown under its first parent", style="dim italic")
    return text


def rich_tree(forest: tuple[TopologyNode, ...], title: str) -> Tree:
    root = Tree(Text(title, style="bold"), guide_style="dim")

    def add(parent: Tree, node: TopologyNode) -> None:
        branch = parent.add(node_label(node))
        for child in node.children:
            add(branch, child)

    for node in forest:
        add(root, node)
    return root


def confirmation_text(confirmation, warnings: bool = True) -> Text:
    """The whole confirmation as plain, colour-optional text (CLI and dashboard); the
    dashboard draws the warnings apart, where they stay in view."""
    from kvmtui.plan.diff import ADDED, CHANGED, REMOVED

    styles = {ADDED: "green", REMOVED: "red", CHANGED: "yellow"}
    text = Text()
    text.append(f"Plan: {confirmation.title}\n\n", style="bold")
    text.append("Topology (+ added, − removed, ~ changed)\n", style="bold underline")
    for line in confirmation.tree or ():
        text.append(f"{line.mark} {'  ' * line.depth}{line.text}\n", style=styles.get(line.mark, ""))
    if not confirmation.tree:
        text.append("  (no visible change to the tree)\n")
    text.append("\nCommands\n", style="bold underline")
    for command in confirmation.commands:
        text.append(f"  {command}\n")
    if confirmation.xml:
        text.append("\nlibvirt XML\n", style="bold underline")
        for xml in confirmation.xml:  # libvirt prints an element on many lines: each indented alike
            text.append(textwrap.indent(xml, "  ") + "\n")
    if confirmation.saved:
        text.append("\nSaved configuration\n", style="bold underline")
        for part in confirmation.saved:
            text.append(textwrap.indent(part, "  ").rstrip("\n") + "\n")
    if warnings and confirmation.warnings:
        text.append("\n").append(warnings_text(confirmation.warnings)).append("\n")
    if warnings and (guard := guard_text(confirmation)):
        text.append("\n").append(guard).append("\n")
    return text


def guard_text(confirmation) -> Text | None:
    """What follows the apply: a countdown to keep the change, or the risk of having none."""
    if confirmation.countdown:
        return Text(f"After the change, a countdown of {confirmation.countdown} s: keep the change with y (or "
                    "`kvmtui confirm` from another session); unkept, it is undone by itself, even if this "
                    "session is cut or kvmtui is killed.", style="bold")
    if confirmation.unguarded:
        return Text("! --no-confirm: nothing undoes this change if it cuts your session", style="bold red")
    return None


def warnings_text(warnings: tuple[str, ...]) -> Text:
    return Text("\n".join(f"! {warning}" for warning in warnings), style="bold red")
