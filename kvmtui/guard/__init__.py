"""Confirm-or-revert: a change that may cut the admin's SSH session is journalled before
it runs and watched by a guard process of its own, which undoes it unless someone keeps
it in time (`journal.py` the record, `start.py` the guarded apply, `daemon.py` the guard,
`control.py` keep/revert/list from any later kvmtui, `revert.py` the undo, `probes.py`
reachability)."""
