"""`kvmtui audit`: exit codes, thresholds and the three formats, on snapshots recorded
with `kvmtui dump --json` from a real namespace that gets worse step by step."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from kvmtui.audit import RULES
from tests.helpers import sh
from tests.topologies import build_clean, held_taps
from tests.helpers import kvmtui


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """clean -> info (bridge-nf-call-iptables) -> + warning (address on a port) -> + error
    (bridge down under held taps); one recorded snapshot per step."""
    ns, peer = f"kt-{uuid.uuid4().hex[:8]}", f"kt-{uuid.uuid4().hex[:8]}"
    files = {}
    tmp = tmp_path_factory.mktemp("audit")

    def record(step: str) -> None:
        proc = kvmtui("--netns", ns, "--no-libvirt", "dump", "--json")
        assert proc.returncode == 0, proc.stderr
        files[step] = tmp / f"{step}.json"
        files[step].write_text(proc.stdout)

    sh("ip", "netns", "add", ns)
    sh("ip", "netns", "add", peer)
    try:
        with held_taps(ns, "tap0", "tap1"):
            build_clean(ns, peer)
            record("clean")
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
            record("info")
            sh("ip", "-n", ns, "addr", "add", "198.51.100.7/24", "dev", "kt-up")
            record("warning")
            sh("ip", "-n", ns, "link", "set", "br0", "down")
            record("error")
            files["ns"] = ns
            yield files
    finally:
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "netns", "del", peer, check=False)


@pytest.mark.parametrize(("step", "fail_on", "code"), [
    ("clean", "info", 0), ("clean", "warning", 0), ("clean", "error", 0),
    ("info", "info", 1), ("info", "warning", 0), ("info", "error", 0),
    ("warning", "info", 1), ("warning", "warning", 1), ("warning", "error", 0),
    ("error", "info", 1), ("error", "warning", 1), ("error", "error", 1),
])
def test_exit_code_follows_the_threshold(recorded, step, fail_on, code):
    proc = kvmtui("audit", "--from", str(recorded[step]), "--fail-on", fail_on)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert proc.stderr == ""


def test_default_threshold_is_warning(recorded):
    assert kvmtui("audit", "--from", str(recorded["info"])).returncode == 0
    assert kvmtui("audit", "--from", str(recorded["warning"])).returncode == 1


def test_from_before_or_after_the_subcommand(recorded):
    after = kvmtui("audit", "--from", str(recorded["warning"]), "--format", "json")
    before = kvmtui("--from", str(recorded["warning"]), "audit", "--format", "json")
    assert after.returncode == before.returncode == 1
    assert after.stdout == before.stdout


def test_text_fits_80_columns_without_colour(recorded):
    proc = kvmtui("audit", "--from", str(recorded["error"]))
    lines = proc.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    assert "\x1b" not in proc.stdout
    assert lines[1] == "1 error, 1 warning, 1 info"
    assert lines[3].split() == ["ERROR", "bridge-down-with-guests", "link:br0"]
    assert "    $ ip link set dev br0 up" in lines
    assert "    $ ip addr add 198.51.100.7/24 dev br0" in lines
    assert any(line.startswith("note: libvirt was not read") for line in lines)


def test_json_format(recorded):
    proc = kvmtui("audit", "--from", str(recorded["error"]), "--format", "json", "--fail-on", "error")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["schema"] == 1 and doc["fail_on"] == "error" and doc["failed"] is True
    assert doc["host"]["netns"] == recorded["ns"]
    assert doc["counts"] == {"error": 1, "warning": 1, "info": 1}
    assert [(f["severity"], f["rule"], f["key"]) for f in doc["findings"]] == [
        ("error", "bridge-down-with-guests", "link:br0"),
        ("warning", "bridge-port-address", "link:kt-up"),
        ("info", "host-bridge-nf-call-iptables", "link:br0"),
    ]
    for finding in doc["findings"]:
        assert set(finding) == {"rule", "severity", "key", "subject", "what", "why", "fix", "commands"}
        assert finding["rule"] in RULES and isinstance(finding["commands"], list)
    assert doc["not_judged"] and "libvirt was not read" in doc["not_judged"][0]
    clean = json.loads(kvmtui("audit", "--from", str(recorded["clean"]), "--format", "json").stdout)
    assert clean["findings"] == [] and clean["failed"] is False


def test_markdown_format(recorded):
    proc = kvmtui("audit", "--from", str(recorded["error"]), "--format", "markdown")
    assert proc.returncode == 1
    text = proc.stdout
    assert text.startswith("# kvmtui audit: ")
    assert "**1 error, 1 warning, 1 info**" in text
    rows = [line for line in text.splitlines() if re.match(r"\| \d+ \|", line)]
    assert [row.split("|")[3].strip() for row in rows] == [
        "`bridge-down-with-guests`", "`bridge-port-address`", "`host-bridge-nf-call-iptables`"]
    assert "```sh\nip link set dev br0 up\n```" in text
    assert "## Not judged" in text


def test_live_namespace(recorded):
    """Without --from: the namespace as it is now (the error step's)."""
    proc = kvmtui("--netns", recorded["ns"], "--no-libvirt", "audit", "--fail-on", "error")
    assert proc.returncode == 1
    assert "bridge-down-with-guests" in proc.stdout


@pytest.mark.parametrize("argv", [
    ("audit", "--from", "/nonexistent/kt-snapshot.json"),
    ("--netns", "kt-no-such-namespace", "audit"),
])
def test_unreadable_snapshot_is_exit_2_with_one_line(argv):
    proc = kvmtui(*argv)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("kvmtui: ")


def test_not_a_snapshot_is_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    proc = kvmtui("audit", "--from", str(bad))
    assert proc.returncode == 2 and "not JSON" in proc.stderr


@pytest.mark.parametrize("argv", [("audit", "--format", "html"), ("audit", "--fail-on", "fatal"), ("audit", "--bogus")])
def test_usage_errors_are_exit_2(argv):
    assert kvmtui(*argv).returncode == 2


def test_previous_snapshot_unreadable_is_exit_2(recorded):
    proc = kvmtui("audit", "--from", str(recorded["clean"]), "--previous", "/nonexistent/kt-previous.json")
    assert proc.returncode == 2 and "kt-previous.json" in proc.stderr


def recorded_variant(recorded, tmp_path, step: str, **host: str):
    """The recorded `step` with some host fields changed, as another host or time would write it."""
    document = json.loads(recorded[step].read_text())
    document["host"].update(host)
    path = tmp_path / f"{step}-variant.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(("host", "said"), [
    ({"hostname": "kt-other-host"}, "is of kt-other-host netns "),
    ({"netns": None}, ", not of "),
    ({"taken_at": "2999-01-01T00:00:00+00:00"}, "was taken at 2999-01-01T00:00:00+00:00, after this snapshot"),
])
def test_previous_of_another_host_namespace_or_later_is_refused(recorded, tmp_path, host, said):
    previous = recorded_variant(recorded, tmp_path, "clean", **host)
    proc = kvmtui("audit", "--from", str(recorded["error"]), "--previous", str(previous))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith(f"kvmtui: --previous {previous} ") and said in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_previous_earlier_or_same_snapshot_is_compared(recorded):
    for previous in (recorded["clean"], recorded["error"]):
        proc = kvmtui("audit", "--from", str(recorded["error"]), "--previous", str(previous), "--fail-on", "error")
        assert (proc.returncode, proc.stderr) == (1, "")


def test_lacp_read_without_cap_net_admin_is_named_not_judged(tmp_path):
    """A bonding file printed to a reader without CAP_NET_ADMIN: no aggregator, no partner."""
    from kvmtui.collect.bonding import parse_bonding_file
    from kvmtui.model import HostInfo, Snapshot
    from kvmtui.serialize import snapshot_document
    from tests.helpers import SHARED_FIXTURES

    sample = SHARED_FIXTURES / "bonding" / "8023ad-v3.7.1-churn-counts-telegraf.txt"
    host = HostInfo("sample", "6.1.0", "2025-01-01T00:00:00+00:00", None, None, None, "test")
    snapshot = Snapshot(host=host, bonds=(parse_bonding_file("bond0", sample.read_text()),))
    path = tmp_path / "bond.json"
    path.write_text(json.dumps(snapshot_document(snapshot)))
    note = "LACP partner of bond0 not judged: the bonding file was read without CAP_NET_ADMIN"
    doc = json.loads(kvmtui("audit", "--from", str(path), "--format", "json").stdout)
    assert doc["lacp_not_judged"] == ["bond0"]
    assert sum(note in line for line in doc["not_judged"]) == 1
    text = kvmtui("audit", "--from", str(path)).stdout
    assert "note: LACP partner of bond0 not judged: the bonding file was read without" in text
    assert max(map(len, text.splitlines())) <= 80
    assert f"- {note}" in kvmtui("audit", "--from", str(path), "--format", "markdown").stdout
    # With the details (an aggregator and partner MACs shown), nothing is said.
    full = SHARED_FIXTURES / "bonding" / "8023ad-v3.7.1-encap3+4-lacp-pdu-details-libtpa.txt"
    snapshot = Snapshot(host=host, bonds=(parse_bonding_file("bond0", full.read_text()),))
    path.write_text(json.dumps(snapshot_document(snapshot)))
    doc = json.loads(kvmtui("audit", "--from", str(path), "--format", "json").stdout)
    assert doc["lacp_not_judged"] == [] and not any("LACP" in line for line in doc["not_judged"])
