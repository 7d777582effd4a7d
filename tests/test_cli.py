"""The command line as a user meets it: bad input gives one clear line and an exit code."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import EXAMPLE, REPO
from tests.helpers import kvmtui

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--")


def test_unreachable_libvirt_still_shows_the_host():
    uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock"
    proc = kvmtui("--connect", uri, "dump")
    assert proc.returncode == 0
    assert "lo" in proc.stdout
    assert proc.stderr.startswith(f"kvmtui: no guests shown: cannot connect to libvirt at {uri}")
    doc = json.loads(kvmtui("--connect", uri, "dump", "--json").stdout)
    assert doc["libvirt_error"].startswith("cannot connect to libvirt") and doc["domains"] == []
    assert doc["links"]


def test_json_round_trip_through_from(tmp_path):
    recorded = tmp_path / "snap.json"
    proc = kvmtui("--no-libvirt", "dump", "--json")
    recorded.write_text(proc.stdout)
    again = kvmtui("--from", str(recorded), "dump", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == json.loads(proc.stdout)
    assert json.loads(proc.stdout)["schema"] == 3


def test_a_schema_2_recording_opens_as_it_is():
    """The example host was recorded at schema 2: 3 only added fields (empty when read)."""
    assert json.loads(EXAMPLE.read_text())["schema"] == 2
    proc = kvmtui("--from", str(EXAMPLE), "dump", "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == 3 and document["ovs"] is None and document["docker_networks"] == []


def test_a_schema_1_recording_still_opens(tmp_path):
    """Schema 1 called a bond's LACP rate `lacp_rate`; ip's JSON (and schema 2) `ad_lacp_rate`."""
    document = json.loads(EXAMPLE.read_text())
    document["schema"] = 1
    for link in document["links"]:
        if link["kind"] == "bond":
            link["info_data"]["lacp_rate"] = link["info_data"].pop("ad_lacp_rate")
    old = tmp_path / "schema1.json"
    old.write_text(json.dumps(document))
    proc = kvmtui("--from", str(old), "dump", "--json")
    assert proc.returncode == 0, proc.stderr
    bond = next(link for link in json.loads(proc.stdout)["links"] if link["ifname"] == "bond0")
    assert bond["info_data"]["ad_lacp_rate"] == "slow" and "lacp_rate" not in bond["info_data"]


def test_bad_snapshot_files(tmp_path):
    missing = kvmtui("--from", str(tmp_path / "nope.json"), "dump")
    assert (missing.returncode, missing.stderr) == (1, f"kvmtui: cannot read snapshot {tmp_path / 'nope.json'}: No such file or directory\n")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    proc = kvmtui("--from", str(garbage), "dump")
    assert proc.returncode == 1 and "not JSON" in proc.stderr and "Traceback" not in proc.stderr
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"schema": 1, "host": {"hostname": "x"}, "links": [{"ifname": 3}]}))
    proc = kvmtui("--from", str(wrong), "dump")
    assert (proc.returncode, proc.stderr) == (1, f"kvmtui: cannot read snapshot {wrong}: host: 'kernel' is missing\n")




@pytest.mark.parametrize("where, value, message", [
    (("links", 1, "mtu"), "9000", "links[1].mtu: expected an integer, got a string"),
    (("domains", 0, "interfaces", 0, "mac"), 5, "domains[0].interfaces[0].mac: expected a string, got an integer"),
    (("links", 0, "carrier"), 1, "links[0].carrier: expected true or false, got an integer"),
    (("links", 0, "flags"), "UP", "links[0].flags: expected a list, got a string"),
    (("links", 0, "flags", 0), None, "links[0].flags[0]: expected a string, got null"),
    (("host",), [], "host: expected an object, got a list"),
])
def test_badly_typed_snapshot_is_one_line_naming_the_field(tmp_path, where, value, message):
    """A hand-edited recording: dump and the dashboard exit 1, audit 2 (1 would mean findings)."""
    document = json.loads(EXAMPLE.read_text())
    *path, last = where
    node = document
    for step in path:
        node = node[step]
    node[last] = value
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    line = f"kvmtui: cannot read snapshot {bad}: {message}\n"
    for argv, code in ((("--from", str(bad), "dump"), 1), (("--from", str(bad), "dump", "--json"), 1),
                       (("--from", str(bad)), 1), (("audit", "--from", str(bad)), 2),
                       (("--from", str(bad), "audit", "--format", "json"), 2)):
        proc = kvmtui(*argv)
        assert (proc.returncode, proc.stderr, proc.stdout) == (code, line, ""), argv
    fine = tmp_path / "fine.json"
    fine.write_text(EXAMPLE.read_text())
    assert kvmtui("audit", "--from", str(bad), "--previous", str(fine)).stderr == line
    previous = kvmtui("audit", "--from", str(fine), "--previous", str(bad))
    assert (previous.returncode, previous.stderr) == (2, line)


def test_dashboard_from_a_bad_file_is_one_line(tmp_path):
    proc = kvmtui("--from", str(tmp_path / "nope.json"))
    assert (proc.returncode, proc.stderr) == (1, f"kvmtui: cannot read snapshot {tmp_path / 'nope.json'}: No such file or directory\n")


def test_usage_errors_exit_2():
    assert kvmtui("frobnicate").returncode == 2
    assert kvmtui("dump", "--bogus").returncode == 2


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "inf", "0.05", "3601", "soon"])
def test_interval_outside_a_tenth_to_an_hour_is_a_usage_error(seconds):
    proc = kvmtui("--interval", seconds, "--from", str(EXAMPLE), "dump")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines()[-1].startswith("kvmtui: error: argument --interval:")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("seconds", ["0.1", "2", "3600"])
def test_interval_in_range_is_accepted(seconds):
    assert kvmtui("--interval", seconds, "--from", str(EXAMPLE), "dump").returncode == 0


def test_ordinary_user_sees_what_it_can(netns):
    """Run as nobody: the own namespace reads fine; entering another one is refused in words."""
    proc = kvmtui("--no-libvirt", "dump", "--json", prefix=NOBODY)
    assert proc.returncode == 0, proc.stderr
    assert any(link["ifname"] == "lo" for link in json.loads(proc.stdout)["links"])
    proc = kvmtui("--netns", netns, "--no-libvirt", "dump", prefix=NOBODY)
    assert proc.returncode == 1
    assert proc.stderr == f"kvmtui: cannot enter network namespace {netns!r}: permission denied (needs root)\n"


def test_plan_from_a_recording_knows_its_guests():
    """Offline: what attaching would do on the recorded host, guests included."""
    proc = kvmtui("--from", str(REPO / "examples" / "kvm-host.json"), "plan", "attach", "web1", "--bridge", "br100")
    assert proc.returncode == 0, proc.stderr
    assert "virsh attach-device web1 nic.xml --live --config" in proc.stdout


def test_guests_without_libvirt_say_why_there_are_none():
    proc = kvmtui("--no-libvirt", "plan", "attach", "test", "--bridge", "br0")
    assert (proc.returncode, proc.stderr) == (1, "kvmtui: domain: libvirt was not read (--no-libvirt), so no guest is known\n")
    uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock"
    proc = kvmtui("--connect", uri, "plan", "detach", "test", "52:54:00:12:34:56")
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith("kvmtui: domain: libvirt is not reachable, so no guest is known: "
                                  f"cannot connect to libvirt at {uri}")


def test_macvtap_mode_without_macvtap_is_a_usage_error():
    proc = kvmtui("--no-libvirt", "plan", "attach", "test", "--bridge", "br0", "--mode", "vepa")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "kvmtui: --mode is the macvtap mode: it needs --macvtap (a bridge interface has none)\n"


def test_unknown_namespace_is_1_but_2_for_audit():
    """As README says: audit keeps 1 for findings, so it cannot be had is 2 there."""
    dump = kvmtui("--netns", "kt-no-such-namespace", "dump")
    audit = kvmtui("--netns", "kt-no-such-namespace", "audit")
    assert (dump.returncode, audit.returncode) == (1, 2)
    assert dump.stderr == audit.stderr
    assert dump.stderr == "kvmtui: network namespace 'kt-no-such-namespace' does not exist (see `ip netns list`)\n"


def test_from_refuses_what_is_not_a_regular_file_and_malformed_files_exit_2_in_audit(tmp_path):
    """A FIFO would block and /dev/zero never ends: one line, at once; audit says 2, not 1 (a finding)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    proc = kvmtui("--from", str(fifo), "dump")
    assert (proc.returncode, proc.stderr) == (
        1, f"kvmtui: cannot read snapshot {fifo}: not a regular file (a FIFO): give a file written by `kvmtui dump --json`\n")
    assert kvmtui("audit", "--from", "/dev/zero").returncode == 2
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"host": "caf\xe9"}')
    for argv, code in ((("--from", str(latin1), "dump"), 1), (("audit", "--from", str(latin1)), 2)):
        proc = kvmtui(*argv)
        assert (proc.returncode, proc.stderr) == (code, f"kvmtui: cannot read snapshot {latin1}: not UTF-8 text (byte 0xe9 at line 1)\n")
