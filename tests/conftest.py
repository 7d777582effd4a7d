"""Shared test fixtures. Helpers are in tests/helpers.py; kernel-VM plumbing in tests/kernelvm/."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from tests.helpers import sh
from tests.states import host_state
from tests.topologies import ns_json

pytest_plugins = ["tests.kernelvm.plugin"]  # kernel-VM hooks: kernelvm tests run in the VM


@pytest.fixture(autouse=True, scope="session")
def private_guard_dir(tmp_path_factory):
    """Guards' journals of this test session (subprocesses inherit it): a real admin's
    /run/kvmtui is never read or written, and no test sees another session's guards."""
    os.environ["KVMTUI_RUN_DIR"] = str(tmp_path_factory.mktemp("kvmtui-run"))
    yield


@pytest.fixture
def make_netns():
    """Factory of fresh, empty network namespaces named kt-<random>, all deleted afterwards."""
    made: list[str] = []

    def make() -> str:
        name = f"kt-{uuid.uuid4().hex[:8]}"
        sh("ip", "netns", "add", name)
        made.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    try:
        yield make
    finally:
        for name in made:
            sh("ip", "netns", "del", name, check=False)


@pytest.fixture
def netns(make_netns):
    """A fresh, empty network namespace named kt-<random>, deleted afterwards."""
    return make_netns()


@pytest.fixture
def uplink_ns(make_netns):
    """kt-up (10.20.0.2/24, default route via 10.20.0.1, 10.30.0.0/16 via .254) wired to a peer namespace."""
    ns, wire = make_netns(), make_netns()
    # IPv6 duplicate address detection runs asynchronously after every link flap; with it
    # on, a state compared right after a rollback may catch an address still "tentative".
    for knob in ("all", "default"):
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{knob}.accept_dad=0")
    sh("ip", "-n", ns, "link", "add", "kt-up", "type", "veth", "peer", "name", "kt-wire", "netns", wire)
    for n in (1, 2):
        sh("ip", "-n", ns, "link", "add", f"kt-p{n}", "type", "veth", "peer", "name", f"kt-q{n}")
    sh("ip", "-n", ns, "addr", "add", "10.20.0.2/24", "dev", "kt-up")
    sh("ip", "-n", ns, "link", "set", "kt-up", "up")
    sh("ip", "-n", wire, "link", "set", "kt-wire", "up")
    sh("ip", "-n", ns, "route", "add", "default", "via", "10.20.0.1")
    sh("ip", "-n", ns, "route", "add", "10.30.0.0/16", "via", "10.20.0.254", "metric", "5")
    # the kernel gives kt-up its IPv6 link-local address when the carrier comes, a moment
    # later: a state read before that would see it appear under a test that changes nothing
    deadline = time.monotonic() + 10
    while not any(a["family"] == "inet6" for a in ns_json(ns, "ip", "-j", "addr", "show", "dev", "kt-up")[0]["addr_info"]):
        assert time.monotonic() < deadline, "kt-up got no IPv6 link-local address"
        time.sleep(0.05)
    # and carrier, operstate and address flags settle a moment after that on a busy machine
    state, since = host_state(ns), time.monotonic()
    while time.monotonic() - since < 0.5 and time.monotonic() < deadline + 5:
        time.sleep(0.1)
        if (again := host_state(ns)) != state:
            state, since = again, time.monotonic()
    return ns
