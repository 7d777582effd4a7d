"""Neighbours from a running lldpd, without listening: two real lldpd daemons in two
namespaces joined by a veth pair, each with its own control socket; `kvmtui identify`
and the details pane of the receiving side show the sender as the NIC's neighbour, and so do
`dump --json`'s `neighbours` and the NIC's row in the tree.
Also the json0 parser on lldpcli's own output and on a VLAN entry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from kvmtui.collect.lldpd import LLDPD_SOCKET_ENV, parse_lldpcli_json0
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from tests.dashboard import screen_text, select_in_tree, settle, wait_for
from tests.helpers import kvmtui_in, sh, stop_process
from tests.helpers import wait_until as wait

pytestmark = pytest.mark.skipif(shutil.which("lldpd", path="/usr/sbin:/usr/bin") is None,
                                reason="lldpd is not installed (scripts/setup.sh test installs it)")

LLDPCLI_ONE = """{"lldp": [{"interface": [{"name": "kt-b", "via": "LLDP", "rid": "2", "age": "0 day, 00:00:02",
 "chassis": [{"id": [{"type": "mac", "value": "42:61:88:1d:3a:0c"}], "name": [{"value": "sw-lab-1"}],
   "descr": [{"value": "switch one"}], "mgmt-ip": [{"value": "192.0.2.30"}], "mgmt-iface": [{"value": "2"}],
   "capability": [{"type": "Bridge", "enabled": false}]}],
 "port": [{"id": [{"type": "ifname", "value": "kt-a"}], "descr": [{"value": "uplink port"}], "ttl": [{"value": "120"}]}],
 "vlan": [{"vlan-id": "20", "value": "vlan20"}, {"vlan-id": "10", "pvid": true, "value": "vlan10"}]}]}]}"""


def test_json0_of_lldpcli():
    (neighbour,) = parse_lldpcli_json0(LLDPCLI_ONE)["kt-b"]
    assert (neighbour.protocol, neighbour.chassis_id, neighbour.system_name, neighbour.port_id) == (
        "lldp", "42:61:88:1d:3a:0c", "sw-lab-1", "kt-a")
    assert (neighbour.port_description, neighbour.management_addresses, neighbour.ttl, neighbour.native_vlan) == (
        "uplink port", ("192.0.2.30",), 120, 10)
    assert parse_lldpcli_json0('{"lldp": [{}]}') == {}  # json0 with no neighbour at all


@pytest.fixture
def lldpd_pair(make_netns):
    """(receiving namespace, its lldpd's socket): lldpd on kt-a (as "sw-lab-1", port
    description "uplink port", management 192.0.2.30) and on kt-b, joined by a veth pair."""
    sender, receiver = make_netns(), make_netns()
    sh("ip", "-n", sender, "link", "add", "kt-a", "type", "veth", "peer", "name", "kt-b", "netns", receiver)
    sh("ip", "-n", sender, "addr", "add", "192.0.2.30/24", "dev", "kt-a")
    sh("ip", "-n", sender, "link", "set", "kt-a", "up")
    sh("ip", "-n", receiver, "link", "set", "kt-b", "up")
    daemons = []
    # lldpcli is setuid _lldpd: its socket must be where that user can reach (not pytest's 0700 tmp_path)
    socket_dir = tempfile.mkdtemp(prefix="kt-lldpd-")
    os.chmod(socket_dir, 0o755)
    sockets = {ns: os.path.join(socket_dir, f"{ns}.sock") for ns in (sender, receiver)}
    try:
        for ns, port in ((sender, "kt-a"), (receiver, "kt-b")):
            daemons.append(subprocess.Popen(["ip", "netns", "exec", ns, "lldpd", "-d", "-u", sockets[ns], "-I", port,
                                             "-S", "switch one"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for ns in (sender, receiver):
            wait(lambda ns=ns: Path(sockets[ns]).exists(), timeout=30, what=f"lldpd's socket in {ns}")
        control = ["lldpcli", "-u", sockets[sender]]
        for words in (["configure", "system", "hostname", "sw-lab-1"], ["configure", "lldp", "portidsubtype", "ifname"],
                      ["configure", "system", "ip", "management", "pattern", "192.0.2.30"],
                      ["configure", "ports", "kt-a", "lldp", "portdescription", "uplink port"], ["update"]):
            sh(*control, *words)

        def heard() -> bool:
            sh("lldpcli", "-u", sockets[sender], "update")  # the first frame may have gone before kt-b listened
            shown = sh("lldpcli", "-u", sockets[receiver], "-f", "json0", "show", "neighbors", "details")
            return "sw-lab-1" in shown and "192.0.2.30" in shown

        wait(heard, timeout=60, interval=1.0, what="lldpd on kt-b hearing sw-lab-1")
        yield receiver, sockets[receiver]
    finally:
        for daemon in daemons:
            stop_process(daemon)
        shutil.rmtree(socket_dir, ignore_errors=True)


def test_identify_shows_the_neighbour_lldpd_knows(lldpd_pair):
    receiver, control_socket = lldpd_pair
    text = kvmtui_in(receiver, "identify", "kt-b", env={LLDPD_SOCKET_ENV: control_socket}, check=True).stdout
    assert "lldpd          LLDP sw-lab-1 port kt-a (uplink port)" in text
    assert "management 192.0.2.30, platform switch one" in text
    doc = json.loads(kvmtui_in(receiver, "identify", "kt-b", "--json", env={LLDPD_SOCKET_ENV: control_socket},
                               check=True).stdout)
    (neighbour,) = doc["lldpd"]
    assert (neighbour["system_name"], neighbour["port_id"], neighbour["management_addresses"]) == (
        "sw-lab-1", "kt-a", ["192.0.2.30"])
    # the snapshot holds it too, without listening: `dump --json` and the NIC's row in the tree
    dump = json.loads(kvmtui_in(receiver, "dump", "--json", env={LLDPD_SOCKET_ENV: control_socket},
                                check=True).stdout)
    (heard,) = dump["neighbours"]
    assert (heard["ifname"], heard["source"], heard["neighbour"]["system_name"], heard["neighbour"]["port_id"]) == (
        "kt-b", "lldpd", "sw-lab-1", "kt-a")
    (row,) = [node for node in dump["tree"] if node["key"] == "link:kt-b"]
    assert "to sw-lab-1 port kt-a" in row["summary"]
    # with --netns and no socket named, the host's lldpd (not this namespace's) is not asked
    assert json.loads(kvmtui_in(receiver, "identify", "kt-b", "--json", check=True).stdout)["lldpd"] is None


async def test_the_details_pane_shows_the_neighbour(lldpd_pair, monkeypatch):
    receiver, control_socket = lldpd_pair
    monkeypatch.setenv(LLDPD_SOCKET_ENV, control_socket)
    app = KvmtuiApp(DashboardOptions(netns=receiver, with_libvirt=False, interval=60))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.link("kt-b"), what="kt-b")
        await select_in_tree(pilot, app, "link:kt-b")
        await wait_for(pilot, lambda: "LLDP sw-lab-1 port kt-a" in screen_text(app), what="the neighbour in the details")
        await wait_for(pilot, lambda: "to sw-lab-1 port kt-a" in screen_text(app), what="the neighbour on kt-b's row")
        await settle(pilot, app)
