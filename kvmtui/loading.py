"""The snapshot a command works on, from the options every command shares.

Apart from cli.py so that cli_plan.py can use it without importing its own caller.
"""

from __future__ import annotations

import argparse

from kvmtui.model import Snapshot
from kvmtui.serialize import read_snapshot_file


def load_snapshot(args: argparse.Namespace) -> Snapshot:
    """This host (or --netns), or the --from recording; --no-libvirt leaves guests and
    networks out of either, as if libvirt had not been read."""
    from kvmtui.collect.snapshot import collect_snapshot, merge_libvirt  # a recording needs no collectors

    if args.from_file:
        recorded = read_snapshot_file(args.from_file)
        return merge_libvirt(recorded, None) if args.no_libvirt else recorded
    return collect_snapshot(netns=args.netns, uri=args.connect, with_libvirt=not args.no_libvirt)
