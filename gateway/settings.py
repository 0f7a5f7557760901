"""Settings: read once at start-up from config/settings.toml, then GATEWAY_* variables.

Nothing else in the gateway reads the environment. A bad value stops start-up with a
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

    def __repr__(self) -> str:  # keys and secrets never reach a log line
        shown = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.name not in ("kek", "secret_key")}
        return f"Settings({shown})"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


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
}
_PATHS = {"policy_pack", "config_dir", "key_file", "data_dir"}


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
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: {exc}") from None
    return data.get("gateway", {})


def check(s: Settings) -> None:
    def bad(setting: str, problem: str) -> SettingsError:
        return SettingsError(f"{setting}: {problem}")

    if s.environment not in ENVIRONMENTS:
        raise bad("GATEWAY_ENVIRONMENT", f"must be one of {', '.join(ENVIRONMENTS)}")
    if s.log_format not in LOG_FORMATS:
        raise bad("GATEWAY_LOG_FORMAT", f"must be one of {', '.join(LOG_FORMATS)}")
    scheme = urlsplit(s.database_url).scheme.split("+")[0]
    if scheme not in ("sqlite", "postgresql"):
        raise bad("DATABASE_URL", "must be a sqlite:/// or postgresql+psycopg:// URL")
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad("GATEWAY_TIMEZONE", f"{s.timezone!r} is not a time zone") from None
    if not s.policy_pack.is_file():
        raise bad("GATEWAY_POLICY_PACK", f"{s.policy_pack} is not a file")
    if s.key_file is not None and s.kek is not None:
        raise bad("GATEWAY_KEK", "give the key-encryption key as a file or a value, not both")
    if s.oidc_issuer and urlsplit(s.oidc_issuer).scheme not in ("http", "https"):
        raise bad("GATEWAY_OIDC_ISSUER", "must be an http(s) URL")
    if s.environment == "production":
        if urlsplit(s.oidc_issuer).scheme != "https":
            raise bad("GATEWAY_OIDC_ISSUER", "production needs the issuer's https URL")
        if s.key_file is None and s.kek is None:
            raise bad("GATEWAY_KEY_FILE", "production needs a key-encryption key")
        if not s.secret_key or len(s.secret_key) < 32:
            raise bad("GATEWAY_SECRET_KEY", "production needs a random secret of 32+ characters")
