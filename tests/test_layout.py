"""The package's layers import only downward, no module imports itself back through others, and
the command line's modules import one way: ``medcalc.cli`` -> the command modules -> ``options``.

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


#: The layers, lowest first: a module may import its own layer and those below, never one above.
#: Each entry is a module or a package (all of its modules).
LAYERS = (
    ("medcalc.money", "medcalc.errors"),  # amounts and errors
    ("medcalc.policy", "medcalc.vocabulary"),  # policies as data, and the words for their codes
    ("medcalc.claims", "medcalc.claim_checks", "medcalc.accumulators", "medcalc.settlement"),  # the records
    ("medcalc.engine",),  # the kernel, the layers' builds, the pipeline, explanations
    ("medcalc.api", "medcalc.batch"),  # claim objects; columns, tables, streams, files, Dask
    ("medcalc.report",),  # what people read: quotes, amounts, tables, summaries
    ("medcalc.analysis",),  # impact, reconciliation, synthetic claims, charts
    ("medcalc", "medcalc.dask", "medcalc.strategies"),  # the public API and its test strategies
    ("medcalc.cli", "medcalc.serve"),  # the ways in
)


def _layer(module: str) -> int:
    """The layer of a module: that of the longest entry naming it or a package holding it."""
    best = None
    for k, entries in enumerate(LAYERS):
        for entry in entries:
            if (module == entry or module.startswith(entry + ".")) and (best is None or len(entry) > len(best[1])):
                best = (k, entry)
    assert best is not None, f"{module} is in no layer of tests/test_layout.py: add it to one"
    return best[0]


def _graph() -> dict[str, set[str]]:
    """Every medcalc module and the medcalc modules it imports (not itself)."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _name(path)
        graph[own] = {m for m in _imports(path) if m != own}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Some cycle of imports, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the path being followed, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                return path[path.index(imported) :] + [imported]
            if imported not in state:
                found = visit(imported)
                if found:
                    return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_no_import_cycle_in_the_package():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_each_layer_imports_only_its_own_and_lower_layers():
    upward = [
        f"{module} (layer {_layer(module)}) imports {imported} (layer {_layer(imported)})"
        for module, imports in _graph().items()
        for imported in sorted(imports)
        if _layer(imported) > _layer(module)
    ]
    assert not upward, "\n".join(upward)


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


#: The contributor page holding the map of modules (it was the README's "Layout").
MAP_PAGE = PACKAGE.parent / "docs" / "contributing" / "layout.md"


def _readme_map() -> dict[str, str]:
    """The docs' map of modules (MAP_PAGE): entry (``medcalc/x.py`` or ``medcalc/pkg/``) -> its text."""
    page = MAP_PAGE.read_text(encoding="utf-8")
    block = page.split("\n```\n", 2)[1]
    entries: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        head = line.split(" ", 1)[0]
        if head.startswith("medcalc/"):
            current = head
            entries[current] = line[len(head) :]
        elif head and not line.startswith(" "):
            current = None  # policies/, tests/, benchmarks/
        elif current is not None:
            entries[current] += " " + line.strip()
    return entries


def test_the_readme_map_of_modules_matches_the_tree():
    entries = _readme_map()
    for entry in entries:
        assert (PACKAGE.parent / entry).exists(), f"the README's map names {entry}, which does not exist"
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        if path.name in ("__init__.py", "__main__.py") and rel.parent != Path("medcalc"):
            continue
        if rel.parent == Path("medcalc"):
            if path.name == "__init__.py":
                continue
            assert str(rel) in entries, f"the README's map of modules has no line for {rel}"
        else:
            package = f"{rel.parts[0]}/{rel.parts[1]}/"
            assert package in entries, f"the README's map of modules has no line for {package}"
            assert path.name in entries[package], f"the README's line for {package} does not name {path.name}"
