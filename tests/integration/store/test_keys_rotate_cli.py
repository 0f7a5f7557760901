"""`records-gateway keys rotate`: the custodian adds a key-encryption key and re-wraps.

On a fresh database of each backend (the command commits for real, so not the shared
one): records sealed under the old key are re-wrapped under the new one, and then open
with the new key alone, so the old key can be retired.
"""

from __future__ import annotations

import base64
import os
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.policy.facts import RecordType
from gateway.store import migrate, models
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.db import make_engine, make_session_factory
from gateway.store.uow import UnitOfWork


def key_line(kek_id: str) -> str:
    return f"{kek_id}:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture
def sealed_under_the_old_key(empty_database_url: str, tmp_path: Path):
    """Three records sealed under KEK 2025-01; the key file lists only that key."""
    migrate.upgrade(empty_database_url)
    old = key_line("2025-01")
    key_file = tmp_path / "kek.txt"
    key_file.write_text(old + "\n")
    engine = make_engine(empty_database_url)
    try:
        with UnitOfWork(make_session_factory(engine), KeyEncryptionKeys.parse(old)) as uow:
            student = uow.students.add(models.Student(sis_id="SIS-7001"))
            ids = [uow.records.add(student_id=student.id, record_type=RecordType.HEALTH,
                                   content=f"screening {n}".encode(), media_type="text/plain",
                                   school_year_of_origin=2025, originator="Nurse",
                                   originated_on=date(2025, 9, 1)).id for n in range(3)]
            uow.commit()
    finally:
        engine.dispose()
    return empty_database_url, key_file, old, ids


def rotate(database_url: str, key_file: Path, tmp_path: Path, *args: str):
    return CliRunner().invoke(main, ["keys", "rotate", *args], env={
        "GATEWAY_DATABASE_URL": database_url, "GATEWAY_KEY_FILE": str(key_file),
        "GATEWAY_KEK": None, "GATEWAY_DATA_DIR": str(tmp_path)})


def test_rotating_rewraps_every_record_under_the_new_key(sealed_under_the_old_key,
                                                         tmp_path: Path) -> None:
    database_url, key_file, old, ids = sealed_under_the_old_key
    new = key_line("2026-01")
    key_file.write_text(f"{old}\n{new}\n")  # the last key listed is the active one

    result = rotate(database_url, key_file, tmp_path, "--batch-size", "2")

    assert result.exit_code == 0, result.output
    assert "re-wrapped 3 data key(s) under 2026-01 in 2 batch(es)" in result.output
    engine = make_engine(database_url)
    try:  # the old key can go: the new one alone opens every record
        with UnitOfWork(make_session_factory(engine), KeyEncryptionKeys.parse(new)) as uow:
            assert uow.records.data_keys_by_kek() == {"2026-01": 3}
            assert sorted(uow.records.read(i).content for i in ids) == [
                b"screening 0", b"screening 1", b"screening 2"]
    finally:
        engine.dispose()


def test_rotating_again_has_nothing_to_do(sealed_under_the_old_key, tmp_path: Path) -> None:
    database_url, key_file, _old, _ids = sealed_under_the_old_key

    result = rotate(database_url, key_file, tmp_path)

    assert result.exit_code == 0, result.output
    assert "re-wrapped 0 data key(s) under 2025-01" in result.output


def test_an_old_key_dropped_too_soon_stops_the_rotation_in_one_line(
        sealed_under_the_old_key, tmp_path: Path) -> None:
    database_url, key_file, _old, _ids = sealed_under_the_old_key
    key_file.write_text(key_line("2026-01") + "\n")

    result = rotate(database_url, key_file, tmp_path)

    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "2025-01" in line and "keep every old key listed" in line
    assert "Traceback" not in result.output
