"""The house in order (issue 19), kept so: no import cycle among gdtrain's modules (function-level imports counted),
no private name imported from another module, no module over 600 lines without a reason at its top, and every
import inside a function of the library (outside the command line) says why it is lazy.

The imports are read from the source (ast), nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set, Tuple

PACKAGE = Path(__file__).resolve().parent.parent / "gdtrain"
MAX_LINES = 600


def modules() -> Dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> List[Tuple[str, str, int, bool]]:
    """(module imported, name taken or '', line, inside a function) for every import statement of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom):
                base = ".".join(package[:len(package) - child.level + 1] + ([child.module] if child.module else [])) \
                    if child.level else child.module
                for alias in child.names:
                    target = f"{base}.{alias.name}"
                    found.append((target if target in MODULES else base, alias.name, child.lineno, in_function))
            elif isinstance(child, ast.Import):
                found.extend((alias.name, "", child.lineno, in_function) for alias in child.names)
            visit(child, inner)

    visit(tree, False)
    return found


GRAPH: Dict[str, Set[str]] = {name: {target for target, _, _, _ in imports(name, path) if target in MODULES
                                     and target != name} for name, path in MODULES.items()}


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    out: List[List[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_the_walk_sees_the_package():
    assert {"gdtrain.cli", "gdtrain.render.fit", "gdtrain.config.sections", "gdtrain.race.plan"} <= set(MODULES)
    assert "gdtrain.optimizers" in GRAPH["gdtrain.train"] or "gdtrain.optimizers" in GRAPH["gdtrain.experiment"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the check itself


def test_no_import_cycle_counting_imports_inside_functions():
    assert cycles(GRAPH) == []


def test_no_private_name_is_imported_from_another_module():
    private = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}.{taken}"
               for name, path in MODULES.items() for target, taken, line, _ in imports(name, path)
               if target in MODULES and target != name and taken.startswith("_") and not taken.startswith("__")]
    assert private == []


def test_no_module_over_600_lines_without_a_reason_at_its_top():
    long = [f"{path.relative_to(PACKAGE.parent)} ({n} lines)" for path in MODULES.values()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
            and "over 600 lines" not in path.read_text(encoding="utf-8")[:2000]]
    assert long == []


def test_every_lazy_import_outside_the_command_line_says_why():
    """Imports belong at the top; one inside a function (an optional dependency, a measured start-up cost) carries a
    `# lazy:` comment on its line or the line above. The cli/ package's command functions import the library lazily
    for `gdtrain --help`'s start-up, which each of its modules states once at its top."""
    unexplained = []
    for name, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        if name.startswith("gdtrain.cli"):
            if any(in_function for *_, in_function in imports(name, path)):
                assert "lazy" in "\n".join(lines[:40]), f"{path.name}: the start-up reason is not stated at its top"
            continue
        for target, _, line, in_function in imports(name, path):
            if in_function and "# lazy:" not in lines[line - 1] + (lines[line - 2] if line > 1 else "") \
                    and "# lazy:" not in lines[line - 3 if line > 2 else 0]:
                unexplained.append(f"{path.relative_to(PACKAGE.parent)}:{line} {target}")
    assert unexplained == []
