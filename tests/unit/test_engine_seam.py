"""One seam per engine (issue 12, part 4): Compose implements every operation of the Engine
protocol, and nothing outside stack/engines/ builds `docker compose exec` argument lists."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

from stack.engines.base import Engine
from stack.engines.compose import Compose

STACK = Path(__file__).resolve().parents[2] / "stack"


def protocol_methods() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(Engine).items()
            if callable(member) and not name.startswith("_")}


def test_compose_implements_every_engine_operation_with_the_same_parameters():
    methods = protocol_methods()
    assert {"up", "states", "exec", "logs", "pull", "volume_name"} <= set(methods)
    for name, signature in methods.items():
        implementation = getattr(Compose, name, None)
        assert implementation is not None, f"Compose lacks {name}"
        assert list(inspect.signature(implementation).parameters) == list(signature.parameters), name


def test_nothing_outside_the_engines_builds_compose_exec_arguments():
    found = []
    for path in sorted(STACK.rglob("*.py")):
        if path.parent.name == "engines":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value == "-T":
                found.append(f"{path.relative_to(STACK.parent)}:{node.lineno}")
    assert not found, "`exec -T` built by hand (use Engine.exec): " + ", ".join(found)
