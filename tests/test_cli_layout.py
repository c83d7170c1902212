"""The command line's modules import one way: ``medcalc.cli`` -> the command modules -> ``options``.

Read from the source (every import, those inside functions and under TYPE_CHECKING too), so
that a cycle cannot come back through an import made late to dodge it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "medcalc"
CLI = PACKAGE / "cli"


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """The medcalc modules ``path`` imports anywhere in it (``from . import x``: the module x)."""
    package = _name(path) if path.name == "__init__.py" else _name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            modules = {f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}")}
            found.update(modules or {base})
    return {name for name in found if name == "medcalc" or name.startswith("medcalc.")}


def _cli_graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(CLI.glob("*.py")):
        own = _name(path)
        graph[own] = {m for m in _imports(path) if (m == "medcalc.cli" or m.startswith("medcalc.cli.")) and m != own}
    return graph


def test_options_imports_no_module_of_the_cli():
    assert _cli_graph()["medcalc.cli.options"] == set()


def test_command_modules_import_only_options_from_the_cli():
    for module, imported in _cli_graph().items():
        if module in ("medcalc.cli", "medcalc.cli.__main__", "medcalc.cli.options"):
            continue
        assert imported <= {"medcalc.cli.options"}, f"{module} imports {sorted(imported)}"


def test_no_cycle_in_the_cli():
    graph = _cli_graph()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join(path + (module,))
        if module not in done:
            for imported in graph.get(module, ()):
                visit(imported, path + (module,))
            done.add(module)

    for module in graph:
        visit(module, ())


def test_no_library_module_imports_the_cli():
    for path in sorted(PACKAGE.rglob("*.py")):
        if CLI not in path.parents:
            imported = {m for m in _imports(path) if m == "medcalc.cli" or m.startswith("medcalc.cli.")}
            assert not imported, f"{_name(path)} imports {sorted(imported)}"
