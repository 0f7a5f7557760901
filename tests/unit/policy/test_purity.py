"""The engine is pure: the standard library and its own modules, nothing else."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import gateway.policy

POLICY = Path(gateway.policy.__file__).parent
# Reading the clock or touching files belongs at the edge, not in the engine.
FORBIDDEN_CALLS = {"now", "today", "utcnow", "open", "time", "perf_counter"}
EDGE_MODULES = {"pack.py"}  # loads the pack file; deciding never calls it


def test_the_engine_imports_only_the_standard_library_and_itself() -> None:
    for path in POLICY.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or name.startswith("gateway.policy"), (
                    f"{path.name} imports {name}")


def test_the_engine_reads_no_clock_and_no_files() -> None:
    for path in POLICY.glob("*.py"):
        if path.name in EDGE_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"
