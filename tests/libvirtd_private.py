"""A private, unprivileged libvirtd (session mode, as nobody) that the tests may stop
and start at will without touching the system daemon. It serves libvirt's test
driver over its own socket, which is all a reconnect test needs."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--")


class PrivateLibvirtd:
    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="kt-libvirtd-"))
        self.home.chmod(0o777)
        self.socket = self.home / "libvirt" / "libvirt-sock"
        self.uri = f"test+unix:///default?socket={self.socket}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {"PATH": os.environ["PATH"], "HOME": str(self.home), "XDG_RUNTIME_DIR": str(self.home),
               "XDG_CONFIG_HOME": str(self.home / "cfg"), "XDG_CACHE_HOME": str(self.home / "cache")}
        self.proc = subprocess.Popen([*NOBODY, "libvirtd"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while subprocess.run(["virsh", "-c", self.uri, "version"], capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the private libvirtd did not come up")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        subprocess.run(["rm", "-rf", str(self.home)], check=False)
