"""Plan -> what the user confirms (pure): the topology before -> after as a tree diff,
the equivalent commands, the libvirt XML, and warnings about cutting off this session."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from kvmtui.facts import STACKED_KINDS, underlay
from kvmtui.model import Snapshot
from kvmtui.plan.model import Plan
from kvmtui.plan.simulate import simulate
from kvmtui.topology import TopologyNode, build_forest

ADDED, REMOVED, CHANGED, SAME = "+", "−", "~", " "


@dataclass(frozen=True, slots=True)
class DiffLine:
    mark: str
    depth: int
    text: str


@dataclass(frozen=True, slots=True)
class Confirmation:
    title: str
    tree: tuple[DiffLine, ...]
    commands: tuple[str, ...]
    xml: tuple[str, ...]
    warnings: tuple[str, ...]
    typed: str | None = None  # the device whose name the user types to confirm: the plan cuts the way out
    at_risk: bool = False  # it may cut this SSH session or the way out: guarded by default
    countdown: int | None = None  # seconds the user gets to keep the change once applied (a guard runs)
    unguarded: bool = False  # at risk, and the user turned the guard off (--no-confirm)
    saved: tuple[str, ...] = ()  # where the change is saved, and each file's diff (kvmtui.persist.saved)


def confirmation(plan: Plan, snapshot: Snapshot, ssh_connection: str | None = None) -> Confirmation:
    after = simulate(snapshot, plan.steps)
    at_risk = session_warnings(plan, snapshot, ssh_connection)
    typed = _cuts_way_out(plan, snapshot)
    return Confirmation(plan.title, tree_diff(build_forest(snapshot), build_forest(after)),
                        plan.commands, plan.xml, plan.warnings + at_risk, typed, bool(at_risk) or typed is not None)


def _cuts_way_out(plan: Plan, snapshot: Snapshot) -> str | None:
    """The device(s) whose default route the plan deletes when no other is put back or left."""
    removed, put_back = default_route_moves(plan)
    others = [r for r in snapshot.routes if r.dst == "default" and r.dev not in removed]
    return ", ".join(removed) if removed and not put_back and not others else None


def _text(node: TopologyNode) -> str:
    state = f" [{node.state}]" if node.state and node.state not in ("up", "running", "active") else ""
    return f"{node.name} {node.kind}" + (f"  {node.summary}" if node.summary else "") + state


@dataclass(frozen=True, slots=True)
class _Placed:
    parent: str
    text: str
    depth: int
    off_peer: bool  # shown under its veth peer
    masters: frozenset[str]  # the bridge or bond it is enslaved to, when drawn below it


def _flatten(forest: tuple[TopologyNode, ...]) -> dict[str, _Placed]:
    """key -> where and how every fully shown node is drawn."""
    out: dict[str, _Placed] = {}

    def visit(node: TopologyNode, parent: str, depth: int) -> None:
        if node.ref is None:
            masters = frozenset(child.ref or child.key for child in node.children if child.role == "master")
            out[node.key] = _Placed(parent, _text(node), depth, node.role == "peer", masters)
        for child in node.children:
            visit(child, node.key, depth + 1)

    for root in forest:
        visit(root, "", 0)
    return out


def _changed(old: _Placed, new: _Placed) -> bool:
    """What the device shows, its master, or where it hangs changed. Which end of a veth
    pair is drawn on top follows what each end is enslaved to, so a pair can swap places
    without either end changing: that is not a move. A device stacked on it (a VLAN on
    a NIC) does not change it."""
    moved = old.parent != new.parent and not (old.off_peer or new.off_peer)
    return moved or old.text != new.text or old.masters != new.masters


def tree_diff(before: tuple[TopologyNode, ...], after: tuple[TopologyNode, ...]) -> tuple[DiffLine, ...]:
    """The after-tree where something changed, with the ancestors for context; what
    disappears is drawn where it was, under its old parent."""
    old, new = _flatten(before), _flatten(after)
    marks = {}
    for key, placed in new.items():
        if key not in old:
            marks[key] = ADDED
        elif _changed(old[key], placed):
            marks[key] = CHANGED
    removed_under: dict[str, list[str]] = defaultdict(list)
    for key in old:
        if key not in new:
            removed_under[old[key].parent].append(key)
    keep: set[str] = set()
    for key in (*marks, *(parent for parent in removed_under if parent in new)):
        while key and key not in keep:
            keep.add(key)
            key = new[key].parent

    lines: list[DiffLine] = []

    def removed(parent: str, depth: int) -> None:
        for key in removed_under.pop(parent, ()):
            lines.append(DiffLine(REMOVED, depth, old[key].text))
            removed(key, depth + 1)

    for key, placed in new.items():
        if key in keep:
            lines.append(DiffLine(marks.get(key, SAME), placed.depth, placed.text))
            removed(key, placed.depth + 1)
    removed("", 0)
    return tuple(lines)




def session_path(snapshot: Snapshot, carrying: set[str]) -> dict[str, str]:
    """Every device the session's packets go through -> the carrying device above it: the
    carrying devices and, recursively, a bridge's ports, a bond's slaves, the parent of a
    VLAN or macvtap, a vxlan's or tunnel's underlay. Changing any of them can cut the session."""
    lower: dict[str, set[str]] = defaultdict(set)
    for link in snapshot.links:
        if link.master and link.kind != "tun":  # a guest's tap does not carry the host's session
            lower[link.master].add(link.ifname)
        if link.kind in STACKED_KINDS and link.link and link.link_netnsid is None:
            lower[link.ifname].add(link.link)
        if (below := underlay(snapshot, link)) is not None:  # a vxlan's or tunnel's, routed or bound
            lower[link.ifname].add(below)
    path: dict[str, str] = {}
    for top in sorted(carrying):
        todo = [top]
        while todo:
            dev = todo.pop()
            if dev not in path:
                path[dev] = top
                todo.extend(sorted(lower[dev]))
    return path


def default_route_moves(plan: Plan) -> tuple[list[str], list[str]]:
    """The devices the plan deletes a default route from, and those it adds one to."""
    def devices(adds: bool) -> list[str]:
        return sorted({s.target for s in plan.steps if s.default_route() is adds})
    return devices(False), devices(True)


def session_warnings(plan: Plan, snapshot: Snapshot, ssh_connection: str | None) -> tuple[str, ...]:
    """SSH_CONNECTION is "client-ip client-port server-ip server-port"."""
    touched = {s.target for s in plan.steps if s.interrupts()}
    warnings = []
    if ssh_connection:
        client, _, server, _ = (ssh_connection.split() + ["", "", "", ""])[:4]
        carrying = {link.ifname for link in snapshot.links if any(a.local == server for a in link.addresses)}
        carrying |= {dev} if (dev := snapshot.route_dev(client)) else set()
        path = session_path(snapshot, carrying)
        for top in sorted(set(path.values())):
            lowers = sorted(dev for dev, above in path.items() if above == top and dev != top and dev in touched)
            what = ([top] if top in touched else []) + ([f"{', '.join(lowers)} below {top}"] if lowers else [])
            if what:
                warnings.append(f"this changes {' and '.join(what)}, which carries your SSH session ({client} -> {server}): "
                                "you may lose this connection")
    removed, put_back = default_route_moves(plan)
    if removed and put_back:
        warnings.append(f"the default route moves from {', '.join(removed)} to {', '.join(put_back)}: "
                        "for a moment this host has no way out")
    return tuple(warnings)
