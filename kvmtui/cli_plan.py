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

from dataclasses import replace

from kvmtui.errors import KvmtuiError
from kvmtui.collect.netconfig import read_text
from kvmtui.guard.start import apply_guarded, check_unguarded, guard_policy, parse_seconds
from kvmtui.persist.choose import backend_word
from kvmtui.persist.saved import saved_change
from kvmtui.kinds import COMMANDS, Intent, Param
from kvmtui.session import ssh_connection

EXIT_REFUSED, EXIT_USAGE, EXIT_ROLLED_BACK, EXIT_NOT_UNDONE = 1, 2, 3, 4


def add_plan_commands(commands, shared: argparse.ArgumentParser) -> None:
    """`shared`: the global options, also accepted after `plan`/`apply` and after WHAT."""
    for verb, text in (("plan", "show what a change would do; change nothing"),
                       ("apply", "show the change, ask, apply it, verify it (rolls back on failure)")):
        parser = commands.add_parser(verb, help=text, parents=[shared])
        # `apply --yes bridge br0` and `apply bridge br0 --yes` both work
        apply_options = argparse.ArgumentParser(add_help=False)
        add_persist_options(parser, None)
        add_persist_options(apply_options, argparse.SUPPRESS)
        if verb == "apply":
            add_apply_options(parser, None)
            add_apply_options(apply_options, argparse.SUPPRESS)
        what = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
        after_what = argparse.ArgumentParser(add_help=False, parents=[apply_options, shared])
        for command in COMMANDS.values():
            add_options(what.add_parser(command.name, help=command.spec.help, parents=[after_what]), command.params)
        for sub in what.choices.values():  # a PlanError's field, as the user typed it: forward_delay -> --forward-delay
            sub.set_defaults(options={a.dest: max(a.option_strings, key=len) for a in sub._actions if a.option_strings})


def add_apply_options(parser: argparse.ArgumentParser, default: object) -> None:
    """apply's own options; after WHAT they default to SUPPRESS, not to overwrite those before it."""
    flag = False if default is None else default
    parser.add_argument("--yes", "-y", action="store_true", default=flag, help="do not ask")
    # before `apply` the global --confirm holds the value (the dashboard's option too): not reset here
    parser.add_argument("--confirm", metavar="S", default=argparse.SUPPRESS,
                        help="keep the change only if confirmed within S seconds (10-3600; default 60 when the "
                             "change may cut your SSH session or the default route): y, or `kvmtui confirm`")
    parser.add_argument("--no-confirm", action="store_true", default=flag,
                        help="no countdown, even where the change may cut your SSH session")


def add_persist_options(parser: argparse.ArgumentParser, default: object) -> None:
    flag = False if default is None else default
    parser.add_argument("--persist", metavar="BACKEND", default=default,
                        help="save the change in this backend's configuration: networkmanager, netplan, networkd, "
                             "ifupdown2 (default: the one that manages the devices, or the uplink)")
    parser.add_argument("--no-persist", action="store_true", default=flag,
                        help="change the running host only: nothing is saved, a reboot undoes it")


def add_options(parser: argparse.ArgumentParser, params: tuple[Param, ...]) -> None:
    """A kind's fields as arguments (positional) and options; a required exclusive group for
    options of which exactly one is given (attach: --bridge or --macvtap)."""
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for param in params:
        target = parser
        if param.exclusive is not None:
            if param.exclusive not in groups:
                groups[param.exclusive] = parser.add_mutually_exclusive_group(required=param.required)
            target = groups[param.exclusive]
        if param.option is None:
            target.add_argument(param.name, help=param.help, **({"type": param.type} if param.type else {}))
            continue
        options: dict[str, object] = {"dest": param.dest, "help": param.help}
        if param.flag:
            options["action"] = "store_true"
        else:
            options.update({key: value for key, value in (
                ("action", "append" if param.repeat else None), ("default", param.cli_default),
                ("metavar", param.metavar), ("choices", param.choices), ("type", param.type),
                ("required", param.required and param.exclusive is None or None)) if value is not None})
        target.add_argument(param.option, **options)


def empty_option(args: argparse.Namespace) -> str | None:
    """An option given as "" would read as not given (a new MAC, no address move): say so instead."""
    for dest, option in args.options.items():
        value = getattr(args, dest, None)
        if value == "" or (isinstance(value, list) and "" in value):
            return option
    return None


def intent_from_args(args: argparse.Namespace) -> Intent:
    return COMMANDS[args.what].from_cli(args)


def run_plan(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kvmtui.apply import Executor, ReadOnlyRefused
    from kvmtui.loading import load_snapshot
    from kvmtui.plan import PlanError
    from kvmtui.kinds import make_plan
    from kvmtui.plan.diff import confirmation
    from kvmtui.render import confirmation_text

    if (wrong := COMMANDS[args.what].usage(vars(args))) is not None:
        print(f"kvmtui: {wrong}", file=sys.stderr)
        return EXIT_USAGE
    if args.from_file and args.command == "apply":
        print(f"kvmtui: {args.from_file} is a recorded snapshot: it cannot be changed (`plan` shows what the change "
              "would do there)", file=sys.stderr)
        return EXIT_REFUSED
    if (option := empty_option(args)) is not None:
        print(f"kvmtui: {option}: the value is empty; give one, or leave {option} out", file=sys.stderr)
        return EXIT_REFUSED
    if args.command == "apply" and args.confirm is not None and args.no_confirm:
        print("kvmtui: --confirm and --no-confirm: give one of them", file=sys.stderr)
        return EXIT_REFUSED
    confirm_seconds = parse_seconds(args.confirm) if args.command == "apply" and args.confirm is not None else None
    if args.persist is not None and args.no_persist:
        print("kvmtui: --persist and --no-persist: give one of them", file=sys.stderr)
        return EXIT_REFUSED
    persist_backend = None
    if args.persist is not None and (persist_backend := backend_word(args.persist)) is None:
        print(f"kvmtui: --persist: {args.persist!r} is none of networkmanager, netplan, networkd, ifupdown, ifupdown2",
              file=sys.stderr)
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
    saved = None if args.no_persist else saved_change(plan, snapshot, read_text, persist_backend)
    shown = confirmation(plan, snapshot, ssh)
    policy = guard_policy(shown.at_risk, confirm_seconds, args.command == "apply" and args.no_confirm)
    shown = replace(shown, countdown=policy.seconds if args.command == "apply" else None, unguarded=policy.refused,
                    saved=saved.lines() if saved else ())
    # never wrapped by Rich (a pipe is 80 columns to it): a command cut in two runs something else when pasted
    console.print(confirmation_text(shown), soft_wrap=True)
    if args.command == "plan":
        return 0
    if args.readonly:
        print(f"kvmtui: {ReadOnlyRefused()}", file=sys.stderr)
        return EXIT_REFUSED
    check_unguarded(plan, args.netns)  # a KvmtuiError: one line, exit 1, nothing changed
    if saved is not None and saved.changes:
        from kvmtui.apply.persist_files import cannot_save

        if (why := cannot_save(saved.backend, saved.changes)) is not None:
            print(f"kvmtui: cannot save the change in {saved.backend}: {why}; nothing changed "
                  "(--no-persist applies it live only)", file=sys.stderr)
            return EXIT_REFUSED
    if not args.yes and not _confirmed():
        print("kvmtui: nothing changed", file=sys.stderr)
        return EXIT_REFUSED

    stop: list[str] = []  # the signal that asked to stop: "Ctrl-C" or "SIGTERM"

    def progress(number: int, step, state: str) -> None:
        _say(f"  [{number}/{len(plan.steps)}] {state:7} {step.command}")
        if stop and state in ("running", "done"):  # acted on between steps: the executor rolls back
            raise KeyboardInterrupt(stop[0])

    guard = None
    with _shielded(stop):
        executor = Executor(args.netns, args.connect, args.readonly)
        try:
            if policy.seconds:
                report, guard = apply_guarded(executor, plan, snapshot, policy.seconds, ssh, progress,
                                              saved if saved and saved.changes else None)
            else:
                report = executor.apply(plan, progress)
        except KvmtuiError as exc:
            _say(f"kvmtui: {exc}")
            return EXIT_REFUSED
    if stop and report.ok:
        _say(f"kvmtui: {stop[0]} came after the last step: " + ("the guard decides" if guard else "the change stays"))
    _say(f"kvmtui: {report.summary()}", sys.stderr if not report.ok else sys.stdout)
    if not report.ok:
        return EXIT_NOT_UNDONE if report.undo_errors else EXIT_ROLLED_BACK
    if guard is None:
        return _write_saved(saved)
    from kvmtui.cli_guard import countdown, pending_lines

    if args.yes or stop or not sys.stdin.isatty():
        for line in pending_lines(guard):
            _say(line, sys.stdout)
        return 0
    return countdown(guard)


def _write_saved(saved) -> int:
    """After a verified apply without a guard (under one, `keep` writes them)."""
    if saved is None or not saved.changes:
        return 0
    from kvmtui.apply.persist_files import write_saved

    try:
        lines = write_saved(saved.backend, saved.changes)
    except KvmtuiError as exc:
        _say(f"kvmtui: the change is live but NOT saved: {exc}")
        return EXIT_REFUSED
    for line in lines:
        _say(f"kvmtui: {line}", sys.stdout)
    return 0


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
