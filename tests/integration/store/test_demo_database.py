"""The demo's database set-up (shared by `records-gateway demo` and bench/http_reads.py)."""

from __future__ import annotations

from pathlib import Path

from gateway.cli import prepare_demo_database
from gateway.settings import load_settings


def test_the_demo_database_is_migrated_seeded_and_can_be_prepared_again(
        empty_database_url: str, tmp_path: Path) -> None:
    settings = load_settings(environ={}, overrides={
        "database_url": empty_database_url, "oidc_issuer": "http://127.0.0.1:9400",
        "data_dir": tmp_path / "var"})

    first = prepare_demo_database(settings)
    again = prepare_demo_database(settings)

    assert first.records and again.records == first.records
    assert {sis for sis, _kind, _id in first.records} == {"SIS-1001", "SIS-1002", "SIS-1003"}
    assert (tmp_path / "var" / "development-kek.txt").is_file()
