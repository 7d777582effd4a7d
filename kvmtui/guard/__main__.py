"""`python -m kvmtui.guard ID [READY_FD]`: the guard process (daemon.py)."""

import sys

from kvmtui.guard.daemon import main

sys.exit(main(sys.argv[1:]))
