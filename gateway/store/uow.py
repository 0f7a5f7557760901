"""The unit of work: one transaction, the repositories that work in it, an explicit commit.

Nothing is written unless ``commit()`` is called; leaving the block without it, or on
an exception, rolls back. A service therefore cannot half-do an action: the record,
its disclosure entry and the obligations it brings are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session

from gateway.store.access_log import AccessLogRepository
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.db import READ_SNAPSHOT
from gateway.store.records_requests import ChallengeRepository, RecordsRequestRepository
from gateway.store.repositories import (
    AgreementRepository,
    ConsentRepository,
    EmergencyRepository,
    GuardianshipRepository,
    JudicialOrderRepository,
    ObligationRepository,
    ReadFactsRepository,
    RecordRepository,
    RequesterRepository,
    StudentRepository,
)
from gateway.store.retention import RetentionRepository  # retention (issue 5)


class UnitOfWork:
    """``with UnitOfWork(sessions, keys) as uow: ...; uow.commit()``."""

    students: StudentRepository
    requesters: RequesterRepository
    guardianships: GuardianshipRepository
    agreements: AgreementRepository
    consents: ConsentRepository
    judicial_orders: JudicialOrderRepository  # court orders and subpoenas (Ed Code 49077)
    emergencies: EmergencyRepository  # the district's emergency determinations (99.36)
    records: RecordRepository
    obligations: ObligationRepository
    read_facts: ReadFactsRepository  # an audited read's facts in one query
    access_log: AccessLogRepository  # the tamper-evident access log (issue 4)
    retention: RetentionRepository  # retention (issue 5)
    records_requests: RecordsRequestRepository  # Ed Code 49069
    challenges: ChallengeRepository  # Ed Code 49070

    def __init__(self, session_factory: Callable[[], Session],
                 keys: KeyEncryptionKeys) -> None:
        self._session_factory = session_factory
        self._keys = keys
        self._session: Session | None = None
        self._snapshot = False

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its 'with' block")
        return self._session

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("a unit of work is not re-entrant")
        session = self._session_factory()
        session.begin()
        self._session = session
        self.students = StudentRepository(session)
        self.requesters = RequesterRepository(session)
        self.guardianships = GuardianshipRepository(session)
        self.agreements = AgreementRepository(session)
        self.consents = ConsentRepository(session)
        self.judicial_orders = JudicialOrderRepository(session)
        self.emergencies = EmergencyRepository(session)
        self.records = RecordRepository(session, self._keys)
        self.obligations = ObligationRepository(session)
        self.read_facts = ReadFactsRepository(session)
        self.access_log = AccessLogRepository(session, self._keys)
        self.retention = RetentionRepository(session)  # retention (issue 5)
        self.records_requests = RecordsRequestRepository(session)
        self.challenges = ChallengeRepository(session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        session, self._session = self.session, None
        self._snapshot = False
        try:
            if exc_type is not None:
                session.rollback()
        finally:
            # Closing rolls back whatever was not committed and detaches the objects
            # without expiring them, so rows read in the block stay readable after it.
            session.close()

    def read_snapshot(self) -> None:
        """Read without holding up writers until ``start_writing()``; call first.

        For a unit of work that only reads (a page, a queue, an export), and for a read
        that ends in a write (an audited read: its facts, then its access-log entry).
        SQLite begins every other transaction IMMEDIATE, holding the one write lock while
        it reads; this reads a snapshot instead, and takes the lock only to write.
        PostgreSQL reads committed data whatever this says.
        """
        self.session.connection(execution_options={READ_SNAPSHOT: True})
        self._snapshot = True

    def start_writing(self) -> None:
        """End the read snapshot (if any) and go on in a transaction that may write.

        What was read stays readable. On SQLite this is a new transaction: whatever the
        writes depend on must be read again in it (or locked, on PostgreSQL, where the
        transaction goes on) if a change in between would matter.
        """
        if self._snapshot:
            self._snapshot = False
            if self.session.get_bind().dialect.name == "sqlite":
                self.session.commit()  # nothing was written: this only ends the snapshot
                self.session.begin()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
