"""`kvmtui identify` on an SR-IOV NIC names the guest holding each VF, as libvirt says (its
test driver, loaded with guests that hold two of the VFs), and when libvirt does not answer,
lists the VFs without guests and says so in one line.

There is no SR-IOV NIC here: the PF's facts are built by hand (as collect/ethtool.py reads
them from the virtfnN links) and stand in for the ioctl/sysfs read; libvirt is real."""

from __future__ import annotations

import json

import pytest

import kvmtui.collect.ethtool
from kvmtui.cli import main
from kvmtui.model.wire import NicFacts, SriovVf

PF = NicFacts("enp3s0f0", "ixgbe", "5.19.6", "0x800008ea", "0000:03:00.0", 10000, "full", True,
              ("10000baseT/Full",), "a0:36:9f:00:00:01", (("rx-vlan-offload", True),), 512, 512, 3, 63,
              (SriovVf(0, "0000:03:10.0", "enp3s0f0v0"), SriovVf(1, "0000:03:10.1"), SriovVf(2, "0000:03:10.2")))

# libvirt's test driver reads a whole host from one file: two guests, each holding one VF
NODE = """<node>
<domain type='test'><name>db1</name><memory>65536</memory><os><type>hvm</type></os><devices>
  <interface type='hostdev' managed='yes'><mac address='52:54:00:aa:00:01'/>
    <source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x1'/></source>
    <vlan><tag id='42'/></vlan></interface>
</devices></domain>
<domain type='test'><name>nfv1</name><memory>65536</memory><os><type>hvm</type></os><devices>
  <hostdev mode='subsystem' type='pci' managed='yes'>
    <source><address domain='0x0000' bus='0x03' slot='0x10' function='0x2'/></source></hostdev>
</devices></domain>
</node>"""


@pytest.fixture
def sriov_pf(monkeypatch):
    monkeypatch.setattr(kvmtui.collect.ethtool, "read_nic_facts", lambda ifname, netns=None: PF)


def test_each_vf_with_its_guest(sriov_pf, tmp_path, capsys):
    node = tmp_path / "node.xml"
    node.write_text(NODE)
    assert main(["--connect", f"test://{node}", "identify", "enp3s0f0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "  VFs            VF 0 0000:03:10.0: host enp3s0f0v0" in lines
    assert "                 VF 1 0000:03:10.1: guest db1" in lines
    assert "                 VF 2 0000:03:10.2: guest nfv1" in lines
    assert not [line for line in lines if "libvirt" in line]

    assert main(["--connect", f"test://{node}", "identify", "enp3s0f0", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["vf_guests"] == {"0000:03:10.1": "guest db1", "0000:03:10.2": "guest nfv1"}
    assert document["libvirt_error"] is None


def test_libvirt_silent(sriov_pf, tmp_path, capsys):
    uri = f"qemu+unix:///system?socket={tmp_path}/none.sock"  # no daemon there
    assert main(["--connect", uri, "identify", "enp3s0f0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "                 VF 1 0000:03:10.1: no host netdev" in lines  # not "no guest": it is not known
    (silent,) = [line for line in lines if "libvirt" in line]
    assert silent.startswith("  libvirt        did not answer (cannot connect to libvirt at ")
    assert silent.endswith("which guest holds each VF is not known")
    # --no-libvirt: libvirt is not asked, the VFs are listed as the host sees them
    assert main(["--no-libvirt", "identify", "enp3s0f0", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["vf_guests"], document["libvirt_error"]) == (None, None)
    assert len(document["nic"]["sriov_vfs"]) == 3
