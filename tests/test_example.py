"""examples/kvm-host.json, the snapshot the README shows, holds the whole picture it promises.

It is a composite of two real recordings (scripts/record_example.py, examples/README.md):
these checks keep a re-recording honest and the file readable by this kvmtui.
"""

from __future__ import annotations

import json

import pytest

from kvmtui.cli import read_snapshot_file
from kvmtui.topology import build_forest
from kvmtui.views import fdb_rows
from tests.helpers import EXAMPLE
from tests.helpers import kvmtui



@pytest.fixture(scope="module")
def document() -> dict:
    return json.loads(EXAMPLE.read_text())


@pytest.fixture(scope="module")
def shown() -> dict:
    """What this kvmtui makes of the file: `--from FILE dump --json`, tree built afresh."""
    proc = kvmtui("--from", str(EXAMPLE), "dump", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def snapshot():
    return read_snapshot_file(str(EXAMPLE))


def assert_kept(stored, again, where="document"):
    """Everything the file holds comes back unchanged; fields added to the schema since the
    recording may appear (docs/dump-json.md: new fields may appear within a schema version)."""
    if isinstance(stored, dict):
        assert isinstance(again, dict), where
        for key, value in stored.items():
            assert key in again, f"{where}.{key} lost"
            assert_kept(value, again[key], f"{where}.{key}")
    elif isinstance(stored, list):
        assert isinstance(again, list) and len(again) == len(stored), where
        for n, (a, b) in enumerate(zip(stored, again)):
            assert_kept(a, b, f"{where}[{n}]")
    else:
        assert stored == again, f"{where}: {stored!r} != {again!r}"


def paths(nodes, prefix=()):
    """Every path from a root through full nodes (references are not followed): (kind, name) tuples."""
    for node in nodes:
        path = prefix + ((node["kind"], node["name"]),)
        yield path
        if node["ref"] is None:
            yield from paths(node["children"], path)


def test_dump_reads_it_and_json_round_trips(document, shown):
    text = kvmtui("--from", str(EXAMPLE), "dump")
    assert text.returncode == 0 and text.stderr == "", text.stderr
    assert "web1" in text.stdout and "bond0.100" in text.stdout
    # The stored tree is informative (the recording's kvmtui built it); the rest must come back.
    # (recorded at schema 2: dumped again it says 3, which only added fields)
    assert_kept({k: v for k, v in document.items() if k not in ("tree", "schema")}, shown)
    assert (document["schema"], shown["schema"]) == (2, 3)


def test_tree_runs_from_nic_through_bond_vlan_bridge_tap_to_guest(shown):
    by_names = {tuple(name for _, name in path): path for path in paths(shown["tree"])}
    path = by_names[("eno1", "bond0", "bond0.100", "br100", "vnet0", "web1")]
    assert tuple(kind for kind, _ in path) == ("dummy", "bond", "vlan", "bridge", "tun", "guest")


def test_macvtap_guest_and_shut_off_guest(document, shown):
    tree = list(paths(shown["tree"]))
    assert (("dummy", "eno1"), ("bond", "bond0"), ("macvtap", "macvtap0"), ("guest", "db1")) in tree
    states = {d["name"]: d["state"] for d in document["domains"]}
    assert states == {"web1": "running", "db1": "running", "build1": "shut off"}


def test_bridge_learned_the_guest_mac_on_its_tap(snapshot):
    web1 = next(d for d in snapshot.domains if d.name == "web1").interfaces[0]
    rows = fdb_rows(snapshot, "br100")
    learned = [r for r in rows if r.state == "learned" and r.owner == "guest web1"]
    assert [(r.mac, r.port) for r in learned] == [(web1.mac, web1.target)]


def test_composite_is_coherent_and_small(snapshot, document):
    links = snapshot.links_by_name
    for domain in snapshot.domains:
        for nic in domain.interfaces:
            if domain.active:
                assert nic.target in links, f"{domain.name}: {nic.target} missing"
            for device in (nic.bridge, nic.dev):
                assert device is None or device in links
    for network in snapshot.networks:
        assert not network.active or network.bridge in links
    assert document["problems"] == [] and document["libvirt_error"] is None
    assert document["host"]["libvirt_version"] and document["host"]["netns"] is None
    assert "kt-" not in EXAMPLE.read_text()  # the host recording's kt- names were all renamed
    assert len(snapshot.links) <= 30
    assert build_forest(snapshot)  # nothing in it trips the tree builder
