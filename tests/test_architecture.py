"""The package's imports point down its layers, form no cycle, and match ``docs/architecture.md``.

The map is read from the document itself: its layer table ranks the modules, its module table says
what each may import, and each module's job there is the first line of the module's docstring.
Imports are read with ``ast`` from every file, function-level and type-checking imports included.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "reasonrank_ir"
MAP = ROOT / "docs" / "architecture.md"


def package_modules() -> dict[str, Path]:
    """Dotted name (``reasonrank_ir.data.base``) -> file, for every module of the package."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``name`` imports anywhere in its file (``from x import submodule`` counts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # ``import a.b.c`` names module a.b.c, or a package above it
                target = target.rpartition(".")[0]
            if target.startswith("reasonrank_ir") and target != name:
                found.add(target)
    return found


def table(heading: str) -> list[list[str]]:
    """The rows of the markdown table under ``## heading`` in the map, cells stripped of backticks."""
    text = MAP.read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip().replace("`", "") for cell in row.strip("|").split("|")] for row in rows]


def qualified(short: str) -> str:
    return "reasonrank_ir" if short in ("reasonrank_ir", "(package root)") else f"reasonrank_ir.{short}"


def covers(entry: str, module: str) -> bool:
    return module == entry or module.startswith(entry + ".")


def layer_ranks() -> list[tuple[int, str]]:
    """(rank, module prefix or ``*.__main__``) from the layer table; longest prefix wins."""
    ranks = []
    for rank, _, members in table("Layers"):
        ranks.extend((int(rank), qualified(m.strip())) for m in members.split(","))
    return ranks


def rank_of(module: str, ranks: list[tuple[int, str]]) -> int:
    if module.endswith(".__main__"):
        return next(rank for rank, pattern in ranks if pattern.endswith("*.__main__"))
    matches = [(len(pattern), rank) for rank, pattern in ranks
               if (covers(pattern, module) if pattern != "reasonrank_ir" else module == pattern)]
    if not matches:
        raise AssertionError(f"{module} is in no layer of {MAP.name}")
    return max(matches)[1]


def top_package(module: str) -> str:
    """``reasonrank_ir.data`` for ``reasonrank_ir.data.bright``; a top-level module is its own package."""
    return ".".join(module.split(".")[:2])


def module_rows() -> dict[str, tuple[str, list[str]]]:
    rows = {}
    for module, job, allowed in table("Modules"):
        entries = [] if allowed in ("", "-", "—") else [qualified(a.strip()) for a in allowed.split(",")]
        assert qualified(module) not in rows, f"{module} is listed twice in {MAP.name}"
        rows[qualified(module)] = (job, entries)
    return rows


def first_docstring_line(path: Path) -> str:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    return docstring.strip().splitlines()[0].strip() if docstring else ""


def test_every_module_is_on_the_map_with_its_docstring_as_its_job():
    modules, rows = package_modules(), module_rows()
    assert sorted(set(modules) - set(rows)) == [], f"modules missing from {MAP.name}"
    assert sorted(set(rows) - set(modules)) == [], f"{MAP.name} lists modules that do not exist"
    wrong = {name: (rows[name][0], line) for name, path in modules.items()
             if rows[name][0] != (line := first_docstring_line(path).replace("`", ""))}
    assert wrong == {}, "the job column must be the first line of each module's docstring (map, file)"


def test_imports_point_down_and_only_where_the_map_allows():
    modules, rows, ranks = package_modules(), module_rows(), layer_ranks()
    problems = []
    for name, (_, allowed) in rows.items():
        for entry in allowed:
            if rank_of(entry, ranks) > rank_of(name, ranks):
                problems.append(f"the map lets {name} import {entry}, a higher layer")
    for name, path in modules.items():
        for target in sorted(imports_of(name, path, modules)):
            if rank_of(target, ranks) > rank_of(name, ranks):
                problems.append(f"{name} imports {target}: upward")
            elif top_package(target) != top_package(name) and not any(covers(e, target) for e in rows[name][1]):
                problems.append(f"{name} imports {target}: not in its 'may import' list")
    assert problems == []


def test_nothing_imports_a_command_line_module():
    """A ``__main__`` is an entry point: no module of the package imports one (``cli`` runs them by name)."""
    modules = package_modules()
    importers = {name: sorted(t for t in imports_of(name, path, modules) if t.endswith(".__main__"))
                 for name, path in modules.items()}
    assert {name: found for name, found in importers.items() if found} == {}


def test_training_steps_are_libraries_with_their_command_line_in_main():
    """mine, label, filter, sft and grpo as reranking is split: no argparse or ``main`` in the library."""
    cli_names = {"argparse", "ArgumentParser", "settings_parser", "parse_settings", "cli_main", "ray_pool", "main"}
    for step in ("mine", "label", "filter", "sft", "grpo"):
        tree = ast.parse((PACKAGE / "train" / step / "__init__.py").read_text(encoding="utf-8"))
        names = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                 for alias in node.names}
        names |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert names & cli_names == set(), step
        assert "def main(" in (PACKAGE / "train" / step / "__main__.py").read_text(encoding="utf-8"), step


def test_no_import_cycles():
    modules = package_modules()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    cycles = [sorted(component) for component in strongly_connected(graph) if len(component) > 1]
    assert cycles == []


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components, iteratively (the package is small, but recursion limits are not a design)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def test_the_checker_sees_function_level_imports_and_cycles(tmp_path):
    """The walker itself: an import inside a function counts, and a two-module loop is a cycle."""
    first = tmp_path / "a.py"
    first.write_text("def f():\n    from reasonrank_ir.b import g\n")
    second = tmp_path / "b.py"
    second.write_text("import reasonrank_ir.a\n")
    modules = {"reasonrank_ir.a": first, "reasonrank_ir.b": second}
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert graph == {"reasonrank_ir.a": {"reasonrank_ir.b"}, "reasonrank_ir.b": {"reasonrank_ir.a"}}
    assert strongly_connected(graph) == [{"reasonrank_ir.a", "reasonrank_ir.b"}]


def test_readme_layout_matches_the_map():
    """The README's layout table names exactly the map's packages and top-level modules."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("## Layout\n", 1)[1].split("\n## ", 1)[0]
    listed = {entry.split("/")[0].removesuffix(".py") for entry in re.findall(r"`reasonrank_ir/([\w/.]+)`", readme)}
    on_map = {top_package(qualified(row[0])).removeprefix("reasonrank_ir.") for row in table("Modules")}
    assert listed == on_map - {"reasonrank_ir"}
