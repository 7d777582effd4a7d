"""`kvmtui fleet collect`: `kvmtui --readonly dump --json` on every host of an inventory,
in parallel, through the `ansible` command (its forks, SSH settings and become); each
host's result comes back as a file of Ansible's own `--tree` output. An unreachable host,
one without kvmtui, a failing command or an answer that is no snapshot is recorded with
Ansible's reason: the others are still collected."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from kvmtui.errors import KvmtuiError
from kvmtui.fleet.store import HostStatus, record
from kvmtui.serialize import snapshot_from_document

REMOTE_COMMAND = "kvmtui --readonly dump --json"
NOT_INSTALLED_RC = 127  # the shell's "command not found"


def ansible_command() -> str:
    """The `ansible` beside this Python first (kvmtui[fleet] installs it there), else PATH's."""
    beside = Path(sys.executable).with_name("ansible")
    found = str(beside) if beside.exists() else shutil.which("ansible")
    if found is None:
        raise KvmtuiError("Ansible is not installed: `pip install kvmtui[fleet]` (ansible-core) or your distribution's "
                          "ansible package")
    return found


def run_everywhere(inventory: str, command: str, limit: str | None = None, forks: int = 10,
                   pattern: str = "all") -> dict[str, str]:
    """`command` in a shell on every host, in parallel: host -> Ansible's JSON result (text)."""
    with tempfile.TemporaryDirectory(prefix="kvmtui-fleet-") as tree:
        argv = [ansible_command(), "-i", inventory, pattern, "-m", "ansible.builtin.shell", "-a", command,
                "-t", tree, "-f", str(forks), "-o"] + (["--limit", limit] if limit else [])
        proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
        results = {p.name: p.read_text(errors="replace") for p in Path(tree).iterdir() if p.is_file()}
    if not results and proc.returncode != 0:  # the inventory or the pattern, not a host
        raise KvmtuiError(f"ansible failed before reaching any host: {_last_lines(proc.stderr or proc.stdout)}")
    return results


def collect(inventory: str, directory: Path, limit: str | None = None, forks: int = 10,
            remote: str = REMOTE_COMMAND) -> list[HostStatus]:
    when = datetime.now(timezone.utc)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    statuses = []
    for host, text in sorted(run_everywhere(inventory, remote, limit, forks).items()):
        status, snapshot_text = host_result(host, text, when.isoformat(timespec="seconds"), f"{stamp}.json")
        record(directory, status, snapshot_text)
        statuses.append(status)
    return statuses


def command_outputs(inventory: str, command: str, limit: str | None = None) -> list[tuple[str, str, str]]:
    """(host, "ok" or what went wrong, the command's output) on every host."""
    out = []
    for host, text in sorted(run_everywhere(inventory, command, limit).items()):
        try:
            result = json.loads(text)
        except ValueError:
            result = {"failed": True, "msg": "Ansible's result is not JSON"}
        state = ("unreachable" if result.get("unreachable") else
                 f"failed (exit status {result.get('rc')})" if result.get("failed") or result.get("rc", 0) else "ok")
        out.append((host, state, (result.get("stdout") or "") + (result.get("stderr") or result.get("msg") or "")))
    return out


def host_result(host: str, text: str, when: str, name: str) -> tuple[HostStatus, str | None]:
    """One host's file of Ansible's tree output -> its status, and the snapshot's JSON text."""
    try:
        result = json.loads(text)
    except ValueError:
        return HostStatus(host, when, "failed", "Ansible's result is not JSON", None), None
    if result.get("unreachable"):
        return HostStatus(host, when, "unreachable", _last_lines(result.get("msg", "unreachable")), None), None
    if result.get("rc") == NOT_INSTALLED_RC:
        return HostStatus(host, when, "no kvmtui", _last_lines(result.get("stderr") or "kvmtui: command not found"),
                          None), None
    if result.get("failed") or result.get("rc", 0) != 0:
        why = result.get("stderr") or result.get("msg") or f"exit status {result.get('rc')}"
        return HostStatus(host, when, "failed", _last_lines(why), None), None
    stdout = result.get("stdout", "")
    try:
        snapshot_from_document(json.loads(stdout), f"{host}'s dump")
    except (ValueError, KvmtuiError) as exc:
        return HostStatus(host, when, "failed", f"its answer is not a kvmtui snapshot: {exc}", None), None
    return HostStatus(host, when, "ok", "", name), stdout


def _last_lines(text: str, lines: int = 2) -> str:
    return " ".join(line.strip() for line in str(text).strip().splitlines()[-lines:])[:400]
