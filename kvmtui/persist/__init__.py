"""Changes that survive a reboot (pure): what the saved configuration must say after a
plan (`desired.py`: one model, kvmtui.model.netconfig's ConfiguredDevice), and one
renderer per backend that turns it into file changes (`networkd.py`, `netplan.py`,
`ifupdown.py`, `networkmanager.py`), as os-net-config has one writer per backend. The
files are read and written at the edges (collect/netconfig, apply/), never here."""
