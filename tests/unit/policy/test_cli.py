"""The `records-gateway policy` commands, as a district's administrator uses them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from gateway.cli import main

CASE = {"id": "t-1", "as_of": "2026-03-02", "requester": {"category": "parent"},
        "student": {"birth_date": "2014-01-21", "grade_completed": 6}, "action": "access",
        "record": {"type": "courses_and_marks"}, "purpose": "review", "evidence": {}}


def write_cases(tmp_path, *cases: object) -> str:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(c if isinstance(c, str) else json.dumps(c) for c in cases) + "\n")
    return str(path)


def check(path: str):
    return CliRunner().invoke(main, ["policy", "check", path])


def test_a_disagreeing_case_fails_the_check(tmp_path) -> None:
    wrong = {**CASE, "id": "t-2", "expect": {"decision": "deny"}}
    right = {**CASE, "expect": {"decision": "permit", "log_required": False}}

    result = check(write_cases(tmp_path, right, wrong))

    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "1 passed, 1 failed"
    assert "FAIL t-2: decision is permit, expected deny" in result.stderr


def test_a_case_without_expectation_is_decided_but_not_counted(tmp_path) -> None:
    result = check(write_cases(tmp_path, CASE))

    assert result.exit_code == 0
    assert json.loads(result.stdout.splitlines()[0])["decision"] == "permit"
    assert result.stdout.splitlines()[-1] == "0 passed, 0 failed, 1 skipped"


def test_unreadable_input_names_the_line_and_exits_2(tmp_path) -> None:
    bad_date = {**CASE, "student": {"birth_date": "2014-02-30"}}

    result = check(write_cases(tmp_path, CASE, "{not json", bad_date))

    assert result.exit_code == 2
    assert "cases.jsonl line 2: not JSON" in result.stderr
    assert "cases.jsonl line 3: student.birth_date: '2014-02-30' is not a date" in result.stderr
    assert result.stdout == "", "nothing is decided from a file that cannot be read"


def test_a_missing_file_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "policy", "check", "/nonexistent/cases.jsonl"],
        capture_output=True, text=True, check=False)

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_broken_pack_is_one_line_naming_the_place(tmp_path) -> None:
    pack = tmp_path / "pack.toml"
    pack.write_text("[pack]\nid = 'x'\n")

    result = CliRunner().invoke(main, ["policy", "check", "--pack", str(pack),
                                       write_cases(tmp_path, CASE)])

    assert result.exit_code == 2
    assert f"{pack}: pack.approved" in result.stderr


def test_explain_tells_the_decision_in_plain_words() -> None:
    question = {**CASE, "requester": {"category": "judge"}, "purpose": "truancy"}

    result = CliRunner().invoke(main, ["policy", "explain"], input=json.dumps(question))

    assert result.exit_code == 0
    assert result.stdout.startswith("PENDING: ")
    assert "Still needs: the recipient's written certification on file" in result.stdout
    assert "Welfare and Institutions Code 681" in result.stdout
    assert "Nothing is disclosed." in result.stdout


def test_explain_refuses_bad_json_in_one_line() -> None:
    result = CliRunner().invoke(main, ["policy", "explain"], input="{oops")

    assert result.exit_code == 2
    assert result.stderr.startswith("records-gateway: standard input: not JSON")


DEEP = "[" * 100_000 + "]" * 100_000
LONG_NUMBER = "1" * 5000


def test_check_names_each_line_python_cannot_read_as_json(tmp_path) -> None:
    overlong = json.dumps(CASE).replace('"grade_completed": 6',
                                        f'"grade_completed": {LONG_NUMBER}')

    result = check(write_cases(tmp_path, CASE, DEEP, overlong))

    assert result.exit_code == 2, result.exception
    assert "cases.jsonl line 2: not JSON that can be read (nested too deeply)" in result.stderr
    assert "cases.jsonl line 3: not JSON that can be read (a number longer than" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("question, problem", [
    (DEEP, "nested too deeply"), (LONG_NUMBER, "a number longer than 4300 digits")])
def test_explain_refuses_json_python_cannot_read_in_one_line(question: str,
                                                             problem: str) -> None:
    result = CliRunner().invoke(main, ["policy", "explain"], input=question)

    assert result.exit_code == 2, result.exception
    assert result.stderr == ("records-gateway: standard input: not JSON that can be read "
                             f"({problem})\n")


def test_a_pack_that_is_not_text_is_one_line_naming_it(tmp_path) -> None:
    pack = tmp_path / "pack.toml"
    pack.write_bytes(b"\x00\x01\xff\xfe")

    result = CliRunner().invoke(main, ["policy", "check", "--pack", str(pack),
                                       write_cases(tmp_path, CASE)])

    assert result.exit_code == 2, result.exception
    assert result.stderr == (f"records-gateway: {pack}: cannot read the policy pack "
                             "(not UTF-8 text)\n")
