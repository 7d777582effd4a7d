"""Open vSwitch: the database through `ovs-vsctl --format=json`, and what only
ovs-vswitchd knows (FDB, bond members, LACP) through `ovs-appctl`, whose output is text.

OVS has no netlink events and its daemons may hang, so every call carries a timeout and
the whole read is polled. The database socket is found as ovs-vsctl finds it ($OVS_RUNDIR,
else /var/run/openvswitch): no binary or no socket means no OVS (None, nothing to say);
a socket that does not answer is one problem line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from kvmtui.model.ovs import (OvsBond, OvsBondMember, OvsBridge, OvsFakeBridge, OvsFdbEntry, OvsInterface, OvsPort,
                              OvsState)

DEFAULT_RUNDIR = "/var/run/openvswitch"
TIMEOUT = 2  # seconds, given to ovs-vsctl/ovs-appctl themselves (--timeout)
KILL_AFTER = 5.0  # seconds before a tool that ignored its own timeout is killed

BRIDGE_COLUMNS = "name,ports,datapath_type,fail_mode"
PORT_COLUMNS = "_uuid,name,interfaces,tag,trunks,vlan_mode,fake_bridge,bond_mode,lacp,external_ids"
INTERFACE_COLUMNS = "_uuid,name,type,ofport,admin_state,link_state,mac_in_use,options,external_ids,error"


class OvsUnreadable(Exception):
    """A tool ran but did not answer: its first line of stderr, for the problems."""


def db_socket(environ: Mapping[str, str] | None = None) -> str:
    """Where ovs-vsctl would connect by default, in the environment given (or ours)."""
    environ = os.environ if environ is None else environ
    return os.path.join(environ.get("OVS_RUNDIR") or DEFAULT_RUNDIR, "db.sock")


def collect_ovs(environ: Mapping[str, str] | None = None,
                with_fdb: bool = True) -> tuple[OvsState | None, tuple[str, ...]]:
    """(state, problems): (None, ()) when OVS is not installed or not running here.
    `with_fdb=False`: no `fdb/show` (the costly part on a busy bridge), every FDB empty."""
    environ = os.environ if environ is None else environ
    socket, path = db_socket(environ), environ.get("PATH")
    if shutil.which("ovs-vsctl", path=path) is None or not os.path.exists(socket):
        return None, ()
    try:
        tables = _read_db(socket, environ)
    except OvsUnreadable as exc:
        return None, (f"Open vSwitch database {socket}: {exc}",)
    state = replace(build_state(*tables), db=socket)
    if shutil.which("ovs-appctl", path=path) is None:
        return state, ()
    # vswitchd's answers, side by side: each call waits on the daemon, not on us
    calls = {("fdb", bridge.name): ("fdb/show", bridge.name) for bridge in state.bridges if with_fdb}
    if _has_bonds(state):
        calls[("bond", "")] = ("bond/show",)
    if _has_lacp(state):
        calls[("lacp", "")] = ("lacp/show",)
    if not calls:
        return state, ()
    with ThreadPoolExecutor(max_workers=min(len(calls), 4), thread_name_prefix="ovs-appctl") as pool:
        futures = {key: pool.submit(_appctl, environ, *command) for key, command in calls.items()}
        try:
            answers = {key: future.result() for key, future in futures.items()}
        except OvsUnreadable as exc:
            return state, (f"ovs-vswitchd: {exc}: no FDB, bond or LACP state",)
    fdbs = {name: text for (what, name), text in answers.items() if what == "fdb"}
    return with_switch_state(state, parse_bond_show(answers.get(("bond", ""), "")),
                             parse_lacp_show(answers.get(("lacp", ""), "")), fdbs), ()


# -- running the tools ---------------------------------------------------------------
def _run(argv: list[str], environ: Mapping[str, str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=KILL_AFTER, env=dict(environ))
    except subprocess.TimeoutExpired:
        raise OvsUnreadable(f"no answer within {KILL_AFTER:g} s") from None
    except OSError as exc:
        raise OvsUnreadable(exc.strerror or str(exc)) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise OvsUnreadable(lines[0].rsplit(": ", 1)[-1] if lines else f"{argv[0]} exited {done.returncode}")
    return done.stdout


def _read_db(socket: str, environ: Mapping[str, str]) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """Bridge, Port, Interface and Open_vSwitch rows, in one transaction of one call."""
    out = _run(["ovs-vsctl", f"--timeout={TIMEOUT}", f"--db=unix:{socket}", "--format=json",
                "--", f"--columns={BRIDGE_COLUMNS}", "list", "Bridge",
                "--", f"--columns={PORT_COLUMNS}", "list", "Port",
                "--", f"--columns={INTERFACE_COLUMNS}", "list", "Interface",
                "--", "--columns=ovs_version", "list", "Open_vSwitch"], environ)
    try:
        tables = [json.loads(line) for line in out.splitlines() if line.strip()]
        rows = [[dict(zip(table["headings"], row)) for row in table["data"]] for table in tables]
    except (ValueError, KeyError, TypeError) as exc:
        raise OvsUnreadable(f"unexpected ovs-vsctl output ({exc})") from None
    if len(rows) != 4:
        raise OvsUnreadable(f"unexpected ovs-vsctl output ({len(rows)} tables, not 4)")
    return rows[0], rows[1], rows[2], rows[3]


def _appctl(environ: Mapping[str, str], *command: str) -> str:
    return _run(["ovs-appctl", f"--timeout={TIMEOUT}", *command], environ)


def _has_bonds(state: OvsState) -> bool:
    return any(port.bond is not None for bridge in state.bridges for port in bridge.ports)


def _has_lacp(state: OvsState) -> bool:
    return any(port.bond is not None and port.bond.lacp != "off" for bridge in state.bridges for port in bridge.ports)


# -- the database's JSON: ["uuid", u], ["set", [...]], ["map", [[k, v], ...]] ----------
def _atoms(value: Any) -> list:
    """A column as a list: a set's members, or the one atom a one-element set is written as."""
    if isinstance(value, list) and value and value[0] == "set":
        return [_atom(item) for item in value[1]]
    return [_atom(value)]


def _atom(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 2 and value[0] in ("uuid", "named-uuid"):
        return value[1]
    return value


def _optional(value: Any) -> Any:
    """An optional column ("min": 0, "max": 1): its value, or None when empty."""
    items = _atoms(value)
    return items[0] if items else None


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, list) and value and value[0] == "map":
        return tuple(sorted((str(k), str(v)) for k, v in value[1]))
    return ()


def build_state(bridge_rows: list[dict], port_rows: list[dict], interface_rows: list[dict],
                switch_rows: list[dict] | None = None) -> OvsState:
    """The database's rows as an OvsState (no vswitchd state yet)."""
    interfaces = {_atom(row["_uuid"]): _interface(row) for row in interface_rows}
    ports = {_atom(row["_uuid"]): _port(row, interfaces) for row in port_rows}
    bridges, fakes = [], []
    for row in sorted(bridge_rows, key=lambda r: r["name"]):
        members = sorted((ports[uuid] for uuid in _atoms(row["ports"]) if uuid in ports), key=lambda p: p.name)
        bridges.append(OvsBridge(name=row["name"], datapath_type=row.get("datapath_type") or "system",
                                 ports=tuple(members), fail_mode=_optional(row.get("fail_mode", ["set", []]))))
        # ovs-vsctl's own rule for list-br: a fake bridge is a Port with fake_bridge and a tag.
        fakes += [OvsFakeBridge(p.name, row["name"], p.tag) for p in members if p.fake_bridge and p.tag is not None]
    version = _optional(switch_rows[0].get("ovs_version", ["set", []])) if switch_rows else None
    return OvsState(bridges=tuple(bridges), fake_bridges=tuple(sorted(fakes, key=lambda f: f.name)), version=version)


def _interface(row: dict) -> OvsInterface:
    ofport = _optional(row.get("ofport", ["set", []]))
    mac = _optional(row.get("mac_in_use", ["set", []]))
    return OvsInterface(
        name=row["name"], type=row.get("type") or "system",
        ofport=ofport if isinstance(ofport, int) and ofport >= 0 else None,
        admin_state=_optional(row.get("admin_state", ["set", []])),
        link_state=_optional(row.get("link_state", ["set", []])),
        mac_in_use=mac.lower() if mac else None,
        options=_pairs(row.get("options")), external_ids=_pairs(row.get("external_ids")),
        error=_optional(row.get("error", ["set", []])),
    )


def _port(row: dict, interfaces: dict[str, OvsInterface]) -> OvsPort:
    members = tuple(sorted((interfaces[u] for u in _atoms(row["interfaces"]) if u in interfaces), key=lambda i: i.name))
    bond = None
    if len(members) > 1:  # OVS's definition of a bond: a Port with more than one Interface
        bond = OvsBond(mode=_optional(row.get("bond_mode", ["set", []])) or "active-backup",
                       lacp=_optional(row.get("lacp", ["set", []])) or "off")
    return OvsPort(name=row["name"], interfaces=members, tag=_optional(row.get("tag", ["set", []])),
                   trunks=tuple(sorted(_atoms(row.get("trunks", ["set", []])))),
                   vlan_mode=_optional(row.get("vlan_mode", ["set", []])), fake_bridge=bool(row.get("fake_bridge")),
                   bond=bond, external_ids=_pairs(row.get("external_ids")))


# -- ovs-appctl's text ---------------------------------------------------------------
_SECTION = re.compile(r"^---- (.+) ----$")


def _sections(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = _SECTION.match(line.strip())
        if match:
            current = found.setdefault(match[1], [])
        elif current is not None:
            current.append(line)
    return found


def parse_bond_show(text: str) -> dict[str, dict]:
    """bond name -> {"lacp_status", "active", "members": {name: (enabled, may_enable)}}."""
    bonds = {}
    for name, lines in _sections(text).items():
        info: dict = {"lacp_status": None, "active": None, "members": {}}
        member = None
        for line in lines:
            if line.startswith("lacp_status:"):
                info["lacp_status"] = line.split(":", 1)[1].strip()
            elif line.startswith("member "):
                head, _, state = line[len("member "):].rpartition(":")
                member = head.strip()
                info["members"][member] = [state.strip() == "enabled", False]
            elif member is not None and line.strip() == "active member":
                info["active"] = member
            elif member is not None and line.strip().startswith("may_enable:"):
                info["members"][member][1] = line.split(":", 1)[1].strip() == "true"
        bonds[name] = info
    return bonds


def parse_lacp_show(text: str) -> dict[str, dict[str, tuple[str, str | None]]]:
    """bond name -> member -> (its LACP words, the partner's sys_id)."""
    result = {}
    for name, lines in _sections(text).items():
        members: dict[str, tuple[str, str | None]] = {}
        member = None
        for line in lines:
            if line.startswith("member: "):
                member, _, words = line[len("member: "):].partition(":")
                members[member] = (words.strip(), None)
            elif member is not None and line.strip().startswith("partner sys_id:"):
                members[member] = (members[member][0], line.split(":", 1)[1].strip())
        result[name] = members
    return result


_FDB_LINE = re.compile(r"^ *(\S+) +(\d+) +([0-9a-fA-F:]{17}) +(\S+) *$", re.M)


def parse_fdb_show(text: str, bridge: OvsBridge) -> tuple[OvsFdbEntry, ...]:
    """`fdb/show` lines with the ofport resolved to its Port (a bond prints one member's).
    Split as words, not matched line by line: a busy bridge prints tens of thousands of lines."""
    by_ofport = {str(i.ofport): p.name for p in bridge.ports for i in p.interfaces if i.ofport is not None}
    by_ofport["LOCAL"] = bridge.name
    words = text.split()
    if words[:4] == ["port", "VLAN", "MAC", "Age"] and len(words) % 4 == 0:  # the usual table: 4 words a line
        rows = zip(words[4::4], words[5::4], words[6::4], words[7::4])
    else:  # anything else: line by line, what does not parse is skipped
        rows = _FDB_LINE.findall(text)
    return tuple(OvsFdbEntry(by_ofport.get(ofport, ofport), int(vlan), mac.lower(), int(age) if age.isdigit() else None)
                 for ofport, vlan, mac, age in rows)


def with_switch_state(state: OvsState, bonds: dict[str, dict], lacp: dict[str, dict],
                      fdbs: dict[str, str]) -> OvsState:
    """The database's picture completed with vswitchd's: bond members, LACP, FDB."""
    bridges = []
    for bridge in state.bridges:
        ports = []
        for port in bridge.ports:
            if port.bond is not None and port.name in bonds:
                shown, words = bonds[port.name], lacp.get(port.name, {})
                members = tuple(OvsBondMember(i.name, *shown["members"].get(i.name, (False, False)),
                                              *words.get(i.name, (None, None))) for i in port.interfaces)
                port = replace(port, bond=replace(port.bond, lacp_status=shown["lacp_status"],
                                                  active_member=shown["active"], members=members))
            ports.append(port)
        bridge = replace(bridge, ports=tuple(ports))
        bridges.append(replace(bridge, fdb=parse_fdb_show(fdbs.get(bridge.name, ""), bridge)))
    return replace(state, bridges=tuple(bridges))
