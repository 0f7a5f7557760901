"""The audit core stands alone: an auditor installs cryptography and rfc8785, nothing else."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import audit

AUDIT = Path(audit.__file__).parent
ALLOWED = {"cryptography", "rfc8785", "audit"}
# Reading the clock belongs to the caller: entries are given their time.
FORBIDDEN_CALLS = {"now", "today", "utcnow", "time", "perf_counter", "monotonic"}
EDGE_MODULES = {"verify.py"}  # the command line reads the files it is given


def imported(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


def test_the_audit_package_imports_no_framework_and_no_database() -> None:
    for path in AUDIT.glob("*.py"):
        for name in imported(path):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in ALLOWED, f"{path.name}: {name}"


def test_the_audit_core_reads_no_clock_and_no_files() -> None:
    for path in AUDIT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"
                if path.name not in EDGE_MODULES:
                    assert name != "open", f"{path.name}:{node.lineno} opens a file"
