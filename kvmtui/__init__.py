"""kvmtui: a keyboard-driven dashboard for the network of a KVM host."""

__version__ = "0.1.0"
