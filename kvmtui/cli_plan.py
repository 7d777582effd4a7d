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

from kvmtui.errors import KvmtuiError
from kvmtui.plan import AttachInterface, CreateBond, CreateBridge, CreateVlan, DeleteLink, DetachInterface, Intent
from kvmtui.plan.validate import (
    BOND_MAX_ARP_TARGETS,
    MTU_MAX,
    MTU_MIN,
    QEMU_NIC_MODELS,
    listed,
)
from kvmtui.session import ssh_connection
from kvmtui.vocabulary import BOND_MODES, LACP_RATE, MACVTAP_DEFAULT_MODE, MACVTAP_MODES, VLAN_PROTOCOL_NAMES, XMIT_HASH

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
        bridge.add_argument("name", help="the new bridge's name")
        bridge.add_argument("--port", dest="ports", action="append", default=[], metavar="IF",
                            help="make IF a port (repeat for more); not a bond slave, bridge port, or a device "
                                 "carrying macvtaps/macvlans")
        bridge.add_argument("--stp", choices=("on", "off"), default="off", help="spanning tree (default: off)")
        bridge.add_argument("--forward-delay", type=int, metavar="S",
                            help="seconds, 0 to 30 (2 to 30 with STP; default: the kernel's 15)")
        bridge.add_argument("--mtu", type=int, help=f"{MTU_MIN} to {MTU_MAX}, at most the ports' (default: from the ports)")
        bridge.add_argument("--move-ip-from", metavar="IF", help="move this uplink's addresses, routes and MAC to the "
                                                                 "bridge (it must be a --port too)")
        bond = what.add_parser("bond", help="create a bond", parents=[yes])
        bond.add_argument("name", help="the new bond's name")
        bond.add_argument("--mode", required=True, help=f"name or number: {listed(BOND_MODES)}")
        bond.add_argument("--slave", dest="slaves", action="append", default=[], metavar="IF", required=True,
                          help="enslave IF (repeat for more): a NIC without addresses, in no bond or bridge")
        bond.add_argument("--miimon", type=int, metavar="MS", help="MII link monitoring interval (default: 100 "
                                                                   "unless --arp-interval)")
        bond.add_argument("--arp-interval", type=int, metavar="MS", help="ARP monitoring interval, instead of MII "
                                                                         "(not in 802.3ad, balance-tlb, balance-alb)")
        bond.add_argument("--arp-ip-target", action="append", default=[], metavar="IP",
                          help=f"IPv4 address to ARP for (repeat, up to {BOND_MAX_ARP_TARGETS})")
        bond.add_argument("--lacp-rate", metavar="R", help=f"802.3ad only: {listed(LACP_RATE)} (default: slow)")
        bond.add_argument("--xmit-hash-policy", metavar="P", help=f"balance-xor, 802.3ad, balance-tlb, balance-alb: "
                                                                  f"{listed(XMIT_HASH)} (default: layer2)")
        bond.add_argument("--primary", metavar="IF", help="preferred slave (active-backup, balance-tlb, balance-alb)")
        vlan = what.add_parser("vlan", help="create a VLAN device", parents=[yes])
        vlan.add_argument("parent", help="a NIC, bond or bridge (not a bond slave)")
        vlan.add_argument("vid", type=int, help="VLAN id, 1 to 4094")
        vlan.add_argument("--name", help="the VLAN device's name (default: PARENT.VID)")
        vlan.add_argument("--protocol", choices=VLAN_PROTOCOL_NAMES, default="802.1Q", help="default: 802.1Q (802.1ad: QinQ)")
        attach = what.add_parser("attach", help="give a guest an interface on a bridge or by macvtap", parents=[yes])
        attach.add_argument("domain", help="the guest's name")
        target = attach.add_mutually_exclusive_group(required=True)
        target.add_argument("--bridge", metavar="BR", help="plug the NIC into this bridge")
        target.add_argument("--macvtap", metavar="LOWER", help="or give it a macvtap on this device (not a bridge, "
                                                               "a bridge port or a bond slave)")
        attach.add_argument("--mode", choices=MACVTAP_MODES, help=f"macvtap mode: {', '.join(MACVTAP_MODES)} "
                                                                  f"(default: {MACVTAP_DEFAULT_MODE}, as libvirt)")
        attach.add_argument("--mac", help="the NIC's MAC (default: a free 52:54:00 address)")
        attach.add_argument("--model", default="virtio", help=f"NIC model (default: virtio): {', '.join(QEMU_NIC_MODELS)}")
        add_where(attach, "plug")
        detach = what.add_parser("detach", help="remove a guest interface", parents=[yes])
        detach.add_argument("domain", help="the guest's name")
        detach.add_argument("mac", help="the interface's MAC address")
        add_where(detach, "unplug")
        delete = what.add_parser("delete", help="delete a bridge, bond or VLAN", parents=[yes])
        delete.add_argument("ifname", help="the bridge, bond or VLAN to delete")
        delete.add_argument("--move-ip-to", metavar="IF", help="give the addresses and routes back to this former port")
        for sub in what.choices.values():  # a PlanError's field, as the user typed it: forward_delay -> --forward-delay
            sub.set_defaults(options={a.dest: max(a.option_strings, key=len) for a in sub._actions if a.option_strings})


def add_where(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument("--live", action="store_true", help=f"{verb} the running guest only (default: without "
                                                           "--live and --config, the running guest and the definition "
                                                           "where each exists)")
    parser.add_argument("--config", action="store_true", help=f"{verb} the guest's definition only (both: both)")


def empty_option(args: argparse.Namespace) -> str | None:
    """An option given as "" would read as not given (a new MAC, no address move): say so instead."""
    for dest, option in args.options.items():
        value = getattr(args, dest, None)
        if value == "" or (isinstance(value, list) and "" in value):
            return option
    return None


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
    from kvmtui.loading import load_snapshot
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
    if (option := empty_option(args)) is not None:
        print(f"kvmtui: {option}: the value is empty; give one, or leave {option} out", file=sys.stderr)
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
