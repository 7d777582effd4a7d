"""docker's network list, read from its socket (`GET /networks`, the Engine API), so that a
`br-<id>` bridge is named after its network ("docker network minikube") and not only
recognised by name. Optional: no socket, a refused or forbidden one (no docker, docker
stopped, an ordinary user outside the docker group) just leaves the list empty, and
kvmtui/foreign.py then goes by the names. Stdlib only, with a short timeout: a hung
dockerd must not hold up the kernel's picture for long.
"""

from __future__ import annotations

import http.client
import json
import os
import socket

from kvmtui.model import DockerNetwork

DOCKER_SOCKET = "/var/run/docker.sock"
TIMEOUT = 0.5  # seconds, for connecting and for the whole answer
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"  # docker0's; user networks default to br-<id[:12]>


def docker_socket() -> str:
    """The socket docker's own CLI would use: $DOCKER_HOST when it is a unix:// one."""
    host = os.environ.get("DOCKER_HOST", "")
    return host[len("unix://"):] if host.startswith("unix://") else DOCKER_SOCKET


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def read_docker_networks(path: str | None = None,
                         timeout: float = TIMEOUT) -> tuple[tuple[DockerNetwork, ...], str | None]:
    """(docker's networks, a problem line or None). Absent, refused or forbidden: nothing and
    no problem (that is "no docker here"); an answer that is late or not docker's: a problem."""
    path = path or docker_socket()
    connection = _UnixConnection(path, timeout)
    try:
        connection.request("GET", "/networks", headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read(16 * 1024 * 1024)
    except (FileNotFoundError, ConnectionRefusedError, PermissionError, NotADirectoryError):
        return (), None
    except (OSError, http.client.HTTPException) as exc:
        return (), f"docker's network list ({path}): {_reason(exc, timeout)}; its bridges are known by name only"
    finally:
        connection.close()
    if response.status != 200:
        return (), f"docker's network list ({path}): HTTP {response.status}; its bridges are known by name only"
    try:
        return parse_networks(json.loads(body)), None
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        return (), f"docker's network list ({path}): not docker's answer ({exc}); its bridges are known by name only"


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    return str(exc) or type(exc).__name__


def parse_networks(document: object) -> tuple[DockerNetwork, ...]:
    """The Engine API's network list (a JSON array of objects with Name, Id, Driver, Options,
    Labels) as the model holds it; raises on another shape."""
    if not isinstance(document, list):
        raise ValueError("not a list")
    networks = []
    for item in document:
        driver = str(item.get("Driver") or "")
        options = item.get("Options") or {}
        net_id = str(item["Id"])
        bridge = None
        if driver == "bridge":
            bridge = str(options.get(BRIDGE_NAME_OPTION) or f"br-{net_id[:12]}")
        labels = tuple(sorted((str(k), str(v)) for k, v in (item.get("Labels") or {}).items()))
        networks.append(DockerNetwork(net_id, str(item["Name"]), driver, bridge, labels))
    return tuple(sorted(networks, key=lambda n: n.name))
