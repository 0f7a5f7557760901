"""Every public AR 5125 case, through the `records-gateway policy check` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main
from tests.conftest import REPOSITORY

# The project keeps its own copy so the suite is hermetic; the shared file, when it is
# beside the checkout, is checked too in case it has grown. ar5125-project.jsonl holds
# cases of the same kinds that reviews of the engine against the regulation wrote, each
# with the reading in its note.
CASE_FILES = [REPOSITORY / "tests" / "cases" / "ar5125-public.jsonl",
              REPOSITORY / "tests" / "cases" / "ar5125-project.jsonl"]
SHARED = REPOSITORY.parent / "shared" / "ar5125-cases" / "public.jsonl"
if SHARED.exists():
    CASE_FILES.append(SHARED)


@pytest.mark.parametrize("cases", CASE_FILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_every_public_case_passes_through_the_command(cases: Path) -> None:
    result = CliRunner().invoke(main, ["policy", "check", str(cases)])

    lines = result.output.strip().splitlines()
    total = sum(1 for line in cases.read_text().splitlines() if line.strip())
    assert lines[-1] == f"{total} passed, 0 failed", result.output
    assert result.exit_code == 0
    decided = [json.loads(line) for line in lines[:-1]]
    assert [d["id"] for d in decided] == [
        json.loads(line)["id"] for line in cases.read_text().splitlines() if line.strip()]
    assert all(set(d) == {"id", "decision", "clause", "citations", "obligations", "requires",
                          "log_required", "reason"} for d in decided)
