"""`kvmtui fleet ...`: many hosts through Ansible (kvmtui/fleet/, docs/ansible.md).

    kvmtui fleet collect -i INVENTORY [--limit PATTERN] [--dir DIR] [--forks N]
    kvmtui fleet audit [DIR] [--format text|json] [--fail-on LEVEL]
    kvmtui fleet apply -i INVENTORY [--serial N] [--confirm S] [--check] WHAT ...
    kvmtui fleet [DIR]                  the fleet view; Enter opens a host read-only, q there comes back
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

DEFAULT_DIR = "kvmtui-fleet"


def add_fleet_command(commands, shared: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("fleet", parents=[shared], help="many hosts through Ansible: collect, audit, view "
                                 "(`kvmtui fleet --help`)", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fleet_args", nargs=argparse.REMAINDER, metavar="collect|audit|DIR ...")


def _sub_parsers() -> dict[str, argparse.ArgumentParser]:
    collect = argparse.ArgumentParser(prog="kvmtui fleet collect")
    collect.add_argument("-i", "--inventory", required=True, help="an Ansible inventory (file, directory or script)")
    collect.add_argument("--limit", metavar="PATTERN", help="only these hosts (Ansible's --limit)")
    collect.add_argument("--dir", default=DEFAULT_DIR, help=f"where the snapshots go (default: ./{DEFAULT_DIR})")
    collect.add_argument("--forks", type=int, default=10, help="hosts read at once (Ansible's -f; default 10)")
    collect.add_argument("--kvmtui", default="kvmtui", metavar="COMMAND",
                         help="how kvmtui is run on the hosts (default: kvmtui, from their PATH)")
    audit = argparse.ArgumentParser(prog="kvmtui fleet audit")
    audit.add_argument("dir", nargs="?", default=DEFAULT_DIR)
    audit.add_argument("--format", choices=("text", "json"), default="text")
    audit.add_argument("--fail-on", choices=("info", "warning", "error"), default="warning",
                       help="exit 1 when a finding on any host is at least this serious (default: warning)")
    apply = argparse.ArgumentParser(prog="kvmtui fleet apply")
    apply.add_argument("-i", "--inventory", required=True)
    apply.add_argument("--limit", metavar="PATTERN")
    apply.add_argument("--serial", type=int, default=1, help="hosts changed at once (default 1)")
    apply.add_argument("--confirm", type=int, default=60, metavar="S",
                       help="each host's guard: reverted unless kept within S seconds (default 60)")
    apply.add_argument("--check", action="store_true", help="`kvmtui plan` on every host instead: each one's diff")
    apply.add_argument("--kvmtui", default="kvmtui", metavar="COMMAND")
    apply.add_argument("plan", nargs=argparse.REMAINDER, metavar="WHAT ...", help="the change, as `kvmtui plan` takes it")
    view = argparse.ArgumentParser(prog="kvmtui fleet")
    view.add_argument("dir", nargs="?", default=DEFAULT_DIR)
    return {"collect": collect, "audit": audit, "apply": apply, "view": view}


def run_fleet(args: argparse.Namespace) -> int:
    rest = list(args.fleet_args)
    verb = rest.pop(0) if rest and rest[0] in ("collect", "audit", "apply") else "view"
    options = _sub_parsers()[verb].parse_args(rest)
    if verb == "collect":
        return _collect(options)
    if verb == "audit":
        return _audit(options)
    if verb == "apply":
        return _apply(options)
    return _view(options, args)


def _collect(options: argparse.Namespace) -> int:
    from kvmtui.fleet.collect import collect

    statuses = collect(options.inventory, Path(options.dir), options.limit, options.forks,
                       remote=f"{options.kvmtui} --readonly dump --json")
    for status in statuses:
        print(f"{status.host}: {status.status}" + (f" ({status.reason})" if status.reason else ""))
    ok = sum(1 for s in statuses if s.status == "ok")
    print(f"{ok} of {len(statuses)} host(s) collected into {options.dir}")
    return 0 if ok == len(statuses) else 1


def _apply(options: argparse.Namespace) -> int:
    from kvmtui.fleet.collect import command_outputs
    from kvmtui.fleet.rollout import roll_out
    from kvmtui.guard.start import parse_seconds

    if not options.plan:
        print("kvmtui fleet apply: the change is missing (e.g. `bridge br0 --port eno4`)", file=sys.stderr)
        return 2
    if options.check:  # each host's plan and diff, nothing changed
        results = command_outputs(options.inventory, f"{options.kvmtui} plan {shlex.join(options.plan)}",
                                  options.limit)
        for host, state, output in results:
            print(f"== {host}: {state}\n{output.rstrip()}")
        return 0 if all(state == "ok" for _, state, _ in results) else 1
    seconds = parse_seconds(str(options.confirm))
    outcomes, output = roll_out(options.inventory, options.plan, seconds, options.serial, options.limit,
                                options.kvmtui)
    for outcome in outcomes:
        print(f"{outcome.host}: {outcome.outcome}")
    stopped = next((o.host for o in outcomes if o.outcome != "kept"), None)
    if stopped:
        print(f"the rollout stopped at {stopped}; ansible-playbook said:\n{output[-2500:]}")
    return 1 if stopped else 0


def _audit(options: argparse.Namespace) -> int:
    from kvmtui.fleet.audit import fleet_findings, fleet_json, fleet_reaches, fleet_text
    from kvmtui.fleet.store import read_fleet

    results = fleet_findings(read_fleet(Path(options.dir)))
    sys.stdout.write(fleet_json(results, options.fail_on) if options.format == "json" else fleet_text(results))
    return 1 if fleet_reaches(results, options.fail_on) else 0


def _view(options: argparse.Namespace, args: argparse.Namespace) -> int:
    from kvmtui.fleet.audit import fleet_findings
    from kvmtui.fleet.rows import fleet_rows
    from kvmtui.fleet.store import read_fleet
    from kvmtui.ui.app import run_app
    from kvmtui.ui.fleet_app import FleetApp

    hosts = read_fleet(Path(options.dir))
    snapshots = {h.status.host: _readable(h) for h in hosts}
    rows = fleet_rows(hosts, fleet_findings(hosts), snapshots)
    sort = "findings"
    while True:
        app = FleetApp(rows, options.dir, sort)
        chosen = app.run()
        sort = app.sort_key
        if not chosen:
            return 0
        if snapshots.get(chosen) is None:  # never collected: nothing to open
            continue
        args.readonly, args.no_libvirt = True, False  # a recording: nothing of this host changes from here
        run_app(args, snapshots[chosen])


def _readable(host):
    from kvmtui.errors import KvmtuiError

    try:
        return host.snapshot()
    except KvmtuiError:
        return None
