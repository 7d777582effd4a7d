"""Frozen dataclasses: what collectors produce and every other layer reads."""

from kvmtui.model.bonding import Aggregator, Bond, BondSlave, LacpPort
from kvmtui.model.libvirt import Domain, DomainInterface, Network
from kvmtui.model.links import (
    INFO_DATA_CLASSES,
    SLAVE_DATA_CLASSES,
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
from kvmtui.model.snapshot import SCHEMA_VERSION, HostInfo, Snapshot

__all__ = [
    "INFO_DATA_CLASSES", "SCHEMA_VERSION", "SLAVE_DATA_CLASSES",
    "Address", "Aggregator", "BackendUse", "Bond", "BondInfo", "BondSlave", "BondSlaveInfo",
    "BridgeInfo", "BridgePortInfo", "BridgeVlan", "Claim", "ConfigProblem", "ConfiguredDevice",
    "ConfiguredRoute", "ConfiguredVlan", "Domain", "DomainInterface",
    "FdbEntry", "HostInfo", "LacpPort", "Link", "LinkOwner", "LinkStats", "MacvlanInfo",
    "Network", "Route", "SavedConfig", "Snapshot", "TunInfo", "VlanInfo", "VxlanInfo",
]
