"""Which SSH connection this process runs under, if any, in SSH_CONNECTION's words
("client-ip client-port server-ip server-port").

Our own environment is not enough: `sudo` and `su -` drop SSH_CONNECTION, and `env -u`
removes it. So the process ancestry is walked: the first ancestor whose (initial)
environment holds SSH_CONNECTION answers; failing that, the first sshd ancestor's
established TCP socket does. Reading other processes' /proc entries needs the same
user or root, which is what changing the network needs anyway.
"""

from __future__ import annotations

import ipaddress
import os
import sys

PROC = "/proc"
ESTABLISHED = "01"  # the st column of /proc/net/tcp


def ssh_connection(pid: int | None = None) -> str | None:
    """SSH_CONNECTION of the session `pid` (default: this process) runs in, or None."""
    if pid is None and os.environ.get("SSH_CONNECTION"):
        return os.environ["SSH_CONNECTION"]
    seen: set[int] = set()
    current = pid or os.getpid()
    while current > 1 and current not in seen:
        seen.add(current)
        found = _environ(current).get("SSH_CONNECTION")
        if found:
            return found
        status = _status(current)
        if status.get("Name", "").startswith("sshd"):
            found = _socket_connection(current)
            if found:
                return found
        try:
            current = int(status.get("PPid", "0"))
        except ValueError:
            return None
    return None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:  # gone, or not ours to read
        return b""


def _environ(pid: int) -> dict[str, str]:
    out = {}
    for entry in _read(f"{PROC}/{pid}/environ").split(b"\0"):
        key, sep, value = entry.partition(b"=")
        if sep:
            out[key.decode(errors="replace")] = value.decode(errors="replace")
    return out


def _status(pid: int) -> dict[str, str]:
    out = {}
    for line in _read(f"{PROC}/{pid}/status").decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def _socket_connection(pid: int) -> str | None:
    """The established TCP connection among sshd's open sockets: sshd's own end is the server."""
    inodes = set()
    try:
        fds = os.listdir(f"{PROC}/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink(f"{PROC}/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for table in ("tcp", "tcp6"):  # the tables of sshd's own network namespace
        for line in _read(f"{PROC}/{pid}/net/{table}").decode(errors="replace").splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[3] == ESTABLISHED and fields[9] in inodes:
                (server, server_port), (client, client_port) = _endpoint(fields[1]), _endpoint(fields[2])
                return f"{client} {client_port} {server} {server_port}"
    return None


def _endpoint(text: str) -> tuple[str, int]:
    """'0100007F:0016' -> ('127.0.0.1', 22): the kernel prints the address as 32-bit words
    in host byte order."""
    address, _, port = text.partition(":")
    words = [bytes.fromhex(address[i:i + 8]) for i in range(0, len(address), 8)]
    raw = b"".join(word[::-1] if sys.byteorder == "little" else word for word in words)
    ip = ipaddress.ip_address(raw)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # an IPv4 client of a dual-stack sshd, as SSH_CONNECTION shows it
    return str(ip), int(port, 16)
