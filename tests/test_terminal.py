"""kvmtui in a real terminal, the way an admin meets it: `ssh -t` to a (private) sshd on
127.0.0.1, inside an 80x24 tmux pane. The pilot tests use Textual's headless driver;
only this sees the real driver: TERM and NO_COLOR handling, the window size arriving
through ssh, and whether quitting gives the terminal back (alternate screen left,
cursor shown, mouse reporting off, the shell prompt and exit code 0)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess

import pytest

from kvmtui.render import state_symbol
from tests.helpers import REPO, sh
from tests.sshd import Tmux, private_sshd

KVMTUI = REPO / ".venv" / "bin" / "kvmtui"  # sshd starts a clean login: the venv by absolute path
PROMPT = "kt$ "
WIDTH, HEIGHT = 80, 24


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with private_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def recorded(netns, tmp_path):
    """A snapshot of a namespace whose screen is known: lo (● up), an up veth pair
    (●), a bridge that is down (○)."""
    for cmd in (("link", "add", "kt-ve0", "type", "veth", "peer", "name", "kt-vp0"),
                ("link", "set", "kt-ve0", "up"), ("link", "set", "kt-vp0", "up"),
                ("link", "add", "kt-br0", "type", "bridge")):
        sh("ip", "-n", netns, *cmd)
    path = tmp_path / "host.json"
    path.write_text(sh(str(REPO / ".venv" / "bin" / "python"), "-m", "kvmtui", "--netns", netns,
                       "--no-libvirt", "dump", "--json"))
    return path


def expected_labels(path) -> list[str]:
    """'<symbol> <name> <kind>' of every node of the recorded tree: the start of each tree line."""
    labels = []

    def visit(nodes) -> None:
        for node in nodes:
            labels.append(f"{state_symbol(node['state'])[0]} {node['name']} {node['kind']}")
            visit(node["children"])

    visit(json.loads(path.read_text())["tree"])
    return labels


EXITED = re.compile(r"EXIT=\d+")  # the echo's output (the typed command line says EXIT=$?)
SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def _chromatic_256(n: int) -> bool:
    """xterm-256 colour n has a hue: not black/white/grey (0, 7, 8, 15, the grey ramp, cube greys)."""
    if n < 16:
        return n not in (0, 7, 8, 15)
    if n < 232:
        return len({(n - 16) // 36, (n - 16) // 6 % 6, (n - 16) % 6}) > 1
    return False


def chromatic_colours(escaped: str) -> set[str]:
    """SGR colours in capture-pane -e output that are not black, white or grey."""
    found = set()
    for match in SGR.finditer(escaped):
        params = [int(p) if p else 0 for p in re.split("[;:]", match.group(1))]
        i = 0
        while i < len(params):
            p = params[i]
            if p in (38, 48, 58) and i + 1 < len(params):
                if params[i + 1] == 5 and i + 2 < len(params):
                    n = params[i + 2]
                    if _chromatic_256(n):
                        found.add(f"{p};5;{n}")
                    i += 3
                    continue
                if params[i + 1] == 2 and i + 4 < len(params):
                    r, g, b = params[i + 2:i + 5]
                    if max(r, g, b) - min(r, g, b) > 8:
                        found.add(f"{p};2;{r};{g};{b}")
                    i += 5
                    continue
            if 31 <= p <= 36 or 41 <= p <= 46 or 91 <= p <= 96 or 101 <= p <= 106:
                found.add(str(p))
            i += 1
    return found


def extended_colours(escaped: str) -> set[str]:
    """SGR 256-colour and truecolour selections (38/48/58;5;n, 38/48/58;2;r;g;b), which a
    TERM=xterm terminal (8/16 colours) may not show."""
    found = set()
    for match in SGR.finditer(escaped):
        params = re.split("[;:]", match.group(1))
        for i, p in enumerate(params[:-1]):
            if p in ("38", "48", "58") and params[i + 1] in ("2", "5"):
                found.add(";".join(params[i:i + 3]))
    return found


@pytest.mark.parametrize("term,no_color", [("xterm-256color", False), ("screen", False), ("xterm", False),
                                           ("xterm-256color", True)],
                         ids=["xterm-256color", "screen", "xterm", "NO_COLOR"])
def test_dashboard_over_ssh_in_tmux(sshd, recorded, term, no_color):
    unset = ["-u", "COLORTERM"] + ([] if no_color else ["-u", "NO_COLOR"])
    env = ["env", *unset, f"TERM={term}", *(["NO_COLOR=1"] if no_color else [])]
    remote = shlex.join([*env, str(KVMTUI), "--readonly", "--from", str(recorded)])
    tmux = Tmux()
    try:
        tmux.start_shell(WIDTH, HEIGHT, PROMPT)
        tmux.wait_screen(lambda s: s.startswith(PROMPT.rstrip()), "the shell prompt")
        tmux.type(shlex.join(sshd.ssh(remote)) + "; echo EXIT=$?")
        tmux.keys("Enter")

        labels = expected_labels(recorded)
        first = json.loads(recorded.read_text())["tree"][0]["name"]  # the details show it before any key

        def complete(s: str) -> bool:
            rows = s.splitlines()
            return (len(rows) == HEIGHT and "q Quit" in rows[-1] and "READ-ONLY" in rows[0]
                    and all(label in s for label in labels) and rows[3].split("│")[-1].strip() == first)

        screen = tmux.wait_screen(complete, "the badge, every node of the recorded tree, its first node's "
                                  "details and the footer", give_up=EXITED.search)
        lines = screen.splitlines()
        assert tmux.pane("#{pane_width}x#{pane_height} #{alternate_on}") == f"{WIDTH}x{HEIGHT} 1"
        assert lines[0].rstrip().endswith("READ-ONLY") and "recorded" in lines[0]  # top right: 80 columns arrived
        assert any(line.lstrip().startswith("● lo loopback") for line in lines)
        assert {"●", "○"} <= set(screen)

        escaped = tmux.screen(escapes=True)
        colours = chromatic_colours(escaped)
        if term == "xterm":  # 8/16 colours: the states still read by their basic colours
            assert not extended_colours(escaped), f"TERM=xterm, yet {sorted(extended_colours(escaped))[:10]}"
        elif term == "xterm-256color" and not no_color:
            assert extended_colours(escaped), "no 256 colours: the TERM=xterm check above would prove nothing"
        if no_color:
            assert not colours, f"NO_COLOR=1, yet colours on screen: {sorted(colours)[:10]}"
        else:
            assert colours, "no colour at all: the NO_COLOR check above would prove nothing"

        tmux.keys("q")
        screen = tmux.wait_screen(EXITED.search, "the exit code after q")
        assert re.search(r"^EXIT=0$", screen, re.M), screen
        assert screen.rstrip().splitlines()[-1] == PROMPT.rstrip(), "the shell prompt is back"
        assert "READ-ONLY" not in screen, "the app's screen is gone with the alternate screen"
        state = tmux.pane("#{alternate_on} #{cursor_flag} #{mouse_any_flag} #{mouse_button_flag} "
                          "#{mouse_all_flag} #{mouse_sgr_flag} #{keypad_cursor_flag}")
        assert state == "0 1 0 0 0 0 0", "alternate screen, cursor, mouse, keypad: " + state
        tmux.type("echo kt-after")  # keys reach the shell as text: no mouse or keypad mode left on
        tmux.keys("Enter")
        tmux.wait_screen(lambda s: "\nkt-after\n" in s, "the shell's answer after quitting")
    finally:
        tmux.kill()


def test_private_sshd_is_loopback_only(sshd):
    """The test server must be reachable on 127.0.0.1 and nothing else."""
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{sshd.port}"], capture_output=True, text=True).stdout
    addresses = {line.split()[3] for line in listening.splitlines()}
    assert addresses == {f"127.0.0.1:{sshd.port}"}
