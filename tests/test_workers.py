"""Rules every background worker of the dashboard follows, checked on the source.

- `description=`: without it Textual builds one from repr() of every argument, and the
  repr of a snapshot with 50,000 FDB entries cost the UI ~0.1 s per refresh.
- `exit_on_error=False`: a failed collection is shown by the app's one worker-error
  handler and the dashboard goes on; Textual's default would quit the app.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kvmtui.ui

UI = Path(kvmtui.ui.__file__).parent


def work_decorators() -> list[tuple[str, ast.Call]]:
    """Each `@work(...)` and each `run_worker(...)` call (the live sources start theirs so)."""
    found = []
    for path in sorted(UI.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if isinstance(target, ast.Name) and target.id == "work":
                        found.append((f"{path.name}:{node.name}", decorator))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run_worker":
                found.append((f"{path.name}:{node.lineno}", node))
    return found


def test_every_worker_names_its_description_and_reports_errors_to_the_app():
    workers = work_decorators()
    assert len(workers) >= 5  # collect, fdb, poll, audit, apply
    for where, decorator in workers:
        assert isinstance(decorator, ast.Call), f"{where}: bare @work"
        options = {k.arg: k.value for k in decorator.keywords}
        assert "description" in options, f"{where}: @work without description="
        exit_on_error = options.get("exit_on_error")
        assert isinstance(exit_on_error, ast.Constant) and exit_on_error.value is False, \
            f"{where}: @work without exit_on_error=False"
