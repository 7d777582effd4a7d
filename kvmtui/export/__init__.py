"""What kvmtui shows, in other tools' formats (pure): nmstate's desired state (nmstate.py)."""
