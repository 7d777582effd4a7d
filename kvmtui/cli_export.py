"""`kvmtui export --format nmstate [--nncp NODE] [WHAT ...]`: the host, or the host as a
plan would leave it (WHAT: any `kvmtui plan` change, simulated, nothing applied), as nmstate
YAML or a kubernetes-nmstate NodeNetworkConfigurationPolicy. `kvmtui fact`: the JSON of
Ansible's local fact (contrib/ansible/kvmtui.fact, docs/ansible.md)."""

from __future__ import annotations

import argparse
import sys

from kvmtui.cli_plan import EXIT_USAGE, add_options, intent_from_args
from kvmtui.kinds import COMMANDS


def add_export_command(commands, shared: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("export", parents=[shared],
                                 help="the host (or a plan's result) in another tool's format: nmstate YAML")
    parser.add_argument("--format", choices=("nmstate",), default="nmstate", help="nmstate (the only one yet)")
    parser.add_argument("--nncp", metavar="NODE",
                        help="wrap it as a kubernetes-nmstate NodeNetworkConfigurationPolicy for the node NODE")
    what = parser.add_subparsers(dest="what", metavar="WHAT",
                                 help="a change as `kvmtui plan` takes it: export the host as it would leave it")
    for command in COMMANDS.values():
        add_options(what.add_parser(command.name, help=command.spec.help, parents=[shared]), command.params)
    for sub in what.choices.values():
        sub.set_defaults(options={a.dest: max(a.option_strings, key=len) for a in sub._actions if a.option_strings})


def add_fact_command(commands, shared: argparse.ArgumentParser) -> None:
    commands.add_parser("fact", parents=[shared],
                        help="Ansible's local fact as JSON: bridges, bond health, findings (docs/ansible.md)")


def run_fact(args: argparse.Namespace) -> int:
    import json

    from kvmtui.audit import audit
    from kvmtui.export.ansible_fact import ansible_fact
    from kvmtui.loading import load_snapshot

    snapshot = load_snapshot(args)
    json.dump(ansible_fact(snapshot, audit(snapshot)), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ruamel.yaml import YAML

    from kvmtui.export.nmstate import export_document
    from kvmtui.loading import load_snapshot

    snapshot = load_snapshot(args)
    title = f"# nmstate desired state of {snapshot.host.hostname}" + (
        f" netns {snapshot.host.netns}" if snapshot.host.netns else "") + f", read {snapshot.host.taken_at}"
    if getattr(args, "what", None):
        from kvmtui.kinds import make_plan
        from kvmtui.plan.simulate import simulate

        if (wrong := COMMANDS[args.what].usage(vars(args))) is not None:
            print(f"kvmtui: {wrong}", file=sys.stderr)
            return EXIT_USAGE
        plan = make_plan(intent_from_args(args), snapshot)
        snapshot = simulate(snapshot, plan.steps)
        title += f", after the plan: {plan.title}"
    document, unexported = export_document(snapshot, args.nncp)
    print(title)
    if unexported:
        print(f"# not exported (nmstate does not manage them): {', '.join(unexported)}")
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.dump(document, sys.stdout)
    return 0
