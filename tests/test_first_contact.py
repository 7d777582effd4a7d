"""What a new user types first: the README's examples on the recorded host, and `kvmtui`
on PATH after setup."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

from tests.helpers import EXAMPLE, REPO



def readme_change_examples() -> list[list[str]]:
    """The `kvmtui plan|apply ...` lines of the README's "Use" section, as argv after `kvmtui`."""
    text = (REPO / "README.md").read_text()
    use = text.split("\n## Use\n", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in use.splitlines() if line.startswith("    kvmtui ")]
    commands = [shlex.split(line.split("#", 1)[0])[1:] for line in lines]
    return [argv for argv in commands if argv and argv[0] in ("plan", "apply")]


def without_apply_options(argv: list[str]) -> list[str]:
    out, skip = [], False
    for word in argv:
        if not skip and word not in ("--yes", "-y", "--no-confirm", "--confirm"):
            out.append(word)
        skip = word == "--confirm" and not skip
    return out


def test_every_change_the_readme_shows_plans_on_the_recorded_host():
    """Each example, `apply` made `plan` (less apply's own --yes, --confirm S, --no-confirm),
    with --from the recording: exit 0 and a plan."""
    examples = readme_change_examples()
    assert {argv[1] for argv in examples} >= {"bridge", "bond", "vlan", "attach", "detach", "delete"}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for argv in examples:
        args = ["--from", str(EXAMPLE), "plan", *without_apply_options(argv[1:])]
        proc = subprocess.run([sys.executable, "-m", "kvmtui", *args], capture_output=True, text=True,
                              timeout=60, env=env, cwd="/")
        assert proc.returncode == 0, f"kvmtui {shlex.join(argv)}: {proc.stderr.strip()}"
        assert re.search(r"^\s+(ip|bridge|virsh) ", proc.stdout, re.M), f"kvmtui {shlex.join(argv)}: no commands"


def launcher(bin_dir) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / "scripts" / "install_launcher.sh"), str(bin_dir)], capture_output=True,
                          text=True, timeout=30)


def test_setup_links_kvmtui_onto_path_only_where_nothing_else_is(tmp_path):
    ours = REPO / ".venv" / "bin" / "kvmtui"
    link = tmp_path / "kvmtui"
    first = launcher(tmp_path)
    assert first.returncode == 0 and os.readlink(link) == str(ours)
    assert f"linked {link} -> {ours}" in first.stdout
    assert launcher(tmp_path).stdout == ""  # already ours: kept, nothing said
    link.unlink()
    link.write_text("#!/bin/sh\n")  # someone else's kvmtui
    other = launcher(tmp_path)
    assert other.returncode == 0 and link.read_text() == "#!/bin/sh\n"
    assert f"{link} is not this checkout's" in other.stderr and str(ours) in other.stderr
    link.unlink()
    link.symlink_to(tmp_path / "gone")  # a checkout removed since: replaced
    assert launcher(tmp_path).returncode == 0 and os.readlink(link) == str(ours)
