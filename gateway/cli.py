"""The ``records-gateway`` command."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import NoReturn

import click

from gateway.policy.decision import Decision
from gateway.policy.engine import PolicyEngine
from gateway.policy.pack import PolicyPack, PolicyPackError, load_pack
from gateway.policy.wire import Case, WireError, case_from_wire, parse_date, question_from_wire

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_PACK = REPOSITORY / "config" / "policy" / "ar5125-2013.toml"


def fail(message: str, status: int = 2) -> NoReturn:
    """One line on standard error and a non-zero exit: never a traceback."""
    click.echo(f"records-gateway: {message}", err=True)
    sys.exit(status)


def _pack(path: str) -> PolicyPack:
    try:
        return load_pack(path)
    except PolicyPackError as exc:
        fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """records-gateway: AR 5125 decisions, a tamper-evident access log and retention
    schedules in front of a district's student records."""


@main.group()
def policy() -> None:
    """Ask the AR 5125 engine."""


pack_option = click.option(
    "--pack", "pack_path", envvar="GATEWAY_POLICY_PACK", default=str(DEFAULT_PACK),
    show_default=True, help="The district's policy pack (TOML).",
)


def _read_cases(source: click.utils.LazyFile, name: str) -> list[Case]:
    cases, problems = [], []
    try:
        lines = list(source)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{name}: cannot be read ({exc})")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            cases.append(case_from_wire(json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.append(f"{name} line {number}: not JSON ({exc.msg} at column {exc.colno})")
        except WireError as exc:
            problems.append(f"{name} line {number}: {exc}")
    if problems:
        for problem in problems[:-1]:
            click.echo(f"records-gateway: {problem}", err=True)
        fail(problems[-1])
    return cases


@policy.command("check")
@click.argument("cases_file", type=click.File("r", encoding="utf-8", lazy=True))
@pack_option
def policy_check(cases_file: click.utils.LazyFile, pack_path: str) -> None:
    """Decide every case of a JSON Lines file and compare with its `expect`.

    Prints one JSON object a line, then `N passed, M failed`. Exit status 1 if any
    case disagrees with its expectation, 2 if the input cannot be read.
    """
    try:
        cases = _read_cases(cases_file, cases_file.name)
    except click.FileError as exc:
        fail(f"{exc.filename}: cannot be opened ({exc.message})")
    engine = PolicyEngine(_pack(pack_path))
    passed = failed = unchecked = 0
    for case in cases:
        decision = engine.decide(case.question, case.as_of)
        click.echo(json.dumps({"id": case.id, **decision.as_dict()}))
        if case.expect is None:
            unchecked += 1
            continue
        mismatches = case.expect.mismatches(decision)
        if mismatches:
            failed += 1
            click.echo(f"FAIL {case.id}: " + "; ".join(mismatches), err=True)
        else:
            passed += 1
    summary = f"{passed} passed, {failed} failed"
    click.echo(summary + (f", {unchecked} skipped" if unchecked else ""))
    sys.exit(1 if failed else 0)


@policy.command("explain")
@pack_option
@click.option("--as-of", "as_of", help="The date of the question (default: the question's "
              "`as_of`, else today).")
def policy_explain(pack_path: str, as_of: str | None) -> None:
    """Explain the decision for one question (JSON on standard input)."""
    text = sys.stdin.read()
    try:
        data = json.loads(text)
        question = question_from_wire(data)
        when = as_of or data.get("as_of")
        day = parse_date(when, "as_of") if when is not None else date.today()
    except json.JSONDecodeError as exc:
        fail(f"standard input: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
    except WireError as exc:
        fail(f"standard input: {exc}")
    pack = _pack(pack_path)
    decision = PolicyEngine(pack).decide(question, day)
    click.echo(explain(decision, pack, day))


def explain(decision: Decision, pack: PolicyPack, day: date) -> str:
    clause = pack.clauses[decision.clause]
    lines = [
        f"{decision.outcome.value.upper()}: {decision.reason}",
        f"  Clause:      {clause.id} ({clause.section}): {clause.title}",
        f"  Citations:   {'; '.join(decision.citations) or 'none'}",
        f"  Decided on:  {day.isoformat()} under {pack.title}, {pack.district} "
        f"(pack {pack.version})",
    ]
    for req in decision.requires:
        lines.append(f"  Still needs: {req.description}")
    for ob in decision.obligations:
        lines.append(f"  Duty:        {ob.description}")
    log = "required" if decision.log_required else "not required"
    lines.append(f"  Access log:  an Ed Code 49064 entry is {log}")
    if not decision.discloses:
        lines.append("  Nothing is disclosed.")
    return "\n".join(lines)


def run() -> None:
    """Entry point: usage errors are one line too, never click's usage block."""
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Abort:
        fail("interrupted", 130)
    except click.ClickException as exc:
        fail(exc.format_message(), exc.exit_code or 2)


if __name__ == "__main__":  # pragma: no cover
    run()
