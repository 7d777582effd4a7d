"""LLDP neighbours systemd-networkd heard (collect/lldp_networkd.py): a real networkd in a
namespace, in a mount namespace of its own whose /run and /etc/systemd/network are a test
directory's (sysfs read-only there, so it does not wait for udev), with `LLDP=yes` on one
end of a veth pair and a real lldpd on the other; the reader names the neighbour from the
file networkd writes. Also a file cut short (networkd writes them whole; a reader may race)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from kvmtui.collect.lldp_networkd import networkd_port_neighbours, parse_networkd_lldp
from tests.helpers import sh, stop_process
from tests.helpers import wait_until as wait

NETWORKD = "/lib/systemd/systemd-networkd"
# in networkd's own mount namespace: the test's directories over /run and its configuration
NETWORKD_START = """set -e
mount --bind "$1" /run
mount --bind "$2" /etc/systemd/network
mount -o remount,ro /sys
mkdir -p /run/systemd/netif
chown systemd-network:systemd-network /run/systemd/netif
exec "$3"
"""


def test_networkds_lldp_neighbour(make_netns, tmp_path):
    netns = make_netns()
    sh("ip", "-n", netns, "link", "add", "kt-nd", "type", "veth", "peer", "name", "kt-ns")
    sh("ip", "-n", netns, "link", "set", "kt-nd", "up")
    sh("ip", "-n", netns, "link", "set", "kt-ns", "up")
    ifindex = json.loads(sh("ip", "-j", "-n", netns, "link", "show", "kt-nd"))[0]["ifindex"]
    run, config = tmp_path / "run", tmp_path / "network"
    run.mkdir(mode=0o755)
    config.mkdir()
    (config / "kt-nd.network").write_text("[Match]\nName=kt-nd\n\n[Network]\nLLDP=yes\nLinkLocalAddressing=no\n")
    socket_dir = tempfile.mkdtemp(prefix="kt-lldpd-")  # lldpcli (setuid _lldpd) must reach the socket
    os.chmod(socket_dir, 0o755)
    control = os.path.join(socket_dir, "lldpd.sock")
    with (tmp_path / "networkd.log").open("wb") as log:
        networkd = subprocess.Popen(
            ["ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private", "sh", "-c",
             NETWORKD_START, "kt-networkd", str(run), str(config), NETWORKD],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    lldpd = subprocess.Popen(["ip", "netns", "exec", netns, "lldpd", "-d", "-u", control, "-I", "kt-ns",
                              "-S", "switch one"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(lambda: Path(control).exists(), timeout=30, what="lldpd's socket")
        for words in (["configure", "system", "hostname", "sw-lab-1"], ["configure", "lldp", "portidsubtype", "ifname"]):
            sh("lldpcli", "-u", control, *words)
        files = str(run / "systemd" / "netif" / "lldp")

        def heard():
            assert networkd.poll() is None, (tmp_path / "networkd.log").read_text()
            sh("lldpcli", "-u", control, "update")
            return [h for h in networkd_port_neighbours({ifindex: "kt-nd"}, files)
                    if h.neighbour.system_name == "sw-lab-1"]

        (found,) = wait(heard, timeout=60, interval=1.0, what="networkd hearing sw-lab-1 on kt-nd")
        data = (Path(files) / str(ifindex)).read_bytes()
    finally:
        stop_process(lldpd)
        stop_process(networkd)
        shutil.rmtree(socket_dir, ignore_errors=True)
    n = found.neighbour
    assert (found.ifname, found.source, n.protocol, n.port_id, n.platform, n.ttl) == (
        "kt-nd", "networkd", "lldp", "kt-ns", "switch one", 120)
    assert networkd_port_neighbours({ifindex + 100: "other"}, files) == ()  # a file of a link not read: left out
    assert parse_networkd_lldp(data[:-1]) == parse_networkd_lldp(data)[:-1]  # a cut frame is not half read
