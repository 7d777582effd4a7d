"""Mutated inputs, seeded and in-process: each one either loads (or parses) or is refused
with the documented error and a message; what loads renders (tree, dump text, audit,
views) without an exception. The inputs are the example recording, the bonding samples
(../shared/fixtures and tests/fixtures) and the libvirt XML samples; the mutations are
what a hand edit or a cut copy does (types swapped, values out of range, structure cut,
bytes changed, nesting far too deep).
"""

from __future__ import annotations

import copy
import io
import json
import random
import time

import pytest
from rich.console import Console

from kvmtui import views
from kvmtui.audit import audit
from kvmtui.audit.report import json_report, text_report
from kvmtui.collect.bonding import BondingParseError, parse_bonding_file
from kvmtui.libvirt_xml import LibvirtXmlError, parse_domain_xml, parse_network_xml
from kvmtui.errors import SnapshotFileError
from kvmtui.render import rich_tree
from kvmtui.serialize import read_snapshot_file
from kvmtui.topology import build_forest
from tests.helpers import EXAMPLE, REPO, SHARED_FIXTURES

BONDING = sorted(SHARED_FIXTURES.glob("bonding/*.txt")) + sorted((REPO / "tests" / "fixtures" / "kernelvm").glob("proc-bonding-*.txt"))
DOMAINS = sorted(SHARED_FIXTURES.glob("libvirt/domains/*.xml")) + sorted((REPO / "tests" / "fixtures" / "libvirt").glob("*.xml"))
NETWORKS = sorted(SHARED_FIXTURES.glob("libvirt/networks/*.xml"))
VALUES = (None, 0, -1, 2 ** 64, -(2 ** 63) - 1, 1.5, "", "bond", "bridge", "macvtap", "\x1b[2J", True, [], {}, [1])
ODD_TEXT = ("[" * 3000, "9" * 5000, '"\\ud800"', "\xff", "1e999", "NaN", "<a>" * 3000, "\x00", "\n\n")


def _paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in children:
        yield from _paths(value, prefix + (key,))


def _mutated(document: dict, rng: random.Random) -> dict:
    """One to three edits: a value replaced, a key dropped, an item repeated, or a field
    taken from another item of the same list (a bond's slave data on a bridge port...)."""
    document = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice([p for p in _paths(document) if p])
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key, choice = path[-1], rng.random()
        siblings = document.get(rng.choice(("links", "links", "domains", "bonds", "routes")))
        if choice < 0.35 and isinstance(siblings, list) and len(siblings) > 1:
            target, source = rng.sample(siblings, 2)
            if isinstance(target, dict) and isinstance(source, dict) and source:
                field = rng.choice(list(source))
                target[field] = copy.deepcopy(source[field])
        elif choice < 0.75:
            parent[key] = rng.choice(VALUES)
        elif choice < 0.9 and isinstance(parent, dict):
            del parent[key]
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return document


def _bytes_cut(text: str, rng: random.Random) -> str:
    """The text cut short, a few characters changed, or something odd put in."""
    choice = rng.random()
    if choice < 0.3:
        return text[: rng.randrange(len(text))]
    if choice < 0.6:
        where = rng.randrange(len(text))
        return text[:where] + rng.choice(ODD_TEXT) + text[where:]
    chars = list(text)
    for _ in range(rng.randint(1, 5)):
        chars[rng.randrange(len(chars))] = chr(rng.choice((0, 9, 10, 32, 34, 44, 58, 91, 93, 123, 125, 255, 0xD800)))
    return "".join(chars)


def _renders(snapshot) -> None:
    forest = build_forest(snapshot)
    Console(file=io.StringIO(), width=80, color_system=None).print(rich_tree(forest, snapshot.host.hostname))
    findings = audit(snapshot, snapshot)
    text_report(snapshot, findings)
    json_report(snapshot, findings, "warning")
    views.bond_rows(snapshot, views.failure_counts(snapshot))
    views.guest_rows(snapshot)
    nodes, _ = views.index_forest(forest)
    for key in nodes:
        views.node_details(snapshot, forest, key)


def _loads_or_is_refused(path, data: bytes) -> bool:
    path.write_bytes(data)
    try:
        snapshot = read_snapshot_file(str(path))
    except SnapshotFileError as exc:
        assert str(exc).startswith(f"cannot read snapshot {path}: ") and "\n" not in str(exc)
        return False
    _renders(snapshot)
    return True


def test_mutated_recordings_load_and_render_or_are_one_line(tmp_path):
    rng = random.Random(9)
    original = EXAMPLE.read_text()
    document = json.loads(original)
    deadline = time.monotonic() + 20  # a safety net on a loaded machine; the run takes a few seconds
    loaded = refused = 0
    for number in range(160):
        if number % 3 == 2:
            data = _bytes_cut(original, rng).encode("utf-8", "surrogatepass")
        else:
            mutated = _mutated(document, rng)
            if rng.random() < 0.2:
                mutated["schema"] = 1
            data = json.dumps(mutated).encode()
        started = time.monotonic()
        if _loads_or_is_refused(tmp_path / f"case{number}.json", data):
            loaded += 1
        else:
            refused += 1
        assert time.monotonic() - started < 5, f"case {number} took too long"
        if time.monotonic() > deadline:
            break
    assert loaded and refused  # both ways were tried


def test_mutated_saved_configuration_in_a_recording_loads_and_renders_or_is_one_line(tmp_path):
    """The `netconfig` part of a recording, hand-edited: read back checked like the rest."""
    from kvmtui.model import Claim, ConfiguredDevice, ConfiguredRoute, ConfiguredVlan, LinkOwner, SavedConfig
    from kvmtui.serialize import to_jsonable

    rng = random.Random(12)
    document = json.loads(EXAMPLE.read_text())
    bridge = ConfiguredDevice("br100", "bridge", "netplan", "/etc/netplan/01.yaml", 4, "netplan renderer networkd",
                              ports=("bond0.100",), vlans=(ConfiguredVlan(10, 20),),
                              routes=(ConfiguredRoute("default", "192.0.2.1"),), bond_options=(("miimon", "100"),))
    owner = LinkOwner("br100", "netplan", "/etc/netplan/01.yaml", 4, "netplan renderer networkd",
                      (Claim("ifupdown", "/etc/network/interfaces", 2, "ifupdown iface stanza"),))
    document["netconfig"] = to_jsonable(SavedConfig("/", devices=(bridge,), owners=(owner,)))
    loaded = refused = 0
    for number in range(60):
        mutated = copy.deepcopy(document)
        for _ in range(rng.randint(1, 2)):
            path = rng.choice([p for p in _paths(mutated["netconfig"]) if p])
            parent = mutated["netconfig"]
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
        if _loads_or_is_refused(tmp_path / f"case{number}.json", json.dumps(mutated).encode()):
            loaded += 1
        else:
            refused += 1
    assert loaded and refused


@pytest.mark.parametrize("sample", BONDING, ids=lambda p: p.name)
def test_mutated_bonding_files_parse_or_are_refused(sample):
    rng = random.Random(sample.name)
    text = sample.read_text()
    for _ in range(25):
        try:
            bond = parse_bonding_file("bond0", _bytes_cut(text, rng))
        except BondingParseError as exc:
            assert str(exc).startswith("cannot understand /proc/net/bonding/bond0: ")
            continue
        names = [slave.name for slave in bond.slaves]
        assert all(names) and len(set(names)) == len(names)
        assert all(slave.link_failure_count >= 0 for slave in bond.slaves)


@pytest.mark.parametrize("sample", DOMAINS + NETWORKS, ids=lambda p: p.name)
def test_mutated_libvirt_xml_parses_or_is_refused(sample):
    rng = random.Random(sample.name)
    text = sample.read_text()
    for _ in range(25):
        xml = _bytes_cut(text, rng)
        try:
            if sample in NETWORKS:
                parse_network_xml(xml, active=True, persistent=True, autostart=False)
            else:
                parse_domain_xml(xml, state="running", id=1, persistent=True)
        except LibvirtXmlError as exc:
            assert str(exc)


NETCONFIG = sorted(p for p in SHARED_FIXTURES.glob("netconfig/*/*") if p.is_file() and p.name != "SOURCES.md")


def _read_netconfig_text(sample, text: str):
    from kvmtui.collect.netconfig import ifcfg, ifupdown, netplan, networkd, networkmanager

    kind = sample.parent.name
    if kind == "netplan":
        return netplan.parse([("f", text)])
    if kind == "nm-keyfile":
        return networkmanager.parse(text, "f")
    if kind == "ifcfg":
        return ifcfg.parse(text, "f") if sample.name.startswith("ifcfg-") else ifcfg.parse("DEVICE=x", "g", ("f", text))
    if kind == "interfaces":
        return ifupdown.parse(text, "f")
    return (networkd.parse_netdev if sample.suffix == ".netdev" else networkd.parse_network)(text, "f")


@pytest.mark.parametrize("sample", NETCONFIG, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_mutated_network_configs_parse_or_name_the_line(sample):
    """A cut or garbled config file gives devices and problems, never an exception; each
    problem names the file and a line that exists."""
    rng = random.Random(sample.name)
    text = sample.read_text()
    for _ in range(25):
        mutated = _bytes_cut(text, rng)
        parsed = _read_netconfig_text(sample, mutated)
        lines = max(len(mutated.splitlines()), 1)
        for problem in parsed.problems:
            assert problem.file in ("f", "g") and problem.message and "kvmtui failed" not in problem.message
            assert problem.line is None or 1 <= problem.line <= lines + 1
        for dev in parsed.devices:
            assert dev.name is None or isinstance(dev.name, str)


@pytest.mark.parametrize("sample", [p for p in NETCONFIG if p.parent.name == "netplan"], ids=lambda p: p.name)
def test_netplan_with_values_of_the_wrong_type_names_them(sample):
    """netplan YAML whose values were swapped for other types (a list where a mapping goes,
    a number for the addresses): problems, never an exception."""
    from ruamel.yaml import YAML

    from kvmtui.collect.netconfig import netplan

    rng = random.Random(sample.name)
    document = YAML(typ="safe", pure=True).load(sample.read_text())
    values = (None, 0, -1, "x", "", True, [], {}, [1, "a"], {"a": 1}, "9" * 50, [{}], 1.5)
    for _ in range(40):
        mutated = copy.deepcopy(document)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice([p for p in _paths(mutated) if p] or [("network",)])
            parent = mutated
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = copy.deepcopy(rng.choice(values))
        text = io.StringIO()
        YAML().dump(mutated, text)
        parsed = netplan.parse([("f", text.getvalue())])
        assert all(problem.message for problem in parsed.problems)


def _edited(tmp_path, edit) -> str:
    document = json.loads(EXAMPLE.read_text())
    edit(document)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SnapshotFileError) as refused:
        read_snapshot_file(str(path))
    return str(refused.value).removeprefix(f"cannot read snapshot {path}: ")


def _link(document: dict, name: str) -> dict:
    return next(link for link in document["links"] if link["ifname"] == name)


def _bridge_port_data_under_a_bond(document: dict) -> None:
    port = next(link for link in document["links"] if link["slave_kind"] == "bridge")
    slave = next(link for link in document["links"] if link["slave_kind"] == "bond")
    slave.update(slave_kind="bridge", info_slave_data=port["info_slave_data"])


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(schema=1, links=5), "links: expected a list, got an integer"),
    (_bridge_port_data_under_a_bond, "slave_kind: 'bridge' port data, but its master bond0 is a bond"),
    (lambda d: _link(d, "bond0").update(mtu=10 ** 30), "mtu: a number outside the 64-bit range"),
    (lambda d: _link(d, "bond0").update(ifname="bond0\x1b[2J"), "ifname: holds the control character '\\x1b'"),
    (lambda d: d["domains"][0]["interfaces"][0].update(xml="<interface>" + "<a>" * 100 + "</a>" * 100 + "</interface>"),
     "domains[0].interfaces[0].xml: the interface XML nests elements more than 64 deep"),
    (lambda d: d["domains"][0]["interfaces"][0].update(xml="<source bridge='br0'/>"),
     "domains[0].interfaces[0].xml: expected a <interface> document, got <source>"),
    (lambda d: d["domains"][0].update(uuid="a:b"), "domains[0].uuid: 'a:b' is not a UUID"),
])
def test_a_recording_that_cannot_be_so_names_the_field(tmp_path, edit, message):
    assert _edited(tmp_path, edit).endswith(message)


@pytest.mark.parametrize("content, message", [
    (b'{"host": ' + b"[" * 5000 + b"]" * 5000 + b"}", "not a kvmtui snapshot: lists or objects nested too deeply (line 1)"),
    (b'{"host": {}, "links": [{"mtu": ' + b"1" * 5000 + b"}]}", "a number of more than 4300 digits at line 1"),
    (b'{"host":\n "caf\xe9"}', "not UTF-8 text (byte 0xe9 at line 2)"),
], ids=("deep", "digits", "latin-1"))
def test_unreadable_json_is_one_line(tmp_path, content, message):
    path = tmp_path / "odd.json"
    path.write_bytes(content)
    with pytest.raises(SnapshotFileError) as refused:
        read_snapshot_file(str(path))
    assert str(refused.value) == f"cannot read snapshot {path}: {message}"
