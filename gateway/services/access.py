"""Reading a student record: facts from the store, the engine's decision, and its
access-log entry recorded in the same transaction as the read.

Nothing leaves unless the engine permits it and its access-log entry and duties are
committed: if the commit fails, the caller gets ``DisclosureNotRecorded`` instead
of the record. Denials and pending requests are logged the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from audit.events import EntryError, EventType, RecordRef, Requester
from gateway.policy import facts
from gateway.policy.decision import Decision, Obligation, Outcome
from gateway.policy.facts import AccessQuestion, Action, Evidence, RecordType, RequesterCategory
from gateway.services.base import DistrictService
from gateway.store import models
from gateway.store.access_log import requester_identity
from gateway.store.crypto import CryptoError
from gateway.store.errors import NotAParent
from gateway.store.repositories import ConsentRepository
from gateway.store.uow import UnitOfWork


class AccessError(Exception):
    """A request the service cannot put to the engine, or cannot complete."""


class UnregisteredRequester(AccessError):
    """The token is valid, but the district has not registered this requester."""


class NoVerifiedRelationship(AccessError):
    """A parent whose relationship to the student a custodian has not verified."""


class UnknownStudentOrRecord(AccessError):
    """No such student, or no such record of that student."""


class PreviewNotAnswered(AccessError):
    """The request is one the access log must list: its answer tells something of the
    student's records, so it is given only to a read, which is logged."""


class DisclosureNotRecorded(AccessError):
    """The disclosure could not be written, so the record is not returned."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who the access token says is asking."""

    issuer: str
    subject: str


@dataclass(frozen=True, slots=True)
class RecordRequest:
    caller: Caller
    student_sis_id: str
    record_id: uuid.UUID
    purpose: str
    legitimate_educational_interest: str = ""
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class RecordAccess:
    """The answer: the decision, and the record's content only when it was disclosed."""

    decision: Decision
    record_id: uuid.UUID
    record_type: RecordType
    media_type: str
    content: bytes | None = field(default=None, repr=False)
    duties: tuple[str, ...] = ()  # obligations the district must still carry out


# Duties a person must carry out, and by when after the decision. The others are
# fulfilled by the gateway itself: the consent is on file, and the no-redisclosure
# notice goes with every disclosed record.
DUTY_DUE = {
    Obligation.NOTIFY_PARENT_3_DAYS_BEFORE_DISCLOSURE: timedelta(0),
    Obligation.NOTIFY_PARENT_OF_RIGHTS_BEFORE_RELEASE: timedelta(0),
    Obligation.RECORD_EMERGENCY_BASIS: timedelta(0),
    Obligation.NOTIFY_PARENT_WITHIN_24_HOURS: timedelta(hours=24),
    Obligation.NOTIFY_PARENT_OFFER_COPY_AND_HEARING: timedelta(days=5),
}


# The access-log entry of each decision (Ed Code 49064; 34 CFR 99.32), and its outcome.
LOGGED_AS = {Outcome.PERMIT: EventType.DISCLOSURE, Outcome.PENDING: EventType.PENDING,
             Outcome.DENY: EventType.DENIAL}
OUTCOME = {Outcome.PERMIT: "disclosed", Outcome.PENDING: "withheld_pending",
           Outcome.DENY: "refused"}


class RecordAccessService(DistrictService):
    def read(self, request: RecordRequest) -> RecordAccess:
        """Decide; on a permit open the record; log the access whatever the decision.

        The access-log entry (a disclosure, a pending request or a denial) commits in
        one transaction with the duties it brings, or nothing does; a record destroyed
        between the decision and that transaction is not disclosed.
        """
        now = self._clock()
        today = self._today(now)
        with self._uow() as uow:
            # Read and decide without holding up other writers (SQLite has one writer at
            # a time); take the write lock only to log, with the record held unchanged.
            uow.read_snapshot()
            requester, student, record, question = self._question(uow, request, now, today)
            decision = self._policy.decide(question, today)
            content = None
            if decision.outcome is Outcome.PERMIT:
                content = uow.records.read(record.id).content
            uow.start_writing()
            if content is not None:
                uow.records.hold_for_disclosure(record.id)
            duties = self._add_duties(uow, decision, student.id, record.id, request, now)
            try:
                uow.access_log.append(
                    LOGGED_AS[decision.outcome], at=now, student_id=student.id,
                    requester=log_requester(requester),
                    records=(RecordRef(str(record.id), record.record_type.value),),
                    action=Action.ACCESS.value, purpose=request.purpose,
                    stated_interest=request.legitimate_educational_interest,
                    decision=decision, request_id=request.request_id,
                    policy_version=self._policy.pack.version,
                    outcome=OUTCOME[decision.outcome])
                uow.commit()
            except (SQLAlchemyError, EntryError, CryptoError) as exc:
                # Fail closed: an access that cannot be logged does not happen.
                raise DisclosureNotRecorded("the access could not be recorded") from exc
        return RecordAccess(decision=decision, record_id=record.id,
                            record_type=record.record_type, media_type=record.media_type,
                            content=content, duties=duties)

    def preview(self, request: RecordRequest) -> Decision:
        """The decision the request would get, disclosing and recording nothing.

        Only for a request the access log need not list (Ed Code 49064: district staff with
        an interest, the family): an answer turns on the student's facts (an age, a
        disability, an opt-out), so to anyone else it would tell something of the records
        unlogged. They read instead: the same decision, entered in the log.
        """
        now = self._clock()
        today = self._today(now)
        with self._uow() as uow:
            uow.read_snapshot()
            question = self._question(uow, request, now, today)[3]
            decision = self._policy.decide(question, today)
        if decision.log_required:
            raise PreviewNotAnswered("a request the access log must list is answered by a read")
        return decision

    def _question(self, uow: UnitOfWork, request: RecordRequest, now: datetime, today: date):
        # One query: requester, student, record, guardianship, papers and consents.
        found = uow.read_facts.for_read(request.caller.issuer, request.caller.subject,
                                        request.student_sis_id, request.record_id,
                                        at=now, today=today)
        if found is None or not found.requester.active:
            raise UnregisteredRequester("the district has not registered this requester")
        requester, student, record = found.requester, found.student, found.record
        if student is None or record is None:
            raise UnknownStudentOrRecord("no such record of that student")
        question = AccessQuestion(
            requester=engine_requester(requester, found.guardianship, student.id,
                                       request.legitimate_educational_interest),
            student=student.as_fact(),
            action=Action.ACCESS,
            record_type=record.record_type,
            purpose=request.purpose,
            evidence=_evidence(
                record.record_type, today, consents=found.consents,
                written_agreement=found.written_agreement,
                written_certification=found.written_certification,
                emergency_threat=found.emergency_threat,
                judicial_orders=found.judicial_orders),
        )
        return requester, student, record, question

    @staticmethod
    def _add_duties(uow: UnitOfWork, decision: Decision, student_id: uuid.UUID,
                    record_id: uuid.UUID, request: RecordRequest,
                    now: datetime) -> tuple[str, ...]:
        duties = tuple(o for o in decision.obligations if o in DUTY_DUE)
        for duty in duties:
            uow.obligations.add(models.ObligationTask(
                student_id=student_id, record_id=record_id, obligation=duty.value,
                due_by=now + DUTY_DUE[duty], created_from_request_id=request.request_id))
        return tuple(d.value for d in duties)


def log_requester(requester: models.Requester) -> Requester:
    """A registered requester as an access-log entry names them (identity sealed,
    category clear)."""
    return Requester(requester_identity(requester.id, requester.display_name),
                     requester.category.value)


def registered_requester(uow: UnitOfWork, caller: Caller) -> models.Requester:
    requester = uow.requesters.by_subject(caller.issuer, caller.subject)
    if requester is None or not requester.active:
        raise UnregisteredRequester("the district has not registered this requester")
    return requester


def requester_fact(uow: UnitOfWork, requester: models.Requester, student_id: uuid.UUID,
                   interest: str = "") -> facts.Requester:
    """The requester in the engine's words, the guardianship looked up for a parent."""
    guardianship = (uow.guardianships.find(requester.id, student_id)
                    if requester.category is RequesterCategory.PARENT else None)
    return engine_requester(requester, guardianship, student_id, interest)


def engine_requester(requester: models.Requester, guardianship: models.Guardianship | None,
                     student_id: uuid.UUID, interest: str = "") -> facts.Requester:
    """The requester in the engine's words; a parent through the verified relationship to
    this student only, a student for their own records only (NoVerifiedRelationship
    otherwise)."""
    if requester.category is RequesterCategory.STUDENT and requester.student_id != student_id:
        raise NoVerifiedRelationship("a student's login reaches that student's records only")
    if requester.category is not RequesterCategory.PARENT:
        guardianship = None
    try:
        return requester.as_fact(guardianship, interest)
    except NotAParent as exc:
        raise NoVerifiedRelationship(str(exc)) from None


def evidence_on_file(uow: UnitOfWork, requester_id: uuid.UUID, student_id: uuid.UUID,
                     record_type: RecordType, now: datetime, today: date) -> Evidence:
    """What the district holds for this requester and student: papers, consents, court
    orders and subpoenas, an emergency it determined."""
    kinds = {a.kind for a in uow.agreements.in_force(requester_id, today)}
    return _evidence(
        record_type, today,
        consents=uow.consents.for_recipient(student_id, requester_id, at=now),
        written_agreement=models.AgreementKind.WRITTEN_AGREEMENT in kinds,
        written_certification=models.AgreementKind.WRITTEN_CERTIFICATION in kinds,
        emergency_threat=uow.emergencies.threat_on(student_id, requester_id, today),
        judicial_orders=uow.judicial_orders.of_student(student_id, requester_id))


def _evidence(record_type: RecordType, today: date, *, consents: Sequence[models.Consent],
              written_agreement: bool, written_certification: bool, emergency_threat: str,
              judicial_orders: Sequence[models.JudicialOrder]) -> Evidence:
    """The engine's evidence from what is on file about the requester and the student.

    A consent that covers the record is the one to weigh; failing that, the engine is
    shown the first on file so that its refusal can say what is wrong with it. The
    emergency is the district's determination, never the requester's word (34 CFR 99.36).
    """
    weighed = ConsentRepository.valid_among(consents, record_type, today) or consents
    return Evidence(
        consent=weighed[0].as_fact() if weighed else None,
        written_agreement=written_agreement, written_certification=written_certification,
        emergency_threat=emergency_threat,
        **models.judicial_evidence(judicial_orders, record_type, today))
