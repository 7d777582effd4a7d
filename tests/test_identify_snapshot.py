"""NIC facts in the Snapshot (`kvmtui dump --json`'s `nic_facts`): a veth pair in a
namespace, one end with rx VLAN offload turned off, against `ethtool -i`, `ethtool -k` and
sysfs; the recording reads back with `--from` with the same facts. And which guest holds
each SR-IOV VF, in the details pane's lines."""

from __future__ import annotations

import json
from dataclasses import replace

from kvmtui.libvirt_xml import parse_domain_xml
from kvmtui.model import Snapshot
from kvmtui.model.wire import NicFacts, SriovVf
from kvmtui.views_identify import nic_detail_lines
from tests.helpers import kvmtui, kvmtui_in, sh
from tests.samples import LIBVIRT_HOST


def _ethtool(netns: str, *args: str) -> dict[str, str]:
    """`ethtool ARGS` in the namespace as {label: value} (its text, in the test only)."""
    lines = sh("ip", "netns", "exec", netns, "ethtool", *args).splitlines()
    return {label.strip(): value.strip() for label, _, value in (line.partition(":") for line in lines) if value}


def test_dump_holds_each_ports_facts(make_netns, tmp_path):
    netns = make_netns()
    sh("ip", "-n", netns, "link", "add", "kt-fa", "type", "veth", "peer", "name", "kt-fb")
    sh("ip", "-n", netns, "link", "set", "kt-fa", "up")
    sh("ip", "-n", netns, "link", "set", "kt-fb", "up")
    sh("ip", "netns", "exec", netns, "ethtool", "-K", "kt-fb", "rxvlan", "off")
    proc = kvmtui_in(netns, "dump", "--json", check=True)
    document = json.loads(proc.stdout)
    facts = {entry["interface"]: entry for entry in document["nic_facts"]}
    assert set(facts) == {"kt-fa", "kt-fb"}  # lo and nothing else: ports only
    for name in ("kt-fa", "kt-fb"):
        info = _ethtool(netns, "-i", name)
        assert (facts[name]["driver"], facts[name]["driver_version"]) == (info["driver"], info["version"])
        assert facts[name]["bus_address"] is None and not info.get("bus-info")
        speed = sh("ip", "netns", "exec", netns, "cat", f"/sys/class/net/{name}/speed").strip()
        assert facts[name]["speed_mbps"] == int(speed)
        duplex = sh("ip", "netns", "exec", netns, "cat", f"/sys/class/net/{name}/duplex").strip()
        assert facts[name]["duplex"] == duplex
        offloads = dict(facts[name]["offloads"])
        features = _ethtool(netns, "-k", name)
        assert offloads["rx-vlan-offload"] == features["rx-vlan-offload"].startswith("on")
        assert offloads["tcp-segmentation-offload"] == features["tcp-segmentation-offload"].startswith("on")
        assert facts[name]["sriov_vfs"] == []  # a veth has no PCI function, so no VFs
    assert dict(facts["kt-fb"]["offloads"])["rx-vlan-offload"] is False
    assert dict(facts["kt-fa"]["offloads"])["rx-vlan-offload"] is True
    assert document["neighbours"] == []  # no lldpd socket named for this namespace: none asked
    recording = tmp_path / "host.json"
    recording.write_text(proc.stdout)
    again = json.loads(kvmtui("--from", str(recording), "dump", "--json", check=True).stdout)
    assert again["nic_facts"] == document["nic_facts"]


# Two guests as libvirt prints them: one given VF 1 the SR-IOV way (<interface type='hostdev'>,
# with its MAC and VLAN), one given VF 2 as a plain PCI <hostdev>.
SRIOV_GUEST = """<domain type='kvm'><name>db1</name><uuid>6d1ab0b2-2c49-4a57-8a0e-4c7c4b0f0a01</uuid><devices>
  <interface type='hostdev' managed='yes'><mac address='52:54:00:aa:00:01'/>
    <source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x1'/></source>
    <vlan><tag id='42'/></vlan></interface>
</devices></domain>"""
PCI_GUEST = """<domain type='kvm'><name>nfv1</name><uuid>6d1ab0b2-2c49-4a57-8a0e-4c7c4b0f0a02</uuid><devices>
  <hostdev mode='subsystem' type='pci' managed='yes'>
    <source><address domain='0x0000' bus='0x03' slot='0x10' function='0x2'/></source></hostdev>
</devices></domain>"""


def test_each_vf_names_the_guest_holding_it():
    """No SR-IOV NIC here: the PF's facts are built by hand (as collect/ethtool.py reads them
    from the virtfnN links), the guests from libvirt XML samples."""
    guests = (parse_domain_xml(SRIOV_GUEST, state="running", id=3, persistent=True),
              parse_domain_xml(PCI_GUEST, state="shut off", id=None, persistent=True))
    assert guests[1].pci_hostdevs == ("0000:03:10.2",) and guests[0].interfaces[0].address == "0000:03:10.1"
    pf = NicFacts("enp3s0f0", "ixgbe", "5.19.6", "0x800008ea", "0000:03:00.0", 10000, "full", True,
                  ("10000baseT/Full",), "a0:36:9f:00:00:01", (("rx-vlan-offload", True),), 512, 512, 3, 63,
                  (SriovVf(0, "0000:03:10.0", "enp3s0f0v0"), SriovVf(1, "0000:03:10.1"), SriovVf(2, "0000:03:10.2")))
    lines = nic_detail_lines(pf, Snapshot(host=LIBVIRT_HOST, domains=guests))
    assert ("nic SR-IOV", "3 of 63 VFs enabled") in lines
    assert lines[-3:] == [("nic VFs", "VF 0 0000:03:10.0: host enp3s0f0v0"), ("", "VF 1 0000:03:10.1: guest db1"),
                          ("", "VF 2 0000:03:10.2: guest nfv1, shut off")]
    # libvirt not read: the pane does not claim that no guest holds them
    unread = nic_detail_lines(pf, Snapshot(host=replace(LIBVIRT_HOST, libvirt_uri=None)))
    assert unread[-2:] == [("", "VF 1 0000:03:10.1: no host netdev"), ("", "VF 2 0000:03:10.2: no host netdev")]
