"""Throwaway kernel VM for tests that need bonding, VLANs, dummy and bridge VLAN filtering."""
