"""`kvmtui plan|apply ...`: the wizards' engine without the screen.

Exit codes: 0 applied (or planned), 1 refused by validation, read-only or a recorded
snapshot, 2 usage, 3 failed (or stopped: Ctrl-C, SIGTERM) and rolled back, 4 failed and
not fully undone.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from kvmtui.collect.decode_links import LACP_RATE
from kvmtui.errors import KvmtuiError
from kvmtui.plan import AttachInterface, CreateBond, CreateBridge, CreateVlan, DeleteLink, DetachInterface, Intent
from kvmtui.plan.validate import VLAN_PROTOCOLS
from kvmtui.session import ssh_connection

EXIT_REFUSED, EXIT_USAGE, EXIT_ROLLED_BACK, EXIT_NOT_UNDONE = 1, 2, 3, 4


def add_plan_commands(commands, shared: argparse.ArgumentParser) -> None:
    """`shared`: the global options, also accepted after `plan`/`apply` and after WHAT."""
    for verb, text in (("plan", "show what a change would do; change nothing"),
                       ("apply", "show the change, ask, apply it, verify it (rolls back on failure)")):
        parser = commands.add_parser(verb, help=text, parents=[shared])
        # `apply --yes bridge br0` and `apply bridge br0 --yes` both work
        yes = argparse.ArgumentParser(add_help=False)
        if verb == "apply":
            parser.add_argument("--yes", "-y", action="store_true", help="do not ask")
            yes.add_argument("--yes", "-y", action="store_true", default=argparse.SUPPRESS, help="do not ask")
        what = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
        yes = argparse.ArgumentParser(add_help=False, parents=[yes, shared])  # and the global options after WHAT
        bridge = what.add_parser("bridge", help="create a Linux bridge", parents=[yes])
        bridge.add_argument("name")
        bridge.add_argument("--port", dest="ports", action="append", default=[], metavar="IF")
        bridge.add_argument("--stp", choices=("on", "off"), default="off")
        bridge.add_argument("--forward-delay", type=int, metavar="S")
        bridge.add_argument("--mtu", type=int)
        bridge.add_argument("--move-ip-from", metavar="IF", help="move this uplink's addresses, routes and MAC to the bridge")
        bond = what.add_parser("bond", help="create a bond", parents=[yes])
        bond.add_argument("name")
        bond.add_argument("--mode", required=True)
        bond.add_argument("--slave", dest="slaves", action="append", default=[], metavar="IF", required=True)
        bond.add_argument("--miimon", type=int, metavar="MS")
        bond.add_argument("--arp-interval", type=int, metavar="MS")
        bond.add_argument("--arp-ip-target", action="append", default=[], metavar="IP")
        bond.add_argument("--lacp-rate", choices=LACP_RATE)
        bond.add_argument("--xmit-hash-policy", metavar="P")
        bond.add_argument("--primary", metavar="IF")
        vlan = what.add_parser("vlan", help="create a VLAN device", parents=[yes])
        vlan.add_argument("parent")
        vlan.add_argument("vid", type=int)
        vlan.add_argument("--name")
        vlan.add_argument("--protocol", choices=VLAN_PROTOCOLS, default="802.1Q")
        attach = what.add_parser("attach", help="give a guest an interface on a bridge or by macvtap", parents=[yes])
        attach.add_argument("domain")
        target = attach.add_mutually_exclusive_group(required=True)
        target.add_argument("--bridge", metavar="BR")
        target.add_argument("--macvtap", metavar="LOWER")
        attach.add_argument("--mode", choices=("vepa", "bridge", "private", "passthrough"))
        attach.add_argument("--mac")
        attach.add_argument("--model", default="virtio")
        attach.add_argument("--live", action="store_true")
        attach.add_argument("--config", action="store_true")
        detach = what.add_parser("detach", help="remove a guest interface", parents=[yes])
        detach.add_argument("domain")
        detach.add_argument("mac")
        detach.add_argument("--live", action="store_true")
        detach.add_argument("--config", action="store_true")
        delete = what.add_parser("delete", help="delete a bridge, bond or VLAN", parents=[yes])
        delete.add_argument("ifname")
        delete.add_argument("--move-ip-to", metavar="IF", help="give the addresses and routes back to this former port")
        for sub in what.choices.values():  # a PlanError's field, as the user typed it: forward_delay -> --forward-delay
            sub.set_defaults(options={a.dest: max(a.option_strings, key=len) for a in sub._actions if a.option_strings})


def intent_from_args(args: argparse.Namespace) -> Intent:
    if args.what == "bridge":
        return CreateBridge(args.name, tuple(args.ports), args.stp == "on", args.forward_delay, args.mtu, args.move_ip_from)
    if args.what == "bond":
        return CreateBond(args.name, args.mode, tuple(args.slaves), args.miimon, args.arp_interval,
                          tuple(args.arp_ip_target), args.lacp_rate, args.xmit_hash_policy, args.primary)
    if args.what == "vlan":
        return CreateVlan(args.parent, args.vid, args.name, args.protocol)
    if args.what == "attach":
        return AttachInterface(args.domain, args.bridge, args.macvtap, args.mode, args.mac, args.model, args.live, args.config)
    if args.what == "detach":
        return DetachInterface(args.domain, args.mac, args.live, args.config)
    return DeleteLink(args.ifname, args.move_ip_to)


def run_plan(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kvmtui.apply import Executor, ReadOnlyRefused
    from kvmtui.cli import load_snapshot
    from kvmtui.plan import PlanError, make_plan
    from kvmtui.plan.diff import confirmation
    from kvmtui.render import confirmation_text

    if args.what == "attach" and args.mode and not args.macvtap:
        print("kvmtui: --mode is the macvtap mode: it needs --macvtap (a bridge interface has none)", file=sys.stderr)
        return EXIT_USAGE
    if args.from_file and args.command == "apply":
        print(f"kvmtui: {args.from_file} is a recorded snapshot: it cannot be changed (`plan` shows what the change "
              "would do there)", file=sys.stderr)
        return EXIT_REFUSED
    console = Console(highlight=False)
    snapshot = load_snapshot(args)
    # on a recording: what the change would do on the recorded host, whose SSH sessions are not this one;
    # here: also under sudo or su -, which drop $SSH_CONNECTION
    ssh = None if args.from_file else ssh_connection()
    try:
        plan = make_plan(intent_from_args(args), snapshot)
    except PlanError as exc:
        print(f"kvmtui: {args.options.get(exc.field, exc.field)}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    # never wrapped by Rich (a pipe is 80 columns to it): a command cut in two runs something else when pasted
    console.print(confirmation_text(confirmation(plan, snapshot, ssh)), soft_wrap=True)
    if args.command == "plan":
        return 0
    if args.readonly:
        print(f"kvmtui: {ReadOnlyRefused()}", file=sys.stderr)
        return EXIT_REFUSED
    if not args.yes and not _confirmed():
        print("kvmtui: nothing changed", file=sys.stderr)
        return EXIT_REFUSED

    stop: list[str] = []  # the signal that asked to stop: "Ctrl-C" or "SIGTERM"

    def progress(number: int, step, state: str) -> None:
        _say(f"  [{number}/{len(plan.steps)}] {state:7} {step.command}")
        if stop and state in ("running", "done"):  # acted on between steps: the executor rolls back
            raise KeyboardInterrupt(stop[0])

    with _shielded(stop):
        try:
            report = Executor(args.netns, args.connect, args.readonly).apply(plan, progress)
        except KvmtuiError as exc:
            _say(f"kvmtui: {exc}")
            return EXIT_REFUSED
    if stop and report.ok:
        _say(f"kvmtui: {stop[0]} came after the last step: the change stays")
    _say(f"kvmtui: {report.summary()}", sys.stderr if not report.ok else sys.stdout)
    if report.ok:
        return 0
    return EXIT_NOT_UNDONE if report.undo_errors else EXIT_ROLLED_BACK


def _confirmed() -> bool:
    try:
        answer = input("Apply this plan? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


STOPPING_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


@contextmanager
def _shielded(stop: list[str]) -> Iterator[None]:
    """While the steps run: SIGHUP is ignored (an SSH drop must not kill a half-applied
    change), and Ctrl-C or SIGTERM (`timeout`, `systemctl stop`, a container stop) is
    noted, to stop and roll back between steps rather than in the middle of one; a second
    one stops a step that hangs. The handlers are put back."""
    def interrupted(signum, _frame) -> None:
        if stop:
            raise KeyboardInterrupt(stop[0])
        stop.append(STOPPING_SIGNALS[signum])

    hangup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    previous = {signum: signal.signal(signum, interrupted) for signum in STOPPING_SIGNALS}
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, hangup)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _say(text: str, stream=None) -> None:
    """A line about the apply; a terminal or pipe that went away (SSH drop, `| head`) does not stop it."""
    try:
        print(text, file=stream or sys.stderr, flush=True)
    except OSError:
        pass
