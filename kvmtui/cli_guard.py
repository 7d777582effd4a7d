"""`kvmtui guards|confirm|revert`, and the countdown `kvmtui apply` shows after a guarded
change: like Junos' `commit confirmed`, a change that nobody keeps undoes itself.

Exit codes: 0 done (kept; reverted and as before; listed), 1 a refusal or no such guard,
3 (after apply's countdown) the change was reverted, 4 reverted but not all as before.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import termios
import time
import tty
from datetime import datetime

from kvmtui.guard import journal
from kvmtui.guard.control import describe_state, keep, orphaned, revert_here, revert_now, wait_until_ended
from kvmtui.guard.journal import APPLYING, DISCARDED, KEPT, PENDING, GuardRecord
from kvmtui.guard.revert import fully_restored

EXIT_REFUSED, EXIT_ROLLED_BACK, EXIT_NOT_UNDONE = 1, 3, 4
AFTER_DEADLINE = 60.0  # seconds to wait past the deadline for the guard's word


def add_guard_commands(commands, shared: argparse.ArgumentParser) -> None:
    guards = commands.add_parser("guards", help="list the changes waiting to be kept (or reverted by their guard)",
                                 parents=[shared])
    guards.add_argument("--all", action="store_true", help="also the guards of the last day that have ended")
    for verb, text in (("confirm", "keep a guarded change (stops its countdown)"),
                       ("revert", "undo a guarded change now")):
        sub = commands.add_parser(verb, help=text, parents=[shared])
        sub.add_argument("id", nargs="?", metavar="ID", help="the guard (`kvmtui guards`); optional when only one is open")


def run_guard_command(args: argparse.Namespace) -> int:
    guard_id = getattr(args, "id", None)
    if guard_id is not None and not journal.valid_id(guard_id):
        print(f"kvmtui: {guard_id!r} is not a guard id (8 hex digits; `kvmtui guards` lists them)", file=sys.stderr)
        return EXIT_REFUSED
    if args.command == "guards":
        return list_guards(args.all)
    if args.command == "confirm":
        record = keep(args.id)
        word = "kept" if record.state == KEPT else "discarded its journal; the change stays as it is"
        print(f"kvmtui: guard {record.id} ({record.title}): {word}")
        for line in record.outcome:
            print(f"kvmtui: {line}")
        return EXIT_REFUSED if any("NOT saved" in line for line in record.outcome) else 0
    record = revert_now(args.id)
    for line in outcome_lines(record):
        print(line)
    return 0 if fully_restored(record) else EXIT_NOT_UNDONE


def list_guards(everything: bool) -> int:
    directory = journal.guard_dir()
    try:
        unreadable = directory.is_dir() and not os.access(directory, os.R_OK | os.X_OK)
    except PermissionError:  # not even its parent is ours to look into
        unreadable = True
    if unreadable:
        print(f"kvmtui: cannot read the guards in {directory}: permission denied (run as root)", file=sys.stderr)
        return EXIT_REFUSED
    found, problems = journal.records()
    shown = found if everything else [r for r in found if not r.final]
    for problem in problems:
        print(f"kvmtui: {problem}", file=sys.stderr)
    if not shown:
        print("no guard is pending" + ("" if everything else " (--all: also those that ended today)"))
        return 0
    print(f"{'ID':8}  {'SINCE':8}  {'STATE':40}  WHAT")
    for record in shown:
        since = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        where = f" (netns {record.netns})" if record.netns else ""
        print(f"{record.id:8}  {since:8}  {describe_state(record):40}  {record.title}{where}")
    return 0


def orphan_notes() -> list[str]:
    """Journals whose guard died with the change undecided (host reboots aside: /run is gone
    then): every kvmtui run says so, since the change may be half-applied."""
    try:
        found = [r for r in journal.records()[0] if orphaned(r)]
    except OSError:
        return []
    return [f"guard {r.id} ({r.title}) died before its change was kept or reverted: `kvmtui revert {r.id}` "
            f"undoes it, `kvmtui confirm {r.id}` keeps it as it is" for r in found]


def pending_lines(record: GuardRecord) -> list[str]:
    """What a script (`apply --yes`) is told: the guard's id and how to keep the change."""
    until = datetime.fromtimestamp(record.deadline_wall or time.time()).strftime("%H:%M:%S")
    if orphaned(record):  # it died during the apply: no promise of an undo
        return [f"guard: {record.id}",
                f"kvmtui: guard {record.id} died during the apply: nothing undoes the change by itself; "
                f"`kvmtui revert {record.id}` undoes it, `kvmtui confirm {record.id}` keeps it"]
    return [f"guard: {record.id}",
            f"kvmtui: unless `kvmtui confirm {record.id}` keeps it by {until} ({record.timeout} s), "
            "the change is undone"]


def outcome_lines(record: GuardRecord) -> list[str]:
    lines = [f"kvmtui: guard {record.id} ({record.title}): {record.state}"
             + (f": {record.reason}" if record.reason else "")]
    return lines + [f"  {line}" for line in record.outcome]


def countdown(record: GuardRecord) -> int:
    """`Keep these changes? 57 s: y keep, n revert now` on the terminal, until a key, the
    deadline (the guard reverts, this waits for its word) or another session's confirm."""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    answer = None
    try:
        tty.setcbreak(fd)
        while answer is None:
            now = journal.read(record.id) or record
            left = now.seconds_left() or 0.0
            if now.final or left <= 0:
                break
            _prompt(f"Keep these changes? {left:.0f} s: y keep, n revert now ")
            if select.select([fd], [], [], min(1.0, left))[0]:
                key = os.read(fd, 1).decode(errors="replace").lower()
                if key == "":  # the terminal is gone: the guard decides
                    break
                answer = key if key in ("y", "n") else None
    except KeyboardInterrupt:
        answer = "n"
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        _prompt("\n")
    if answer == "y":
        kept = keep(record.id, who="y in kvmtui apply")
        print(f"kvmtui: guard {kept.id}: kept")
        for line in kept.outcome:
            print(f"kvmtui: {line}")
        return EXIT_REFUSED if any("NOT saved" in line for line in kept.outcome) else 0
    if answer == "n":
        ended = revert_now(record.id)
    elif orphaned(journal.read(record.id) or record):
        ended = _revert_at_deadline(record)
    else:
        ended = wait_until_ended(record.id, (record.seconds_left() or 0.0) + AFTER_DEADLINE) or record
    for line in outcome_lines(ended):
        print(line, file=sys.stderr if ended.state not in (KEPT, DISCARDED) else sys.stdout)
    if ended.state in (KEPT, DISCARDED):
        return 0
    return EXIT_ROLLED_BACK if fully_restored(ended) else EXIT_NOT_UNDONE


def _revert_at_deadline(record: GuardRecord) -> GuardRecord:
    """Its guard died: this kvmtui reverts at the deadline, as the guard would have
    (unless another session kept the change meanwhile)."""
    while not record.final and (left := record.seconds_left() or 0.0) > 0:
        time.sleep(min(0.2, left))
        record = journal.read(record.id) or record
    if record.final:
        return record
    return revert_here(record, f"not kept within {record.timeout} s; its guard had died: reverted by kvmtui apply",
                       (APPLYING, PENDING))


def _prompt(text: str) -> None:
    try:
        sys.stderr.write("\r\033[K" + text if text != "\n" else text)
        sys.stderr.flush()
    except OSError:
        pass

