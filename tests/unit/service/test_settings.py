"""Settings are read once, checked, and a bad one stops start-up with its name."""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, load_settings

GOOD_PRODUCTION = {
    "GATEWAY_ENVIRONMENT": "production",
    "GATEWAY_OIDC_ISSUER": "https://login.district.example",
    "GATEWAY_KEY_FILE": "/etc/records-gateway/kek.json",
    "GATEWAY_SECRET_KEY": "x" * 40,
    "DATABASE_URL": "postgresql+psycopg://gateway@db/records",
    "GATEWAY_AUDIT_SIGNING_KEY_FILE": "/etc/records-gateway/audit-signing-key",
}


def test_defaults_give_an_embedded_sqlite_database(tmp_path) -> None:
    s = load_settings({"GATEWAY_DATA_DIR": str(tmp_path)})

    assert s.database_url == f"sqlite:///{tmp_path / 'gateway.db'}"
    assert s.environment == "development"


def test_environment_overrides_the_settings_file(tmp_path) -> None:
    (tmp_path / "settings.toml").write_text('[gateway]\ntimezone = "America/New_York"\n'
                                            'log_format = "console"\n')
    (tmp_path / "policy").mkdir()

    s = load_settings({"GATEWAY_CONFIG_DIR": str(tmp_path),
                       "GATEWAY_POLICY_PACK": "config/policy/ar5125-2013.toml",
                       "GATEWAY_LOG_FORMAT": "json"})

    assert (s.timezone, s.log_format) == ("America/New_York", "json")


def test_production_settings_are_accepted() -> None:
    assert load_settings(GOOD_PRODUCTION).environment == "production"


def test_a_production_web_tier_may_hold_only_the_logs_verifier_key() -> None:
    web_tier = {**GOOD_PRODUCTION, "GATEWAY_AUDIT_SIGNING_KEY_FILE": "",
                "GATEWAY_AUDIT_VERIFIER_KEY_FILE": "/etc/records-gateway/audit-verifier-key"}

    settings = load_settings(web_tier)

    assert settings.audit_signing_key_file is None
    assert str(settings.audit_verifier_key_file) == "/etc/records-gateway/audit-verifier-key"


@pytest.mark.parametrize(("change", "named"), [
    ({"GATEWAY_OIDC_ISSUER": "http://login.district.example"}, "GATEWAY_OIDC_ISSUER"),
    ({"GATEWAY_KEY_FILE": ""}, "GATEWAY_KEY_FILE"),
    ({"GATEWAY_SECRET_KEY": "short"}, "GATEWAY_SECRET_KEY"),
    ({"DATABASE_URL": "mysql://db/records"}, "DATABASE_URL"),
    ({"GATEWAY_TIMEZONE": "Mars/Olympus_Mons"}, "GATEWAY_TIMEZONE"),
    ({"GATEWAY_POLICY_PACK": "/nonexistent.toml"}, "GATEWAY_POLICY_PACK"),
    ({"GATEWAY_LOG_FORMAT": "xml"}, "GATEWAY_LOG_FORMAT"),
    ({"GATEWAY_ENVIRONMENT": "staging"}, "GATEWAY_ENVIRONMENT"),
    ({"GATEWAY_KEK": "AAAA"}, "GATEWAY_KEK"),
    ({"GATEWAY_AUDIT_SIGNING_KEY_FILE": ""}, "GATEWAY_AUDIT_SIGNING_KEY_FILE"),
    ({"GATEWAY_AUDIT_ORIGIN": "two\nlines"}, "GATEWAY_AUDIT_ORIGIN"),
])
def test_a_bad_setting_is_refused_by_name(change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=f"^{named}: "):
        load_settings({**GOOD_PRODUCTION, **change})


def test_secrets_never_appear_in_the_repr() -> None:
    s = load_settings({**GOOD_PRODUCTION, "GATEWAY_KEY_FILE": "", "GATEWAY_KEK": "c2VjcmV0"})

    assert "c2VjcmV0" not in repr(s)
    assert "x" * 40 not in repr(s)
