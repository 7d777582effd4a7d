"""What container runtimes say of the bridges they make (docker's network list), so that
the tree can name a `br-<id>` after its network instead of guessing from the name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DockerNetwork:
    """One network of docker's list (`GET /networks` on its socket), as docker names it."""

    id: str  # 64 hex digits; a user-defined bridge network's bridge is br-<its first 12>
    name: str  # "bridge" (docker0), "minikube", ...
    driver: str  # "bridge", "host", "null", "overlay", "macvlan"...
    bridge: str | None  # the Linux bridge it made: "docker0", "br-0123456789ab"; None for other drivers
    labels: tuple[tuple[str, str], ...] = ()  # (key, value), e.g. minikube's "created_by.minikube.sigs.k8s.io"
