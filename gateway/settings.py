"""Settings: read once at start-up from config/settings.toml, then GATEWAY_* variables.

Nothing else in the gateway reads the environment (but for GATEWAY_DEBUG, which the
command's entry point reads to show a traceback). A bad value stops start-up with a
message naming the setting.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.records_requests.config import RequestsConfigError, load_requests_config
from gateway.store.db import usable_database_url

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = REPOSITORY / "config"
ENVIRONMENTS = ("development", "test", "production")
LOG_FORMATS = ("json", "console")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    environment: str = "development"
    database_url: str = ""
    oidc_issuer: str = ""
    oidc_audience: str = "records-gateway"
    policy_pack: Path = DEFAULT_CONFIG_DIR / "policy" / "ar5125-2013.toml"
    config_dir: Path = DEFAULT_CONFIG_DIR
    # The key-encryption key: a key file, or its value in GATEWAY_KEK (never both).
    key_file: Path | None = None
    kek: str | None = None
    log_format: str = "json"
    # "Today" for the regulation is the district's local date.
    timezone: str = "America/Los_Angeles"
    secret_key: str | None = None
    data_dir: Path = REPOSITORY / "var"
    # The access log (issue 4): the name its checkpoints carry, and the Ed25519 key that
    # signs them (a signed-note signer key file, PRIVATE+KEY+<name>+<id>+<key>).
    audit_origin: str = "localhost/records-gateway/access-log"
    audit_signing_key_file: Path | None = None
    # Its public half alone (<name>+<id>+<key>), for a web tier that verifies checkpoints
    # and proves entries but signs nothing: the checkpointer (deploy/audit) signs.
    audit_verifier_key_file: Path | None = None
    # Where the checkpointer keeps the last checkpoint it signed, outside the database: it
    # signs only trees that extend it. Unset: audit-last-checkpoint in the data directory.
    audit_checkpoint_file: Path | None = None
    # The portal's OpenID client (authorization code + PKCE); no client id: no portal login.
    oidc_client_id: str = ""
    oidc_client_secret: str | None = None
    # Session cookies carry Secure behind TLS; unset: only in production.
    session_cookie_secure: bool | None = None
    # The district's calendar of closures and its charge for copies (Ed Code 49065, 49069).
    requests_config_file: Path = DEFAULT_CONFIG_DIR / "records-requests.toml"
    # The district's name, as copies of records and notices carry it.
    district_name: str = "Example Unified School District"

    def __repr__(self) -> str:  # keys and secrets never reach a log line
        shown = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.name not in ("kek", "secret_key", "oidc_client_secret")}
        return f"Settings({shown})"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def kept_checkpoint_file(self) -> Path:
        """Where the checkpointer keeps the last checkpoint it signed."""
        return self.audit_checkpoint_file or self.data_dir / "audit-last-checkpoint"

    @property
    def secure_cookies(self) -> bool:
        if self.session_cookie_secure is None:
            return self.environment == "production"
        return self.session_cookie_secure


# Environment variable -> setting. DATABASE_URL is the conventional name for the database.
_ENV = {
    "GATEWAY_ENVIRONMENT": "environment",
    "DATABASE_URL": "database_url",
    "GATEWAY_DATABASE_URL": "database_url",
    "GATEWAY_OIDC_ISSUER": "oidc_issuer",
    "GATEWAY_OIDC_AUDIENCE": "oidc_audience",
    "GATEWAY_POLICY_PACK": "policy_pack",
    "GATEWAY_KEY_FILE": "key_file",
    "GATEWAY_KEK": "kek",
    "GATEWAY_LOG_FORMAT": "log_format",
    "GATEWAY_TIMEZONE": "timezone",
    "GATEWAY_SECRET_KEY": "secret_key",
    "GATEWAY_DATA_DIR": "data_dir",
    "GATEWAY_AUDIT_ORIGIN": "audit_origin",
    "GATEWAY_AUDIT_SIGNING_KEY_FILE": "audit_signing_key_file",
    "GATEWAY_AUDIT_VERIFIER_KEY_FILE": "audit_verifier_key_file",
    "GATEWAY_AUDIT_CHECKPOINT_FILE": "audit_checkpoint_file",
    "GATEWAY_OIDC_CLIENT_ID": "oidc_client_id",
    "GATEWAY_OIDC_CLIENT_SECRET": "oidc_client_secret",
    "GATEWAY_SESSION_COOKIE_SECURE": "session_cookie_secure",
    "GATEWAY_DISTRICT_NAME": "district_name",
    "GATEWAY_RECORDS_REQUESTS_CONFIG": "requests_config_file",
}
_PATHS = {"policy_pack", "requests_config_file", "config_dir", "key_file", "data_dir",
          "audit_signing_key_file", "audit_verifier_key_file", "audit_checkpoint_file"}
_BOOLS = {"session_cookie_secure": "GATEWAY_SESSION_COOKIE_SECURE"}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def load_settings(environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults, then config/settings.toml, then the environment, then ``overrides``."""
    environ = os.environ if environ is None else environ
    config_dir = Path(environ.get("GATEWAY_CONFIG_DIR", DEFAULT_CONFIG_DIR))
    values: dict[str, Any] = {"config_dir": config_dir}
    values.update(_read_file(config_dir / "settings.toml"))
    for var, name in _ENV.items():
        if environ.get(var):
            values[name] = environ[var]
    values.update(overrides or {})
    unknown = set(values) - {f.name for f in fields(Settings)}
    if unknown:
        raise SettingsError(f"unknown setting {sorted(unknown)[0]!r}")
    for name in _PATHS & set(values):
        if values[name] is not None:
            values[name] = Path(values[name])
    for name in _BOOLS.keys() & set(values):
        values[name] = _boolean(values[name], _BOOLS[name])
    settings = Settings(**values)
    if not settings.database_url:
        settings = replace(settings, database_url=f"sqlite:///{settings.data_dir / 'gateway.db'}")
    check(settings)
    return settings


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: not UTF-8 text") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: {exc}") from None
    section = data.get("gateway", {})
    if not isinstance(section, dict):
        raise SettingsError(f"{path}: gateway: must be a table ([gateway])")
    known = {f.name for f in fields(Settings)}
    for key, value in section.items():
        # The environment gives strings; so must the file (a boolean where one is meant),
        # or the value fails later, far from the file, as a TypeError.
        if key not in known:
            raise SettingsError(f"{path}: [gateway] {key}: unknown setting")
        if key in _BOOLS and not isinstance(value, (bool, str)):
            raise SettingsError(f"{path}: [gateway] {key}: must be true or false")
        if key not in _BOOLS and not isinstance(value, str):
            raise SettingsError(f"{path}: [gateway] {key}: must be a string")
    return section


def _boolean(value: Any, variable: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise SettingsError(f"{variable}: must be true or false")


def check(s: Settings) -> None:
    def bad(setting: str, problem: str) -> SettingsError:
        return SettingsError(f"{setting}: {problem}")

    if s.environment not in ENVIRONMENTS:
        raise bad("GATEWAY_ENVIRONMENT", f"must be one of {', '.join(ENVIRONMENTS)}")
    if s.log_format not in LOG_FORMATS:
        raise bad("GATEWAY_LOG_FORMAT", f"must be one of {', '.join(LOG_FORMATS)}")
    try:  # parsed and its driver imported here, not in every worker or command
        usable_database_url(s.database_url)
    except ValueError as exc:
        raise bad("DATABASE_URL", str(exc)) from None
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad("GATEWAY_TIMEZONE", f"{s.timezone!r} is not a time zone") from None
    if not s.policy_pack.is_file():
        raise bad("GATEWAY_POLICY_PACK", f"{s.policy_pack} is not a file")
    if s.key_file is not None and s.kek is not None:
        raise bad("GATEWAY_KEK", "give the key-encryption key as a file or a value, not both")
    try:  # the district's calendar and copy charges: refused here, not at a first request
        load_requests_config(s.requests_config_file)
    except RequestsConfigError as exc:
        raise SettingsError(str(exc)) from None
    if not s.district_name.strip() or any(c < " " for c in s.district_name):
        raise bad("GATEWAY_DISTRICT_NAME", "must be the district's name on one line")
    if not s.audit_origin.strip() or any(c < " " for c in s.audit_origin):
        raise bad("GATEWAY_AUDIT_ORIGIN", "one line naming the log, e.g. "
                  "records.example-usd.k12.ca.us/access-log")
    if s.oidc_issuer and _scheme(s.oidc_issuer) not in ("http", "https"):
        raise bad("GATEWAY_OIDC_ISSUER", "must be an http(s) URL")
    if s.oidc_client_id and not s.oidc_client_secret:
        raise bad("GATEWAY_OIDC_CLIENT_SECRET", "the portal's OpenID client needs its secret")
    if s.environment == "production":
        if _scheme(s.oidc_issuer) != "https":
            raise bad("GATEWAY_OIDC_ISSUER", "production needs the issuer's https URL")
        if s.key_file is None and s.kek is None:
            raise bad("GATEWAY_KEY_FILE", "production needs a key-encryption key")
        if not s.secret_key or len(s.secret_key) < 32:
            raise bad("GATEWAY_SECRET_KEY", "production needs a random secret of 32+ characters")
        if s.audit_signing_key_file is None and s.audit_verifier_key_file is None:
            raise bad("GATEWAY_AUDIT_SIGNING_KEY_FILE", "production needs the access log's "
                      "checkpoint signing key (or, for a web tier that signs nothing, "
                      "GATEWAY_AUDIT_VERIFIER_KEY_FILE)")


def _scheme(url: str) -> str | None:
    try:
        return urlsplit(url).scheme
    except ValueError:  # e.g. an unclosed IPv6 bracket: not a URL at all
        return None


def make_data_dir(settings: Settings) -> Path:
    """The data directory, made if need be: where the gateway keeps what it makes itself
    (development keys and secret, the default SQLite database)."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"GATEWAY_DATA_DIR: cannot make {settings.data_dir} a directory "
                            f"({exc.strerror})") from None
    return settings.data_dir
