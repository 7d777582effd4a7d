"""Shared test fixtures. Kernel-VM plumbing lives in tests/kernelvm/."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
OWN_FIXTURES = REPO / "tests" / "fixtures"


def sh(*cmd: str, check: bool = True) -> str:
    """Run a command, return stdout; failures raise with stderr in the message."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


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


from tests.kernelvm.plugin import *  # noqa: E402,F401,F403  (kernel-VM hooks: kernelvm tests run in the VM)
