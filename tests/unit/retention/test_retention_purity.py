"""The retention rules are pure: standard library and the project's vocabulary only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import gateway.retention

RETENTION = Path(gateway.retention.__file__).parent
ALLOWED = ("gateway.retention", "gateway.policy.facts")
# Reading the clock or touching files belongs at the edge, not in the rules.
FORBIDDEN_CALLS = {"now", "today", "utcnow", "time", "perf_counter", "monotonic", "open",
                   "read_text", "read_bytes", "write_text", "write_bytes"}
EDGE_MODULES = {"loader.py"}  # reads the TOML files; deciding never calls it


def test_the_rules_import_only_the_standard_library_and_the_vocabulary() -> None:
    for path in RETENTION.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert (name.split(".")[0] in sys.stdlib_module_names
                        or name.startswith(ALLOWED)), f"{path.name} imports {name}"


def test_the_rules_read_no_clock_and_no_files() -> None:
    for path in RETENTION.glob("*.py"):
        if path.name in EDGE_MODULES:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"
            if (isinstance(node, ast.ImportFrom) and node.module == "gateway.retention.loader"
                    and path.name != "__init__.py"):  # the package re-exports it
                raise AssertionError(f"{path.name} imports the loader")


def test_the_loader_reads_no_clock() -> None:
    tree = ast.parse((RETENTION / "loader.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in {"now", "today", "utcnow", "time"}, name
