"""Verifying a log that is in use: appends go on while `audit verify` reads.

A verification reads the tree head first and the entries after it. Disclosures that
commit in between are the log growing, not tampering; and on SQLite a long verification
must not hold the one write lock, or every disclosure would wait for it (and fail).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest

from audit.checkpoint import generate_key
from audit.events import EventType, RecordRef, Requester
from gateway.store import log_verify, migrate
from gateway.store.access_log import LogSigner
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.db import make_engine, make_session_factory
from gateway.store.uow import UnitOfWork

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=timezone.utc)
STUDENTS = [uuid.uuid4(), uuid.uuid4()]


def disclose(uow: UnitOfWork, n: int) -> None:
    uow.access_log.append(
        EventType.DISCLOSURE, at=T0 + timedelta(seconds=n), student_id=STUDENTS[n % 2],
        requester=Requester(f"Ms. Reyes [{uuid.UUID(int=1)}]", "school_official"),
        records=[RecordRef(str(uuid.uuid4()), "health")], action="access",
        purpose="educational_interest", request_id=f"req-{n}", outcome="disclosed")


@pytest.fixture
def live_log(empty_database_url: str) -> Iterator[tuple[Callable[[], UnitOfWork], LogSigner]]:
    """A committed database with 6 entries and a checkpoint at 6, as a gateway keeps it."""
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    keys = KeyEncryptionKeys.generate("test-kek-1")
    sessions = make_session_factory(engine)
    signer = LogSigner("example/log", "example-log", generate_key())
    with UnitOfWork(sessions, keys) as uow:
        for n in range(6):
            disclose(uow, n)
        uow.access_log.checkpoint(signer, T0)
        uow.commit()
    try:
        yield (lambda: UnitOfWork(sessions, keys)), signer
    finally:
        engine.dispose()


@pytest.fixture
def appends_while_reading(monkeypatch: pytest.MonkeyPatch, live_log) -> list[int]:
    """Before the verifier reads its first page, another connection commits two
    disclosures (as a gunicorn worker would); the sizes the log had after them."""
    unit_of_work, _ = live_log
    pages = log_verify._pages
    grown: list[int] = []

    def pages_with_appends(*args, **kwargs):
        if not grown:
            with unit_of_work() as other:
                for n in (100, 101):
                    disclose(other, n)
                other.commit()
                grown.append(other.access_log.head().size)
        yield from pages(*args, **kwargs)

    monkeypatch.setattr(log_verify, "_pages", pages_with_appends)
    return grown


def test_disclosures_committed_during_verification_are_not_tampering(
        live_log, appends_while_reading) -> None:
    unit_of_work, signer = live_log
    with unit_of_work() as uow:
        uow.read_snapshot()  # as `audit verify` reads
        report = uow.access_log.verify(signer.verifier_key, batch=4)  # pages of 4

    assert appends_while_reading == [8]  # the other writer was not held up
    assert report.ok, report.summary()
    assert report.size == 6  # what the head said when the verification began


def test_verifying_from_the_checkpoint_while_disclosures_commit(
        live_log, appends_while_reading) -> None:
    unit_of_work, signer = live_log
    with unit_of_work() as uow:
        uow.read_snapshot()
        report = uow.access_log.verify(signer.verifier_key, from_checkpoint=True)

    assert appends_while_reading == [8]
    assert report.ok, report.summary()


def test_the_next_verification_reads_what_was_appended(live_log,
                                                       appends_while_reading) -> None:
    unit_of_work, signer = live_log
    with unit_of_work() as uow:
        uow.read_snapshot()
        uow.access_log.verify(signer.verifier_key)
    with unit_of_work() as uow:
        report = uow.access_log.verify(signer.verifier_key)

    assert report.ok and report.size == 8, report.summary()
