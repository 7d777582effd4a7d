"""Writing a change into the host's saved network configuration: the files a renderer
(kvmtui/persist/) produced, after the change was verified live (and, under a guard, kept).

Each file is checked by its backend where it has a checker (netplan generate on a copy),
then replaced atomically (a temporary file beside it, fsync, rename), the previous text
kept beside it as FILE.kvmtui-bak and its permissions kept. If any write fails, the files
already written get their previous text back: all or nothing. NetworkManager's profiles
go through NetworkManager itself (nm_profiles.py), never behind its back."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from kvmtui.apply.backend import refuse_if_readonly
from kvmtui.errors import KvmtuiError
from kvmtui.persist.model import FileChange

BACKUP = ".kvmtui-bak"


def write_saved(backend: str, changes: tuple[FileChange, ...]) -> list[str]:
    """Lines that say what was written; raises KvmtuiError (nothing left half-written)."""
    refuse_if_readonly()
    if not changes:
        return []
    if backend == "NetworkManager":
        from kvmtui.apply.nm_profiles import write_profiles

        return write_profiles(changes)
    if (refusal := refusal_of(backend, changes)) is not None:
        raise KvmtuiError(f"{backend} refuses the new configuration: {refusal}; nothing written")
    written: list[FileChange] = []
    try:
        for change in changes:
            _write(change)
            written.append(change)
    except OSError as exc:
        undo_errors = _restore(written)
        raise KvmtuiError(f"could not write {change.path}: {exc.strerror or exc}; "
                          + ("the files written before it have their previous text again" if not undo_errors
                             else "could NOT restore " + "; ".join(undo_errors))) from None
    return [f"{'removed' if c.after is None else 'wrote'} {c.path}" + (f" (before: {c.path}{BACKUP})"
                                                                     if c.before is not None else "")
            for c in changes]


def unwritable(backend: str, changes: tuple[FileChange, ...]) -> str | None:
    """Why these files could not be written (a read-only /etc, not root), asked before the
    change is applied: then nothing is applied unless the user says --no-persist.
    NetworkManager writes its profiles itself."""
    if backend == "NetworkManager":
        return None
    for change in changes:
        # a file is replaced by a rename in its directory: that directory must take writes
        where = next((p for p in Path(change.path).parents if p.exists()), Path("/"))
        if not os.access(where, os.W_OK):
            return f"{where} is not writable"
    return None


def _write(change: FileChange) -> None:
    path = Path(change.path)
    if change.after is None:
        if path.exists():
            shutil.copy2(path, f"{path}{BACKUP}")
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else change.mode
    if path.exists():
        shutil.copy2(path, f"{path}{BACKUP}")
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        os.write(fd, change.after.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(temp, path)
    except OSError:
        os.unlink(temp)
        raise


def _restore(written: list[FileChange]) -> list[str]:
    errors = []
    for change in reversed(written):
        try:
            _write(FileChange(change.path, change.after, change.before, change.mode))
        except OSError as exc:
            errors.append(f"{change.path}: {exc.strerror or exc}")
    return errors


def cannot_save(backend: str, changes: tuple[FileChange, ...]) -> str | None:
    """Why the change cannot be saved, asked before anything is applied (None: it can)."""
    return unwritable(backend, changes) or refusal_of(backend, changes)


def refusal_of(backend: str, changes: tuple[FileChange, ...], root: str = "/") -> str | None:
    """What the backend's own checker says of the files as they would be (None: fine, or no
    checker): asked before the change is applied, and again before the files are written."""
    if backend == "netplan":
        return netplan_refusal(root, changes)
    if backend in ("ifupdown", "ifupdown2"):
        return ifupdown2_refusal(changes)
    return None


def ifupdown2_refusal(changes: tuple[FileChange, ...], ifup: str = "ifup") -> str | None:
    """`ifup --syntax-check` (ifupdown2's parser and checks, nothing brought up) on a copy of
    /etc/network/interfaces as it would be; sourced files are checked as they are on disk."""
    if shutil.which(ifup) is None:
        return None
    main = next((c for c in changes if c.path.endswith("/etc/network/interfaces") and c.after is not None), None)
    if main is None:
        return None
    with tempfile.NamedTemporaryFile("w", prefix="kvmtui-interfaces-", delete=False) as copy:
        copy.write(main.after)
    try:
        proc = subprocess.run([ifup, "--syntax-check", "-i", copy.name, "-a"], capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run ifup --syntax-check: {exc}"
    finally:
        os.unlink(copy.name)
    if proc.returncode != 0 or "error:" in proc.stderr.lower():
        return " ".join((proc.stderr or proc.stdout or f"exit {proc.returncode}").replace(copy.name, main.path).split())
    return None


def netplan_refusal(root: str, changes: tuple[FileChange, ...], netplan: str = "netplan") -> str | None:
    """`netplan generate --root-dir` on a copy of the host's netplan files with `changes`
    made: None when netplan accepts them (or is not installed), else its complaint.
    Nothing under `root` is touched."""
    from kvmtui.collect.netconfig.netplan import DIRS

    if shutil.which(netplan) is None:
        return None
    base = Path(root)
    with tempfile.TemporaryDirectory(prefix="kvmtui-netplan-") as tmp:
        for directory in DIRS:
            if (base / directory).is_dir():
                shutil.copytree(base / directory, Path(tmp) / directory, symlinks=True)
        for change in changes:
            target = Path(tmp) / os.path.relpath(change.path, base)
            if change.after is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(change.after)
                target.chmod(0o600)
        try:
            proc = subprocess.run([netplan, "generate", "--root-dir", tmp], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"cannot run netplan generate: {exc}"
        if proc.returncode != 0:
            return " ".join((proc.stderr or proc.stdout or f"exit {proc.returncode}").replace(tmp, "").split())
    return None
