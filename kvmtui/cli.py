"""Command line: global options, before or after the subcommand.

    kvmtui [--netns NS] [--connect URI] [--no-libvirt] [--from FILE] [--readonly] [dump [--json]]
    kvmtui [...] plan|apply bridge|bond|vlan|attach|detach|delete ...   (see cli_plan.py)
    kvmtui [...] audit [--format text|json|markdown] [--previous FILE] [--fail-on LEVEL]
    kvmtui [...] guards [--all] | confirm [ID] | revert [ID]              (see cli_guard.py)
    kvmtui [...] identify IFACE [--listen [N]] [--blink N] [--json]      (see cli_identify.py)

Exit codes: 0 done, 1 a problem the user can act on (one clear line on stderr),
2 usage, 3 a change failed and was rolled back, 4 a change failed and could not be fully
undone. A user error never prints a traceback.
`audit` is for scripts: 0 when no finding reaches --fail-on, 1 when one does, 2 on usage,
when the snapshot cannot be had (collection error, unreadable or malformed file), or when
the audit itself fails (a bug: the traceback is shown), never 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from datetime import datetime

from kvmtui import __version__
from kvmtui.errors import KvmtuiError
from kvmtui.model import Snapshot
from kvmtui.loading import load_snapshot
from kvmtui.serialize import read_snapshot_file


def _interval(text: str) -> float:
    """Seconds between polls: 0 or less would spin the CPU, nan never fires, hours look frozen."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.1 <= seconds <= 3600:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text} is outside 0.1 to 3600 seconds")
    return seconds


EPILOG = """\
Without a command, kvmtui starts the dashboard (of this host, or of the --from
recording). Global options may also follow it: `kvmtui dump --netns NS`.

exit codes:
  0  done (or planned)
  1  a problem or a refusal, in one line on stderr (unknown namespace,
     unreadable file, invalid input, read-only, apply on a recording...)
  2  usage
  3  a change failed, or was stopped (Ctrl-C, SIGTERM), and was rolled back
  4  a change failed and could not be fully undone: the lines say what is left
audit: 0 no finding reaches --fail-on, 1 one does, 2 usage or no snapshot
"""


def add_global_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    """The options every command shares. On a subcommand they default to SUPPRESS, so
    one given before the subcommand is not overwritten by the subcommand's default."""
    flag = False if default is None else default
    parser.add_argument("--netns", metavar="NS", default=default,
                        help="read this named network namespace (see `ip netns list`)")
    parser.add_argument("--connect", "-c", metavar="URI", default=default,
                        help="libvirt URI (default: $LIBVIRT_DEFAULT_URI or qemu:///system)")
    parser.add_argument("--no-libvirt", action="store_true", default=flag,
                        help="do not ask libvirt about guests and networks (with --from: leave the recorded ones out)")
    parser.add_argument("--from", dest="from_file", metavar="FILE", default=default,
                        help="use a snapshot recorded with `kvmtui dump --json` instead of this host")
    parser.add_argument("--readonly", action="store_true", default=flag,
                        help="never change the host (audits; docs/readonly.md)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kvmtui", description="The network of a KVM host, from the wire to the guests.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"kvmtui {__version__}",
                        help="print the version and exit")
    add_global_options(parser)
    parser.add_argument("--interval", type=_interval, default=2.0, metavar="S",
                        help="the dashboard's polling interval for counters and bonding files, 0.1 to 3600 seconds")
    parser.add_argument("--confirm", metavar="S", default=None,
                        help="guard every change with a countdown of S seconds (10-3600): the dashboard's, and "
                             "`apply`'s (default: 60 s where a change may cut your SSH session)")
    shared = argparse.ArgumentParser(add_help=False)
    add_global_options(shared, argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    dump = commands.add_parser("dump", help="print the topology tree, or the whole snapshot as JSON", parents=[shared])
    dump.add_argument("--json", action="store_true", help="snapshot and tree as JSON (docs/dump-json.md)")
    audit = commands.add_parser("audit", help="check the host for misconfigurations (docs/audit.md)", parents=[shared])
    audit.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                       help="text (default; 80 columns, no colour), json (docs/audit.md) or markdown")
    audit.add_argument("--previous", metavar="FILE",
                       help="an earlier recorded snapshot of the same host: also report what grew since (bond link failures)")
    audit.add_argument("--fail-on", choices=("info", "warning", "error"), default="warning",
                       help="exit 1 when a finding is at least this serious (default: warning)")
    from kvmtui.cli_plan import add_plan_commands

    add_plan_commands(commands, shared)
    from kvmtui.cli_guard import add_guard_commands

    add_guard_commands(commands, shared)
    from kvmtui.cli_identify import add_identify_command

    add_identify_command(commands, shared)
    from kvmtui.cli_export import add_export_command, add_fact_command

    add_export_command(commands, shared)
    add_fact_command(commands, shared)
    from kvmtui.cli_fleet import add_fleet_command

    add_fleet_command(commands, shared)
    return parser


def run_dump(args: argparse.Namespace) -> int:
    from kvmtui.serialize import snapshot_document, to_jsonable
    from kvmtui.topology import build_forest

    snapshot = load_snapshot(args)
    forest = build_forest(snapshot)
    if args.json:
        json.dump(snapshot_document(snapshot, to_jsonable(forest)), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        from rich.console import Console

        from kvmtui.render import rich_tree

        host = snapshot.host
        title = f"{host.hostname}" + (f" netns {host.netns}" if host.netns else "") + f" ({host.taken_at})"
        Console(highlight=False).print(rich_tree(forest, title))
    for line in _notes(snapshot, args):
        print(f"kvmtui: {line}", file=sys.stderr)
    return 0


def run_audit(args: argparse.Namespace) -> int:
    """Exit 0: nothing reaches --fail-on; 1: something does; 2: the snapshot could not be had
    or the audit failed."""
    from kvmtui.audit import audit, reaches
    from kvmtui.audit.report import json_report, markdown_report, text_report

    try:
        snapshot = load_snapshot(args)
        previous = read_snapshot_file(args.previous) if args.previous else None
    except KvmtuiError as exc:
        print(f"kvmtui: {exc}", file=sys.stderr)
        return 2
    refusal = _not_earlier(snapshot, previous, args.previous) if previous is not None else None
    if refusal:
        print(f"kvmtui: {refusal}", file=sys.stderr)
        return 2
    try:
        findings = audit(snapshot, previous)
        report = (json_report(snapshot, findings, args.fail_on) if args.format == "json"
                  else markdown_report(snapshot, findings) if args.format == "markdown" else text_report(snapshot, findings))
    except Exception:  # a bug, not a finding: exit 1 would tell a cron job the host is at fault
        traceback.print_exc()
        print("kvmtui: the audit itself failed (a bug in kvmtui: the traceback above is for a report)", file=sys.stderr)
        return 2
    sys.stdout.write(report)
    return 1 if reaches(findings, args.fail_on) else 0


def _not_earlier(snapshot: Snapshot, previous: Snapshot, path: str) -> str | None:
    """Why `previous` cannot be compared with `snapshot`: growth and moves against another
    host, another namespace or a later time would be findings about nothing."""
    def where(host) -> str:
        return host.hostname + (f" netns {host.netns}" if host.netns else "")

    now, then = snapshot.host, previous.host
    if (now.hostname, now.netns) != (then.hostname, then.netns):
        return f"--previous {path} is of {where(then)}, not of {where(now)}"
    try:
        later = datetime.fromisoformat(then.taken_at) > datetime.fromisoformat(now.taken_at)
    except (TypeError, ValueError):
        return f"--previous {path}: taken_at {then.taken_at!r} is not a time to compare"
    if later:
        return f"--previous {path} was taken at {then.taken_at}, after this snapshot ({now.taken_at})"
    return None


def _notes(snapshot: Snapshot, args: argparse.Namespace) -> list[str]:
    notes = list(snapshot.problems)
    if snapshot.libvirt_error:
        notes.insert(0, f"no guests shown: {snapshot.libvirt_error}")
    if args.from_file and args.no_libvirt:
        notes.insert(0, f"libvirt was not read (--no-libvirt): the guests and networks of {args.from_file} are left out")
    return notes


def run_dashboard(args: argparse.Namespace) -> int:
    if args.confirm is not None:
        from kvmtui.guard.start import parse_seconds

        args.confirm = parse_seconds(args.confirm)  # a KvmtuiError: one line, exit 1
    recorded = load_snapshot(args) if args.from_file else None  # a bad file: one line, exit 1
    from kvmtui.ui.app import run_app

    return run_app(args, recorded)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.readonly:
        from kvmtui.privileges import drop_net_admin

        drop_net_admin()  # before any thread exists: the kernel itself refuses changes from here on
    if args.command in ("dump", "audit", "plan", "apply") and not args.from_file:
        from kvmtui.cli_guard import orphan_notes

        for note in orphan_notes():  # the dashboard shows them on its own screen
            print(f"kvmtui: {note}", file=sys.stderr)
    try:
        if args.command == "dump":
            return run_dump(args)
        if args.command == "audit":
            return run_audit(args)
        if args.command in ("plan", "apply"):
            from kvmtui.cli_plan import run_plan

            return run_plan(args)
        if args.command in ("guards", "confirm", "revert"):
            from kvmtui.cli_guard import run_guard_command

            return run_guard_command(args)
        if args.command == "fleet":
            from kvmtui.cli_fleet import run_fleet

            return run_fleet(args)
        if args.command in ("export", "fact"):
            from kvmtui.cli_export import run_export, run_fact

            return run_export(args) if args.command == "export" else run_fact(args)
        if args.command == "identify":
            from kvmtui.cli_identify import run_identify

            return run_identify(args)
        return run_dashboard(args)
    except KvmtuiError as exc:
        print(f"kvmtui: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`)
        try:  # nothing more can reach it: no "Exception ignored" when Python flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        # dump and audit output cut short is what `| head` asks for; a plan or apply that
        # could not be shown in full was not applied (apply's own lines never raise this)
        return 0 if args.command in ("dump", "audit") else 1
