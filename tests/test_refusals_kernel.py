"""The plan-time refusals stay true to the kernel: each refused plan, forced through apply
with the kernel checks off (make_plan(kernel_checks=False), a test-only switch), really
fails there, and the rollback leaves the host as it was. Bonds: tests/test_refusals_kernelvm.py."""

from __future__ import annotations


import libvirt
import pytest

from kvmtui.apply import Executor
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.plan import PlanError
from kvmtui.kinds import AttachInterface, CreateBridge, make_plan
from tests.helpers import sh
from tests.guests import SYSTEM_URI, diskless_guest, kt_bridge, kt_veth, unique_name
from tests.helpers import links


def test_a_port_carrying_a_macvlan_is_refused_as_the_kernel_refuses_it(netns):
    sh("ip", "-n", netns, "link", "add", "kt-p5", "type", "veth", "peer", "name", "kt-q5")
    sh("ip", "-n", netns, "link", "add", "link", "kt-p5", "name", "kt-ml", "type", "macvlan")
    snapshot = collect_snapshot(netns=netns, with_libvirt=False)
    intent = CreateBridge("kt-br0", ("kt-p5",))
    with pytest.raises(PlanError, match=r"kt-p5 carries kt-ml, which take the frames .* bridge port \(EBUSY\)"):
        make_plan(intent, snapshot)
    report = Executor(netns, None, False).apply(make_plan(intent, snapshot, kernel_checks=False))
    assert not report.ok and "master kt-br0" in report.failed.command, report.summary()
    assert "busy" in report.error.lower(), report.error
    after = links(netns)
    assert "kt-br0" not in after and "master" not in after["kt-p5"] and after["kt-ml"]["link"] == "kt-p5"


@pytest.mark.libvirt
def test_a_macvtap_on_a_bridge_port_is_refused_as_the_kernel_refuses_it():
    """A real guest: libvirt asks the kernel for the macvtap on a port of a kt- bridge."""
    with kt_bridge() as bridge, kt_veth() as (port, _), diskless_guest(unique_name("r"), []) as dom:
        sh("ip", "link", "set", port, "master", bridge)
        snapshot = collect_snapshot(uri=SYSTEM_URI)
        intent = AttachInterface(dom.name(), macvtap=port, mode="bridge", model="usb-net", live=True)
        with pytest.raises(PlanError, match=rf"{port} is a port of bridge {bridge}.*EBUSY.*--bridge {bridge}"):
            make_plan(intent, snapshot)
        report = Executor(None, SYSTEM_URI, False).apply(make_plan(intent, snapshot, kernel_checks=False))
        assert not report.ok and "busy" in (report.error or "").lower(), report.summary()
        assert "direct" not in dom.XMLDesc()  # nothing half attached
        # and QEMU refuses what the planner refuses as a model: libvirt itself lets it through
        bogus = (f"<interface type='bridge'><source bridge='{bridge}'/><model type='bogus'/></interface>")
        with pytest.raises(libvirt.libvirtError, match="'bogus' is not a valid device model name"):
            dom.attachDeviceFlags(bogus, libvirt.VIR_DOMAIN_AFFECT_LIVE)
