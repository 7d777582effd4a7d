"""`kvmtui fleet apply`: one plan rolled out host by host through `ansible-playbook`, each
host's change under a confirm-or-revert guard (docs/guards.md). Per host: `kvmtui apply
--yes --confirm T` started without waiting on the SSH session (the change may cut it), a
new SSH connection must reach the host again, then `kvmtui confirm` keeps the change. A
host that does not answer keeps nothing: its guard reverts by itself when T runs out. The
play runs `serial` hosts at a time with max_fail_percentage 0: after a failed or unreachable
host no further batch starts (kubernetes-nmstate's maxUnavailable, in Ansible's words)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kvmtui.errors import KvmtuiError
from kvmtui.fleet.collect import ansible_command

PLAYBOOK = """\
- name: kvmtui fleet apply
  hosts: "{pattern}"
  serial: {serial}
  max_fail_percentage: 0
  gather_facts: false
  tasks:
    - name: apply the change under a guard of {seconds} s (not waiting on this SSH session)
      ansible.builtin.shell: {apply}
      async: {async_limit}
      poll: 0
      register: kvmtui_job
    - name: the apply's outcome (a change that cut the SSH path makes the host unreachable here)
      ansible.builtin.async_status:
        jid: "{{{{ kvmtui_job.ansible_job_id }}}}"
      register: kvmtui_applied
      until: kvmtui_applied.finished
      retries: {retries}
      delay: 1
    - name: a new SSH connection
      ansible.builtin.meta: reset_connection
    - name: the host answers over it
      ansible.builtin.wait_for_connection:
        timeout: {answer_within}
    - name: keep it
      ansible.builtin.shell: "{kvmtui} confirm {{{{ kvmtui_applied.stdout | regex_search('guard: (\\\\S+)', '\\\\1') | first }}}}"
"""
# A cut path must end a session soon, not hang it until TCP gives up (Ansible's own defaults first)
SSH_ARGS = "-C -o ControlMaster=auto -o ControlPersist=60s -o ServerAliveInterval=2 -o ServerAliveCountMax=3"
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass(frozen=True, slots=True)
class HostOutcome:
    host: str
    outcome: str  # "kept", "did not answer...", "failed...", "not started..."


def playbook(plan_args: list[str], seconds: int, serial: int, kvmtui: str = "kvmtui", pattern: str = "all") -> str:
    apply = f"{kvmtui} apply --yes --confirm {seconds} {shlex.join(plan_args)}"
    return PLAYBOOK.format(pattern=pattern, serial=serial, seconds=seconds, apply=json.dumps(apply),
                           async_limit=seconds + 60, answer_within=max(5, seconds // 2), retries=seconds + 30,
                           kvmtui=kvmtui.replace('"', '\\"'))


def roll_out(inventory: str, plan_args: list[str], seconds: int, serial: int, limit: str | None = None,
             kvmtui: str = "kvmtui") -> tuple[list[HostOutcome], str]:
    """-> each host's outcome, in the inventory's order, and ansible-playbook's output."""
    hosts = _hosts(inventory, limit)
    with tempfile.TemporaryDirectory(prefix="kvmtui-rollout-") as tmp:
        book = Path(tmp) / "rollout.yml"
        book.write_text(playbook(plan_args, seconds, serial, kvmtui))
        argv = [str(Path(ansible_command()).with_name("ansible-playbook")), "-i", inventory, str(book)]
        proc = subprocess.run(argv + (["--limit", limit] if limit else []), capture_output=True, text=True,
                              env={"ANSIBLE_SSH_ARGS": SSH_ARGS, **os.environ, "ANSIBLE_NOCOLOR": "1",
                                   "ANSIBLE_RETRY_FILES_ENABLED": "0"})
    output = proc.stdout + proc.stderr
    recap = {m[0]: tuple(int(n) for n in m[1:]) for m in RECAP.findall(output)}
    return [HostOutcome(h, _outcome(recap.get(h))) for h in hosts], output


def _outcome(counts: tuple[int, ...] | None) -> str:
    if counts is None:
        return "not started (the rollout stopped before it)"
    _ok, _changed, unreachable, failed = counts
    if unreachable:
        return "did not answer after the change: its guard reverts it"
    return "failed or did not answer again: nothing kept, its guard reverts the change" if failed else "kept"


def _hosts(inventory: str, limit: str | None) -> list[str]:
    argv = [ansible_command(), "-i", inventory, "all", "--list-hosts"] + (["--limit", limit] if limit else [])
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise KvmtuiError(f"ansible could not list the inventory's hosts: {proc.stderr.strip()[-300:]}")
    return [line.strip() for line in proc.stdout.splitlines()[1:] if line.strip()]
