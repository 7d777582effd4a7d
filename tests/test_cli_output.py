"""What people paste and scripts read from the command line: piped plans whose commands
and XML are whole lines, global options wherever they are typed, --no-libvirt on a
recording, and a --help that says what a bare `kvmtui` does and what the exit codes mean."""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ET

import pytest

from tests.helpers import EXAMPLE, sh
from tests.helpers import kvmtui

LONG_GUEST = "database-primary-eu-west-1-production-replica-a"
# db1's macvtap NIC as libvirt prints it for a running guest: one element far wider than 80 columns
LONG_NIC = ("<interface type='direct'>\n"
            "  <mac address='52:54:00:6b:02:01'/>\n"
            "  <source dev='bond0' mode='bridge'/>\n"
            "  <target dev='macvtap0'/>\n"
            "  <model type='virtio'/>\n"
            "  <bandwidth><inbound average='125000' peak='250000' burst='1024'/>"
            "<outbound average='125000' peak='250000' burst='1024'/></bandwidth>\n"
            "  <link state='up'/>\n"
            "  <mtu size='9000'/>\n"
            "  <alias name='ua-primary-storage-network-interface-with-a-long-user-alias'/>\n"
            "  <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"
            "</interface>")


def shape(element: ET.Element) -> tuple:
    """An element without the whitespace between its children."""
    return element.tag, element.attrib, (element.text or "").strip(), [shape(child) for child in element]


def sections(output: str) -> dict[str, list[str]]:
    """The confirmation's parts by heading ("Commands", "libvirt XML"): their lines, unindented."""
    parts: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if not line.strip():
            current = None
        elif current is None and not line.startswith(" "):
            current = parts.setdefault(line.strip(), [])
        elif current is not None:
            current.append(line[2:] if line.startswith("  ") else line)
    return parts


def assert_pastable(output: str) -> list[str]:
    """Every command line is one whole command; returns them."""
    commands = sections(output)["Commands"]
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] in ("ip", "bridge", "virsh"), f"a command broken across lines: {command!r}"
    return commands


def test_a_piped_plan_keeps_commands_and_xml_whole(tmp_path):
    """A long guest name and a long <interface>: a pipe is 80 columns to Rich, which used to
    break both; the commands must survive shlex.split and the XML must parse."""
    document = json.loads(EXAMPLE.read_text())
    db1 = next(domain for domain in document["domains"] if domain["name"] == "db1")
    db1["name"] = LONG_GUEST
    db1["interfaces"][0]["xml"] = LONG_NIC
    recording = tmp_path / "long.json"
    recording.write_text(json.dumps(document))
    proc = kvmtui("--from", str(recording), "plan", "detach", LONG_GUEST, "52:54:00:6b:02:01")
    assert proc.returncode == 0, proc.stderr
    commands = assert_pastable(proc.stdout)
    assert f"virsh detach-device {LONG_GUEST} nic.xml --live" in commands
    shown = ET.fromstring("<shown>" + "\n".join(sections(proc.stdout)["libvirt XML"]) + "</shown>")
    assert shape(ET.fromstring(LONG_NIC)) in [shape(element) for element in shown], proc.stdout
    assert all(element.tag == "interface" for element in shown)
    assert max(map(len, proc.stdout.splitlines())) > 80  # the test does test long lines


def test_a_piped_apply_keeps_commands_whole(uplink_ns):  # noqa: F811
    """A real apply that moves a long IPv6 route: each command line as printed runs as is."""
    ns = uplink_ns
    sh("ip", "-n", ns, "addr", "add", "2001:db8:1234:5678::2/64", "dev", "kt-up", "nodad")
    sh("ip", "-n", ns, "-6", "route", "add", "2001:db8:aaaa:bbbb:cccc::/80", "via", "2001:db8:1234:5678::ffff",
       "dev", "kt-up", "metric", "2048")
    proc = kvmtui("--netns", ns, "--no-libvirt", "apply", "--yes", "--no-confirm", "bridge", "kt-br0", "--port", "kt-up",
                  "--move-ip-from", "kt-up")
    assert proc.returncode == 0, proc.stderr
    moved = [c for c in assert_pastable(proc.stdout) if c.startswith("ip -6 route add 2001:db8:aaaa:bbbb:cccc::/80")]
    assert len(moved) == 1 and len("  " + moved[0]) > 80, proc.stdout


def test_no_libvirt_leaves_a_recordings_guests_out():
    """--from with --no-libvirt: the kernel part only, as on a host read without libvirt."""
    tree = kvmtui("--from", str(EXAMPLE), "--no-libvirt", "dump")
    assert tree.returncode == 0, tree.stderr
    assert "web1" in kvmtui("--from", str(EXAMPLE), "dump").stdout and "web1" not in tree.stdout
    assert tree.stderr.startswith(f"kvmtui: libvirt was not read (--no-libvirt): the guests and networks of {EXAMPLE}")
    document = json.loads(kvmtui("--no-libvirt", "--from", str(EXAMPLE), "dump", "--json").stdout)
    assert (document["domains"], document["networks"], document["host"]["libvirt_uri"]) == ([], [], None)
    audit = kvmtui("--no-libvirt", "audit", "--from", str(EXAMPLE))
    assert "libvirt was not read (--no-libvirt)" in audit.stdout
    plan = kvmtui("--no-libvirt", "--from", str(EXAMPLE), "plan", "detach", "web1", "52:54:00:6b:01:01")
    assert (plan.returncode, plan.stderr) == (1, "kvmtui: domain: libvirt was not read (--no-libvirt), so no guest is known\n")


@pytest.mark.parametrize("argv", [
    ("dump", "--netns", "{ns}"),
    ("dump", "--json", "--no-libvirt", "--netns", "{ns}"),
    ("plan", "bridge", "kt-br0", "--port", "kt-p1", "--netns", "{ns}", "--no-libvirt"),
    ("plan", "--netns", "{ns}", "--no-libvirt", "bridge", "kt-br0", "--port", "kt-p1"),
    ("apply", "bridge", "kt-br0", "--port", "kt-p1", "--yes", "--netns", "{ns}", "--no-libvirt", "--readonly"),
])
def test_global_options_after_the_command(argv, netns):
    """Typed after the command, a global option acts as before it: the namespace is read."""
    sh("ip", "-n", netns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    proc = kvmtui(*(arg.format(ns=netns) for arg in argv))
    if "--readonly" in argv:  # refused, after showing the plan: the option reached the apply
        assert (proc.returncode, proc.stderr) == (1, "kvmtui: read-only mode: kvmtui changes nothing on this host\n")
    else:
        assert proc.returncode == 0, proc.stderr
    assert "kt-p1" in proc.stdout


def test_global_options_after_audit_and_a_clash():
    """`audit --from F` as before; a global option on both sides: the later one counts."""
    audit = kvmtui("audit", "--from", str(EXAMPLE), "--format", "json")
    assert json.loads(audit.stdout)["host"]["hostname"] == json.loads(EXAMPLE.read_text())["host"]["hostname"]
    later = kvmtui("--netns", "kt-no-such-namespace", "dump", "--netns", "kt-not-this-one-either")
    assert later.stderr == "kvmtui: network namespace 'kt-not-this-one-either' does not exist (see `ip netns list`)\n"
    kept = kvmtui("--netns", "kt-no-such-namespace", "dump", "--json")  # not overwritten by dump's default
    assert (kept.returncode, kept.stdout) == (1, "")


def test_help_says_what_a_bare_kvmtui_does_and_the_exit_codes():
    proc = kvmtui("--help")
    assert proc.returncode == 0
    text = proc.stdout
    assert "Without a command, kvmtui starts the dashboard" in text
    for code, words in (("0", "done"), ("1", "refusal"), ("2", "usage"), ("3", "rolled back"),
                        ("4", "could not be fully undone")):
        assert any(line.strip().startswith(code) and words in line for line in text.splitlines()), code
    lines = text[text.index("options:"):].splitlines()
    for option in ("--version", "--netns", "--connect", "--no-libvirt", "--from", "--readonly", "--interval"):
        at = next(number for number, line in enumerate(lines) if line.lstrip().startswith(option))
        # argparse puts the help at column 24, on the option's line or, if that is full, on the next
        described = lines[at][24:].strip() or (lines[at + 1][:24].isspace() and lines[at + 1].strip())
        assert described, f"{option} has no help line"
    assert max(map(len, text.splitlines())) <= 80
