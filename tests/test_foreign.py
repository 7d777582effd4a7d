"""Bridges other programs made, on a real kernel: in a kt- namespace, bridges named as
docker, lxc, VirtualBox and CNI name theirs, a veth on each. The tree, the details and
`dump --json` name the owner, `plan delete` refuses with the owner's own tool, the wizards
do not offer their devices, and the audit leaves them alone. docker's network list is
read from a fake docker socket (no docker engine runs here)."""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import threading
from dataclasses import replace

import pytest

from kvmtui.audit import audit
from kvmtui.audit.drift_config import not_the_admins
from kvmtui.collect.docker import read_docker_networks
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.foreign import foreign_owner
from kvmtui.kinds import DeleteLink, make_plan
from kvmtui.kinds.delete import carries_addresses
from kvmtui.model import Network, SavedConfig
from kvmtui.plan import PlanError
from kvmtui.plan.eligible import BRIDGE_PORT, sort_members
from kvmtui.topology import GROUP_ORPHANS, build_forest, walk
from kvmtui.views import link_details
from tests.helpers import OWN_FIXTURES, kvmtui, kvmtui_in, sh

# bridge -> (the port's veth, its free peer)
BRIDGES = {"docker0": ("kt-d0", "kt-d0p"), "br-0123456789ab": ("kt-d1", "kt-d1p"), "lxcbr0": ("kt-l0", "kt-l0p"),
           "vboxnet0": ("kt-v0", "kt-v0p"), "cni0": ("kt-c0", "kt-c0p"), "kt-br0": ("kt-a0", "kt-a0p")}
OWNERS = {"docker0": "docker", "br-0123456789ab": "docker", "lxcbr0": "lxc", "vboxnet0": "VirtualBox", "cni0": "CNI"}
NETWORKS = OWN_FIXTURES / "docker" / "networks.json"


@pytest.fixture
def foreign_ns(netns):
    for number, (bridge, (port, peer)) in enumerate(BRIDGES.items()):
        sh("ip", "-n", netns, "link", "add", bridge, "type", "bridge")
        sh("ip", "-n", netns, "link", "add", port, "type", "veth", "peer", "name", peer)
        sh("ip", "-n", netns, "link", "set", port, "master", bridge)
        sh("ip", "-n", netns, "addr", "add", f"10.77.{number}.1/24", "dev", bridge)
        for dev in (bridge, port, peer):
            sh("ip", "-n", netns, "link", "set", dev, "up")
    return netns


def test_the_tree_and_the_dump_name_the_owners(foreign_ns):
    proc = kvmtui_in(foreign_ns, "dump", "--json", check=True)
    summaries = {node["name"]: node["summary"] for node in _nodes(json.loads(proc.stdout)["tree"])}
    for bridge, owner in OWNERS.items():
        port, peer = BRIDGES[bridge]
        for dev in (bridge, port, peer):
            assert summaries[dev].endswith(f"owned by {owner}"), (dev, summaries[dev])
    assert not any("owned by" in summaries[dev] for dev in ("kt-br0", "kt-a0", "kt-a0p"))
    assert json.loads(proc.stdout)["docker_networks"] == []  # --netns: docker is not asked
    text = kvmtui_in(foreign_ns, "dump", check=True).stdout
    assert "owned by VirtualBox" in text and "owned by lxc" in text


def test_the_details_say_whose_and_how_known(foreign_ns):
    snapshot = collect_snapshot(foreign_ns, with_libvirt=False)
    owner = {name: dict(link_details(snapshot, snapshot.link(name))).get("owner") for name in
             ("docker0", "br-0123456789ab", "vboxnet0", "lxcbr0", "cni0", "kt-d0", "kt-d0p", "kt-br0", "kt-a0")}
    assert owner == {
        "docker0": "docker (network bridge, by name)",
        "br-0123456789ab": "docker (a user-defined network, by name)",
        "vboxnet0": "VirtualBox (host-only adapter, by name)",
        "lxcbr0": "lxc (lxc-net's bridge, by name)",
        "cni0": "CNI (the CNI bridge plugin's bridge, by name)",
        "kt-d0": "docker (port of docker0, by name)",
        "kt-d0p": "docker (veth peer of kt-d0, a port of docker0, by name)",
        "kt-br0": None, "kt-a0": None}


@pytest.mark.parametrize("bridge, tool", [
    ("docker0", "/etc/docker/daemon.json"), ("br-0123456789ab", "`docker network rm 0123456789ab`"),
    ("lxcbr0", "`systemctl stop lxc-net`"), ("vboxnet0", "`VBoxManage hostonlyif remove vboxnet0`"),
    ("cni0", "/etc/cni/net.d")])
def test_plan_delete_refuses_and_names_the_owners_tool(foreign_ns, bridge, tool):
    proc = kvmtui_in(foreign_ns, "plan", "delete", bridge)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{bridge} belongs to {OWNERS[bridge]} (" in proc.stderr and tool in proc.stderr, proc.stderr
    assert bridge in sh("ip", "-n", foreign_ns, "-br", "link", "show", "dev", bridge)


def test_an_administrators_bridge_still_plans(foreign_ns):
    proc = kvmtui_in(foreign_ns, "plan", "delete", "kt-br0")
    assert proc.returncode == 0, proc.stderr
    assert "ip link del kt-br0" in proc.stdout


def test_the_wizards_do_not_offer_them(foreign_ns):
    """`d` on docker0 (it carries an address) opens no form where its addresses would go: the
    plan is refused at once; the new-bridge wizard leaves out the free veth halves."""
    snapshot = collect_snapshot(foreign_ns, with_libvirt=False)
    assert carries_addresses(snapshot, "kt-br0") and not carries_addresses(snapshot, "docker0")
    with pytest.raises(PlanError, match="docker0 belongs to docker"):
        make_plan(DeleteLink("docker0"), snapshot)
    fit, unfit = sort_members(snapshot, BRIDGE_PORT)
    assert "kt-a0p" in {link.ifname for link in fit}
    briefs = {link.ifname: why.brief for link, why in unfit}
    assert briefs["kt-d0p"] == "docker's" and briefs["kt-v0p"] == "VirtualBox's"


def test_the_audit_does_not_flag_them(foreign_ns):
    assert [f for f in audit(collect_snapshot(foreign_ns, with_libvirt=False)) if _ours(f.key)] == []


def test_taps_on_them_are_no_orphans(foreign_ns):
    """As if libvirt were read for the host's namespace (the only case orphans are judged):
    a tap nobody holds on lxcbr0 is lxc's, the same on kt-br0 is a guest's leftover."""
    for tap, bridge in (("kt-t0", "lxcbr0"), ("kt-t1", "kt-br0")):
        sh("ip", "-n", foreign_ns, "tuntap", "add", tap, "mode", "tap")
        sh("ip", "-n", foreign_ns, "link", "set", tap, "master", bridge)
    snapshot = collect_snapshot(foreign_ns, with_libvirt=False)
    snapshot = replace(snapshot, host=replace(snapshot.host, netns=None, libvirt_uri="qemu:///system"))
    orphans = {(f.rule, f.subject) for f in audit(snapshot) if f.rule == "guest-orphan-tap"}
    assert orphans == {("guest-orphan-tap", "kt-t1")}
    group = next(node for node in build_forest(snapshot) if node.key == GROUP_ORPHANS)
    assert [node.name for node in group.children] == ["kt-t1"]


def test_no_drift_for_what_others_make(foreign_ns):
    """With a saved configuration that says nothing: vboxnet0 (its name is in no daemon list of
    the drift rules) is VirtualBox's, not a bridge lost at reboot; kt-br0 is."""
    snapshot = replace(collect_snapshot(foreign_ns, with_libvirt=False), netconfig=SavedConfig("/"))
    assert not_the_admins(snapshot, snapshot.link("vboxnet0")) == "owned by VirtualBox (host-only adapter, by name)"
    unsaved = {f.subject for f in audit(snapshot) if f.rule == "drift-unsaved"}
    assert "kt-br0" in unsaved and not unsaved & {*OWNERS, "kt-v0", "kt-v0p"}


def test_a_libvirt_nat_networks_bridge_is_refused_with_virsh(foreign_ns):
    snapshot = collect_snapshot(foreign_ns, with_libvirt=False)
    for name, forward in (("mk-minikube", "nat"), ("lab", "bridge")):
        network = Network(name, None, True, True, False, forward, "kt-br0", None)
        with_network = replace(snapshot, host=replace(snapshot.host, libvirt_uri="qemu:///system"), networks=(network,))
        if forward == "nat":
            assert foreign_owner(with_network, "kt-br0").text == \
                "libvirt network mk-minikube (minikube's kvm2 network, by libvirt's network list)"
            with pytest.raises(PlanError, match="`virsh net-destroy mk-minikube`"):
                make_plan(DeleteLink("kt-br0"), with_network)
        else:  # mode bridge: the bridge is the administrator's; the plan warns
            assert foreign_owner(with_network, "kt-br0") is None
            make_plan(DeleteLink("kt-br0"), with_network)


async def test_d_on_docker0_in_the_dashboard_is_refused(foreign_ns):
    """The namespace as a recording: `d` on docker0 (it carries an address) opens no wizard;
    the refusal naming docker shows; on kt-br0 the same key opens the wizard."""
    from kvmtui.ui.app import DashboardOptions, KvmtuiApp
    from kvmtui.ui.forms import WizardScreen
    from tests.dashboard import notifications, select_in_tree, wait_for

    app = KvmtuiApp(DashboardOptions(), recorded=collect_snapshot(foreign_ns, with_libvirt=False))
    async with app.run_test(size=(120, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the recorded snapshot")
        await select_in_tree(pilot, app, "link:docker0")
        await pilot.press("d")
        await wait_for(pilot, lambda: any("docker0 belongs to docker" in n for n in notifications(app)),
                       what="the refusal")
        assert not isinstance(app.screen, WizardScreen)
        await select_in_tree(pilot, app, "link:kt-br0")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen), what="kt-br0's delete wizard")
        await pilot.press("escape")


# -- docker's network list -----------------------------------------------------------------

class _FakeDocker(http.server.BaseHTTPRequestHandler):
    """A mock of dockerd's Engine API on a unix socket (no docker engine can run here): it
    answers `GET /networks` with a recorded-shape list (tests/fixtures/docker/networks.json)."""

    body = NETWORKS.read_bytes()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        found = self.path.split("?")[0] == "/networks"
        body = self.body if found else b'{"message":"page not found"}'
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def docker_socket(tmp_path):
    path = str(tmp_path / "docker.sock")
    server = socketserver.ThreadingUnixStreamServer(path, _FakeDocker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()


def test_dockers_list_names_the_network(foreign_ns, docker_socket):
    networks, problem = read_docker_networks(docker_socket)
    assert problem is None
    assert {(n.name, n.driver, n.bridge) for n in networks} == {
        ("bridge", "bridge", "docker0"), ("host", "host", None), ("none", "null", None),
        ("minikube", "bridge", "br-0123456789ab"), ("lab", "bridge", "br-89abcdef0123")}
    snapshot = replace(collect_snapshot(foreign_ns, with_libvirt=False), docker_networks=networks)
    details = {name: dict(link_details(snapshot, snapshot.link(name)))["owner"]
               for name in ("docker0", "br-0123456789ab")}
    assert details == {"docker0": "docker (network bridge, by docker's network list)",
                       "br-0123456789ab": "minikube (docker network minikube, by docker's network list)"}
    with pytest.raises(PlanError, match="`minikube delete -p minikube`"):
        make_plan(DeleteLink("br-0123456789ab"), snapshot)
    summaries = {node.name: node.summary for _, node in walk(build_forest(snapshot))}
    assert summaries["br-0123456789ab"].endswith("owned by minikube")


def test_dump_json_carries_dockers_list(docker_socket):
    """The host's own namespace, read only: docker's socket is the one $DOCKER_HOST names."""
    proc = kvmtui("--no-libvirt", "dump", "--json", env={"DOCKER_HOST": f"unix://{docker_socket}"}, check=True)
    document = json.loads(proc.stdout)
    minikube = next(n for n in document["docker_networks"] if n["name"] == "minikube")
    assert minikube["bridge"] == "br-0123456789ab"
    assert ["created_by.minikube.sigs.k8s.io", "true"] in minikube["labels"]


def test_a_recording_keeps_dockers_list(foreign_ns, docker_socket):
    """`dump --json` then `--from`: the owners read back as they were recorded."""
    from kvmtui.serialize import snapshot_document, snapshot_from_document

    snapshot = replace(collect_snapshot(foreign_ns, with_libvirt=False),
                       docker_networks=read_docker_networks(docker_socket)[0])
    again = snapshot_from_document(json.loads(json.dumps(snapshot_document(snapshot))))
    assert again.docker_networks == snapshot.docker_networks
    assert foreign_owner(again, "br-0123456789ab").owner == "minikube"


def test_no_docker_is_no_problem(tmp_path):
    """No socket, or one nobody listens on: docker's bridges go by name, silently. An
    answer that is not docker's is one problem line."""
    assert read_docker_networks(str(tmp_path / "absent.sock")) == ((), None)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(tmp_path / "dead.sock"))  # bound, never listening: connect() is refused
    try:
        assert read_docker_networks(str(tmp_path / "dead.sock")) == ((), None)
    finally:
        dead.close()
    mute = socket.socket(socket.AF_UNIX)
    mute.bind(str(tmp_path / "mute.sock"))
    mute.listen()  # accepts, never answers
    try:
        networks, problem = read_docker_networks(str(tmp_path / "mute.sock"), timeout=0.2)
    finally:
        mute.close()
    assert networks == () and "no answer within 0.2 s; its bridges are known by name only" in problem


def _nodes(tree: list[dict]):
    for node in tree:
        yield node
        yield from _nodes(node["children"])


def _ours(key: str) -> bool:
    return any(key.endswith(f":{name}") for bridge, pair in BRIDGES.items() if bridge in OWNERS
               for name in (bridge, *pair))
