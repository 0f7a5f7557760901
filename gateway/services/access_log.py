"""Reading the access log: the custodian's searches, exports, integrity status and proofs,
and a student's Ed Code 49064 access log for those the law lets read it.

Every reading of the log is itself an entry (``access_log_view``), appended in the
reading's own transaction: if it cannot be written, nothing of the log is returned.
A custodian's search across students names no student; a reading about one student
names that student, so that it is sealed under, and destroyed with, their content key.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from audit.events import EntryError, EventType
from gateway.audit_signing import AuditKeys
from gateway.policy.decision import Decision, Outcome
from gateway.policy.engine import PolicyEngine
from gateway.policy.facts import AccessQuestion, Action, RecordType, Student
from gateway.services.access import (
    FAMILY,
    LOGGED_AS,
    OUTCOME,
    UNVERIFIED,
    Caller,
    NoVerifiedRelationship,
    RefusalOf,
    evidence_on_file,
    is_record_keeper,
    known_requester,
    log_requester,
    registered_requester,
    requester_fact,
)
from gateway.services.base import DistrictService
from gateway.store import models
from gateway.store.access_log import (
    AccessLogError,
    CheckpointRefused,
    LoggedEntry,
    OpenedEntry,
    SignedCheckpoint,
    TreeHead,
)
from gateway.store.crypto import CryptoError
from gateway.store.uow import UnitOfWork

MAX_PAGE = 500
MAX_SEQ = 2**63 - 1  # the column is a BIGINT: a larger seq names no entry
EXPORT_BATCH = 500
# A student's 49064 log skips the entries it need not list (Ed Code 49064 exemptions);
# this bounds the entries one page may read past before handing back where it stopped.
STUDENT_LOG_SCAN = 20 * MAX_PAGE
# A permitted reading of a student's log is an access_log_view; the others as a read's.
READING_LOGGED_AS = {**LOGGED_AS, Outcome.PERMIT: EventType.ACCESS_LOG_VIEW}


class AccessLogServiceError(Exception):
    """A reading of the log the service refuses, or cannot complete."""


class NotTheCustodian(AccessLogServiceError):
    """Only the custodian of records reads the whole log (5 CCR 433; Ed Code 49064)."""


class UnknownStudent(AccessLogServiceError):
    """No student with that SIS id."""


class NoSuchEntry(AccessLogServiceError):
    """No entry at that seq."""


class NotYetCheckpointed(AccessLogServiceError):
    """No signed checkpoint covers the entry yet, so there is nothing to prove it against."""


class ViewNotRecorded(AccessLogServiceError):
    """The reading could not be entered in the log, so nothing of the log is returned."""


@dataclass(frozen=True, slots=True)
class Reader:
    """Who is reading the log, per the access token, and the request's id."""

    caller: Caller
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class LogFilter:
    """What a custodian searches the log by. ``since`` inclusive, ``until`` exclusive."""

    student_sis_id: str | None = None
    requester_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    clause: str | None = None
    decision: str | None = None
    event: str | None = None  # an EventType value


@dataclass(frozen=True, slots=True)
class ShownEntry:
    """An entry as the log's reader sees it: opened where the content key still exists."""

    opened: OpenedEntry
    sis_id: str | None  # None once the district no longer holds the student
    # False: the requester's own words (purpose, stated interest) are not shown. A family
    # reads refusals without them: anyone registered can be refused, as often as they
    # like, with any text they choose, and the family reads it in the district's portal.
    requester_words: bool = True

    def as_dict(self) -> dict[str, Any]:
        logged, entry = self.opened.logged, self.opened.entry
        if entry is not None and not self.requester_words:
            entry = replace(entry, purpose=None, stated_interest=None)
        clear = logged.stored.clear
        return {
            "seq": logged.seq, "time": clear["time"], "event": logged.event.value,
            "requester_category": logged.requester_category,
            "requester_id": logged.requester_id,
            "requester": entry.requester.identity if entry and entry.requester else None,
            "student_id": logged.student_id, "sis_id": self.sis_id,
            "records": [r.as_dict() for r in entry.records] if entry else [],
            "action": clear["action"],
            "purpose": entry.purpose if entry else None,
            "stated_interest": entry.stated_interest if entry else None,
            "decision": logged.decision, "clause": logged.clause,
            "citations": list(clear["citations"]), "obligations": list(clear["obligations"]),
            "log_required": clear["log_required"], "request_id": logged.request_id,
            "policy_version": clear["policy_version"], "outcome": clear["outcome"],
            "content_destroyed": self.opened.content_destroyed,
        }


@dataclass(frozen=True, slots=True)
class LogPage:
    entries: tuple[ShownEntry, ...]
    next_after: int | None  # pass as ``after`` for the next page; None: no more


@dataclass(frozen=True, slots=True)
class IntegrityStatus:
    head: TreeHead
    checkpoint: SignedCheckpoint | None
    verification: dict[str, Any] | None  # None: no checkpoint to verify from yet


@dataclass(frozen=True, slots=True)
class StudentLog:
    """The answer to a 49064 log request: the decision, and the entries on a permit."""

    decision: Decision
    page: LogPage | None = None


class AccessLogService(DistrictService):
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], policy: PolicyEngine,
                 clock: Callable[[], datetime], zone: ZoneInfo,
                 keys: AuditKeys) -> None:
        super().__init__(unit_of_work, policy, clock, zone)
        # The verifier key checks checkpoints; the signer (if this process has one) signs
        # one on demand, for a proof.
        self._keys = keys

    # -- the custodian's API -----------------------------------------------------------

    def search(self, reader: Reader, where: LogFilter, *, after: int | None = None,
               limit: int = 100, newest_first: bool = False) -> LogPage:
        """A page of entries, opened; the search itself is entered in the log."""
        limit = max(1, min(limit, MAX_PAGE))
        with self._uow() as uow:
            custodian = _custodian(uow, reader)
            student_id = _student_id(uow, where.student_sis_id)
            found = uow.access_log.search(**_columns(where, student_id), after_seq=after,
                                          limit=limit, newest_first=newest_first)
            entries = _shown(uow, found)
            self._viewed(uow, reader, custodian, student_id, "searched")
        return LogPage(entries, found[-1].seq if len(found) == limit else None)

    def export(self, reader: Reader, where: LogFilter, render: str) -> Iterator[bytes]:
        """The entries the filter finds, opened, as CSV or JSON lines, streamed a page at a
        time. The export is entered in the log before the first byte; it holds the
        entries committed up to and including that entry."""
        with self._uow() as uow:
            custodian = _custodian(uow, reader)
            student_id = _student_id(uow, where.student_sis_id)
            stop = self._viewed(uow, reader, custodian, student_id, f"exported_{render}")
        columns = _columns(where, student_id)
        return (_csv_lines if render == "csv" else _json_lines)(self._pages(columns, stop))

    def verifiable_export(self, reader: Reader) -> Iterator[bytes]:
        """Every stored entry, as ``python -m audit.verify`` reads it, up to and including
        this export's own entry."""
        with self._uow() as uow:
            custodian = _custodian(uow, reader)
            stop = self._viewed(uow, reader, custodian, None, "exported_verifiable")

        def lines() -> Iterator[bytes]:
            with self._uow() as uow:
                yield from uow.access_log.export_lines(0, stop + 1)
        return lines()

    def integrity(self, reader: Reader) -> IntegrityStatus:
        """Tree size and root, the latest checkpoint, and the log verified from it (only
        the entries since it are read: the nightly ``audit verify`` reads them all)."""
        with self._uow() as uow:
            custodian = _custodian(uow, reader)
            log = uow.access_log
            head, checkpoint = log.head(), log.latest_checkpoint()
            verification = None
            if checkpoint is not None:
                verification = log.verify(self._keys.verifier_key, from_checkpoint=True,
                                          latest_checkpoint_only=True).as_dict()
            self._viewed(uow, reader, custodian, None, "integrity_checked")
        return IntegrityStatus(head, checkpoint, verification)

    def proof(self, reader: Reader, seq: int) -> dict[str, Any]:
        """Entry ``seq`` (sealed, as stored) and its inclusion proof against the latest
        signed checkpoint: what ``python -m audit.verify --proof`` checks."""
        with self._uow() as uow:
            custodian = _custodian(uow, reader)
            if seq > MAX_SEQ:
                raise NoSuchEntry(f"there is no entry {seq}")
            try:
                logged = uow.access_log.get(seq)
            except AccessLogError:
                raise NoSuchEntry(f"there is no entry {seq}") from None
            try:
                bundle = uow.access_log.proof_bundle(seq)
            except AccessLogError:
                raise NotYetCheckpointed(f"no checkpoint covers entry {seq} yet") from None
            self._viewed(uow, reader, custodian, logged.student_id, "proved")
        return bundle

    # -- a student's access log (Ed Code 49064) --------------------------------------

    def student_log(self, reader: Reader, sis_id: str, *, purpose: str,
                    after: int | None = None, limit: int = 100,
                    with_own_disclosures: bool = False) -> StudentLog:
        """Ask the engine (``view_access_log``); on a permit, the entries the log must list
        (those whose decision required it) with who asked, for which records, why and
        when. Whatever the decision, the request is entered in the log.

        ``with_own_disclosures``: also the reader's own disclosures, which the law does not
        require in the log (a parent's copies) but the portal shows its reader.
        """
        limit = max(1, min(limit, MAX_PAGE))
        with self._uow() as uow:
            requester, student, decision = self._may_read_student_log(uow, reader, sis_id,
                                                                      purpose)
            if student is None:  # answered as about a student the district holds; no entry
                return StudentLog(decision)
            page = None
            if decision.outcome is Outcome.PERMIT:
                page = _required_entries(uow, student.id, after, limit,
                                         also_by=requester.id if with_own_disclosures
                                         else None,
                                         for_family=requester.category in FAMILY)
            self._viewed(uow, reader, requester, student.id, OUTCOME[decision.outcome],
                         decision=decision, purpose=purpose,
                         event=READING_LOGGED_AS[decision.outcome])
        return StudentLog(decision, page)

    def student_log_proof(self, reader: Reader, sis_id: str, seq: int, *,
                          purpose: str) -> tuple[Decision, dict[str, Any] | None]:
        """For one who may read the student's log: an entry of it with its inclusion
        proof, to check offline (``python -m audit.verify --proof``)."""
        with self._uow() as uow:
            requester, student, decision = self._may_read_student_log(uow, reader, sis_id,
                                                                      purpose)
            if student is None:  # answered as about a student the district holds; no entry
                return decision, None
            bundle = None
            if decision.outcome is Outcome.PERMIT:
                try:
                    logged = uow.access_log.get(seq) if seq <= MAX_SEQ else None
                except AccessLogError:
                    logged = None
                # Only what the reader's page of the log shows: not, say, the other
                # parent's consents or the custodian's searches.
                if (logged is None or logged.student_id != student.id
                        or not _listed(logged, also_by=requester.id)):
                    raise NoSuchEntry(f"the student's log has no entry {seq}")
                bundle = self._proof_now(uow, seq)
            self._viewed(uow, reader, requester, student.id,
                         "proved" if bundle else OUTCOME[decision.outcome], decision=decision,
                         purpose=purpose, event=READING_LOGGED_AS[decision.outcome])
        return decision, bundle

    def _proof_now(self, uow: UnitOfWork, seq: int) -> dict[str, Any]:
        """The proof against the latest checkpoint, signing one now if none covers ``seq``
        (checkpoints are also signed on demand, not only on the schedule)."""
        try:
            return uow.access_log.proof_bundle(seq)
        except AccessLogError:
            signer = self._keys.signer
            if signer is None:  # this process only verifies: the checkpointer signs
                raise NotYetCheckpointed(f"no checkpoint covers entry {seq} yet") from None
        try:
            uow.access_log.checkpoint(signer, self._clock())
        except CheckpointRefused:
            # The stored log does not extend the signed one: no proof against it; the
            # custodian's integrity status and `audit verify` say what is wrong.
            raise NotYetCheckpointed(f"no checkpoint covers entry {seq}") from None
        return uow.access_log.proof_bundle(seq)

    def _may_read_student_log(self, uow: UnitOfWork, reader: Reader, sis_id: str,
                              purpose: str):
        """The requester, the student (None: no such student, for one who may not be told)
        and the engine's decision. Refusals before the engine (a withdrawn registration,
        a relationship nobody verified) about a student the district holds are entered
        in the log as denials; an unknown student is answered, to all but the custodian
        and the SIS integrations, as a student the district holds would be."""
        now = self._clock()
        today = self._today(now)
        caller = reader.caller
        requester = known_requester(uow, caller)
        student = uow.students.by_sis_id(sis_id)
        refuse = RefusalOf(self._policy, uow, requester, now, Action.VIEW_ACCESS_LOG,
                           purpose, request_id=reader.request_id)
        refuse.unless_active(student)
        if student is None:
            if is_record_keeper(requester, caller.scopes):
                raise UnknownStudent("no student with that SIS id")
            if requester.category in FAMILY:
                raise NoVerifiedRelationship("no verified relationship to this student")
            # The rules for anyone else do not turn on the student: ask about none.
            decision = self._policy.decide(AccessQuestion(
                requester=requester.as_fact(), student=Student(),
                action=Action.VIEW_ACCESS_LOG, record_type=RecordType.ACCESS_LOG,
                purpose=purpose, evidence=evidence_on_file(
                    uow, requester.id, None, RecordType.ACCESS_LOG, now, today)), today)
            if decision.outcome is Outcome.PERMIT:  # one who may read logs may be told
                raise UnknownStudent("no student with that SIS id")
            return requester, None, decision
        try:
            who = requester_fact(uow, requester, student.id)
        except NoVerifiedRelationship as exc:
            refuse(student, self._policy.refusal("unrecognized_request", UNVERIFIED), exc)
        decision = self._policy.decide(AccessQuestion(
            requester=who, student=student.as_fact(), action=Action.VIEW_ACCESS_LOG,
            record_type=RecordType.ACCESS_LOG, purpose=purpose,
            evidence=evidence_on_file(uow, requester.id, student.id,
                                      RecordType.ACCESS_LOG, now, today)), today)
        return requester, student, decision

    # -- shared ------------------------------------------------------------------------

    def _viewed(self, uow: UnitOfWork, reader: Reader, requester: models.Requester,
                student_id: uuid.UUID | None, outcome: str, *,
                decision: Decision | None = None, purpose: str = "records_administration",
                event: EventType = EventType.ACCESS_LOG_VIEW) -> int:
        """Enter this reading in the log and commit it with the reading; its seq."""
        try:
            stored = uow.access_log.append(
                event, at=self._clock(), student_id=student_id,
                requester=log_requester(requester),
                action=Action.VIEW_ACCESS_LOG.value, purpose=purpose, decision=decision,
                request_id=reader.request_id, policy_version=self._policy.pack.version,
                outcome=outcome)
            uow.commit()
        except (SQLAlchemyError, EntryError, CryptoError) as exc:
            # Fail closed: a reading of the log that cannot be logged does not happen.
            raise ViewNotRecorded("the reading of the log could not be recorded") from exc
        return stored.seq

    def _pages(self, columns: dict[str, Any], stop: int) -> Iterator[ShownEntry]:
        # Keyset pages, each its own short transaction: bounded memory, no long cursor.
        after = None
        while True:
            with self._uow() as uow:
                uow.read_snapshot()
                found = [e for e in uow.access_log.search(**columns, after_seq=after,
                                                          limit=EXPORT_BATCH) if e.seq <= stop]
                shown = _shown(uow, found)
            yield from shown
            if len(found) < EXPORT_BATCH:
                return
            after = found[-1].seq


def _custodian(uow: UnitOfWork, reader: Reader) -> models.Requester:
    requester = registered_requester(uow, reader.caller)
    if not requester.is_custodian:
        raise NotTheCustodian("only the custodian of records reads the whole access log")
    return requester


def _student_id(uow: UnitOfWork, sis_id: str | None) -> uuid.UUID | None:
    if sis_id is None:
        return None
    student = uow.students.by_sis_id(sis_id)
    if student is None:
        raise UnknownStudent("no student with that SIS id")
    return student.id


def _columns(where: LogFilter, student_id: uuid.UUID | None) -> dict[str, Any]:
    return {"student_id": student_id, "requester_id": where.requester_id,
            "since": where.since, "until": where.until, "clause": where.clause,
            "decision": where.decision, "event": where.event}


def _shown(uow: UnitOfWork, found: list[LoggedEntry],
           for_family: bool = False) -> tuple[ShownEntry, ...]:
    """The entries opened; ``for_family``: refusals without the requester's words."""
    sis_ids = uow.students.sis_ids(e.student_id for e in found if e.student_id is not None)
    return tuple(ShownEntry(opened, sis_ids.get(opened.logged.student_id),
                            requester_words=not (for_family and
                                                 opened.logged.event is EventType.DENIAL))
                 for opened in uow.access_log.open(found))


def _listed(entry: LoggedEntry, also_by: uuid.UUID | None) -> bool:
    """Whether the student's 49064 log lists the entry (or, with ``also_by``, it is that
    requester's own disclosure, which the portal shows its reader)."""
    return entry.log_required or (also_by is not None and entry.requester_id == also_by
                                  and entry.event is EventType.DISCLOSURE)


def _required_entries(uow: UnitOfWork, student_id: uuid.UUID, after: int | None,
                      limit: int, also_by: uuid.UUID | None = None,
                      for_family: bool = False) -> LogPage:
    """A page of the entries the student's 49064 log lists (and, with ``also_by``, that
    requester's own disclosures), shown as ``_shown`` shows them; reads at most
    STUDENT_LOG_SCAN entries past ``after`` and says where it stopped."""
    kept: list[LoggedEntry] = []
    last, scanned = after, 0
    while scanned < STUDENT_LOG_SCAN:
        found = uow.access_log.search(student_id=student_id, after_seq=last, limit=MAX_PAGE)
        for entry in found:
            last, scanned = entry.seq, scanned + 1
            if _listed(entry, also_by):
                kept.append(entry)
                if len(kept) == limit:
                    return LogPage(_shown(uow, kept, for_family), last)
        if len(found) < MAX_PAGE:
            return LogPage(_shown(uow, kept, for_family), None)
    return LogPage(_shown(uow, kept, for_family), last)


# --- Exports ------------------------------------------------------------------------

CSV_COLUMNS = ("seq", "time", "event", "requester_category", "requester_id", "requester",
               "sis_id", "student_id", "records", "action", "purpose", "stated_interest",
               "decision", "clause", "citations", "obligations", "log_required",
               "request_id", "policy_version", "outcome", "content_destroyed")
# A cell a spreadsheet would run as a formula (OWASP CSV injection) is quoted with '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = ";".join(f"{v['type']}:{v['id']}" if isinstance(v, dict) else str(v)
                         for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_lines(entries: Iterator[ShownEntry]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(row: Any) -> bytes:
        writer.writerow(row)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode("utf-8")

    yield line(CSV_COLUMNS)
    for entry in entries:
        shown = entry.as_dict()
        yield line(_cell(shown[name]) for name in CSV_COLUMNS)


def _json_lines(entries: Iterator[ShownEntry]) -> Iterator[bytes]:
    for entry in entries:
        yield json.dumps(entry.as_dict(), default=str, separators=(",", ":")).encode() + b"\n"
