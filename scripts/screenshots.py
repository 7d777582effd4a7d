"""`make screenshots`: one SVG per main view of the dashboard, into screenshots/.

The app runs headless on examples/kvm-host.json, a recorded snapshot, so the pictures
show the same host on every machine and change only when the UI does. The scenes here
are also the SVG snapshot tests (tests/test_snapshots.py): the README shows what the
tests hold the UI to.

    .venv/bin/python scripts/screenshots.py [--out DIR] [NAME...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kvmtui.serialize import read_snapshot_file  # noqa: E402
from kvmtui.topology import walk  # noqa: E402
from kvmtui.ui.app import DashboardOptions, KvmtuiApp  # noqa: E402
from kvmtui.ui.topology_pane import TopologyTree  # noqa: E402

EXAMPLE = REPO / "examples" / "kvm-host.json"
OUT = REPO / "screenshots"
SIZE = (100, 30)

Scene = Callable[["Pilot"], Awaitable[None]]  # noqa: F821  (textual.pilot.Pilot)


def example_app() -> KvmtuiApp:
    """What `kvmtui --from examples/kvm-host.json` runs."""
    return KvmtuiApp(DashboardOptions(), recorded=read_snapshot_file(str(EXAMPLE)))


async def loaded(pilot) -> None:
    """Wait until the tree shows the recorded snapshot and its findings are in (the audit
    runs a moment after the snapshot is drawn)."""
    for _ in range(200):
        if pilot.app.snapshot is not None and pilot.app.audits_shown:
            await pilot.pause()
            return
        await pilot.pause(0.05)
    raise TimeoutError(f"{EXAMPLE} was not shown within 10 s")


async def select(pilot, kind: str, name: str) -> None:
    """Put the tree's cursor on the first full node of this kind and name."""
    key = next(node.key for _, node in walk(pilot.app.forest)
               if node.kind == kind and node.name == name and node.ref is None)
    assert pilot.app.query_one(TopologyTree).select_key(key), key
    await pilot.pause()


async def topology(pilot) -> None:
    """A guest NIC selected: the details end with its path to the wire."""
    await loaded(pilot)
    await select(pilot, "guest", "web1")


async def fdb(pilot) -> None:
    """The FDB of br100 sorted by state: web1's and db1's MACs, learned on their taps, on top."""
    await loaded(pilot)
    await select(pilot, "tun", "vnet0")
    await pilot.press("2")  # by state, the pane's default


async def fdb_zoomed(pilot) -> None:
    """80x24: the FDB of br100 zoomed (`z`) to the full width, so the OWNER column shows."""
    await loaded(pilot)
    await select(pilot, "tun", "vnet0")
    await pilot.press("2", "z")


async def confirm(pilot) -> None:
    """What deleting br100 asks before anything changes: the tree diff, the guests it cuts
    off, the commands. (Pushed directly: a recorded snapshot offers no changes.)"""
    from kvmtui.kinds import DeleteLink, make_plan
    from kvmtui.plan.diff import confirmation
    from kvmtui.ui.forms import ConfirmScreen

    await loaded(pilot)
    snapshot = pilot.app.snapshot
    shown = confirmation(make_plan(DeleteLink("br100"), snapshot), snapshot, ssh_connection=None)
    await pilot.app.push_screen(ConfirmScreen(shown))
    await pilot.pause()


def view(key: str, kind: str = "", name: str = "") -> Scene:
    async def scene(pilot) -> None:
        await loaded(pilot)
        if kind:
            await select(pilot, kind, name)
        await pilot.press(key)
    return scene


@dataclass(frozen=True)
class Shot:
    name: str
    scene: Scene
    size: tuple[int, int] = SIZE


SHOTS = (
    Shot("topology", topology),
    Shot("fdb", fdb, (140, 30)),  # the OWNER column needs ~75 columns beside the tree
    Shot("bonds", view("3", "bond", "bond0")),
    Shot("guests", view("4")),
    Shot("networks", view("5")),
    Shot("findings", view("6")),
    Shot("help", view("question_mark")),
    Shot("confirm", confirm),
    Shot("topology-80x24", topology, (80, 24)),
    Shot("fdb-80x24-zoomed", fdb_zoomed, (80, 24)),
)


async def take(shot: Shot) -> str:
    app = example_app()
    async with app.run_test(size=shot.size) as pilot:
        await shot.scene(pilot)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        return app.export_screenshot(title=f"kvmtui --from {EXAMPLE.relative_to(REPO)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(s.name for s in SHOTS))
    args = parser.parse_args(argv)
    unknown = set(args.names) - {s.name for s in SHOTS}
    if unknown:
        parser.error(f"no such screenshot: {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.pop("NO_COLOR", None)  # Textual would draw the README's pictures in monochrome
    for shot in SHOTS:
        if args.names and shot.name not in args.names:
            continue
        path = args.out / f"{shot.name}.svg"
        path.write_text(asyncio.run(take(shot)))
        print(f"screenshots: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
