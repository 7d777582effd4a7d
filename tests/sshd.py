"""A private sshd on 127.0.0.1 and a private tmux server, for tests (and the dashboard
benchmark) that need a real terminal: a pty that sshd allocates, and a terminal
emulator (tmux) that interprets everything the app writes, so `capture-pane` shows
what a person would see. `netns_sshd` runs one inside a network namespace on an
address of that namespace instead, for a "remote host" whose path a test can cut; its
client runs in another namespace (the admin's workstation).

Everything lives in a temporary directory and is stopped by its own pid or socket
name; the system's sshd, the user's tmux and ~/.ssh are never touched.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import stop_process

SSHD = "/usr/sbin/sshd"  # sshd re-executes itself, so it must be started by absolute path
PRIVSEP_DIR = Path("/run/sshd")  # OpenSSH chroots its pre-auth child here; refuses to start without it
LOOPBACK = "127.0.0.1"  # private_sshd never listens on any other address (netns_sshd: only inside its namespace)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Sshd:
    port: int
    client_key: Path
    log: Path
    address: str = LOOPBACK  # where it listens
    client_netns: str | None = None  # the ssh client runs in this namespace (`ip netns exec`)
    netns: str | None = None  # the namespace sshd runs in; None: this one

    def ssh(self, remote_command: str, tty: bool = True, connect_timeout: float | None = None) -> list[str]:
        """argv of an ssh client to root@ADDRESS that ignores every user and system
        ssh setting (-F /dev/null) and never records the throwaway host key.
        `connect_timeout`: seconds before a connection that gets no answer fails."""
        where = ["ip", "netns", "exec", self.client_netns] if self.client_netns else []
        timeout = ["-o", f"ConnectTimeout={connect_timeout:g}"] if connect_timeout else []
        return [*where, "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", *timeout, "-i", str(self.client_key),
                "-p", str(self.port), "-t" if tty else "-T", f"root@{self.address}", remote_command]


def _config(tmp: Path, host_key: Path, address: str = LOOPBACK) -> str:
    return "\n".join([
        f"ListenAddress {address}",  # the port comes from -p
        "AddressFamily inet",
        f"HostKey {host_key}",
        f"PidFile {tmp / 'sshd.pid'}",
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}",
        "AllowUsers root",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",  # the pytest tmp dir is not root-only all the way up
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        "AllowAgentForwarding no",
        "PermitTunnel no",
        "LogLevel VERBOSE",
        "",
    ])


@contextmanager
def private_sshd(tmp: Path, timeout: float = 15.0) -> Iterator[Sshd]:
    """sshd -D on a free port of 127.0.0.1 that lets in only a key generated here.
    /run/sshd is created if missing and left (it is the package's own, empty dir; another
    test's sshd may be using it)."""
    config, client_key, log = _prepare(tmp, LOOPBACK)
    proc = None
    try:
        for _attempt in range(3):  # the free port may be taken between asking and binding
            server = Sshd(free_port(), client_key, log)
            proc = subprocess.Popen([SSHD, "-D", "-f", str(config), "-p", str(server.port), "-E", str(log)],
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            if _wait_ready(proc, server, timeout):
                break
            stop_process(proc)
            proc = None
        else:
            raise RuntimeError(f"private sshd did not start; its log:\n{_read(log)}")
        yield server
    finally:
        if proc is not None:
            stop_process(proc)


def _prepare(tmp: Path, address: str) -> tuple[Path, Path, Path]:
    """Throwaway host and client keys, the config: (config, client key, log)."""
    host_key, client_key, log = tmp / "host_ed25519", tmp / "client_ed25519", tmp / "sshd.log"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kt-test", "-f", str(key)], check=True)
    (tmp / "authorized_keys").write_text(Path(f"{client_key}.pub").read_text())
    config = tmp / "sshd_config"
    config.write_text(_config(tmp, host_key, address))
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    return config, client_key, log


@contextmanager
def netns_sshd(tmp: Path, netns: str, address: str, client_netns: str, port: int = 22,
               timeout: float = 15.0) -> Iterator[Sshd]:
    """sshd -D inside namespace `netns`, listening on `address` (which must be one of
    that namespace's addresses) and `port`, letting in only a key generated here; its
    `ssh()` runs the client inside `client_netns`, which must reach `address`. The root
    namespace gets no address or route. Afterwards every sshd process of `netns` is
    killed by its pid, the sessions' too (each calls setsid: stopping the listener
    leaves them)."""
    config, client_key, log = _prepare(tmp, address)
    server = Sshd(port, client_key, log, address, client_netns, netns)
    proc = subprocess.Popen(["ip", "netns", "exec", netns, SSHD, "-D", "-f", str(config), "-p", str(port),
                             "-E", str(log)], stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        if not _wait_ready(proc, server, timeout):
            raise RuntimeError(f"sshd in {netns} did not start; its log:\n{_read(log)}")
        yield server
    finally:
        stop_process(proc)
        stop_sshd_sessions(netns)


def stop_sshd_sessions(netns: str) -> None:
    """SIGKILL every sshd process in namespace `netns` (a test's own: it made the namespace)."""
    for pid in netns_pids(netns):
        try:
            if os.readlink(f"/proc/{pid}/exe") == SSHD:
                os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            pass


def netns_pids(netns: str) -> list[int]:
    """The processes whose network namespace is `netns` (`ip netns pids`)."""
    proc = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
    return [int(pid) for pid in proc.stdout.split()]


def _wait_ready(proc: subprocess.Popen, server: Sshd, timeout: float) -> bool:
    """Ready when a real login runs a command; False if sshd died (e.g. port taken)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        probe = subprocess.run(server.ssh("echo kt-ready", tty=False), capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=timeout)
        if probe.returncode == 0 and probe.stdout.strip() == "kt-ready":
            return True
        time.sleep(0.1)
    return False




def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return "(no log)"


class Tmux:
    """One session of a private tmux server (`tmux -L kt-...`, no config file), forced to
    UTF-8 (-u) so capture-pane returns the symbols as they are. Call kill() in finally."""

    SESSION = "kt"

    def __init__(self) -> None:
        self.socket = f"kt-{uuid.uuid4().hex[:10]}"
        self.env = {**os.environ, "LANG": "C.UTF-8"}
        self.env.pop("TMUX", None)  # inside someone's tmux, still talk to our own server
        self._socket_path = ""

    def __call__(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["tmux", "-u", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, env=self.env, timeout=30)
        if check and proc.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def start(self, command: str, width: int, height: int) -> None:
        self("new-session", "-d", "-s", self.SESSION, "-x", str(width), "-y", str(height), command)
        self._socket_path = self.pane("#{socket_path}")
        self("set-option", "-t", self.SESSION, "window-size", "manual")  # no client may resize it
        self("set-option", "-t", self.SESSION, "remain-on-exit", "on")  # keep the last screen to look at

    def start_shell(self, width: int, height: int, prompt: str = "kt$ ") -> None:
        """An interactive bash without rc files or history, so the screen is predictable
        and root's ~/.bash_history stays untouched."""
        self.start(f"env -u PROMPT_COMMAND HISTFILE=/dev/null PS1='{prompt}' bash --norc --noprofile -i",
                   width, height)

    def type(self, text: str) -> None:
        self("send-keys", "-t", self.SESSION, "-l", text)

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", self.SESSION, *keys)

    def screen(self, escapes: bool = False) -> str:
        return self("capture-pane", "-p", "-t", self.SESSION, *(["-e"] if escapes else []))

    def pane(self, fmt: str) -> str:
        """A pane format, e.g. #{alternate_on}, #{cursor_flag}, #{pane_pid}."""
        return self("display-message", "-p", "-t", self.SESSION, fmt).strip()

    def wait_screen(self, predicate: Callable[[str], object], what: str, timeout: float = 30.0,
                    poll: float = 0.05, give_up: Callable[[str], object] | None = None) -> str:
        """Polls capture-pane until predicate(screen) holds; give_up(screen) ends the wait
        early (the command already failed). The last screen is in the error."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if predicate(text):
                return text
            if time.monotonic() > deadline or (give_up is not None and give_up(text)):
                raise AssertionError(f"{what}: not on screen within {timeout:g} s; the pane shows:\n{text}")
            time.sleep(poll)

    def kill(self) -> None:
        self("kill-server", check=False)
        if self._socket_path.startswith("/") and os.path.basename(self._socket_path) == self.socket:
            try:
                os.unlink(self._socket_path)  # kill-server leaves the socket file behind
            except FileNotFoundError:
                pass


def filter_tree(tmux: Tmux, text: str) -> None:
    """`/`, the text, Enter. The input takes the focus a moment after it shows: what was
    typed before that went elsewhere, so on a busy machine it is typed again."""
    for _attempt in range(3):
        tmux.keys("/")
        tmux.wait_screen(lambda s: "filter the tree" in s or "▊  " in s, "the filter")
        time.sleep(0.3)
        tmux.type(text)
        try:
            tmux.wait_screen(lambda s: f"▊  {text}" in s, "the filter typed", timeout=3)
        except AssertionError:
            tmux.keys("Escape")
            continue
        tmux.keys("Enter")
        return
    raise AssertionError(f"could not type {text!r} into the tree's filter")
