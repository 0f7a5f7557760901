"""Input the command cannot use, as an administrator types it: one line on standard error
naming the file, variable or option, exit status 2, never a traceback, nothing started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner, Result

import gateway.cli
from gateway.cli import main, run


@pytest.fixture
def gateway_cli(tmp_path: Path):
    """`records-gateway ARGS` in-process, on a scratch data directory and database."""
    env = {"GATEWAY_DATA_DIR": str(tmp_path / "var"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}"}

    def invoke(*args: str, **more_env: str) -> Result:
        return CliRunner().invoke(main, list(args), env={**env, **more_env})
    return invoke


def refused(result: Result, *words: str) -> str:
    """The one line of a refusal (exit status 2), containing ``words``."""
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("records-gateway: "), result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


def usage_refused(result: Result, *words: str) -> None:
    """A usage error: click's own message (one line from the installed command, which
    leaves out click's usage block), exit status 2."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for word in words:
        assert word in result.stderr.splitlines()[-1]


@pytest.fixture
def binary_file(tmp_path: Path) -> Path:
    path = tmp_path / "binary"
    path.write_bytes(b"\x00\x01\xff\xfe")
    return path


# --- Settings ---------------------------------------------------------------------------


@pytest.mark.parametrize("content, problem", [
    ('[gateway]\ntimezone = 5\n', "[gateway] timezone: must be a string"),
    ('[gateway]\npolicy_pack = 5\n', "[gateway] policy_pack: must be a string"),
    ('[gateway]\ndistrict_name = 5\n', "[gateway] district_name: must be a string"),
    ('[gateway]\nkek = 5\n', "[gateway] kek: must be a string"),
    ('[gateway]\nsession_cookie_secure = 1\n',
     "[gateway] session_cookie_secure: must be true or false"),
    ('gateway = 5\n', "gateway: must be a table"),
    ('[gateway]\ncolour = "red"\n', "[gateway] colour: unknown setting"),
])
def test_a_settings_file_with_a_wrong_value_names_the_file_and_key(
        gateway_cli, tmp_path: Path, content: str, problem: str) -> None:
    (tmp_path / "settings.toml").write_text(content)

    result = gateway_cli("audit", "public-key", GATEWAY_CONFIG_DIR=str(tmp_path))

    refused(result, f"{tmp_path / 'settings.toml'}: {problem}")


def test_configuration_files_that_are_not_text_are_named(gateway_cli, tmp_path: Path,
                                                         binary_file: Path) -> None:
    (tmp_path / "settings.toml").write_bytes(binary_file.read_bytes())

    refused(gateway_cli("audit", "public-key", GATEWAY_CONFIG_DIR=str(tmp_path)),
            f"{tmp_path / 'settings.toml'}: not UTF-8 text")
    refused(gateway_cli("audit", "public-key",
                        GATEWAY_RECORDS_REQUESTS_CONFIG=str(binary_file)),
            f"{binary_file}: not UTF-8 text")


@pytest.mark.parametrize("variable, value", [
    ("DATABASE_URL", "postgresql://[::1"),
    ("GATEWAY_OIDC_ISSUER", "http://[::1"),
])
def test_a_url_that_does_not_parse_names_the_variable(gateway_cli, variable: str,
                                                      value: str) -> None:
    refused(gateway_cli("db", "upgrade", **{variable: value}), f"settings: {variable}: ")


@pytest.mark.parametrize("url, problem", [
    ("sqlite:", "must be a sqlite:/// or postgresql+psycopg:// URL"),
    ("postgresql+asyncpg://gateway@127.0.0.1:1/records", "asyncpg is an asyncio driver"),
    ("postgresql+psycopg2://gateway@127.0.0.1:1/records", "'psycopg2' is not installed"),
    ("sqlite://", "an in-memory SQLite database keeps nothing"),
    ("sqlite:///", "an in-memory SQLite database keeps nothing"),
    ("sqlite:///:memory:", "an in-memory SQLite database keeps nothing"),
])
@pytest.mark.parametrize("command", [
    ["db", "upgrade"], ["audit", "verify"], ["audit", "export"], ["keys", "rotate"],
    ["retention", "hold", "list"],
])
def test_a_database_url_the_gateway_cannot_keep_data_in_is_refused(
        gateway_cli, command: list[str], url: str, problem: str) -> None:
    refused(gateway_cli(*command, DATABASE_URL=url), "settings: DATABASE_URL: ", problem)


@pytest.mark.parametrize("command", [["audit", "public-key"], ["db", "upgrade"],
                                     ["keys", "rotate"], ["retention", "plan"]])
def test_a_data_directory_that_cannot_be_one_names_the_variable(
        gateway_cli, binary_file: Path, command: list[str]) -> None:
    refused(gateway_cli(*command, GATEWAY_DATA_DIR=str(binary_file)),
            f"GATEWAY_DATA_DIR: cannot make {binary_file} a directory")
    refused(gateway_cli(*command, GATEWAY_DATA_DIR=str(binary_file / "var")),
            "GATEWAY_DATA_DIR: cannot make")


# --- The database's own answer ----------------------------------------------------------


def test_a_failed_migration_says_why_without_the_password(gateway_cli) -> None:
    closed_port = "postgresql+psycopg://gateway:s3cret-pw@127.0.0.1:1/records"

    line = refused(gateway_cli("db", "upgrade", DATABASE_URL=closed_port),
                   "the migration failed: OperationalError: ", "Connection refused")

    assert "s3cret-pw" not in line


def test_a_rotation_that_cannot_open_the_database_says_why(gateway_cli) -> None:
    refused(gateway_cli("keys", "rotate", DATABASE_URL="sqlite:////nonexistent/dir/x.db"),
            "the database could not be rotated: OperationalError: unable to open database file")


# --- Options ----------------------------------------------------------------------------


def test_export_from_beyond_any_entry_is_refused(gateway_cli) -> None:
    usage_refused(gateway_cli("audit", "export", "--from", "9" * 23),
            "Invalid value for '--from'", "is not in the range")


def test_checkpointing_every_nan_seconds_is_refused(gateway_cli,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    loops: list[float] = []  # NaN seconds would make the loop spin, not wait
    monkeypatch.setattr("gateway.cli_audit._checkpoint_forever", loops.append)

    usage_refused(gateway_cli("audit", "checkpoint", "--every", "nan"),
            "Invalid value for '--every': nan is not in the range 0.05<=x<=3600")
    assert loops == []


# --- serve and demo: checked before a server starts -------------------------------------


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The binds gunicorn would have been started on (none is started)."""
    started: list[str] = []

    def start(bind: str, _env: dict[str, str], **_popen: object) -> SimpleNamespace:
        started.append(bind)
        return SimpleNamespace(wait=lambda: 0)
    monkeypatch.setattr(gateway.cli, "start_gunicorn", start)
    return started


@pytest.mark.parametrize("bind, problem", [
    ("", "'' is not HOST:PORT"),
    (":8000", "':8000' is not HOST:PORT"),
    ("garbage", "'garbage' is not HOST:PORT"),
    ("127.0.0.1:99999", "port 99999 is not in the range 1-65535"),
    ("127.0.0.1:-1", "'127.0.0.1:-1' is not HOST:PORT"),
])
def test_serve_refuses_a_bind_it_cannot_use(gateway_cli, servers: list[str], bind: str,
                                            problem: str) -> None:
    usage_refused(gateway_cli("serve", "--bind", bind), "Invalid value for '--bind'", problem)
    assert servers == []


def test_serve_checks_the_policy_pack_before_starting_workers(
        gateway_cli, servers: list[str], tmp_path: Path, binary_file: Path) -> None:
    no_pack_table = tmp_path / "pack.toml"
    no_pack_table.write_text("[clauses]\n")

    refused(gateway_cli("serve", GATEWAY_POLICY_PACK=str(no_pack_table)),
            f"{no_pack_table}: pack: a table is required")
    refused(gateway_cli("serve", GATEWAY_POLICY_PACK=str(binary_file)),
            f"{binary_file}: cannot read the policy pack (not UTF-8 text)")
    refused(gateway_cli("serve", DATABASE_URL="postgresql+asyncpg://gw@127.0.0.1:1/records"),
            "settings: DATABASE_URL: ")
    assert servers == []


def test_serve_starts_gunicorn_on_a_good_configuration(gateway_cli,
                                                       servers: list[str]) -> None:
    assert gateway_cli("serve", "--bind", "[::1]:8123").exit_code == 0
    assert servers == ["[::1]:8123"]


class FakeProvider:
    issuer = "http://127.0.0.1:9400"
    stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_demo_on_a_database_it_cannot_open_is_one_line(
        gateway_cli, servers: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    provider = FakeProvider()
    monkeypatch.setattr("gateway.identity.devidp.start_dev_provider", lambda port: provider)

    result = gateway_cli("demo", DATABASE_URL="sqlite:////nonexistent/dir/x.db")

    refused(result, "demo: the database cannot be prepared: OperationalError: "
                    "unable to open database file")
    assert provider.stopped and servers == []


def test_demo_refuses_a_port_out_of_range(gateway_cli) -> None:
    usage_refused(gateway_cli("demo", "--port", "99999"), "Invalid value for '--port'")


# --- The last resort --------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    def broken(_path: object) -> None:
        raise RuntimeError("the disk caught fire\nat line 2")
    monkeypatch.setattr(gateway.cli, "load_pack", broken)
    (tmp_path / "cases.jsonl").write_text("")
    monkeypatch.setattr(sys, "argv", ["records-gateway", "policy", "check",
                                      str(tmp_path / "cases.jsonl")])
    monkeypatch.delenv("GATEWAY_DEBUG", raising=False)

    with pytest.raises(SystemExit) as exited:
        run()

    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "records-gateway: unexpected error: RuntimeError: the disk caught fire; "
        "set GATEWAY_DEBUG=1 for the traceback\n")
    monkeypatch.setenv("GATEWAY_DEBUG", "1")
    with pytest.raises(RuntimeError, match="the disk caught fire"):
        run()


def test_the_installed_command_never_shows_a_traceback_for_bad_input(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "policy", "explain"], input="[" * 100_000,
        capture_output=True, text=True, check=False, timeout=60)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
