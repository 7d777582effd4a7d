"""`kvmtui identify IFACE [--listen [N]] [--blink N] [--json]`: which cable is this?

The NIC's facts always (an SR-IOV NIC's VFs with the guest holding each, where libvirt
answers); with --listen, what arrives on it for N seconds (VLANs, LLDP/CDP
neighbours, STP root, source MACs); with --blink, its port LED blinks meanwhile (a change
to the device: refused with --readonly). Exit codes: 0 done, 1 a problem or a refusal
(one line on stderr; a blink the driver cannot do is one, after the rest is shown), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys

from kvmtui.errors import KvmtuiError


def _seconds(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low} to {high} seconds")
        return value
    return parse


def add_identify_command(commands, shared: argparse.ArgumentParser) -> None:
    identify = commands.add_parser("identify", parents=[shared],
                                   help="which cable is this? a NIC's facts, what it hears on the wire, blink its LED")
    identify.add_argument("interface", metavar="IFACE", help="the NIC (any interface: a bridge hears what reaches it)")
    identify.add_argument("--listen", metavar="N", nargs="?", const=30, type=_seconds(1, 3600),
                          help="listen N seconds (default 30): VLANs, untagged frames, LLDP/CDP neighbours, STP, MACs")
    identify.add_argument("--blink", metavar="N", type=_seconds(1, 3600),
                          help="blink the port LED for N seconds (Ctrl-C stops; a change: not with --readonly)")
    identify.add_argument("--json", action="store_true", help="the same as JSON")


def run_identify(args: argparse.Namespace) -> int:
    from kvmtui.collect.ethtool import read_nic_facts
    from kvmtui.collect.lldpd import lldpd_neighbours
    from kvmtui.collect.wire import listen
    from kvmtui.serialize import to_jsonable
    from kvmtui.views_identify import libvirt_silent_line, link_kind, lldpd_lines, nic_lines, wire_lines

    if args.from_file:
        raise KvmtuiError("identify asks the NIC and the wire themselves: it cannot run on a recording (--from)")
    blinker = None
    if args.blink:
        from kvmtui.apply.blink import Blinker, refuse_blink_if_readonly

        refuse_blink_if_readonly(args.interface)  # before anything is read or shown
    facts = read_nic_facts(args.interface, args.netns)
    known = lldpd_neighbours(args.netns)  # None: no lldpd to ask
    held, libvirt_error = _vf_guests(args, facts)
    if args.blink:
        blinker = Blinker(args.interface, args.blink, args.netns).start()
    try:
        report = listen(args.interface, args.listen, args.netns, link_kind(facts)) if args.listen else None
        stopped = bool(report and report.stopped_early)
        if blinker and not stopped:
            stopped = _wait_for(blinker)
    finally:
        if blinker:
            blinker.close()
    blink_state = None
    if blinker:
        blink_state = {"seconds": args.blink, "stopped_early": stopped,
                       "error": str(blinker.error) if blinker.error else None}
    if args.json:
        nic = to_jsonable(facts) | {"offloads": dict(facts.offloads)}
        document = {"interface": args.interface, "netns": args.netns, "nic": nic, "vf_guests": held,
                    "libvirt_error": libvirt_error,
                    "lldpd": to_jsonable(known.get(args.interface, ())) if known is not None else None,
                    "wire": to_jsonable(report) if report else None, "blink": blink_state}
        json.dump(document, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        lines = [f"{args.interface}" + (f" (netns {args.netns})" if args.netns else ""), *nic_lines(facts, held),
                 *([libvirt_silent_line(libvirt_error)] if libvirt_error else []), *lldpd_lines(args.interface, known)]
        if report:
            lines += wire_lines(report)
        if blinker and not blinker.error:
            lines.append(f"blinked the port LED of {args.interface}" + (" (stopped early)" if stopped else
                                                                         f" for {args.blink} s"))
        print("\n".join(lines))
    if blinker and blinker.error:
        print(f"kvmtui: {blinker.error}", file=sys.stderr)
        return 1
    return 0


def _vf_guests(args: argparse.Namespace, facts) -> tuple[dict[str, str] | None, str | None]:
    """(PCI address -> the guest holding it, None), or (None, why libvirt did not say); libvirt is
    asked only for a NIC with VFs, through the collector's reader and its timeout."""
    if not facts.sriov_vfs or args.no_libvirt:
        return None, None
    from kvmtui.collect.snapshot import LibvirtReader
    from kvmtui.views_identify import vf_holders

    state = LibvirtReader(args.connect).read()
    if state.error:
        return None, state.error
    return vf_holders(state.domains), None


def _wait_for(blinker) -> bool:
    """Wait out the blink with a countdown on a terminal; True if Ctrl-C stopped it."""
    counting = sys.stderr.isatty()
    try:
        while not blinker.wait(0.5):
            if counting:
                sys.stderr.write(f"\rblinking the port LED of {blinker.interface}: "
                                 f"{blinker.seconds_left():4.0f} s left, Ctrl-C stops ")
                sys.stderr.flush()
    except KeyboardInterrupt:
        blinker.stop()
        return True
    finally:
        if counting:
            sys.stderr.write("\r\033[K")
    return False
