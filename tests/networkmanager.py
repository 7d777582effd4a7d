"""A private NetworkManager in a test's network namespace, for tests of what kvmtui does
beside NM (checkpoints).

NM talks to a system bus of its own: a `dbus-daemon` with a config file, socket and log in
a temp dir, started in the namespace. NM itself runs in the namespace and in a mount
namespace of its own (`unshare -m`) with tmpfs over /etc/NetworkManager, /run and
/var/lib/NetworkManager, so its profiles, run and state files never reach the host's;
its config file sets no DNS, no hostname and no polkit, so it touches nothing outside the
namespace. Both are stopped by their pids. The host's dbus and NM (if any) are never
touched: the bus address is handed to whoever needs it (DBUS_SYSTEM_BUS_ADDRESS).

Without udev NM leaves the devices it did not create unmanaged (a veth made with `ip`):
have NM create them from a profile (`nmcli(address, "connection", "add", ...)`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kvmtui.nm_dbus import BUS, BUS_PATH, NM, with_nm
from tests.helpers import stop_process

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

NM_CONF = """[main]
plugins=keyfile
dns=none
rc-manager=unmanaged
hostname-mode=none
auth-polkit=root-only
no-auto-default=*

[logging]
level=INFO
"""

# In NM's own mount namespace: private, empty state; then NM itself (exec: its pid is the Popen's).
NM_START = """set -e
mount -t tmpfs -o mode=0755 kt-nm /run
for d in /etc/NetworkManager /var/lib/NetworkManager; do mount -t tmpfs -o mode=0700 kt-nm "$d"; done
mkdir -p /run/NetworkManager /etc/NetworkManager/system-connections
exec NetworkManager --debug --config="$1" --config-dir="$2" --system-config-dir="$2" --pid-file=/run/NetworkManager/nm.pid
"""


def nmcli(address: str, *args: str, check: bool = True) -> str:
    """nmcli against the private NM (its bus address); failures raise with stderr."""
    proc = subprocess.run(["nmcli", *args], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address})
    if check and proc.returncode != 0:
        raise RuntimeError(f"nmcli {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


@contextmanager
def private_system_bus(netns: str, tmp: Path, timeout: float = 10.0) -> Iterator[str]:
    """A dbus-daemon --system of our own in `netns` (config, socket, log in `tmp`); yields its address."""
    tmp.mkdir(parents=True, exist_ok=True)
    bus_socket, log_path = tmp / "system_bus_socket", tmp / "dbus.log"
    (tmp / "bus.conf").write_text(BUS_CONF.format(socket=bus_socket))
    with log_path.open("wb") as log:
        proc = subprocess.Popen(["ip", "netns", "exec", netns, "dbus-daemon", f"--config-file={tmp / 'bus.conf'}",
                                 "--nofork", "--nopidfile"], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: _answers(bus_socket), proc, timeout, "the private dbus-daemon", log_path)
        yield f"unix:path={bus_socket}"
    finally:
        stop_process(proc)


@contextmanager
def private_networkmanager(netns: str, tmp: Path, timeout: float = 20.0) -> Iterator[str]:
    """dbus-daemon + NetworkManager in `netns`; yields the bus address (unix:path=...) once
    NM answers on it. NM's log is `tmp/NetworkManager.log`."""
    with private_system_bus(netns, tmp) as address:
        (tmp / "NetworkManager.conf").write_text(NM_CONF)
        (tmp / "conf.d").mkdir(exist_ok=True)  # empty: no drop-ins from the host's /etc or /usr/lib
        log_path = tmp / "NetworkManager.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private",
                 "sh", "-c", NM_START, "kt-nm", str(tmp / "NetworkManager.conf"), str(tmp / "conf.d")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address})
        try:
            # "running" once NM answers (its STARTUP stays "starting" here, udev-less, it seems)
            _wait(lambda: nmcli(address, "-g", "RUNNING", "general", "status", check=False).strip() == "running",
                  proc, timeout, "NetworkManager", log_path)
            yield address
        finally:
            stop_process(proc)  # before its bus goes


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _wait(ready, proc: subprocess.Popen, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            why = f"exited ({proc.returncode})" if proc.poll() is not None else f"not ready within {timeout:g} s"
            raise RuntimeError(f"{what} {why}; its log:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.05)


def nm_root(address: str) -> Path:
    """NM's own view of the file system (its private /etc/NetworkManager and /run), through
    the pid the bus at `address` (also $DBUS_SYSTEM_BUS_ADDRESS) says NM has."""

    async def pid(bus):
        return (await bus.call(BUS_PATH, BUS, "GetConnectionUnixProcessID", "s", (NM,), destination=BUS))[0]
    return Path(f"/proc/{with_nm(pid)}/root")


def reader_of(root: Path):
    """A renderer's file reader for a tree seen under `root` (NM's own: nm_root)."""
    def read(path: str) -> str | None:
        file = root / path.lstrip("/")
        return file.read_text() if file.exists() else None
    return read
