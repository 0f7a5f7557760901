"""Student records in the database: sealed at rest, 5 CCR 431, rotation, destruction."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import Connection, MetaData, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.policy.facts import RecordCategory, RecordType
from gateway.store.crypto import ContentIntegrityError, KeyEncryptionKeys, KeyUnavailable
from gateway.store.errors import RecordDestroyed, RecordRefused
from gateway.store.models import Student, StudentRecord
from gateway.store.rotation import rotate_data_keys
from gateway.store.uow import UnitOfWork

PLAINTEXT = b"Psychoeducational assessment: reading fluency 38 wcpm; recommend RSP services."


def add_record(uow: UnitOfWork, student: Student, content: bytes = PLAINTEXT,
               record_type: RecordType = RecordType.SPECIAL_EDUCATION) -> StudentRecord:
    return uow.records.add(student_id=student.id, record_type=record_type, content=content,
                           media_type="text/plain", school_year_of_origin=2024,
                           originator="School psychologist", originated_on=date(2024, 11, 4),
                           signed_by_originator=True)


def every_stored_byte(connection: Connection) -> bytes:
    """Every value of every table, as bytes: what someone with the database file has."""
    metadata = MetaData()
    metadata.reflect(connection)
    dump = bytearray()
    for table in metadata.sorted_tables:
        for row in connection.execute(select(table)):
            for value in row:
                dump += value if isinstance(value, bytes) else str(value).encode()
    return bytes(dump)


def test_the_database_never_holds_the_plaintext(
        unit_of_work: Callable[[], UnitOfWork], connection: Connection,
        student: Student) -> None:
    with unit_of_work() as uow:
        record = add_record(uow, student)
        uow.commit()
    stored = every_stored_byte(connection)
    assert PLAINTEXT not in stored and b"reading fluency" not in stored
    with unit_of_work() as uow:
        opened = uow.records.read(record.id)
    assert opened.content == PLAINTEXT and opened.media_type == "text/plain"
    assert "reading fluency" not in repr(opened)


def test_content_tampered_with_in_the_database_does_not_open(
        unit_of_work: Callable[[], UnitOfWork], db_session: Session,
        student: Student) -> None:
    with unit_of_work() as uow:
        record = add_record(uow, student)
        uow.commit()
    stored = db_session.get(StudentRecord, record.id)
    assert stored is not None and stored.ciphertext is not None
    flipped = bytes([stored.ciphertext[0] ^ 0x80]) + stored.ciphertext[1:]
    db_session.execute(update(StudentRecord).where(StudentRecord.id == record.id)
                       .values(ciphertext=flipped))
    db_session.commit()
    with unit_of_work() as uow, pytest.raises(ContentIntegrityError) as failed:
        uow.records.read(record.id)
    assert "reading" not in str(failed.value)


def test_content_relabelled_or_moved_to_another_row_does_not_open(
        unit_of_work: Callable[[], UnitOfWork], db_session: Session,
        student: Student) -> None:
    with unit_of_work() as uow:
        secret = add_record(uow, student)
        decoy = add_record(uow, student, b"Directory: grade 4", RecordType.PROGRESS_NOTICE)
        uow.commit()
    # Relabelled as directory information (which is not a student record): refused.
    db_session.execute(update(StudentRecord).where(StudentRecord.id == secret.id)
                       .values(record_type=RecordType.DIRECTORY_INFORMATION,
                               category=RecordCategory.NOT_A_STUDENT_RECORD))
    # The sealed content and key copied into another row: refused.
    db_session.execute(update(StudentRecord).where(StudentRecord.id == decoy.id).values(
        ciphertext=secret.ciphertext, nonce=secret.nonce, wrapped_key=secret.wrapped_key,
        record_type=RecordType.SPECIAL_EDUCATION, category=RecordCategory.MANDATORY_INTERIM))
    db_session.commit()
    for record_id in (secret.id, decoy.id):
        with unit_of_work() as uow, pytest.raises(ContentIntegrityError):
            uow.records.read(record_id)


@pytest.mark.parametrize("record_type, flagged", [
    (RecordType.BEHAVIORAL_REPORT, False),  # anecdotal by nature
    (RecordType.COUNSELOR_TEACHER_RATING, False),  # an assessment by nature
    (RecordType.SPECIAL_EDUCATION, True),  # an assessment report, as the caller says
])
@pytest.mark.parametrize("dated, signed", [(False, True), (True, False), (False, False)])
def test_5_ccr_431_undated_or_unsigned_anecdotal_or_assessment_is_refused(
        unit_of_work: Callable[[], UnitOfWork], connection: Connection, student: Student,
        record_type: RecordType, flagged: bool, dated: bool, signed: bool) -> None:
    with unit_of_work() as uow, pytest.raises(RecordRefused) as refused:
        uow.records.add(student_id=student.id, record_type=record_type, content=b"notes",
                        media_type="text/plain", school_year_of_origin=2025,
                        originator="Counselor", anecdotal_or_assessment=flagged,
                        originated_on=date(2025, 1, 9) if dated else None,
                        signed_by_originator=signed)
    assert refused.value.citation == "5 CCR 431"
    assert ("the originator's date" in refused.value.missing) is not dated
    assert ("the originator's signature" in refused.value.missing) is not signed
    assert connection.execute(text("SELECT count(*) FROM student_records")).scalar() == 0


def test_5_ccr_431_a_dated_and_signed_report_is_kept(
        unit_of_work: Callable[[], UnitOfWork], student: Student) -> None:
    with unit_of_work() as uow:
        record = uow.records.add(student_id=student.id, record_type=RecordType.BEHAVIORAL_REPORT,
                                 content=b"observed on the playground", media_type="text/plain",
                                 school_year_of_origin=2025, originator="Yard supervisor",
                                 originated_on=date(2025, 1, 9), signed_by_originator=True)
        uow.commit()
    assert record.anecdotal_or_assessment and record.category is RecordCategory.PERMITTED


def test_an_ordinary_record_needs_no_originator_signature(
        unit_of_work: Callable[[], UnitOfWork], student: Student) -> None:
    with unit_of_work() as uow:
        record = uow.records.add(student_id=student.id, record_type=RecordType.IMMUNIZATION,
                                 content=b"DTaP x5", media_type="text/plain",
                                 school_year_of_origin=2019, originator="Enrollment office")
        uow.commit()
    assert not record.anecdotal_or_assessment and record.originated_on is None


def test_rotation_rewraps_every_data_key_in_batches_and_the_old_kek_retires(
        session_factory: sessionmaker[Session], keys: KeyEncryptionKeys,
        student: Student) -> None:
    with UnitOfWork(session_factory, keys) as uow:
        records = [add_record(uow, student, b"record %d" % n) for n in range(7)]
        shredded = add_record(uow, student, b"to be destroyed")
        uow.records.shred(shredded.id)
        uow.commit()
    before = {r.id: bytes(r.ciphertext or b"") for r in records}
    rotated = keys.with_active("test-kek-2", os.urandom(32))

    first = rotate_data_keys(session_factory, rotated, batch_size=3, max_batches=1)
    assert (first.rewrapped, first.batches, first.finished) == (3, 1, False)
    assert first.remaining == {"test-kek-1": 4, "test-kek-2": 3}

    rest = rotate_data_keys(session_factory, rotated, batch_size=3)  # resumes
    assert (rest.rewrapped, rest.finished) == (4, True)
    assert rest.remaining == {"test-kek-2": 7}

    retired = rotated.retire("test-kek-1")
    with UnitOfWork(session_factory, retired) as uow:
        for n, record in enumerate(records):
            stored = uow.records.get(record.id)
            assert stored.kek_id == "test-kek-2"
            assert stored.ciphertext == before[record.id]  # content untouched
            assert uow.records.read(record.id).content == b"record %d" % n
        assert uow.records.get(shredded.id).kek_id is None  # tombstones have no key
        assert uow.records.data_keys_by_kek() == {"test-kek-2": 7}
    again = rotate_data_keys(session_factory, retired)
    assert (again.rewrapped, again.finished) == (0, True)


def test_a_record_under_a_retired_kek_cannot_be_read(
        session_factory: sessionmaker[Session], keys: KeyEncryptionKeys,
        student: Student) -> None:
    with UnitOfWork(session_factory, keys) as uow:
        record = add_record(uow, student)
        uow.commit()
    retired = keys.with_active("test-kek-2", os.urandom(32)).retire("test-kek-1")
    with UnitOfWork(session_factory, retired) as uow, pytest.raises(KeyUnavailable):
        uow.records.read(record.id)
    with pytest.raises(KeyUnavailable):  # nor rotated without the old key
        rotate_data_keys(session_factory, retired)


def test_a_shredded_record_is_a_tombstone_that_cannot_be_decrypted(
        unit_of_work: Callable[[], UnitOfWork], connection: Connection,
        student: Student) -> None:
    with unit_of_work() as uow:
        record = add_record(uow, student)
        uow.commit()
    sealed = (record.ciphertext, record.nonce, record.wrapped_key)
    destroyed_at = datetime(2028, 7, 1, 9, 0, tzinfo=timezone.utc)
    with unit_of_work() as uow:
        uow.records.shred(record.id, at=destroyed_at)
        uow.commit()
    with unit_of_work() as uow:
        tombstone = uow.records.get(record.id)
        assert tombstone.destroyed and tombstone.destroyed_at == destroyed_at
        assert (tombstone.ciphertext, tombstone.nonce, tombstone.wrapped_key,
                tombstone.kek_id) == (None, None, None, None)
        assert (tombstone.record_type, tombstone.school_year_of_origin) == (
            RecordType.SPECIAL_EDUCATION, 2024)  # what was destroyed stays known
        with pytest.raises(RecordDestroyed):
            uow.records.read(record.id)
        assert uow.records.of_student(student.id) == []
        assert [r.id for r in uow.records.of_student(student.id, include_destroyed=True)] == [
            record.id]
        uow.records.shred(record.id)  # again: nothing changes
        assert uow.records.get(record.id).destroyed_at == destroyed_at
    stored = every_stored_byte(connection)
    assert all(part not in stored for part in sealed if part)


def test_reading_a_record_that_does_not_exist(unit_of_work: Callable[[], UnitOfWork]) -> None:
    from gateway.store.errors import NotFound
    missing = uuid.uuid4()
    with unit_of_work() as uow, pytest.raises(NotFound, match=str(missing)):
        uow.records.read(missing)
