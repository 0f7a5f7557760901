"""Keeping students' records: enrolment, imports, parents and guardians, new records.

Who may write (fail closed, see docs/api.md): the custodian of records (5 CCR 433), and a
registered school official whose access token carries the ``records:write`` scope, which
the district's provider grants to its SIS integrations and to no person. A teacher is a
school official too, but has no such token, so reads through the engine and writes
nothing here. Every other category is refused whatever its token says.

Each action is one unit of work: it is written whole, or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from audit.events import EntryError, EventType, RecordRef
from gateway.policy.decision import Decision, Outcome
from gateway.policy.facts import (
    AccessQuestion,
    Action,
    Evidence,
    ParentType,
    Purpose,
    RecordType,
    RequesterCategory,
)
from gateway.services.access import (
    Caller,
    DisclosureNotRecorded,
    NoVerifiedRelationship,
    RefusalOf,
    is_record_keeper,
    known_requester,
    log_requester,
    registered_requester,
    requester_fact,
)
from gateway.services.base import DistrictService, Refused
from gateway.store import models
from gateway.store.crypto import CryptoError
from gateway.store.errors import ImportRejected, NotFound
from gateway.store.uow import UnitOfWork

MAX_IMPORT_ROWS = 10_000


class EnrolmentError(Exception):
    """A write the service refuses, or cannot complete."""


class NotARecordKeeper(EnrolmentError):
    """A registered requester who may not write students' records."""


class UnknownStudent(EnrolmentError):
    """No student with that SIS id."""


class CustodianOnly(EnrolmentError):
    """Only the custodian of records may do this (verify a parent's relationship)."""


class RelationshipConflict(EnrolmentError):
    """The parent's subject is registered with the gateway under another category."""


class UnknownRecipient(EnrolmentError):
    """The party a court order or subpoena names is not registered with the gateway."""


class UnknownJudicialOrder(EnrolmentError):
    """No court order or subpoena with that id."""


class JudicialOrderRefused(EnrolmentError):
    """A court order or subpoena as entered cannot be true (e.g. served in the future)."""


class EmergencyRefused(EnrolmentError):
    """An emergency determination as entered cannot be true (it ends before today)."""


class AdditionRefused(Refused, EnrolmentError):
    """The AR 5125 engine did not permit the addition; nothing was written."""


class NothingWritten(EnrolmentError):
    """The write could not be committed; nothing of it was kept."""


class TooManyRows(EnrolmentError):
    pass


class InvalidStudent(EnrolmentError):
    """A student the store refuses, by field (the SIS id of the path, most often)."""

    def __init__(self, problems: Mapping[str, list[str]]) -> None:
        super().__init__("the student is refused: " + ", ".join(problems))
        self.problems = dict(problems)


# The outcome of a listing of a student's records in its access-log entry.
DIRECTORY_LISTED = "listed"
DIRECTORY_REFUSED = ("A student's record directory is listed only for the custodian of "
                     "records and the district's SIS integrations; others read record by "
                     "record, each read decided and logged.")


@dataclass(frozen=True, slots=True)
class Writer:
    """Who is writing: the token's requester and the scopes its provider granted."""

    caller: Caller
    scopes: frozenset[str] = frozenset()
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class StudentSaved:
    student: models.Student
    created: bool


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    dry_run: bool


@dataclass(frozen=True, slots=True)
class GuardianWrite:
    sis_id: str
    parent_subject: str
    parent_display_name: str
    parent_type: ParentType
    legal_custody: bool
    access_revoked_by_court: bool = False
    both_parents_written_agreement: bool = False
    verified: bool | None = None  # None: leave as the rules below keep it


@dataclass(frozen=True, slots=True)
class GuardianSaved:
    guardianship: models.Guardianship
    parent: models.Requester
    created: bool


@dataclass(frozen=True, slots=True)
class JudicialOrderWrite:
    """A court order or subpoena as the custodian enters it from the paper served."""

    sis_id: str
    kind: models.JudicialOrderKind
    recipient_subject: str  # the authorized party's subject at the district's provider
    reference: str
    served_on: date
    records: frozenset[RecordType] | None = None  # none: every record
    court_instructs_no_notice: bool = False
    parent_notified_on: date | None = None


@dataclass(frozen=True, slots=True)
class EmergencyWrite:
    """The district's determination of an emergency, as the custodian records it."""

    sis_id: str
    recipient_subject: str  # the party whose knowledge of the records is necessary
    threat: str  # the articulable and significant threat, as the district found it
    ends_on: date  # the last day it stands


@dataclass(frozen=True, slots=True)
class EmergencyOnFile:
    determination: models.EmergencyDetermination
    sis_id: str
    recipient_subject: str
    recipient_name: str


@dataclass(frozen=True, slots=True)
class JudicialOrderOnFile:
    order: models.JudicialOrder
    sis_id: str
    recipient_subject: str
    recipient_name: str


@dataclass(frozen=True, slots=True)
class NewRecord:
    sis_id: str
    record_type: RecordType
    school_year_of_origin: int
    originator: str
    media_type: str
    content: bytes = field(repr=False)
    originated_on: date | None = None
    signed_by_originator: bool = False
    anecdotal_or_assessment: bool = False
    legitimate_educational_interest: str = ""
    routine_update: bool = False


@dataclass(frozen=True, slots=True)
class RecordAdded:
    record: models.StudentRecord
    decision: Decision


class EnrolmentService(DistrictService):
    # -- students ---------------------------------------------------------------

    def put_student(self, writer: Writer, sis_id: str,
                    values: Mapping[str, Any]) -> StudentSaved:
        """Create the student or update the fields given; the same call twice is one change.

        Raises ``InvalidStudent`` for values the store refuses (an unusable SIS id).
        """
        with self._uow() as uow:
            record_keeper(uow, writer)
            try:
                report = uow.students.upsert_many([{**values, "sis_id": sis_id}])
            except ImportRejected as exc:
                problems: dict[str, list[str]] = {}
                for error in exc.errors:
                    problems.setdefault(error.field, []).append(error.problem)
                raise InvalidStudent(problems) from None
            commit_write(uow)
            created = bool(report.created)
            student = uow.students.get((report.created or report.updated)[0])
        return StudentSaved(student=student, created=created)

    def import_students(self, writer: Writer, rows: Iterable[Mapping[str, Any]], *,
                        dry_run: bool = False) -> ImportResult:
        """All rows or none (``ImportRejected`` names each bad row and field)."""
        rows = list(rows)
        if len(rows) > MAX_IMPORT_ROWS:
            raise TooManyRows(f"at most {MAX_IMPORT_ROWS} rows per import")
        with self._uow() as uow:
            record_keeper(uow, writer)
            report = uow.students.upsert_many(rows)
            if not dry_run:
                commit_write(uow)
        return ImportResult(created=len(report.created), updated=len(report.updated),
                            dry_run=dry_run)

    # -- parents and guardians ---------------------------------------------------

    def put_guardian(self, writer: Writer, write: GuardianWrite) -> GuardianSaved:
        """Record a parent's standing towards the student, registering the parent if new.

        Only the custodian verifies (``verified=True``). A change that could widen the
        parent's access (custody given, a court restriction lifted, another parent type...)
        withdraws the verification unless it comes with the custodian's; a change that only
        narrows it (custody or access taken away) keeps it, and applies at once.
        """
        now = self._clock()
        with self._uow() as uow:
            keeper = record_keeper(uow, writer)
            is_custodian = keeper.is_custodian
            if write.verified and not is_custodian:
                raise CustodianOnly("only the custodian of records verifies a parent's "
                                    "relationship to a student")
            student = _student(uow, write.sis_id)
            parent = uow.requesters.by_subject(writer.caller.issuer, write.parent_subject)
            if parent is None:
                parent = uow.requesters.add(models.Requester(
                    issuer=writer.caller.issuer, subject=write.parent_subject,
                    display_name=write.parent_display_name,
                    category=RequesterCategory.PARENT))
            elif parent.category is not RequesterCategory.PARENT:
                raise RelationshipConflict("That subject is registered with the gateway, but not "
                                           "as a parent; ask the custodian of records.")
            guardianship = uow.guardianships.find(parent.id, student.id)
            created = guardianship is None
            if guardianship is None:
                guardianship = models.Guardianship(parent_id=parent.id, student_id=student.id)
                widens = True
            else:
                widens = _widens(guardianship, write)
            guardianship.parent_type = write.parent_type
            guardianship.legal_custody = write.legal_custody
            guardianship.access_revoked_by_court = write.access_revoked_by_court
            guardianship.both_parents_written_agreement = write.both_parents_written_agreement
            if write.verified:
                guardianship.verified_by_id, guardianship.verified_at = keeper.id, now
            elif write.verified is False or widens:
                guardianship.verified_by_id = guardianship.verified_at = None
            if created:
                uow.guardianships.add(guardianship)
            commit_write(uow)
        return GuardianSaved(guardianship=guardianship, parent=parent, created=created)

    def put_student_login(self, writer: Writer, sis_id: str, subject: str,
                          display_name: str) -> tuple[models.Requester, bool]:
        """Tie a student's own login at the provider to the student (custodian only: as
        with a parent, someone checks who the person is). Through it an adult student
        exercises the rights that passed to them (34 CFR 99.5), and a student of 16
        reads the access log (Ed Code 49064); the engine decides each use."""
        with self._uow() as uow:
            custodian_of_records(uow, writer, "ties a student's login")
            student = _student(uow, sis_id)
            login = uow.requesters.by_subject(writer.caller.issuer, subject)
            created = login is None
            if login is None:
                other = uow.requesters.of_student(student.id)
                if other is not None:
                    raise RelationshipConflict("The student has another login already.")
                login = uow.requesters.add(models.Requester(
                    issuer=writer.caller.issuer, subject=subject, display_name=display_name,
                    category=RequesterCategory.STUDENT, student_id=student.id))
            elif login.category is not RequesterCategory.STUDENT or login.student_id not in (
                    None, student.id):
                raise RelationshipConflict("That subject is registered with the gateway, but "
                                           "not as this student.")
            else:
                login.student_id, login.display_name = student.id, display_name
            commit_write(uow)
        return login, created

    # -- court orders and subpoenas (AR 5125(e) item 8; Ed Code 49077) ----------------

    def enter_judicial_order(self, writer: Writer,
                             write: JudicialOrderWrite) -> JudicialOrderOnFile:
        """Keep a court order or subpoena served for the student's records (custodian
        only: someone reads the paper). The party it names then reads the records it
        covers through the engine: once the parent or adult student has had three days'
        notice, or at once if the court says not to notify."""
        today = self._today()
        with self._uow() as uow:
            custodian = custodian_of_records(uow, writer, "enters a court order or subpoena")
            student = _student(uow, write.sis_id)
            recipient = _recipient(uow, writer, write.recipient_subject)
            _not_after(today, served_on=write.served_on,
                       parent_notified_on=write.parent_notified_on)
            order = uow.judicial_orders.add(models.JudicialOrder(
                student_id=student.id, recipient_id=recipient.id, kind=write.kind,
                reference=write.reference, served_on=write.served_on, records=write.records,
                court_instructs_no_notice=write.court_instructs_no_notice,
                parent_notified_on=write.parent_notified_on, entered_by_id=custodian.id))
            commit_write(uow)
        return JudicialOrderOnFile(order, student.sis_id, recipient.subject,
                                   recipient.display_name)

    def update_judicial_order(self, writer: Writer, order_id: uuid.UUID, *,
                              parent_notified_on: date | None = None,
                              withdrawn_on: date | None = None) -> JudicialOrderOnFile:
        """Record the day the parent was notified, or the day the order was quashed or
        withdrawn (from which it is no longer in force). A day once recorded is not unset."""
        today = self._today()
        with self._uow() as uow:
            custodian_of_records(uow, writer, "updates a court order or subpoena")
            try:
                order = uow.judicial_orders.get(order_id)
            except NotFound:
                raise UnknownJudicialOrder("no court order or subpoena with that id") from None
            _not_after(today, parent_notified_on=parent_notified_on, withdrawn_on=withdrawn_on)
            if withdrawn_on is not None and withdrawn_on < order.served_on:
                raise JudicialOrderRefused("an order is not withdrawn before it was served")
            if parent_notified_on is not None:
                order.parent_notified_on = parent_notified_on
            if withdrawn_on is not None:
                order.withdrawn_on = withdrawn_on
            on_file = _on_file(uow, order)
            commit_write(uow)
        return on_file

    def judicial_orders(self, writer: Writer, sis_id: str) -> list[JudicialOrderOnFile]:
        """The student's court orders and subpoenas, oldest first."""
        with self._uow() as uow:
            uow.read_snapshot()
            custodian_of_records(uow, writer, "reads the court orders and subpoenas")
            student = _student(uow, sis_id)
            return [_on_file(uow, order) for order in uow.judicial_orders.of_student(student.id)]

    def judicial_orders_in_force(self, writer: Writer) -> list[JudicialOrderOnFile]:
        """Every student's orders not quashed or withdrawn, newest first (the console)."""
        with self._uow() as uow:
            uow.read_snapshot()
            custodian_of_records(uow, writer, "reads the court orders and subpoenas")
            return [_on_file(uow, order)
                    for order in uow.judicial_orders.in_force_on(self._today())]

    # -- emergencies (AR 5125(f), discretionary item 1; 34 CFR 99.36) ------------------

    def determine_emergency(self, writer: Writer, write: EmergencyWrite) -> EmergencyOnFile:
        """Record the district's finding that the party's knowledge of the student's records
        is necessary to protect someone's health or safety, from today to ``ends_on``
        (custodian only: the district decides, not the one who asks). The party's reads
        in that time are emergency disclosures, with the threat recorded."""
        today = self._today()
        if write.ends_on < today:
            raise EmergencyRefused("an emergency does not end before it is determined")
        with self._uow() as uow:
            custodian = custodian_of_records(uow, writer, "determines an emergency")
            student = _student(uow, write.sis_id)
            recipient = _recipient(uow, writer, write.recipient_subject)
            determination = uow.emergencies.add(models.EmergencyDetermination(
                student_id=student.id, recipient_id=recipient.id, threat=write.threat,
                determined_on=today, ends_on=write.ends_on, entered_by_id=custodian.id))
            commit_write(uow)
        return EmergencyOnFile(determination, student.sis_id, recipient.subject,
                               recipient.display_name)

    def emergencies(self, writer: Writer, sis_id: str) -> list[EmergencyOnFile]:
        """The student's emergency determinations, newest first."""
        with self._uow() as uow:
            uow.read_snapshot()
            custodian_of_records(uow, writer, "reads the emergency determinations")
            student = _student(uow, sis_id)
            return [_emergency_on_file(uow, d) for d in uow.emergencies.of_student(student.id)]

    def emergencies_standing(self, writer: Writer) -> list[EmergencyOnFile]:
        """Every student's emergency determinations that stand today (the console)."""
        with self._uow() as uow:
            uow.read_snapshot()
            custodian_of_records(uow, writer, "reads the emergency determinations")
            return [_emergency_on_file(uow, d)
                    for d in uow.emergencies.standing_on(self._today())]

    # -- records -------------------------------------------------------------------

    def record_directory(self, writer: Writer, sis_id: str) -> list[models.StudentRecord]:
        """The student's records, as metadata, for those who keep them (docs/api.md).

        Which records a student has is information from the records (34 CFR 99.3), so
        each listing is an entry in the access log (a ``disclosure`` of those records,
        committed before they are returned), and so is each refused request about a
        student the district holds (a ``denial``; Ed Code 49064 lists who requests).
        """
        now = self._clock()
        today = self._today(now)
        purpose = Purpose.RECORDS_ADMINISTRATION.value
        with self._uow() as uow:
            uow.read_snapshot()
            requester = known_requester(uow, writer.caller)
            student = uow.students.by_sis_id(sis_id)
            refuse = RefusalOf(self._policy, uow, requester, now, Action.ACCESS, purpose,
                               request_id=writer.request_id)
            refuse.unless_active(student)
            if not is_record_keeper(requester, writer.scopes):
                refuse(student, self._not_a_keeper(uow, requester, student, today),
                       NotARecordKeeper("only the custodian of records and the district's "
                                        "SIS integrations list a student's records"))
            if student is None:
                raise UnknownStudent("no student with that SIS id")
            records = uow.records.of_student(student.id)
            uow.start_writing()
            try:
                uow.access_log.append(
                    EventType.DISCLOSURE, at=now, student_id=student.id,
                    requester=log_requester(requester),
                    records=tuple(RecordRef(str(r.id), r.record_type.value) for r in records),
                    action=Action.ACCESS.value, purpose=purpose,
                    request_id=writer.request_id, policy_version=self._policy.pack.version,
                    outcome=DIRECTORY_LISTED)
                uow.commit()
            except (SQLAlchemyError, EntryError, CryptoError) as exc:
                raise DisclosureNotRecorded("the listing could not be recorded") from exc
            return records

    def _not_a_keeper(self, uow: UnitOfWork, requester: models.Requester,
                      student: models.Student | None, today: date) -> Decision:
        """The refusal of the directory to one who does not keep the file, to log."""
        if student is None:  # nothing is logged about no student
            return self._policy.refusal("unrecognized_request", DIRECTORY_REFUSED)
        try:
            who = requester_fact(uow, requester, student.id)
        except NoVerifiedRelationship:
            who = None  # a claimed relationship is no exemption from the log
        return self._policy.refusal("unrecognized_request", DIRECTORY_REFUSED, requester=who,
                                    student=student.as_fact(), today=today)

    def add_record(self, writer: Writer, new: NewRecord) -> RecordAdded:
        """Ask the engine (``add_record``, 5 CCR 437), then seal and keep the record.

        Refused: ``AdditionRefused`` with the decision. The store refuses (``RecordRefused``)
        anecdotal information or an assessment report not dated and signed (5 CCR 431).
        """
        now = self._clock()
        today = self._today(now)
        with self._uow() as uow:
            keeper = record_keeper(uow, writer)
            student = _student(uow, new.sis_id)
            consents = (uow.consents.valid_for(student.id, new.record_type, keeper.id,
                                               at=now, today=today)
                        or uow.consents.for_recipient(student.id, keeper.id, at=now))
            question = AccessQuestion(
                requester=keeper.as_fact(None, new.legitimate_educational_interest),
                student=student.as_fact(), action=Action.ADD_RECORD,
                record_type=new.record_type, purpose=Purpose.RECORDS_ADMINISTRATION.value,
                evidence=Evidence(consent=consents[0].as_fact() if consents else None,
                                  routine_update=new.routine_update))
            decision = self._policy.decide(question, today)
            if decision.outcome is not Outcome.PERMIT:
                raise AdditionRefused(decision)
            record = uow.records.add(
                student_id=student.id, record_type=new.record_type, content=new.content,
                media_type=new.media_type, school_year_of_origin=new.school_year_of_origin,
                originator=new.originator, originated_on=new.originated_on,
                signed_by_originator=new.signed_by_originator,
                anecdotal_or_assessment=new.anecdotal_or_assessment)
            _log_record_added(uow, writer, keeper, student, record, decision, now,
                              new.legitimate_educational_interest, self._policy.pack.version)
            commit_write(uow)
        return RecordAdded(record=record, decision=decision)


def record_keeper(uow: UnitOfWork, writer: Writer) -> models.Requester:
    """The registered requester behind the token, if it may write; else refuse."""
    requester = registered_requester(uow, writer.caller)
    if is_record_keeper(requester, writer.scopes):
        return requester
    raise NotARecordKeeper("only the custodian of records and the district's SIS "
                           "integrations write students' records")


def custodian_of_records(uow: UnitOfWork, writer: Writer, does: str) -> models.Requester:
    keeper = record_keeper(uow, writer)
    if not keeper.is_custodian:
        raise CustodianOnly(f"only the custodian of records {does}")
    return keeper


def _recipient(uow: UnitOfWork, writer: Writer, subject: str) -> models.Requester:
    recipient = uow.requesters.by_subject(writer.caller.issuer, subject)
    if recipient is None or not recipient.active:
        raise UnknownRecipient("the party named is not registered with the gateway; "
                               "register it first")
    return recipient


def _emergency_on_file(uow: UnitOfWork,
                       determination: models.EmergencyDetermination) -> EmergencyOnFile:
    recipient = uow.requesters.get(determination.recipient_id)
    return EmergencyOnFile(determination, uow.students.get(determination.student_id).sis_id,
                           recipient.subject, recipient.display_name)


def _on_file(uow: UnitOfWork, order: models.JudicialOrder) -> JudicialOrderOnFile:
    recipient = uow.requesters.get(order.recipient_id)
    return JudicialOrderOnFile(order, uow.students.get(order.student_id).sis_id,
                               recipient.subject, recipient.display_name)


def _not_after(today: date, **days: date | None) -> None:
    for name, day in days.items():
        if day is not None and day > today:
            raise JudicialOrderRefused(f"{name.replace('_', ' ')} is a day still to come")


def _student(uow: UnitOfWork, sis_id: str) -> models.Student:
    student = uow.students.by_sis_id(sis_id)
    if student is None:
        raise UnknownStudent("no student with that SIS id")
    return student


def _widens(old: models.Guardianship, new: GuardianWrite) -> bool:
    return ((new.legal_custody and not old.legal_custody)
            or (old.access_revoked_by_court and not new.access_revoked_by_court)
            or (new.both_parents_written_agreement and not old.both_parents_written_agreement)
            or new.parent_type is not old.parent_type)


def commit_write(uow: UnitOfWork) -> None:
    try:
        uow.commit()
    except IntegrityError:
        raise  # a concurrent write got there first: a conflict (409), not an outage
    except SQLAlchemyError as exc:
        raise NothingWritten("the write could not be committed") from exc


def _log_record_added(uow: UnitOfWork, writer: Writer, keeper: models.Requester,
                      student: models.Student, record: models.StudentRecord,
                      decision: Decision, now: datetime, interest: str,
                      policy_version: str) -> None:
    """The addition's entry in the access log (RECORD_ADDED), in this unit of work: a
    record whose entry cannot be written is not kept."""
    try:
        uow.access_log.append(
            EventType.RECORD_ADDED, at=now, student_id=student.id,
            requester=log_requester(keeper),
            records=(RecordRef(str(record.id), record.record_type.value),),
            action=Action.ADD_RECORD.value, purpose=Purpose.RECORDS_ADMINISTRATION.value,
            stated_interest=interest, decision=decision, request_id=writer.request_id,
            policy_version=policy_version)
    except (EntryError, CryptoError) as exc:
        raise NothingWritten("the addition could not be logged") from exc
