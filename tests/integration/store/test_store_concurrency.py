"""Two workers reading then writing at once, as concurrent audited reads do."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from audit.events import EventType, RecordRef, Requester
from gateway.policy.facts import RecordType
from gateway.services.consents import ConsentService
from gateway.store import migrate
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.db import make_engine, make_session_factory
from gateway.store.errors import RecordDestroyed
from gateway.store.models import Student
from gateway.store.uow import UnitOfWork


def test_concurrent_read_then_write_transactions_all_commit(empty_database_url: str) -> None:
    # Each transaction reads, then writes (the facts, then the disclosure): on SQLite a
    # deferred BEGIN made the second writer fail at once with "database is locked".
    setup = make_engine(empty_database_url)
    try:
        with setup.begin() as conn:
            conn.execute(text("CREATE TABLE reads (worker INTEGER, seen INTEGER)"))
    finally:
        setup.dispose()
    per_worker, errors = 100, []

    def worker(number: int) -> None:
        engine = make_engine(empty_database_url)
        try:
            for _ in range(per_worker):
                with engine.begin() as conn:
                    seen = conn.execute(text("SELECT count(*) FROM reads")).scalar_one()
                    conn.execute(text("INSERT INTO reads VALUES (:w, :s)"),
                                 {"w": number, "s": seen})
        except Exception as exc:  # noqa: BLE001 - reported below, with its kind
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    check = make_engine(empty_database_url)
    try:
        with check.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM reads")).scalar_one() == 2 * per_worker
    finally:
        check.dispose()


def test_two_first_entries_about_a_student_at_once_make_one_content_key(
        empty_database_url: str) -> None:
    # The second append reads the head (waiting for its lock) while the first has made
    # the student's content key but not committed it. On PostgreSQL the second used to
    # miss that key, make another, and fail its commit (a 503 under two workers).
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    sessions = make_session_factory(engine)
    keys = KeyEncryptionKeys.generate("test-1")
    student = uuid.uuid4()
    appended, go_on, errors = threading.Event(), threading.Event(), []

    def append(uow: UnitOfWork, minute: int) -> None:
        uow.access_log.append(
            EventType.DISCLOSURE, at=datetime(2026, 3, 2, 17, minute, tzinfo=timezone.utc),
            student_id=student, requester=Requester("Ms. Reyes [1]", "school_official"),
            records=[RecordRef(str(uuid.uuid4()), "health")], outcome="disclosed")

    def first() -> None:
        try:
            with UnitOfWork(sessions, keys) as uow:
                append(uow, 0)
                appended.set()
                go_on.wait(30)
                uow.commit()
        except Exception as exc:  # noqa: BLE001 - reported below, with its kind
            errors.append(f"first: {type(exc).__name__}: {exc}")
        finally:
            appended.set()

    def second() -> None:
        try:
            with UnitOfWork(sessions, keys) as uow:
                append(uow, 1)
                uow.commit()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"second: {type(exc).__name__}: {exc}")

    try:
        one = threading.Thread(target=first)
        one.start()
        assert appended.wait(30)
        two = threading.Thread(target=second)
        two.start()
        two.join(0.5)  # let it reach the head's lock (SQLite: its BEGIN) before the commit
        go_on.set()
        for thread in (one, two):
            thread.join(timeout=60)
        assert not one.is_alive() and not two.is_alive()
        assert errors == []
        with UnitOfWork(sessions, keys) as uow:
            opened = uow.access_log.open(uow.access_log.search(student_id=student))
            assert [o.logged.seq for o in opened if o.entry is not None] == [0, 1]
            assert uow.session.execute(text(
                "SELECT count(*) FROM access_log_content_keys")).scalar_one() == 1
    finally:
        go_on.set()
        engine.dispose()


@pytest.fixture
def store(empty_database_url: str) -> Iterator[tuple[Any, KeyEncryptionKeys]]:
    """(sessions, keys) of a migrated database, on engines of their own."""
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        yield make_session_factory(engine), KeyEncryptionKeys.generate("test-1")
    finally:
        engine.dispose()


def _student_with_a_record(sessions, keys: KeyEncryptionKeys) -> tuple[Student, uuid.UUID]:
    with UnitOfWork(sessions, keys) as uow:
        student = uow.students.add(Student(sis_id="SIS-7001", birth_date=date(2012, 4, 1)))
        record = uow.records.add(
            student_id=student.id, record_type=RecordType.HEALTH, content=b"Asthma plan.",
            media_type="text/plain", school_year_of_origin=2025, originator="Nurse Ito")
        uow.commit()
    return student, record.id


def test_an_audited_read_reads_and_decides_while_another_transaction_writes(store) -> None:
    # SQLite begins transactions IMMEDIATE; a read snapshot must not queue behind a writer.
    sessions, keys = store
    _student_with_a_record(sessions, keys)
    read, errors = threading.Event(), []

    def reader() -> None:
        try:
            with UnitOfWork(sessions, keys) as uow:
                uow.read_snapshot()
                assert uow.students.by_sis_id("SIS-7001") is not None
                read.set()
        except Exception as exc:  # noqa: BLE001 - reported below, with its kind
            errors.append(f"{type(exc).__name__}: {exc}")

    with UnitOfWork(sessions, keys) as writer:
        writer.students.add(Student(sis_id="SIS-7002"))
        writer.session.flush()  # the write lock is held from here to the commit
        thread = threading.Thread(target=reader)
        thread.start()
        assert read.wait(3), "the read snapshot waited for the writer"
        writer.commit()
    thread.join(timeout=30)
    assert errors == []


def test_a_page_that_only_reads_does_not_wait_for_a_writer(store, engine) -> None:
    # The services' read-only units of work (portal pages, queues, exports) read snapshots.
    sessions, keys = store
    consents = ConsentService(lambda: UnitOfWork(sessions, keys), engine,
                              lambda: datetime.now(timezone.utc), ZoneInfo("UTC"))
    listed, errors = threading.Event(), []

    def page() -> None:
        try:
            consents.recipients()
            listed.set()
        except Exception as exc:  # noqa: BLE001 - reported below, with its kind
            errors.append(f"{type(exc).__name__}: {exc}")

    with UnitOfWork(sessions, keys) as writer:
        writer.students.add(Student(sis_id="SIS-7003"))
        writer.session.flush()
        thread = threading.Thread(target=page)
        thread.start()
        assert listed.wait(3), "the page waited for the writer"
        writer.commit()
    thread.join(timeout=30)
    assert errors == []


def test_a_record_destroyed_between_decision_and_logging_is_not_disclosed(store) -> None:
    sessions, keys = store
    _student, record_id = _student_with_a_record(sessions, keys)
    with UnitOfWork(sessions, keys) as reading:
        reading.read_snapshot()
        assert reading.records.read(record_id).content == b"Asthma plan."
        with UnitOfWork(sessions, keys) as retention:
            retention.records.shred(record_id)
            retention.commit()
        reading.start_writing()
        with pytest.raises(RecordDestroyed):
            reading.records.hold_for_disclosure(record_id)


def test_a_destruction_waits_for_a_disclosure_being_logged(store) -> None:
    sessions, keys = store
    errors: list[str] = []

    def destroy() -> None:
        try:
            with UnitOfWork(sessions, keys) as retention:
                retention.records.shred(record_id)
                retention.commit()
        except Exception as exc:  # noqa: BLE001 - reported below, with its kind
            errors.append(f"{type(exc).__name__}: {exc}")

    _student, record_id = _student_with_a_record(sessions, keys)
    with UnitOfWork(sessions, keys) as disclosing:
        disclosing.read_snapshot()
        disclosing.records.read(record_id)
        disclosing.start_writing()
        disclosing.records.hold_for_disclosure(record_id)
        thread = threading.Thread(target=destroy)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "the record was destroyed while being disclosed"
        disclosing.commit()
    thread.join(timeout=30)
    assert errors == []
    with UnitOfWork(sessions, keys) as uow:
        assert uow.records.get(record_id).destroyed_at is not None
