"""Where a guard cannot be had, nothing changes: one line that says why."""

from __future__ import annotations

from tests.helpers import kvmtui, kvmtui_in, sh

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--")


def test_no_place_for_the_journal_changes_nothing(netns, tmp_path):
    """/run read-only or full stands for: the journal cannot be written, so no guard."""
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    proc = kvmtui_in(netns, "apply", "--yes", "--confirm", "10", "bridge", "kt-br9",
                     env={"KVMTUI_RUN_DIR": str(blocked)})
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(f"kvmtui: cannot keep the guard's journal in {blocked}/guards: ")
    assert proc.stderr.splitlines()[-1].endswith("; nothing changed")
    assert "kt-br9" not in sh("ip", "-n", netns, "-br", "link")


def test_guards_unreadable_to_a_user_say_so(tmp_path):
    run = tmp_path / "run"
    (run / "guards").mkdir(parents=True, mode=0o700)
    run.chmod(0o755)
    tmp_path.chmod(0o755)
    proc = kvmtui("guards", prefix=NOBODY, env={"KVMTUI_RUN_DIR": str(run)})
    assert proc.returncode == 1
    assert proc.stderr == f"kvmtui: cannot read the guards in {run}/guards: permission denied (run as root)\n"
