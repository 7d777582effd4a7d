"""The fleet directory: one subdirectory per host, holding that host's snapshots (one file
per collection, named by its UTC time, old ones kept for `--previous`) and `status.json`,
what the last collection found (reached or not, and Ansible's reason)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from kvmtui.errors import KvmtuiError
from kvmtui.model import Snapshot
from kvmtui.serialize import read_snapshot_file

STATUS = "status.json"
SNAPSHOT_NAME = re.compile(r"^\d{8}T\d{6}Z\.json$")


@dataclass(frozen=True, slots=True)
class HostStatus:
    host: str
    when: str  # ISO 8601, UTC: when the collection ran
    status: str  # "ok" | "unreachable" | "no kvmtui" | "failed"
    reason: str  # Ansible's words for anything but ok
    snapshot: str | None  # the file of this collection (ok only)

    @property
    def reachable(self) -> bool:
        return self.status != "unreachable"


@dataclass(frozen=True, slots=True)
class FleetHost:
    """A host as the directory knows it: its last status, its newest and previous snapshot files."""

    status: HostStatus
    latest: Path | None
    previous: Path | None

    def snapshot(self) -> Snapshot | None:
        return read_snapshot_file(str(self.latest)) if self.latest else None

    def previous_snapshot(self) -> Snapshot | None:
        return read_snapshot_file(str(self.previous)) if self.previous else None


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(temp, path)


def record(directory: Path, status: HostStatus, snapshot_text: str | None) -> None:
    """A host's collection: its snapshot (when there is one) first, then its status."""
    host_dir = directory / safe_name(status.host)
    if snapshot_text is not None and status.snapshot:
        write_atomic(host_dir / status.snapshot, snapshot_text)
    write_atomic(host_dir / STATUS, json.dumps(asdict(status), indent=1) + "\n")


def safe_name(host: str) -> str:
    """An inventory name as a directory name (no slash, no leading dot)."""
    name = re.sub(r"[^A-Za-z0-9._:@-]", "_", host).lstrip(".")
    return name or "_"


def read_fleet(directory: Path) -> list[FleetHost]:
    """Every host of the directory, by name; a host dir without a readable status.json is
    reported with status "failed" and the reason."""
    if not directory.is_dir():
        raise KvmtuiError(f"{directory}: no such fleet directory (`kvmtui fleet collect -i INVENTORY --dir DIR`)")
    hosts = []
    for host_dir in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")):
        snapshots = sorted(p for p in host_dir.iterdir() if SNAPSHOT_NAME.match(p.name))
        try:
            data = json.loads((host_dir / STATUS).read_text())
            status = HostStatus(**{k: data.get(k) for k in HostStatus.__dataclass_fields__})
        except (OSError, ValueError, TypeError) as exc:
            status = HostStatus(host_dir.name, "", "failed", f"{host_dir / STATUS}: {exc}", None)
        latest = host_dir / status.snapshot if status.snapshot and (host_dir / status.snapshot).exists() else (
            snapshots[-1] if snapshots else None)
        older = [p for p in snapshots if latest is None or p.name < latest.name]
        hosts.append(FleetHost(status, latest, older[-1] if older else None))
    return hosts
