"""The package's import structure: no circles, nothing imports upwards.

Read from the source with `ast` (nothing is imported), module-level and function-local
imports alike: a function-local import that closes a circle or reaches up a layer is
the same dependency, only deferred. Each failure names the file, line and import.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import kvmtui

PACKAGE = Path(kvmtui.__file__).parent


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # the kvmtui module it names (a submodule when `from pkg import sub`)
    where: str  # kvmtui/x/y.py:LINE
    local: bool  # inside a function

    def __str__(self) -> str:
        return f"{self.where}: {self.importer} imports {self.imported}" + (" (function-local)" if self.local else "")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _targets(module: str, node: ast.Import | ast.ImportFrom, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from its package, one level up per extra dot
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]


def _imports() -> list[Import]:
    found = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        local_nodes = {id(node) for function in ast.walk(tree)
                       if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                       for node in ast.walk(function)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(module, node, path.name == "__init__.py"):
                if target == "kvmtui" or target.startswith("kvmtui."):
                    found.append(Import(module, target, f"{path.relative_to(PACKAGE.parent)}:{node.lineno}",
                                        id(node) in local_nodes))
    return list(dict.fromkeys(found))  # `from kvmtui.x import a, b` is one import of kvmtui.x


IMPORTS = _imports()


def _in(module: str, *areas: str) -> bool:
    """`module` is one of the modules or packages named (kvmtui.cli is not kvmtui.cli_plan)."""
    return any(module == f"kvmtui.{area}" or module.startswith(f"kvmtui.{area}.") for area in areas)


# (who, may not import, why): the flow collect -> model -> topology -> ui; ui/wizards -> plan -> diff -> apply.
RULES = (
    (("collect",), ("plan", "kinds", "ui", "apply", "cli", "cli_plan", "cli_guard", "guard"), "collectors feed everything and use none of it"),
    (("model",), ("collect", "plan", "kinds", "ui", "apply", "cli", "cli_plan", "cli_guard", "guard"), "the model is data only"),
    (("plan",), ("collect", "kinds", "ui", "apply", "cli", "cli_plan", "cli_guard", "guard"),
     "plans are pure: they read a Snapshot, not the host (shared pure code goes in a neutral module)"),
    (("kinds",), ("collect", "ui", "apply", "cli", "cli_plan", "cli_guard", "guard"),
     "a device kind is pure: intent, fields, checks and planner on top of plan/; the UI and CLI derive from it"),
    (("topology", "topology_ovs", "facts", "views", "views_ovs"), ("ui", "apply", "cli", "cli_plan", "cli_guard", "guard"),
     "they are pure and serve the UI, not use it"),
    (("libvirt_xml",), ("collect", "plan", "ui", "apply", "cli", "cli_plan", "cli_guard", "guard"),
     "the pure libvirt XML parser is shared by collect/, plan/ and serialize"),
    (("network_xml",), ("collect", "plan", "kinds", "ui", "apply", "cli", "cli_plan", "cli_guard", "guard"),
     "the pure libvirt network XML writer serves kinds/; it knows no plan"),
    (("apply",), ("ui", "cli", "cli_plan", "cli_guard", "guard"), "the executor is called by the UI, the CLI and guards"),
    (("persist",), ("kinds", "ui", "apply", "guard", "cli", "cli_plan", "cli_guard"),
     "persist/ is pure like plan/: a plan and the saved configuration in, file changes out (it may share "
     "collect/netconfig's pure text parsers, so that what it writes reads back the same)"),
    (("export",), ("collect", "ui", "apply", "guard", "cli", "cli_plan", "cli_guard", "cli_export"),
     "an export is pure: a Snapshot in, another tool's document out"),
    (("fleet",), ("collect", "ui", "apply", "guard", "kinds", "plan", "cli", "cli_plan", "cli_guard", "cli_fleet"),
     "the fleet drives other hosts' kvmtui through Ansible; it changes nothing here and knows no kind"),
    (("guard",), ("ui", "cli", "cli_plan", "cli_guard", "kinds"),
     "a guard runs the plan's own steps through apply/, for the CLI and the UI; it knows no kind"),
)


def test_the_scan_sees_module_level_and_function_local_imports():
    """Guards the test itself: a scan that found nothing would pass every rule."""
    assert any(not i.local and i.importer == "kvmtui.collect.netlink" and i.imported == "kvmtui.collect.decode_links"
               for i in IMPORTS)
    assert any(i.local and i.importer == "kvmtui.cli" and i.imported == "kvmtui.cli_plan" for i in IMPORTS)
    assert any(i.importer == "kvmtui.kinds.bridge" and i.imported == "kvmtui.plan.steps" for i in IMPORTS)


def test_no_import_circle():
    graph: dict[str, list[Import]] = {}
    for edge in IMPORTS:
        if edge.importer != edge.imported:
            graph.setdefault(edge.importer, []).append(edge)
    circles = []
    done: set[str] = set()

    def visit(module: str, path: list[Import], on_path: dict[str, int]) -> None:
        on_path[module] = len(path)
        for edge in graph.get(module, ()):
            if edge.imported in on_path:
                circles.append(path[on_path[edge.imported]:] + [edge])
            elif edge.imported not in done:
                visit(edge.imported, [*path, edge], on_path)
        del on_path[module]
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [], {})
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(str(edge) for edge in circle) for circle in circles)


def test_nothing_imports_upwards():
    broken = [f"{edge}: {why}" for edge in IMPORTS for who, forbidden, why in RULES
              if _in(edge.importer, *who) and _in(edge.imported, *forbidden)]
    assert not broken, "imports against the layers:\n" + "\n".join(broken)


def test_the_vocabulary_imports_nothing():
    """Every layer imports it, so it may import no layer, and it does no I/O."""
    tree = ast.parse((PACKAGE / "vocabulary.py").read_text(encoding="utf-8"))
    imported = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
    assert not imported, f"kvmtui/vocabulary.py imports: {imported}"
