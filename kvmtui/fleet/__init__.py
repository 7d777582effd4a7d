"""Many hosts through Ansible: collect each host's `kvmtui dump --json` into a directory
(collect.py), read that directory back (store.py), audit across hosts (audit.py). No agent
of kvmtui's own: Ansible's inventory, SSH settings, forks and become do the reaching."""
