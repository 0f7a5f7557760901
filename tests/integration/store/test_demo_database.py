"""The demo's database set-up (shared by `records-gateway demo` and bench/http_reads.py)."""

from __future__ import annotations

from pathlib import Path

from gateway.cli import prepare_demo_database
from gateway.settings import load_settings
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.db import make_engine, make_session_factory
from gateway.store.uow import UnitOfWork


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


def test_the_demo_database_is_prepared_again_for_the_provider_on_another_port(
        empty_database_url: str, tmp_path: Path) -> None:
    def prepare(issuer: str):
        return prepare_demo_database(load_settings(environ={}, overrides={
            "database_url": empty_database_url, "oidc_issuer": issuer,
            "data_dir": tmp_path / "var"}))

    first = prepare("http://127.0.0.1:9400")
    again = prepare("http://127.0.0.1:19402")

    assert again.records == first.records
    engine = make_engine(empty_database_url)
    try:
        with UnitOfWork(make_session_factory(engine), KeyEncryptionKeys.generate("k")) as uow:
            parent = uow.requesters.by_subject("http://127.0.0.1:19402", "parent.johnson")
            maya = uow.students.by_sis_id("SIS-1001")
            assert parent is not None and uow.guardianships.find(parent.id, maya.id)
            assert uow.requesters.by_subject("http://127.0.0.1:9400", "parent.johnson") is None
            graduate = uow.requesters.of_student(uow.students.by_sis_id("SIS-1003").id)
            assert graduate.issuer == "http://127.0.0.1:19402"
    finally:
        engine.dispose()
