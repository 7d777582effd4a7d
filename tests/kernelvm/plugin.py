"""pytest integration of the kernel VM (vm.py).

On the host, tests marked ``kernelvm`` do not run in this process. Once collection is done the
VM boots in a background thread (niced below the host's tests, which run meanwhile) and runs all
selected kernelvm tests there, in one inner pytest session; the kernelvm tests come last, wait
for it, and each replays the reports of its inner run (serialized with pytest's own report hooks, as
xdist does), so pass, fail (with the inner traceback), skip and error count as usual. If the
VM cannot run them, they fail, with the reason: they are core tests, not optional ones.

Inside the VM (KVMTUI_IN_KERNELVM=1) kernelvm tests run normally and no other test runs.
For a quick local run, ``KVMTUI_KERNELVM=off`` (or ``-m "not kernelvm"``) deselects them;
``KVMTUI_KERNELVM_SERIAL=1`` boots the VM only when the first kernelvm test is reached.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest import TestReport

from tests.kernelvm import vm

__all__ = [
    "pytest_configure",
    "pytest_collection_modifyitems",
    "pytest_collection_finish",
    "pytest_sessionfinish",
    "pytest_runtest_protocol",
    "pytest_terminal_summary",
]

IN_VM = os.environ.get("KVMTUI_IN_KERNELVM") == "1"
REPORTS_ENV = "KVMTUI_KERNELVM_REPORTS"  # inside: the file to write the JSON-lines reports to
SESSION_LOG = vm.CACHE / "last-session.log"


def _is_kernelvm(item: pytest.Item) -> bool:
    return item.get_closest_marker("kernelvm") is not None


# --- inside the VM: write every report where the host can read it -------------------------


class _ReportWriter:
    def __init__(self, config: pytest.Config, path: str):
        self.config = config
        self.file = open(path, "a")

    def _write(self, report) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self.file.write(json.dumps(data) + "\n")
        self.file.flush()  # whatever happens to the VM later, this report is on the host

    def pytest_runtest_logreport(self, report: TestReport) -> None:
        self._write(report)

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self._write(report)


def pytest_configure(config: pytest.Config) -> None:
    if IN_VM and os.environ.get(REPORTS_ENV):
        config.pluginmanager.register(_ReportWriter(config, os.environ[REPORTS_ENV]), "kernelvm-reports")


# --- on the host: order, run once in the VM, replay ---------------------------------------


@pytest.hookimpl(trylast=True)  # after -k/-m deselection, so we see the final selection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kernel = [i for i in items if _is_kernelvm(i)]
    others = [i for i in items if not _is_kernelvm(i)]
    if IN_VM:
        keep, drop = kernel, others
    elif os.environ.get("KVMTUI_KERNELVM", "").lower() in ("off", "0", "no"):
        keep, drop = others, kernel
    else:
        # Last: skipping their host-side setup/teardown then cannot leave another test's
        # module fixtures half torn down. It also puts the quick host tests first.
        keep, drop = others + kernel, []
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


@dataclass
class _VMRun:
    """The outcome of the one VM run of a host session."""

    reports: dict[str, list[TestReport]] = field(default_factory=dict)
    collect_errors: list[str] = field(default_factory=list)
    result: vm.Result | None = None
    error: str | None = None
    count: int = 0

    def output(self) -> list[str]:
        """The inner session's output as a terminal shows it (a carriage return rewrites a line)."""
        text = SESSION_LOG.read_text(errors="replace") if SESSION_LOG.exists() else ""
        return [line.rsplit("\r", 1)[-1] for line in text.split("\n")]

    def output_tail(self, lines: int = 30) -> str:
        return "\n".join(self.output()[-lines:]).strip()


_RUN = pytest.StashKey[_VMRun]()


def _inner_command(config: pytest.Config, nodeids: list[str]) -> list[str]:
    """The inner pytest: the same tests, config and failure-report style as on the host."""
    opt = config.option
    style = ["-" + "v" * opt.verbose] if opt.verbose > 0 else ["-q"] if opt.verbose < 0 else []
    style += [f"--tb={opt.tbstyle}"] + (["-l"] if opt.showlocals else [])
    ini = ["-c", str(config.inipath)] if config.inipath else []
    return [
        sys.executable, "-m", "pytest", "-m", "kernelvm", "--color=no", "-p", "no:cacheprovider",
        *style, f"--rootdir={config.rootpath}", *ini, *nodeids,
    ]  # fmt: skip


def _announce(config: pytest.Config, text: str) -> None:
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr and config.option.verbose >= 0:
        tr.write_line(text)


def _run_vm(session: pytest.Session, stop: threading.Event | None = None) -> _VMRun:
    """Runs in the background thread when started with the session (no terminal output here:
    the main thread writes it), else in the first kernelvm test's protocol."""
    config = session.config
    items = [i for i in session.items if _is_kernelvm(i)]
    run = _VMRun(count=len(items))
    SESSION_LOG.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kernelvm-reports-") as tmp, open(SESSION_LOG, "wb") as out:
        reports = Path(tmp) / "reports.jsonl"
        cmd = _inner_command(config, [i.nodeid for i in items])
        env = {REPORTS_ENV: str(reports)}
        try:
            run.result = vm.run(cmd, env=env, cwd=config.rootpath, rw_dirs=[tmp], out=out, stop=stop)
        except vm.VMError as e:
            run.error = str(e)
        lines = reports.read_text().splitlines() if reports.exists() else []
    for line in lines:
        rep = config.hook.pytest_report_from_serializable(config=config, data=json.loads(line))
        if isinstance(rep, TestReport):
            if isinstance(rep.longrepr, list):  # a skip's (path, line, reason), JSON made it a list
                rep.longrepr = tuple(rep.longrepr)
            run.reports.setdefault(rep.nodeid, []).append(rep)
        else:
            run.collect_errors.append(f"{rep.nodeid}: {rep.longreprtext}")
    return run


class _Background:
    """The VM session started with the host's session: the host's tests run meanwhile (the VM
    is niced below them), and the first kernelvm test waits for its reports."""

    def __init__(self, session: pytest.Session):
        self.stop = threading.Event()
        self.run: _VMRun | None = None
        self.thread = threading.Thread(target=self._main, args=(session,), name="kernelvm", daemon=True)
        self.thread.start()

    def _main(self, session: pytest.Session) -> None:
        try:
            self.run = _run_vm(session, self.stop)
        except BaseException as e:  # noqa: BLE001 - reported by the tests that needed it
            self.run = _VMRun(count=0, error=f"{type(e).__name__}: {e}")

    def wait(self) -> _VMRun:
        self.thread.join()
        return self.run

    def cancel(self) -> None:
        self.stop.set()
        self.thread.join(30)


_BACKGROUND = pytest.StashKey[_Background]()


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if IN_VM or config.option.collectonly or os.environ.get("KVMTUI_KERNELVM_SERIAL") == "1":
        return
    count = sum(1 for i in session.items if _is_kernelvm(i))
    if count:
        _announce(config, f"kernelvm: {count} test(s) start in the kernel VM (linux-image-{vm.ABI}) now, "
                          "beside the host's tests; their results come last")
        config.stash[_BACKGROUND] = _Background(session)


def pytest_sessionfinish(session: pytest.Session) -> None:
    background = session.config.stash.get(_BACKGROUND, None)
    if background is not None and background.thread.is_alive():  # stopped early (-x, Ctrl-C)
        background.cancel()


def _with_failure(item: pytest.Item, run: _VMRun, reports: list[TestReport]) -> list[TestReport]:
    """Complete the reports of a test the VM did not (fully) run with a failure saying why."""
    if run.error:
        msg = f"the kernel VM failed: {run.error}\nkernel log: {vm.CACHE / 'last-kernel.log'}"
    else:
        status = run.result.status if run.result else "?"
        msg = f"the kernel VM session did not report this test (inner pytest exit status {status})"
        msg += "".join(f"\ninner collection error: {e}" for e in run.collect_errors)
    if tail := run.output_tail():
        msg += f"\n--- last lines of {SESSION_LOG} ---\n{tail}"
    done = {r.when for r in reports}
    keywords = {k: 1 for k in item.keywords}
    for when in ("setup", "call", "teardown"):
        if when not in done:
            failed = when != "setup" and not any(r.failed for r in reports)
            outcome, longrepr = ("failed", msg) if failed else ("passed", None)
            reports = [*reports, TestReport(item.nodeid, item.location, keywords, outcome, longrepr, when)]
    return reports


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if IN_VM or not _is_kernelvm(item):
        return None  # the usual protocol
    config = item.config
    if _RUN not in config.stash:
        background = config.stash.get(_BACKGROUND, None)
        if background is None:
            _announce(config, f"kernelvm: running {sum(map(_is_kernelvm, item.session.items))} test(s) in the kernel VM "
                              f"(linux-image-{vm.ABI})...")
        elif background.thread.is_alive():
            _announce(config, "kernelvm: waiting for the kernel VM's results...")
        config.stash[_RUN] = background.wait() if background is not None else _run_vm(item.session)
        tr = config.pluginmanager.get_plugin("terminalreporter")
        if tr:
            tr.currentfspath = None  # the next result starts a fresh "path ..." line
    run = config.stash[_RUN]
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = run.reports.get(item.nodeid, [])
    if not any(r.when == "teardown" for r in reports):
        reports = _with_failure(item, run, reports)
    for rep in reports:
        if rep.failed and run.result:
            rep.sections.append(("kernel VM", f"ran inside the kernel VM, linux {run.result.release}"))
        item.ihook.pytest_runtest_logreport(report=rep)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    run = config.stash.get(_RUN, None)
    if run is None:
        return
    tr = terminalreporter
    tr.section("kernel VM")
    if run.error:
        tr.line(f"FAILED: {run.error}", red=True)
    else:
        r = run.result
        retry = f", after {r.attempts - 1} retry" if r.attempts > 1 else ""
        tr.line(
            f"linux {r.release} under TCG: booted in {r.boot_s:.1f} s, {run.count} test(s) "
            f"in {r.total_s:.1f} s in all{retry}; inner pytest exit status {r.status}"
        )
    tr.line(f"output: {SESSION_LOG}; kernel log: {vm.CACHE / 'last-kernel.log'}")
    if config.option.verbose > 0:
        tr.line("\n".join(run.output()).rstrip())
