"""The real network backends run on files kvmtui wrote, inside a test's namespace, with
their state kept private (../shared/RECIPES.md): systemd-networkd and ifupdown2."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.helpers import sh

NETWORKD = "/lib/systemd/systemd-networkd"
NETPLAN = shutil.which("netplan") or "/usr/sbin/netplan"
# ifupdown2 with its state private: tmpfs over /run and /var/tmp, overlays over /etc/network
# and /var/lib/ifupdown2 (upper and work dirs under $P).
IFUPDOWN2_PRIVATE = """set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/network
mount -t tmpfs tmpfs /var/tmp
for d in /etc/network /var/lib/ifupdown2; do
    mkdir -p "$P$d/u" "$P$d/w"
    mount -t overlay overlay -o "lowerdir=$d,upperdir=$P$d/u,workdir=$P$d/w" "$d"
done
exec "$@"
"""


def start_networkd(ns: str, files: Path, log: Path, directory: str = "/etc/systemd/network") -> subprocess.Popen:
    """The real systemd-networkd in `ns` on the files in `files`, copied into `directory` (a
    tmpfs of a private mount namespace; /run/systemd/network for what netplan generates).
    Without a read-only /sys it waits for udev forever. Stop it with stop_process."""
    Path("/run/systemd/netif").mkdir(parents=True, exist_ok=True)
    script = f"""set -e
mount --make-rprivate /
mkdir -p {directory}
mount -t tmpfs -o mode=755 none {directory}
cp {files}/* {directory}/
mount -t tmpfs -o mode=755 none /run/systemd/netif
chown systemd-network:systemd-network /run/systemd/netif
exec ip netns exec {ns} sh -c "mount -o remount,ro /sys; exec {NETWORKD}"
"""
    with open(log, "w") as out:
        return subprocess.Popen(["unshare", "-m", "sh", "-c", script], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "SYSTEMD_LOG_LEVEL": "info"})


def ifupdown2(ns: str | None, private: Path, *cmd: str) -> subprocess.CompletedProcess:
    """An ifupdown2 command in namespace `ns` (or a fresh empty one), its state kept private."""
    private.mkdir(parents=True, exist_ok=True)
    made = None
    if ns is None:
        made = ns = f"kt-q{private.stat().st_ino % 10**8:08d}"
        sh("ip", "netns", "add", ns)
    try:
        return subprocess.run(["ip", "netns", "exec", ns, "env", f"P={private}", "sh", "-c", IFUPDOWN2_PRIVATE,
                               "sh", *cmd], capture_output=True, text=True, timeout=60)
    finally:
        if made:
            sh("ip", "netns", "del", made, check=False)
