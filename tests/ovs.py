"""A private Open vSwitch for tests: ovsdb-server and ovs-vswitchd in a fresh kt- namespace,
with their own run/db/log directory, the userspace datapath and dummy ports (no kernel
module, no systemd, nothing of a real OVS touched). Torn down whatever the test did.

`default_path_ovs()` is the one libvirtd reaches: libvirtd runs ovs-vsctl with a cleaned
environment, so only an OVS answering at the default /var/run/openvswitch/db.sock gets its
guests' ports. It is started there only when nothing is (a running OVS is used as it is,
with kt- bridges only), its database in a temporary directory."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
DAEMONS = ("ovs-vswitchd", "ovsdb-server")  # stopped in this order
DEFAULT_RUNDIR = "/var/run/openvswitch"  # compiled into ovs-vsctl; libvirtd's ovs-vsctl looks nowhere else


@dataclass
class PrivateOvs:
    netns: str
    rundir: str

    @property
    def env(self) -> dict[str, str]:
        """The variables that point ovs-vsctl, ovs-appctl and kvmtui's collector here."""
        return {name: self.rundir for name in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR")}

    def environ(self) -> dict[str, str]:
        """This process's environment pointed at this OVS: what a collector would run in."""
        return {**os.environ, **self.env}

    def run(self, *argv: str, netns: bool = False) -> str:
        where = ("ip", "netns", "exec", self.netns) if netns else ()
        proc = subprocess.run([*where, *argv], capture_output=True, text=True, timeout=30, env=self.environ())
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def vsctl(self, *args: str) -> str:
        return self.run("ovs-vsctl", "--timeout=10", *args)

    def appctl(self, *args: str) -> str:
        return self.run("ovs-appctl", "--timeout=10", *args)

    def add_bridge(self, name: str) -> None:
        self.vsctl("add-br", name, "--", "set", "bridge", name, "datapath_type=netdev")

    def receive(self, port: str, src_mac: str, vlan: int | None = None) -> None:
        """One broadcast frame from `src_mac` into `port`: the bridge learns the MAC there."""
        tag = f"eth_type(0x8100),vlan(vid={vlan},pcp=0),encap(" if vlan is not None else ""
        flow = (f"eth(src={src_mac},dst=ff:ff:ff:ff:ff:ff),{tag}eth_type(0x0800),"
                "ipv4(src=10.9.0.1,dst=10.9.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)"
                + (")" if tag else ""))
        self.appctl("netdev-dummy/receive", port, flow)

    def pid(self, daemon: str) -> int | None:
        try:
            return int(Path(self.rundir, f"{daemon}.pid").read_text().strip())
        except (OSError, ValueError):
            return None


@contextmanager
def private_ovs():
    """Yields a PrivateOvs with an initialised database and vswitchd (dummy netdevs) running."""
    netns = f"kt-ovs{uuid.uuid4().hex[:6]}"
    rundir = tempfile.mkdtemp(prefix="kt-ovs-")
    ovs = PrivateOvs(netns, rundir)
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        _start(ovs, rundir)
        yield ovs
    finally:
        _stop(ovs)
        subprocess.run(["ip", "netns", "del", netns], check=False)
        shutil.rmtree(rundir, ignore_errors=True)


def _start(ovs: PrivateOvs, dbdir: str) -> None:
    """A new database in `dbdir` (logs beside it), served on the OVS's rundir; vswitchd with
    dummy netdevs and datapaths only, so that it makes no kernel device."""
    ovs.run("ovsdb-tool", "create", f"{dbdir}/conf.db", SCHEMA)
    ovs.run("ovsdb-server", f"{dbdir}/conf.db", f"--remote=punix:{ovs.rundir}/db.sock", "--pidfile", "--detach",
            "--no-chdir", f"--log-file={dbdir}/ovsdb-server.log", netns=True)
    ovs.vsctl("--no-wait", "init")
    ovs.run("ovs-vswitchd", "--pidfile", "--detach", "--no-chdir", f"--log-file={dbdir}/ovs-vswitchd.log",
            "--enable-dummy=override", netns=True)


@dataclass
class DefaultPathOvs(PrivateOvs):
    """The OVS at /var/run/openvswitch. `started`: this test started it (else it was running
    and is the host's own: only the kt- bridges made here are touched)."""

    started: bool = False
    bridges: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"OVS_RUNDIR": self.rundir}

    def add_bridge(self, name: str) -> None:
        """A kt- bridge, and its kernel device if OVS made none: libvirt reads that device's
        MTU before it plugs a guest's tap in. A kernel datapath (or the netdev datapath's tap)
        makes it on a real host; the dummy datapath does not, so a kt- tap of the bridge's
        name stands in for it."""
        if not name.startswith("kt-") or len(name) > 15:
            raise ValueError(f"bridges on the default-path OVS are kt- names of <= 15 bytes: {name!r}")
        self.bridges.append(name)
        self.vsctl("add-br", name, *(("--", "set", "bridge", name, "datapath_type=netdev") if self.started else ()))
        if subprocess.run(["ip", "link", "show", "dev", name], capture_output=True).returncode != 0:
            subprocess.run(["ip", "tuntap", "add", "dev", name, "mode", "tap"], check=True)
            subprocess.run(["ip", "link", "set", name, "up"], check=True)

    def remove_bridges(self) -> None:
        for name in self.bridges:
            subprocess.run(["ovs-vsctl", "--timeout=10", "--if-exists", "del-br", name], capture_output=True,
                           env=self.environ())
            if name.startswith("kt-"):
                subprocess.run(["ip", "link", "del", name], capture_output=True)


def _answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


@contextmanager
def default_path_ovs():
    """Yields a DefaultPathOvs: the running one, or one started here whose database lives in a
    temporary directory. Afterwards its kt- bridges are deleted; one started here is stopped
    and /var/run/openvswitch removed. A directory with nothing answering in it is refused."""
    if _answers(f"{DEFAULT_RUNDIR}/db.sock"):
        ovs = DefaultPathOvs("", DEFAULT_RUNDIR)
        try:
            yield ovs
        finally:
            ovs.remove_bridges()
        return
    if os.path.lexists(DEFAULT_RUNDIR):
        raise RuntimeError(f"{DEFAULT_RUNDIR} exists but no Open vSwitch answers on its db.sock: an OVS that stopped "
                           f"or is starting left it. Start openvswitch-switch, or remove {DEFAULT_RUNDIR}, and run "
                           "the test again (it does not start a second OVS over another one's directory)")
    ovs = DefaultPathOvs(f"kt-ovs{uuid.uuid4().hex[:6]}", DEFAULT_RUNDIR, started=True)
    dbdir = tempfile.mkdtemp(prefix="kt-ovsdb-")
    os.mkdir(DEFAULT_RUNDIR, 0o755)
    try:
        subprocess.run(["ip", "netns", "add", ovs.netns], check=True)
        try:
            _start(ovs, dbdir)
            yield ovs
        finally:
            ovs.remove_bridges()
            _stop(ovs)
            subprocess.run(["ip", "netns", "del", ovs.netns], check=False)
    finally:
        shutil.rmtree(DEFAULT_RUNDIR, ignore_errors=True)
        shutil.rmtree(dbdir, ignore_errors=True)


def _stop(ovs: PrivateOvs) -> None:
    """SIGTERM by pidfile, then SIGKILL what is still there after 5 s."""
    pids = [pid for pid in map(ovs.pid, DAEMONS) if pid]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (our child exited) counts as gone; the detached daemons are init's children
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


# test:///default's one domain, "test": an OVS port naming it by vm-id and attached-mac is its NIC's.
TEST_GUEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"
TEST_GUEST_MAC = "aa:bb:cc:dd:ee:ff"
IFACE_ID = "0e1f2a3b-0000-4000-8000-000000000042"  # the interfaceid of guest_node_xml()'s virtualport
IFACE_GUEST_MAC = "52:54:00:00:00:02"
GHOST_UUID = "99999999-8888-7777-6666-555555555555"  # a guest libvirt does not know
UPLINK_MAC = "52:54:00:aa:00:01"


def build_lab(ovs: PrivateOvs) -> None:
    """br0: bond0 (p1, p2, active-backup, LACP off), fake bridge br0.100, vm1p (internal,
    tag 100, the test:/// guest's external_ids), vnet7 (iface-id only), ghost0 (a gone guest),
    vx1 (vxlan) and patch-a to br1; br1: patch-b, bond1 (q1, q2, LACP active: no partner) and
    vhu0 (dpdkvhostuserclient, which cannot open here).
    FDB of br0: the uplink's MAC on bond0, the guest's on vm1p in VLAN 100."""
    ovs.add_bridge("br0")
    ovs.add_bridge("br1")
    ovs.vsctl("add-bond", "br0", "bond0", "p1", "p2", "bond_mode=active-backup", "lacp=off")
    ovs.vsctl("add-br", "br0.100", "br0", "100")
    ovs.vsctl("add-port", "br0", "patch-a", "--", "set", "interface", "patch-a", "type=patch", "options:peer=patch-b",
              "--", "add-port", "br1", "patch-b", "--", "set", "interface", "patch-b", "type=patch",
              "options:peer=patch-a")
    ovs.vsctl("add-port", "br0", "vx1", "--", "set", "interface", "vx1", "type=vxlan", "options:remote_ip=192.0.2.9",
              "options:key=42")
    ovs.vsctl("add-port", "br0", "vm1p", "tag=100", "--", "set", "interface", "vm1p", "type=internal",
              f"external_ids:attached-mac={TEST_GUEST_MAC}", f"external_ids:vm-id={TEST_GUEST_UUID}",
              "external_ids:iface-id=not-a-libvirt-id")
    ovs.vsctl("add-port", "br0", "vnet7", "tag=100", "--", "set", "interface", "vnet7",
              f"external_ids:attached-mac={IFACE_GUEST_MAC}", f"external_ids:iface-id={IFACE_ID}")
    ovs.vsctl("add-port", "br0", "ghost0", "--", "set", "interface", "ghost0",
              "external_ids:attached-mac=52:54:00:de:ad:00", f"external_ids:vm-id={GHOST_UUID}")
    ovs.vsctl("add-bond", "br1", "bond1", "q1", "q2", "bond_mode=balance-tcp", "lacp=active")
    # a DPDK vhost-user port, which this OVS (no DPDK) cannot open: shown with its type and error
    ovs.vsctl("add-port", "br1", "vhu0", "--", "set", "interface", "vhu0", "type=dpdkvhostuserclient",
              "options:vhost-server-path=/nonexistent/kt-vhu0")
    ovs.receive(active_member(ovs, "bond0"), UPLINK_MAC)  # a backup member's frames are dropped
    ovs.receive("vm1p", TEST_GUEST_MAC)


def active_member(ovs: PrivateOvs, bond: str, timeout: float = 10.0) -> str:
    """The member bond/show names active, once vswitchd has enabled one."""
    deadline = time.monotonic() + timeout
    while True:
        shown = ovs.appctl("bond/show", bond)
        for line in shown.splitlines():
            if line.startswith("active member mac:") and not line.endswith("(none)"):
                return line.rsplit("(", 1)[1].rstrip(")")
        if time.monotonic() > deadline:
            raise AssertionError(f"no active member in {bond}:\n{shown}")
        time.sleep(0.1)


def guest_node_xml(path: Path) -> str:
    """A test:/// driver file with one running guest plugged into br0 the way libvirt plugs into
    OVS (<virtualport type='openvswitch'> with an interfaceid); returns its URI."""
    path.write_text(f"""<node>
  <domain type='test'>
    <name>kt-ovsguest</name>
    <uuid>11111111-2222-3333-4444-555555555555</uuid>
    <memory>65536</memory>
    <os><type>hvm</type></os>
    <devices>
      <interface type='bridge'>
        <mac address='{IFACE_GUEST_MAC}'/>
        <source bridge='br0'/>
        <virtualport type='openvswitch'><parameters interfaceid='{IFACE_ID}'/></virtualport>
      </interface>
    </devices>
  </domain>
</node>
""")
    return f"test://{path}"


def tree_chains(nodes: list[dict], above: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every root-to-node chain of names in a dump's JSON tree (references end a chain)."""
    found = set()
    for node in nodes:
        chain = (*above, node["name"])
        found.add(chain)
        found |= tree_chains(node["children"], chain)
    return found
