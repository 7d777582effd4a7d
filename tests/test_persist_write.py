"""Writing a change into the saved configuration (kvmtui/apply/persist_files.py): whole
files replaced atomically, the previous text kept beside them, permissions kept, and all
or nothing: a write that fails puts back the files written before it. And the CLI's word
on --persist where nothing can be saved."""

from __future__ import annotations

import os

import pytest

from kvmtui.apply.persist_files import BACKUP, write_saved
from kvmtui.errors import KvmtuiError
from kvmtui.persist.model import FileChange
from tests.helpers import kvmtui_in, sh


def test_files_are_replaced_with_a_backup_and_their_permissions(tmp_path):
    edited, new, gone = tmp_path / "10-eno4.network", tmp_path / "sub" / "10-kvmtui-br0.netdev", tmp_path / "old.network"
    edited.write_text("[Match]\nName=eno4\n\n[Network]\nAddress=192.0.2.4/24\n")
    edited.chmod(0o644)
    gone.write_text("[Match]\nName=br9\n")
    changes = (FileChange(str(edited), edited.read_text(), "[Match]\nName=eno4\n\n[Network]\nBridge=br0\n"),
               FileChange(str(new), None, "[NetDev]\nName=br0\nKind=bridge\n"),
               FileChange(str(gone), gone.read_text(), None))
    lines = write_saved("systemd-networkd", changes)
    assert edited.read_text().endswith("Bridge=br0\n") and oct(edited.stat().st_mode & 0o777) == "0o644"
    assert (tmp_path / f"10-eno4.network{BACKUP}").read_text().endswith("Address=192.0.2.4/24\n")
    assert new.read_text() == "[NetDev]\nName=br0\nKind=bridge\n" and oct(new.stat().st_mode & 0o777) == "0o600"
    assert not gone.exists() and (tmp_path / f"old.network{BACKUP}").exists()
    assert lines == [f"wrote {edited} (before: {edited}{BACKUP})", f"wrote {new}",
                     f"removed {gone} (before: {gone}{BACKUP})"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temporary file left


def test_a_failed_write_puts_back_the_files_written_before_it(tmp_path):
    first = tmp_path / "10-eno4.network"
    first.write_text("as it was\n")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    changes = (FileChange(str(first), "as it was\n", "changed\n"),
               FileChange(str(blocker / "x.network"), None, "never\n"))
    with pytest.raises(KvmtuiError) as refused:
        write_saved("systemd-networkd", changes)
    assert str(refused.value).startswith(f"could not write {blocker}/x.network: ")
    assert str(refused.value).endswith("the files written before it have their previous text again")
    assert first.read_text() == "as it was\n"


def test_persist_where_the_saved_configuration_is_not_this_namespaces(netns):
    """The host's files describe the host's own devices, not a named namespace's."""
    proc = kvmtui_in(netns, "plan", "bridge", "kt-br0", "--persist", "networkd")
    assert proc.returncode == 1
    assert proc.stderr == ("kvmtui: --persist: this host's saved configuration was not read here (a named namespace "
                           "or a recording): it describes the host's own devices; nothing changed\n")
    for argv, said in ((("--persist", "wicked"), "kvmtui: --persist: 'wicked' is none of networkmanager, netplan, "
                                                 "networkd, ifupdown, ifupdown2\n"),
                       (("--persist", "netplan", "--no-persist"), "kvmtui: --persist and --no-persist: give one of them\n")):
        proc = kvmtui_in(netns, "apply", "--yes", "bridge", "kt-br0", *argv)
        assert (proc.returncode, proc.stderr) == (1, said)
    assert "kt-br0" not in sh("ip", "-n", netns, "-br", "link")


def test_a_plan_says_where_it_is_saved_or_why_not(netns):
    shown = kvmtui_in(netns, "plan", "bridge", "kt-br0")
    assert "Saved configuration\n  not saved: this host's saved configuration was not read " in shown.stdout
    assert "Saved configuration" not in kvmtui_in(netns, "plan", "--no-persist", "bridge", "kt-br0").stdout
