"""The ``records-gateway`` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

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


class _NotJSON(ValueError):
    pass


def _json(text: str, where: str) -> Any:
    """``json.loads(text)``; _NotJSON for text that is not JSON or that Python cannot take
    in (nested too deeply, a number over its digit limit). ``where``: e.g. "line {lineno}
    column {colno}", filled from the JSONDecodeError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        position = where.format(lineno=exc.lineno, colno=exc.colno)
        raise _NotJSON(f"not JSON ({exc.msg} at {position})") from None
    except RecursionError:
        raise _NotJSON("not JSON that can be read (nested too deeply)") from None
    except ValueError:  # the only other: an integer longer than int() accepts
        raise _NotJSON("not JSON that can be read (a number longer than "
                       f"{sys.get_int_max_str_digits()} digits)") from None


def _pack(path: str | Path) -> PolicyPack:
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
            cases.append(case_from_wire(_json(line, "column {colno}")))
        except (_NotJSON, WireError) as exc:
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
        data = _json(text, "line {lineno} column {colno}")
        question = question_from_wire(data)
        when = as_of or data.get("as_of")
        day = parse_date(when, "as_of") if when is not None else date.today()
    except (_NotJSON, WireError) as exc:
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
    except Exception as exc:  # a case the commands do not handle yet: still one line
        if os.environ.get("GATEWAY_DEBUG"):
            raise
        fail(f"unexpected error: {_one_line(exc)}; set GATEWAY_DEBUG=1 for the traceback", 1)


def _one_line(exc: BaseException, cause: BaseException | None = None) -> str:
    """``Type: the message's first line`` (the first line of ``cause``'s, if given)."""
    lines = str(cause or exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def database_problem(exc: BaseException, url: str) -> str:
    """The error and the driver's own first line ("unable to open database file",
    "Connection refused"), with the URL's password, if the message repeats it, masked."""
    from sqlalchemy.engine import make_url

    # The driver's error alone: SQLAlchemy's message adds the statement and a link.
    line = _one_line(exc, getattr(exc, "orig", None))
    password = make_url(url).password  # the URL parsed in the settings check
    return line.replace(password, "***") if password else line


def _settings(**overrides: object):
    from gateway.settings import SettingsError, load_settings

    try:
        return load_settings(overrides=overrides)
    except SettingsError as exc:
        fail(f"settings: {exc}")


def _data_dir(settings) -> Path:
    from gateway.settings import SettingsError, make_data_dir

    try:
        return make_data_dir(settings)
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
    _data_dir(settings)
    try:
        migrate.upgrade(settings.database_url)
    except Exception as exc:  # alembic and drivers raise many kinds; one line for all
        fail(f"the migration failed: {database_problem(exc, settings.database_url)}")
    click.echo(f"database at revision {migrate.current(settings.database_url)}")


# --- keys (issue 3): rotating the key-encryption key ----------------------------------


@main.group()
def keys() -> None:
    """The key-encryption keys that wrap every record's data key."""


@keys.command("rotate")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Data keys re-wrapped per transaction.")
def keys_rotate(batch_size: int) -> None:
    """Re-wrap every record's data key under the active key-encryption key.

    Add the new key to the key file (the last one listed is active) or GATEWAY_KEK, keeping
    the old ones, and run this; content is never decrypted or rewritten. A run that stops
    can be run again. Once no record is left under an old key, remove it from the file.
    Exit status 1 while records remain under an old key (e.g. rows locked by a writer).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.app import key_encryption_keys
    from gateway.settings import SettingsError
    from gateway.store.crypto import CryptoError
    from gateway.store.db import make_engine, make_session_factory
    from gateway.store.rotation import rotate_data_keys

    settings = _settings()
    try:
        kek = key_encryption_keys(settings)
    except (CryptoError, SettingsError) as exc:
        fail(f"keys: {exc}")
    engine = make_engine(settings.database_url)
    try:
        report = rotate_data_keys(make_session_factory(engine), kek, batch_size=batch_size)
    except CryptoError as exc:  # an old key no longer listed: its data keys cannot be opened
        fail(f"keys: {exc}; keep every old key listed until the rotation has finished")
    except SQLAlchemyError as exc:
        fail("the database could not be rotated: "
             f"{database_problem(exc, settings.database_url)}")
    finally:
        engine.dispose()
    click.echo(f"re-wrapped {report.rewrapped} data key(s) under {report.active_kek_id} "
               f"in {report.batches} batch(es)")
    for kek_id, count in sorted(report.remaining.items()):
        click.echo(f"  {kek_id}: {count} record(s)")
    if not report.finished:
        fail("records remain under an old key; run the rotation again", 1)


def start_gunicorn(bind: str, env: dict[str, str], **popen: Any) -> subprocess.Popen[bytes]:
    """gunicorn with deploy/gunicorn.conf.py serving the gateway on ``bind``; ``popen``
    goes to subprocess.Popen (the load benchmark sends the output to a file)."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return subprocess.Popen(
        [str(gunicorn), "-c", str(REPOSITORY / "deploy" / "gunicorn.conf.py"), "--bind", bind,
         "gateway:create_app()"], env=env, **popen)


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


class _Bind(click.ParamType):
    """HOST:PORT ([IPv6]:PORT) or unix:PATH. gunicorn would take an empty host for every
    interface, and retry a port it cannot bind five times before a traceback."""

    name = "HOST:PORT"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        if value.startswith("unix:") and value[len("unix:"):].strip():
            return value
        host, _, port = value.rpartition(":")
        bracketed = host.startswith("[") and host.endswith("]")
        if not host.strip("[] ") or (":" in host and not bracketed) or not port.isdigit():
            self.fail(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:8000)", param, ctx)
        if not 1 <= int(port) <= 65535:
            self.fail(f"port {port} is not in the range 1-65535", param, ctx)
        return value


def _check_workers(settings) -> None:
    """Load what every worker loads at start (gateway.app.create_app), once, here: a
    worker that cannot start prints a traceback, and gunicorn gives up with status 3."""
    from gateway.app import key_encryption_keys
    from gateway.audit_signing import SigningKeyError, audit_keys
    from gateway.settings import SettingsError
    from gateway.store.crypto import CryptoError
    from gateway.workers import ServerSettingError, server_settings

    _pack(settings.policy_pack)
    try:
        key_encryption_keys(settings)
        audit_keys(settings)
    except (CryptoError, SigningKeyError, SettingsError) as exc:
        fail(f"settings: {exc}")
    try:
        server_settings(os.environ)  # what deploy/gunicorn.conf.py reads
    except ServerSettingError as exc:
        fail(f"settings: {exc}")


@main.command("serve")
@click.option("--bind", default="127.0.0.1:8000", show_default=True, type=_Bind())
def serve(bind: str) -> None:
    """Serve the gateway with gunicorn (deploy/gunicorn.conf.py)."""
    _check_workers(_settings())  # the database URL and its driver: in the settings check
    sys.exit(_wait(start_gunicorn(bind, dict(os.environ))))


@main.command("demo")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="The gateway's port.")
@click.option("--idp-port", default=9400, show_default=True,
              help="The development OpenID provider's port.")
def demo(port: int, idp_port: int) -> None:
    """Run the gateway on its embedded default: SQLite, the development OpenID provider
    and sample data, all on 127.0.0.1."""
    from gateway.identity.devidp import DevProviderError, start_dev_provider

    try:
        provider = start_dev_provider(port=idp_port)
    except DevProviderError as exc:
        fail(str(exc))
    try:
        settings = _settings(oidc_issuer=provider.issuer)
        _check_workers(settings)
        try:
            seeded = prepare_demo_database(settings)
        except Exception as exc:  # migrations, drivers, the seed: one line for all
            fail(f"demo: the database cannot be prepared: "
                 f"{database_problem(exc, settings.database_url)}")
        _print_demo(port, provider.issuer, seeded)
        _print_portal(port)
        env = {**os.environ, "GATEWAY_OIDC_ISSUER": provider.issuer,
               "GATEWAY_DATABASE_URL": settings.database_url,
               "GATEWAY_LOG_FORMAT": "console", **DEMO_PORTAL_CLIENT}
        status = _wait(start_gunicorn(f"127.0.0.1:{port}", env))
    finally:
        provider.stop()
    sys.exit(status)


def prepare_demo_database(settings):
    """Migrate the settings' database and seed the sample data for the settings' issuer
    (idempotent); also used by bench/http_reads.py. Returns ``gateway.demo.Seeded``."""
    from gateway.app import key_encryption_keys
    from gateway.demo import seed
    from gateway.settings import make_data_dir
    from gateway.store import migrate
    from gateway.store.db import make_engine, make_session_factory
    from gateway.store.uow import UnitOfWork

    make_data_dir(settings)
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with UnitOfWork(make_session_factory(engine), key_encryption_keys(settings)) as uow:
            return seed(uow, settings.oidc_issuer)
    finally:
        engine.dispose()


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
""")  # noqa: E501 (a shell line to copy whole)


# --- The portal and console in the demo (issue 6) ---
# The development provider's web client (deploy/dev-idp/dev-config.json), whose one
# registered redirect URI is http://127.0.0.1:8000/auth/callback.
DEMO_PORTAL_CLIENT = {"GATEWAY_OIDC_CLIENT_ID": "records-gateway-web",
                      "GATEWAY_OIDC_CLIENT_SECRET": "dev-secret-records-gateway-web"}
DEMO_PORTAL_PORT = 8000


def _print_portal(port: int) -> None:
    site = f"http://127.0.0.1:{port}"
    click.echo(f"""Parent portal and custodian's console, in a browser (English or Spanish):

  {site}/            Sign in; at the provider's page type a login, any password.
    parent.johnson     a parent: SIS-1001 (under 18) and SIS-1003 (rights passed at 18);
                       asks for copies at {site}/students, downloads them at {site}/requests
    parent.okafor      a parent without legal custody of SIS-1001
    parent.rivera      a parent the custodian has not verified yet
    student.johnson    SIS-1003, a graduate over 18: the rights are the student's own
    custodian.garcia   the custodian of records: {site}/console/ verifies parent.rivera,
                       {site}/console/requests fulfils or denies requests for records;
                       challenges, duties, retention and the access log under {site}/console/
  {site}/notice      the annual notice of rights (Ed Code 49063)
""")
    if port != DEMO_PORTAL_PORT:
        click.echo(f"  Sign-in needs --port {DEMO_PORTAL_PORT}: the provider only knows "
                   f"http://127.0.0.1:{DEMO_PORTAL_PORT}/auth/callback.\n")



# --- Retention (issue 5): the `retention` group lives in gateway/cli_retention.py ---
from gateway.cli_retention import retention as _retention_group  # noqa: E402

main.add_command(_retention_group)


# --- Access log (issue 4): the `audit` group lives in gateway/cli_audit.py ---
from gateway.cli_audit import audit as _audit_group  # noqa: E402

main.add_command(_audit_group)


if __name__ == "__main__":  # pragma: no cover
    run()
