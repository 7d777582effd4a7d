"""Frozen dataclasses: what collectors produce and every other layer reads."""

from kvmtui.model.bonding import Aggregator, Bond, BondSlave, LacpPort
from kvmtui.model.containers import DockerNetwork
from kvmtui.model.libvirt import Domain, DomainInterface, Network
from kvmtui.model.links import (
    INFO_DATA_CLASSES,
    SLAVE_DATA_CLASSES,
    TUNNEL_KINDS,
    Address,
    BondInfo,
    BondSlaveInfo,
    BridgeInfo,
    BridgePortInfo,
    BridgeVlan,
    FdbEntry,
    Link,
    LinkStats,
    MacvlanInfo,
    Route,
    TunInfo,
    TunnelInfo,
    VlanInfo,
    VxlanInfo,
)
from kvmtui.model.netconfig import (
    BackendUse,
    Claim,
    ConfiguredDevice,
    ConfiguredRoute,
    ConfiguredVlan,
    ConfigProblem,
    LinkOwner,
    SavedConfig,
)
from kvmtui.model.ovs import (OvsBond, OvsBondMember, OvsBridge, OvsFakeBridge, OvsFdbEntry, OvsInterface, OvsPort,
                               OvsState)
from kvmtui.model.snapshot import SCHEMA_VERSION, HostInfo, Snapshot

__all__ = [
    "INFO_DATA_CLASSES", "SCHEMA_VERSION", "SLAVE_DATA_CLASSES", "TUNNEL_KINDS",
    "Address", "Aggregator", "BackendUse", "Bond", "BondInfo", "BondSlave", "BondSlaveInfo",
    "BridgeInfo", "BridgePortInfo", "BridgeVlan", "Claim", "ConfigProblem", "ConfiguredDevice",
    "ConfiguredRoute", "ConfiguredVlan", "DockerNetwork", "Domain", "DomainInterface",
    "FdbEntry", "HostInfo", "LacpPort", "Link", "LinkOwner", "LinkStats", "MacvlanInfo",
    "Network", "OvsBond", "OvsBondMember", "OvsBridge", "OvsFakeBridge", "OvsFdbEntry", "OvsInterface", "OvsPort",
    "OvsState", "Route", "SavedConfig", "Snapshot", "TunInfo", "TunnelInfo", "VlanInfo", "VxlanInfo",
]
