"""`kvmtui dump` on the real host with a real libvirt guest (qemu:///system, TCG, diskless).

One guest with a bridge NIC on a kt- bridge and a macvtap NIC on a kt- veth; its
iPXE DHCP requests make the bridge learn its MAC on the vnet port.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.guests import diskless_guest, kt_bridge, kt_veth, unique_name, wait_until

pytestmark = pytest.mark.libvirt

BRIDGE_MAC = "52:54:00:4b:74:01"
DIRECT_MAC = "52:54:00:4b:74:02"


def domiflist(name: str) -> dict[str, dict[str, str]]:
    """`virsh domiflist` rows by MAC: Interface, Type, Source, Model."""
    out = subprocess.run(["virsh", "-q", "domiflist", name], capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        interface, kind, source, model, mac = line.split()
        rows[mac] = {"target": interface, "type": kind, "source": source, "model": model}
    return rows


def learned(bridge: str, mac: str) -> dict | None:
    out = subprocess.run(["bridge", "-j", "fdb", "show", "br", bridge], capture_output=True, text=True, check=True).stdout
    return next((e for e in json.loads(out) if e["mac"] == mac and not e.get("state")), None)


def tree_paths(nodes, prefix=()):
    for node in nodes:
        path = prefix + ((node["kind"], node["name"]),)
        yield path, node
        if node["ref"] is None:
            yield from tree_paths(node["children"], path)


@pytest.fixture(scope="module")
def guest():
    with kt_bridge() as bridge, kt_veth() as (lower, _peer):
        nics = [
            f"<interface type='bridge'><mac address='{BRIDGE_MAC}'/><source bridge='{bridge}'/><model type='virtio'/></interface>",
            f"<interface type='direct'><mac address='{DIRECT_MAC}'/><source dev='{lower}' mode='bridge'/><model type='virtio'/></interface>",
        ]
        with diskless_guest(unique_name("g"), nics) as dom:
            fdb_entry = wait_until(lambda: learned(bridge, BRIDGE_MAC), timeout=90, what="the guest's MAC learned on the bridge")
            rows = domiflist(dom.name())
            dump = subprocess.run([sys.executable, "-m", "kvmtui", "dump", "--json"], capture_output=True, text=True, timeout=60)
            text = subprocess.run([sys.executable, "-m", "kvmtui", "dump"], capture_output=True, text=True, timeout=60)
            dom.suspend()  # the rest only reads what was recorded; free the CPU
            yield {"name": dom.name(), "bridge": bridge, "lower": lower, "rows": rows, "fdb_entry": fdb_entry,
                   "dump": dump, "text": text}


def test_dump_shows_guest_paths_as_virsh_domiflist_says(guest):
    assert guest["dump"].returncode == 0, guest["dump"].stderr
    doc = json.loads(guest["dump"].stdout)
    domain = next(d for d in doc["domains"] if d["name"] == guest["name"])
    assert domain["state"] == "running"
    rows = guest["rows"]
    by_mac = {nic["mac"]: nic for nic in domain["interfaces"]}
    for mac, row in rows.items():
        assert by_mac[mac]["target"] == row["target"]
        assert by_mac[mac]["type"] == row["type"]
        assert by_mac[mac]["source"] == row["source"]
        assert by_mac[mac]["model"] == row["model"]
    vnet, macvtap = rows[BRIDGE_MAC]["target"], rows[DIRECT_MAC]["target"]
    assert rows[BRIDGE_MAC]["source"] == guest["bridge"] and rows[DIRECT_MAC]["source"] == guest["lower"]
    paths = {tuple(name for _, name in path): node for path, node in tree_paths(doc["tree"])}
    bridge_path = next(p for p in paths if p[-2:] == (vnet, guest["name"]))
    assert bridge_path[-3:] == (guest["bridge"], vnet, guest["name"])
    assert paths[bridge_path]["summary"].startswith(BRIDGE_MAC)
    direct_path = next(p for p in paths if p[-2:] == (macvtap, guest["name"]))
    assert direct_path[-3:] == (guest["lower"], macvtap, guest["name"])
    assert "macvtap bridge" in paths[direct_path]["summary"]
    links = {link["ifname"]: link for link in doc["links"]}
    assert links[macvtap]["kind"] == "macvtap" and links[macvtap]["info_data"]["mode"] == "bridge"
    assert links[vnet]["master"] == guest["bridge"] and links[vnet]["info_data"]["type"] == "tap"


def test_guest_mac_is_learned_on_its_vnet_port(guest):
    doc = json.loads(guest["dump"].stdout)
    vnet = guest["rows"][BRIDGE_MAC]["target"]
    entries = [e for e in doc["fdb"] if e["mac"] == BRIDGE_MAC and e["master"] == guest["bridge"]]
    assert entries, "the guest's MAC is not in the dumped FDB"
    assert {(e["ifname"], e["state"]) for e in entries} == {(vnet, "")}
    assert guest["fdb_entry"]["ifname"] == vnet


def test_text_dump_names_the_guest(guest):
    assert guest["text"].returncode == 0, guest["text"].stderr
    assert guest["name"] in guest["text"].stdout and BRIDGE_MAC in guest["text"].stdout
