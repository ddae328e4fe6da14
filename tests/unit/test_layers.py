"""The layers a reader can see (issue 12, part 5), checked on the source with ast:

- no import cycle between stack modules (counting every import, wherever it sits);
- no import of a stack module inside a function (the way cycles used to be hidden);
- no module over about 300 lines;
- imports only go down the layers: cli -> ops -> render -> doctor -> services -> engines -> config.
"""
from __future__ import annotations

import ast
from pathlib import Path

STACK = Path(__file__).resolve().parents[2] / "stack"
MAX_LINES = 300
# Lowest first. A module belongs to the first prefix it starts with ("stack.config" also covers
# the package hconfig moves config files into). A module in none of them fails the test, so a new
# one is placed on purpose.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("config", ("stack.errors", "stack.paths", "stack.config", "stack.bootstrap")),
    ("engines", ("stack.engines",)),
    ("services", ("stack.services", "stack.health", "stack.embeddings")),
    ("doctor", ("stack.doctor",)),
    ("render", ("stack.render",)),
    ("ops", ("stack.ops",)),
    ("cli", ("stack.cli",)),
)
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    parts = path.relative_to(STACK.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(STACK.rglob("*.py"))}


def layer(module: str) -> str:
    if module == "stack":  # the package's own __init__: a docstring
        return LAYERS[0][0]
    for name, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def resolve(name: str) -> str | None:
    """The stack module an import name refers to (a package's module, or the package itself)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(stack module imported, line, inside a function?) for every import in the file."""
    tree = ast.parse(path.read_text())
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names = [f"{child.module}.{alias.name}" for alias in child.names]
            for name in names:
                if name == "stack" or name.startswith("stack."):
                    target = resolve(name)
                    if target:
                        found.append((target, child.lineno, in_function))
            visit(child, inner)

    visit(tree, False)
    return found


GRAPH = {module: {target for target, _, _ in imports(path) if target != module} for module, path in MODULES.items()}


def test_no_import_cycles():
    """Tarjan's strongly connected components: any component of more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def connect(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in GRAPH.get(module, ()):
            if target not in index:
                connect(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            connect(module)
    assert not cycles, f"import cycles: {cycles}"


def test_no_stack_import_inside_a_function():
    hidden = [f"{path.relative_to(STACK.parent)}:{line} imports {target}"
              for module, path in MODULES.items() for target, line, inside in imports(path) if inside]
    assert not hidden, "imports inside functions (move them to the top):\n" + "\n".join(hidden)


def test_no_module_over_300_lines():
    big = {str(p.relative_to(STACK.parent)): n for p in MODULES.values()
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_imports_only_go_down_the_layers():
    upward = [f"{module} ({layer(module)}) imports {target} ({layer(target)})"
              for module, targets in GRAPH.items() for target in sorted(targets)
              if RANK[layer(target)] > RANK[layer(module)]]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_the_checker_sees_a_hidden_cycle(tmp_path):
    """The walk itself: an import inside a function is found and counted as an edge."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from stack.ops.up import up\n    return up\n")
    assert imports(source) == [("stack.ops.up", 2, True)]


def test_only_the_cli_draws_on_the_terminal():
    """Consoles and live views live in stack/cli/ui.py; ops reports through its Ui protocol."""
    drawing = []
    for module, path in MODULES.items():
        if layer(module) == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in ("rich.console", "rich.live"):
                drawing.append(f"{module} imports {node.module}")
    assert not drawing, drawing
