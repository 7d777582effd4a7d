"""The renderer of each backend, by its name; and the diff a person confirms (pure)."""

from __future__ import annotations

import difflib

from kvmtui.errors import KvmtuiError
from kvmtui.model.netconfig import SavedConfig
from kvmtui.persist.model import Desired, FileChange, ReadFile


def render_for(backend: str, saved: SavedConfig, desired: Desired, read: ReadFile) -> tuple[FileChange, ...]:
    from kvmtui.persist import ifupdown, netplan, networkd, networkmanager  # here: ruamel only when rendering

    renderers = {"NetworkManager": networkmanager, "netplan": netplan, "systemd-networkd": networkd,
                 "ifupdown": ifupdown, "ifupdown2": ifupdown}
    if backend not in renderers:
        raise KvmtuiError(f"kvmtui cannot write {backend}'s configuration: use --no-persist")
    return tuple(change for change in renderers[backend].render(saved, desired, read) if change.changed)


def file_diff(change: FileChange) -> str:
    """A unified diff, as `diff -u` prints it: /dev/null for a side that does not exist."""
    before = (change.before or "").splitlines(keepends=True)
    after = (change.after or "").splitlines(keepends=True)
    lines = difflib.unified_diff(before, after, change.path if change.before is not None else "/dev/null",
                                 change.path if change.after is not None else "/dev/null")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
