"""kvmtui as `pipx install` gives it: a wheel built from this tree, installed into a fresh
virtualenv outside the checkout, started on the example. Its stylesheet must come from
inside the installed package; without it the dashboard starts unstyled (no border
between tree and details, no 40% tree column).

The fresh venv gets no network: its kvmtui comes from the wheel (--no-deps), and a .pth
file lends it this venv's site-packages for textual, pyroute2 and libvirt-python."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
import time

import pytest

from tests.helpers import EXAMPLE, REPO
from tests.sshd import Tmux

WIDTH, HEIGHT = 80, 24

# Run by the installed venv's python: where kvmtui and its stylesheet came from, and
# what the stylesheet did to the 80x24 screen.
PILOT = textwrap.dedent("""
    import asyncio, json, sys
    import kvmtui
    from kvmtui.cli import read_snapshot_file
    from kvmtui.ui.app import DashboardOptions, KvmtuiApp

    async def main():
        app = KvmtuiApp(DashboardOptions(), recorded=read_snapshot_file(sys.argv[1]))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            left = app.query_one("#left")
            print(json.dumps({"package": kvmtui.__file__, "sources": [str(s[0]) for s in app.stylesheet.source],
                              "left_width": left.outer_size.width, "border": left.styles.border_right[0]}))

    asyncio.run(main())
""")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The bin/ and site-packages of a fresh venv with the wheel of this tree installed."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "src"  # a copy, so the build leaves no build/ or egg-info in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("kvmtui", "styles"):
        shutil.copytree(REPO / name, source / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(source)],
                   check=True, capture_output=True, timeout=120, env=clean_env())
    (wheel,) = (root / "dist").glob("kvmtui-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    # Without the checkout on PYTHONPATH: its kvmtui.egg-info would count as installed already.
    subprocess.run([*pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=120, env=clean_env())
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True, env=clean_env()).stdout.strip()
    # Appended after the venv's own site-packages: kvmtui is the wheel's, the rest is lent.
    (venv / purelib / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return {"bin": venv / "bin", "site": venv / purelib, "cwd": root}


def clean_env() -> dict[str, str]:
    """No PYTHONPATH pointing into the checkout (the tests run with one)."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_the_installed_dashboard_loads_its_stylesheet_from_the_package(installed):
    proc = subprocess.run([str(installed["bin"] / "python"), "-c", PILOT, str(EXAMPLE)], capture_output=True,
                          text=True, timeout=60, cwd=installed["cwd"], env=clean_env())
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert seen["package"].startswith(str(installed["site"])), seen["package"]  # the wheel's, not the checkout's
    assert str(installed["site"] / "kvmtui" / "styles" / "kvmtui.tcss") in seen["sources"]
    assert (seen["left_width"], seen["border"]) == (32, "solid")  # #left: 40% of 80 columns, border-right


def test_kvmtui_from_the_venv_draws_the_styled_layout_at_80x24(installed):
    """The console script in a real 80x24 terminal: the tree column ends in the
    stylesheet's border at column 32, on every line between the top bar and the footer."""
    tmux = Tmux()
    tmux.env = {**clean_env(), "LANG": "C.UTF-8"}
    try:
        tmux.start(f"cd {installed['cwd']} && exec {installed['bin'] / 'kvmtui'} --from {EXAMPLE}", WIDTH, HEIGHT)
        deadline, lines = time.monotonic() + 30, []
        while time.monotonic() < deadline:
            lines = tmux.screen().splitlines()
            if len(lines) >= HEIGHT - 1 and "web1" in "\n".join(lines):
                break
            time.sleep(0.3)
        assert "web1" in "\n".join(lines), "\n".join(lines)
        body = lines[2:HEIGHT - 2]
        assert all(len(line) > 31 and line[31] == "│" for line in body), "\n".join(lines)
    finally:
        tmux.kill()
