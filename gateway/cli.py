"""The ``records-gateway`` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
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


def _settings(**overrides: object):
    from gateway.settings import SettingsError, load_settings

    try:
        return load_settings(overrides=overrides)
    except SettingsError as exc:
        fail(f"settings: {exc}")


@main.group()
def db() -> None:
    """The gateway's database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (DATABASE_URL; SQLite by default)."""
    from gateway.store import migrate

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate.upgrade(settings.database_url)
    except Exception as exc:  # alembic and drivers raise many kinds; one line for all
        fail(f"the migration failed: {type(exc).__name__}")
    click.echo(f"database at revision {migrate.current(settings.database_url)}")


def _gunicorn(bind: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return subprocess.Popen(
        [str(gunicorn), "-c", str(REPOSITORY / "deploy" / "gunicorn.conf.py"), "--bind", bind,
         "gateway:create_app()"], env=env)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _wait(process: subprocess.Popen[bytes]) -> int:
    """Wait for the server; on Ctrl-C or SIGTERM stop it before returning."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait(timeout=30)


@main.command("serve")
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
def serve(bind: str) -> None:
    """Serve the gateway with gunicorn (deploy/gunicorn.conf.py)."""
    _settings()  # fail here, in one line, rather than in every worker
    sys.exit(_wait(_gunicorn(bind, dict(os.environ))))


@main.command("demo")
@click.option("--port", default=8000, show_default=True, help="The gateway's port.")
@click.option("--idp-port", default=9400, show_default=True,
              help="The development OpenID provider's port.")
def demo(port: int, idp_port: int) -> None:
    """Run the gateway on its embedded default: SQLite, the development OpenID provider
    and sample data, all on 127.0.0.1."""
    from gateway.demo import seed
    from gateway.identity.devidp import DevProviderError, start_dev_provider
    from gateway.store import migrate
    from gateway.store.db import make_engine, make_session_factory
    from gateway.store.uow import UnitOfWork

    try:
        provider = start_dev_provider(port=idp_port)
    except DevProviderError as exc:
        fail(str(exc))
    try:
        settings = _settings(oidc_issuer=provider.issuer)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrate.upgrade(settings.database_url)
        from gateway.app import key_encryption_keys

        engine = make_engine(settings.database_url)
        with UnitOfWork(make_session_factory(engine), key_encryption_keys(settings)) as uow:
            seeded = seed(uow, provider.issuer)
        engine.dispose()
        _print_demo(port, provider.issuer, seeded)
        env = {**os.environ, "GATEWAY_OIDC_ISSUER": provider.issuer,
               "GATEWAY_DATABASE_URL": settings.database_url,
               "GATEWAY_LOG_FORMAT": "console"}
        status = _wait(_gunicorn(f"127.0.0.1:{port}", env))
    finally:
        provider.stop()
    sys.exit(status)


def _print_demo(port: int, issuer: str, seeded) -> None:
    api = f"http://127.0.0.1:{port}"
    sis_id, record_type, record_id = seeded.records[0]
    click.echo(f"""
records-gateway demo
  API:              {api}   (reference: {api}/docs, {api}/openapi.json)
  OpenID provider:  {issuer}

Sample records ({len(seeded.records)}):""")
    for sis, kind, rid in seeded.records:
        click.echo(f"  {sis}  {kind:<22} {rid}")
    click.echo(f"""
Read one as the Aeries SIS integration (a school official stating its interest):

  TOKEN=$(curl -s -u sis-aeries:dev-secret-sis-aeries -d grant_type=client_credentials \\
          -d scope=records:read {issuer}/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" \\
    '{api}/v1/students/{sis_id}/records/{record_id}?purpose=educational_interest&legitimate_educational_interest=teaches+English+6'

Without the interest the same read is refused (403, with the clause and its citations).
Stop with Ctrl-C.
""")


if __name__ == "__main__":  # pragma: no cover
    run()
