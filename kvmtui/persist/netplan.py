"""Desired devices -> netplan files (pure: reads through `read`, returns FileChanges).

kvmtui writes its devices into a file of its own, /etc/netplan/90-kvmtui.yaml (mode 0600),
which sorts after the usual 00-installer-config.yaml / 01-netcfg.yaml / 50-cloud-init.yaml.
netplan merges all files in lexical order of their names: mappings merge key by key and a
later scalar wins, so kvmtui's file overrides `mtu`, `macaddress`, `parameters: mode`...
without touching the other files. Sequences do not override: netplan APPENDS them
(`addresses`, `routes`, `interfaces`...), so an address that moves from eno4 to br0 would
stay on eno4 if kvmtui only wrote br0. Where a device's addresses, routes (with
gateway4/gateway6) or ports change, the whole new list goes into kvmtui's file and the key
is taken out of the other files that give it. Those files are edited line by line at the
places ruamel.yaml's round-trip loader locates: every other byte (comments, order,
quoting, indentation) stays as it was. A list or device in flow style (`[a, b]`,
`{...}`) is rewritten on its own line; anything else falls back to a ruamel round-trip
dump of the file.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import PurePosixPath

from kvmtui.collect.netconfig import netplan as reader
from kvmtui.model.netconfig import ConfiguredDevice, ConfiguredRoute, SavedConfig
from kvmtui.persist.model import Desired, FileChange, ReadFile
from kvmtui.persist.overlay import netplan_tunnel

BACKEND = "netplan"
OWN_FILE = "/etc/netplan/90-kvmtui.yaml"
BLOCKS = {"ethernet": "ethernets", "bond": "bonds", "bridge": "bridges", "vlan": "vlans", "vxlan": "tunnels"}
BLOCK_OF_KIND = {kind: block for block, kind in reader.KINDS.items()}
BOND_KEYS = {sysfs: key for key, sysfs in reader.BOND_NAMES.items() if key != "gratuitious-arp"}
BOND_MS = reader.BOND_MS
HEADER = "# Written by kvmtui: the bridges, bonds and VLANs it made, and the interfaces it moved.\n" \
         "# netplan merges this file after the others (its name sorts last).\n"


def render(saved: SavedConfig, desired: Desired, read: ReadFile) -> tuple[FileChange, ...]:
    root = saved.root
    own_path = _abs(root, OWN_FILE)
    mine = [d for d in saved.devices if d.backend == BACKEND]
    other_files = sorted({f for d in mine for f in _files_of(d)} - {OWN_FILE}, key=lambda f: (PurePosixPath(f).name, f))
    texts = {f: read(_abs(root, f)) for f in other_files}
    others = reader.parse([(f, t) for f, t in texts.items() if t is not None]).devices  # without kvmtui's file
    other_of = {d.name: d for d in others if d.name}
    ident = {d.name: d.profile or d.name for d in mine if d.name}
    block_of = {d.name: BLOCK_OF_KIND.get(d.kind, BLOCKS.get(d.kind, "ethernets")) for d in mine if d.name}

    def id_of(name: str) -> str:
        return ident.get(name, name)

    # What the other files must lose: (file, block, ident) -> keys; (file, block, ident, key) -> list items.
    drop_keys: dict[tuple[str, str, str], set] = {}
    drop_items: dict[tuple[str, str, str, str], set] = {}
    drop_devices: set[tuple[str, str, str]] = set()
    own_entries: dict[str, tuple[str, dict]] = {}  # ident -> (block, conf)
    whys: list[str] = []

    for dev in desired.devices:
        block = block_of.get(dev.name) or BLOCKS.get(dev.kind, "ethernets")
        old = other_of.get(dev.name)
        conf, drops = _entry(dev, old, id_of)
        if dev.kind == "vxlan" and dev.parent not in ident and not desired.device(dev.parent or "") \
                and not dict(dev.options).get("group"):
            conf.pop("link", None)  # an underlay netplan does not describe: unbound (Independent=), or it refuses
        own_entries[id_of(dev.name)] = (block, conf)
        whys.append(_why(dev))
        if old is not None:
            for f in _files_of(old):
                if f in texts:
                    drop_keys.setdefault((f, block, id_of(dev.name)), set()).update(drops)
    removed = set(desired.removed)
    for name in desired.removed:
        whys.append(f"{name} is deleted")
        for d in others:
            if d.name == name:
                for f in _files_of(d):
                    drop_devices.add((f, block_of.get(name) or BLOCK_OF_KIND.get(d.kind, "ethernets"), d.profile or name))
    # a port that leaves a bridge or bond (or is deleted) leaves its list in the other files too
    for d in others:
        if d.kind not in ("bridge", "bond") or desired.device(d.name or "") is not None or d.name in removed:
            continue
        for port in d.ports:
            name = next((n for n, i in ident.items() if i == port), port)
            want = desired.device(name)
            if name in removed or (want is not None and want.master != d.name):
                for f in _files_of(d):
                    drop_items.setdefault((f, BLOCK_OF_KIND.get(d.kind, "bridges"), d.profile or d.name, "interfaces"),
                                          set()).add(port)

    changes: list[FileChange] = []
    why = "; ".join(whys)
    for f in other_files:
        text = texts[f]
        if text is None:
            continue
        keys = {k[1:]: v for k, v in drop_keys.items() if k[0] == f}
        items = {k[1:]: v for k, v in drop_items.items() if k[0] == f}
        devices = {k[1:] for k in drop_devices if k[0] == f}
        after = edit(text, keys, items, devices)
        if after != text:
            changes.append(FileChange(_abs(root, f), text, after, backend=BACKEND, why=why))
    before = read(own_path)
    after = _own_file(before, own_entries, removed, id_of, desired)
    if after != before:
        changes.append(FileChange(own_path, before, after, mode=0o600, backend=BACKEND, why=why))
    return tuple(changes)


def _abs(root: str, shown: str) -> str:
    return os.path.join(root, shown.lstrip("/")) if root not in ("", "/") else shown


def _files_of(d: ConfiguredDevice) -> list[str]:
    return [d.file] + [f.rsplit(":", 1)[0] for f in d.more_files]


def _why(dev: ConfiguredDevice) -> str:
    if dev.kind == "ethernet" and dev.master:
        return f"{dev.name} becomes a port of {dev.master}"
    return f"the {dev.kind} {dev.name}"


def _route(r: ConfiguredRoute) -> tuple:
    return r.dst, r.via, r.metric, r.table


def _entry(dev: ConfiguredDevice, old: ConfiguredDevice | None, id_of) -> tuple[dict, set]:
    """kvmtui's file's entry for `dev`, and the keys the other files must lose: every
    list that changes (netplan would append to it), scalars kvmtui no longer says."""
    conf: dict = {}
    drops: set = set()
    if dev.kind == "vlan":
        conf["id"] = dev.vlan_id
        conf["link"] = id_of(dev.parent) if dev.parent else None
    if dev.kind == "vxlan":
        conf.update(netplan_tunnel(dev, id_of))
    if dev.kind in ("bridge", "bond"):
        ports = [id_of(p) for p in dev.ports]
        if old is None or set(old.ports) != set(ports):
            drops.add("interfaces")
            if ports:
                conf["interfaces"] = ports
    if old is None or set(old.addresses) != set(dev.addresses):
        drops.add("addresses")
        if dev.addresses:
            conf["addresses"] = list(dev.addresses)
    if old is None or {_route(r) for r in old.routes} != {_route(r) for r in dev.routes}:
        drops.update(("routes", "gateway4", "gateway6"))
        if dev.routes:
            conf["routes"] = [_route_conf(r) for r in dev.routes]
    for family, key in (("ipv4", "dhcp4"), ("ipv6", "dhcp6")):
        if family in dev.dhcp:
            conf[key] = True
        elif old is not None and family in old.dhcp:
            drops.add(key)
    if dev.master:
        drops.update(("dhcp4", "dhcp6"))
    if dev.mtu:
        conf["mtu"] = dev.mtu
    elif old is not None and old.mtu not in (None, 1500):
        drops.add("mtu")
    if dev.kind in ("bridge", "bond"):
        if dev.mac:
            conf["macaddress"] = dev.mac
        elif old is not None and old.mac:
            drops.add("macaddress")
    params: dict = {}
    if dev.kind == "bridge":
        if dev.bridge_stp is not None:
            params["stp"] = dev.bridge_stp
        for key, value in dev.bridge_options:
            if key == "forward_delay":
                params["forward-delay"] = _number(value)
    if dev.kind == "bond":
        if dev.bond_mode:
            params["mode"] = dev.bond_mode
        for key, value in dev.bond_options:
            name = BOND_KEYS.get(key, key.replace("_", "-"))
            if key == "arp_ip_target":
                params[name] = value.split(",")
            elif key == "primary":
                params[name] = id_of(value)
            else:
                params[name] = _number(value)
        said = {k for k, _ in dev.bond_options}
        if old is not None:  # options the other files set that are back at the driver's default
            drops.update(("parameters", BOND_KEYS.get(k, k)) for k, _ in old.bond_options if k not in said)
            if old.bond_mode and not dev.bond_mode:
                drops.add(("parameters", "mode"))
    if params:
        conf["parameters"] = params
    return conf, drops


def _number(value: str) -> object:
    try:
        return int(value)
    except ValueError:
        return value


def _route_conf(r: ConfiguredRoute) -> dict:
    out: dict = {"to": r.dst if r.dst != "default" else "default"}
    if r.via:
        out["via"] = r.via
    else:
        out["scope"] = "link"
    if r.metric is not None:
        out["metric"] = r.metric
    if r.table is not None:
        out["table"] = r.table
    return out


# ---------------------------------------------------------------- kvmtui's own file

def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt", pure=True)
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def _own_file(before: str | None, entries: dict[str, tuple[str, dict]], removed: set, id_of,
              desired: Desired) -> str | None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = _yaml()
    tree = yaml.load(before) if before else None
    if not isinstance(tree, CommentedMap):
        tree = CommentedMap()
    network = tree.setdefault("network", CommentedMap())
    if network is None:
        network = tree["network"] = CommentedMap()
    network.setdefault("version", 2)
    gone = {id_of(n) for n in removed}
    for block in list(network):
        if not isinstance(network[block], dict):
            continue
        for ident in list(network[block]):
            if ident in gone or (ident in entries and entries[ident][0] != block):
                del network[block][ident]
            elif isinstance(network[block][ident], dict) and isinstance(network[block][ident].get("interfaces"), list):
                ports = network[block][ident]["interfaces"]  # a port deleted or gone elsewhere leaves the list
                keep = [p for p in ports if p not in gone and not _left(desired, str(p), ident, id_of)]
                if len(keep) != len(ports):
                    network[block][ident]["interfaces"] = CommentedSeq(keep)
        if not network[block] and block in BLOCK_OF_KIND.values():
            del network[block]

    def node(value):
        if isinstance(value, dict):
            m = CommentedMap((k, node(v)) for k, v in value.items())
            if not m:
                m.fa.set_flow_style()
            return m
        if isinstance(value, list):
            return CommentedSeq(node(v) for v in value)
        return value

    for block in BLOCKS.values():  # a stable order of the blocks kvmtui adds
        for ident, (where, conf) in entries.items():
            if where == block:
                network.setdefault(block, CommentedMap())[ident] = node(conf)
    if list(network) == ["version"]:
        return None if before is None else _dump(yaml, tree)
    text = _dump(yaml, tree)
    return text if before else HEADER + text


def _left(desired: Desired, port: str, master_ident: str, id_of) -> bool:
    dev = next((d for d in desired.devices if id_of(d.name) == port), None)
    return dev is not None and (dev.master is None or id_of(dev.master) != master_ident)


def _dump(yaml, tree) -> str:
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue()


# ---------------------------------------------------------------- others' files, edited in place

_BLANK = re.compile(r"^\s*(#.*)?$")


def edit(text: str, keys: dict[tuple[str, str], set], items: dict[tuple[str, str, str], set],
         devices: set[tuple[str, str]]) -> str:
    """`text` without the device keys in `keys` ((block, ident) -> {"addresses", ("parameters",
    "mode")...}), the list items in `items` ((block, ident, key) -> values) and the devices in
    `devices` ((block, ident)); all other bytes as they were."""
    try:
        tree = _yaml().load(text)
    except Exception:  # noqa: BLE001 - the reader reported it; kvmtui does not edit what it cannot read
        return text
    network = tree.get("network") if isinstance(tree, dict) else None
    if not isinstance(network, dict):
        return text
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, list[str]]] = []  # [start, end) -> replacement lines
    try:
        emptied: set = set()
        for (block, ident) in sorted(devices):
            conf = network.get(block)
            if block in emptied:
                continue
            if isinstance(conf, dict) and ident in conf:
                if all(k in {i for b, i in devices if b == block} or k == "renderer" for k in conf) and \
                        not _flow(network) and not _flow(conf):
                    edits.append(_delete_key(lines, network, block))  # the block's last device
                    emptied.add(block)
                elif not _flow(conf):
                    edits.append(_delete_key(lines, conf, ident))
                else:
                    raise _Fallback
        for (block, ident), drops in keys.items():
            if (block, ident) in devices:
                continue
            conf = (network.get(block) or {}).get(ident) if isinstance(network.get(block), dict) else None
            if not isinstance(conf, dict):
                continue
            edits += _drop(lines, network[block], ident, conf, drops)
        for (block, ident, key), values in items.items():
            if (block, ident) in devices or key in keys.get((block, ident), ()):
                continue
            conf = (network.get(block) or {}).get(ident) if isinstance(network.get(block), dict) else None
            if isinstance(conf, dict) and isinstance(conf.get(key), list):
                edits += _drop_items(lines, conf, key, values)
    except _Fallback:
        return _fallback(text, keys, items, devices)
    edits.sort(reverse=True)
    for (a, b, _), (c, _d, _e) in zip(edits, edits[1:]):
        if _d > a:  # overlapping edits: leave it to ruamel
            return _fallback(text, keys, items, devices)
    for start, end, new in edits:
        lines[start:end] = new
    return "".join(lines)


class _Fallback(Exception):
    pass


def _flow(node) -> bool:
    try:
        return bool(node.fa.flow_style())
    except AttributeError:
        return False


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _extent(lines: list[str], start: int, col: int) -> int:
    """The end of the block that starts at `start` with its key (or dash) at `col`:
    the next line that says something at `col` or left of it, less the comments and blank
    lines just before it (they belong to what follows)."""
    end = start + 1
    while end < len(lines) and (_BLANK.match(lines[end]) or _indent(lines[end]) > col):
        end += 1
    while end > start + 1 and _BLANK.match(lines[end - 1]):
        end -= 1
    return end


def _delete_key(lines, mapping, key) -> tuple[int, int, list[str]]:
    line, col = mapping.lc.key(key)
    return line, _extent(lines, line, col), []


def _replace_value(lines, mapping, key, flow: str) -> tuple[int, int, list[str]]:
    line, col = mapping.lc.key(key)
    text = lines[line]
    head = text[:col] + text[col:].split(":", 1)[0] + ":"
    newline = "\n" if text.endswith("\n") else ""
    return line, _extent(lines, line, col), [f"{head} {flow}{newline}"]


def _drop(lines, parent, ident, conf, drops) -> list:
    top = {d for d in drops if isinstance(d, str) and d in conf}
    params = {d[1] for d in drops if isinstance(d, tuple) and isinstance(conf.get("parameters"), dict)
              and d[1] in conf["parameters"]}
    if params and len(params) == len(conf["parameters"]):
        top.add("parameters")
        params = set()
    if not top and not params:
        return []
    if _flow(conf):
        raise _Fallback
    if len(top) == len(conf):
        return [_replace_value(lines, parent, ident, "{}")]
    out = [_delete_key(lines, conf, key) for key in top]
    if params:
        if _flow(conf["parameters"]):
            raise _Fallback
        out += [_delete_key(lines, conf["parameters"], key) for key in params]
    return out


def _drop_items(lines, conf, key, values) -> list:
    seq = conf[key]
    keep = [v for v in seq if str(v) not in values]
    if len(keep) == len(seq):
        return []
    if not keep or _flow(seq):
        line, _ = conf.lc.key(key)
        if _flow(seq) and seq.lc.line != line:
            raise _Fallback  # a flow list over several lines
        return [_replace_value(lines, conf, key, "[" + ", ".join(str(v) for v in keep) + "]")]
    out = []
    for i, value in enumerate(seq):
        if str(value) in values:
            line, _ = seq.lc.item(i)
            out.append((line, _extent(lines, line, _indent(lines[line])), []))
    return out


def _fallback(text: str, keys, items, devices) -> str:
    """ruamel's round trip: comments and order stay, the layout may not."""
    yaml = _yaml()
    tree = yaml.load(text)
    network = tree["network"]
    for block, ident in devices:
        if isinstance(network.get(block), dict):
            network[block].pop(ident, None)
            if not network[block]:
                del network[block]
    for (block, ident), drops in keys.items():
        conf = (network.get(block) or {}).get(ident)
        if not isinstance(conf, dict):
            continue
        for d in drops:
            if isinstance(d, tuple):
                if isinstance(conf.get("parameters"), dict):
                    conf["parameters"].pop(d[1], None)
            else:
                conf.pop(d, None)
    for (block, ident, key), values in items.items():
        conf = (network.get(block) or {}).get(ident)
        if isinstance(conf, dict) and isinstance(conf.get(key), list):
            for i in reversed(range(len(conf[key]))):
                if str(conf[key][i]) in values:
                    del conf[key][i]
    return _dump(yaml, tree)
