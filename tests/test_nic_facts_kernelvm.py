"""NIC facts of a real PCI NIC: the kernel VM's virtio NIC, against `ethtool -i` and
`ethtool` there. Nothing loads its driver until this test does (the VM has no udev); the
test moves the NIC into its own namespace and unloads the driver afterwards, so the NIC
is gone again for the tests after it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import kvmtui_in, sh, wait_until
from tests.kernelvm.vm import VIRTIO_NIC_MAC

pytestmark = pytest.mark.kernelvm


def _virtio_nic() -> str | None:
    for path in Path("/sys/class/net").iterdir():  # also holds bonding_masters, a file, once bonding is loaded
        if (path / "address").is_file() and (path / "address").read_text().strip() == VIRTIO_NIC_MAC:
            return path.name
    return None


def _ethtool(netns: str, *args: str) -> dict[str, str]:
    lines = sh("ip", "netns", "exec", netns, "ethtool", *args).splitlines()
    return {label.strip(): value.strip() for label, _, value in (line.partition(":") for line in lines) if value}


@pytest.fixture
def virtio_nic(netns):
    sh("modprobe", "virtio_net")
    try:
        found = wait_until(_virtio_nic, 10, what="the virtio NIC once virtio_net is loaded")
        sh("ip", "link", "set", found, "netns", netns, "name", "kt-virtio")
        yield netns, "kt-virtio"
    finally:
        subprocess.run(["modprobe", "-r", "virtio_net"], capture_output=True)


def test_a_virtio_nics_facts_match_ethtool(virtio_nic):
    netns, name = virtio_nic
    sh("ip", "-n", netns, "link", "set", name, "up")
    facts = {entry["interface"]: entry for entry in json.loads(kvmtui_in(netns, "dump", "--json", check=True).stdout)
             ["nic_facts"]}[name]
    info = _ethtool(netns, "-i", name)
    assert (facts["driver"], facts["bus_address"]) == (info["driver"], info["bus-info"]) == ("virtio_net",
                                                                                             info["bus-info"])
    assert facts["bus_address"].startswith("0000:00:")
    assert (facts["driver_version"], facts["firmware_version"] or "") == (
        info["version"], "" if info.get("firmware-version", "N/A") == "N/A" else info["firmware-version"])
    assert facts["permanent_mac"] == VIRTIO_NIC_MAC
    link = _ethtool(netns, name)
    # virtio reports no speed or duplex: ethtool says "Unknown!" ("Unknown! (255)"), the facts None
    if facts["speed_mbps"] is None:
        assert link["Speed"].startswith("Unknown")
    else:
        assert link["Speed"] == f"{facts['speed_mbps']}Mb/s"
    assert (facts["duplex"] or "unknown") == link["Duplex"].split("!")[0].lower()
    rings = _ethtool(netns, "-g", name)  # "Current hardware settings" come last and win
    assert (facts["rx_ring"], facts["tx_ring"]) == (int(rings["RX"]), int(rings["TX"]))
    features = _ethtool(netns, "-k", name)
    offloads = dict(facts["offloads"])
    for feature in ("tcp-segmentation-offload", "generic-receive-offload", "rx-vlan-offload"):
        if feature in offloads:
            assert offloads[feature] == features[feature].startswith("on"), feature
