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
from typing import NoReturn

from sqlalchemy.exc import SQLAlchemyError

from audit.events import EntryError, EventType, RecordRef, Requester
from gateway.policy import facts
from gateway.policy.decision import Decision, Obligation, Outcome
from gateway.policy.engine import NO_BASIS, PolicyEngine
from gateway.policy.facts import AccessQuestion, Action, Evidence, RecordType, RequesterCategory
from gateway.services.base import DistrictService, Refused
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
    """Who the access token says is asking, and the scopes the provider granted it."""

    issuer: str
    subject: str
    scopes: frozenset[str] = frozenset()


# The scope the district's provider grants its SIS integrations only (docs/api.md).
WRITE_SCOPE = "records:write"
# Who exercises a family's rights: parents, and the student's own login.
FAMILY = (RequesterCategory.PARENT, RequesterCategory.STUDENT)

# Why a request is refused before the engine is asked (the refusal's entry says so).
UNVERIFIED = ("The custodian of records has not verified this requester's relationship to "
              "the student (AR 5125(i)).")
WITHDRAWN = "The district has withdrawn this requester's registration."


def is_record_keeper(requester: models.Requester, scopes: frozenset[str]) -> bool:
    """The custodian of records, or one of the district's SIS integrations (a school
    official whose token carries the write scope): those who keep the file and may be
    told that a student is not in it. Never a volunteer: the engine gives one no access
    as a custodian or school official (AR 5125(c)), so neither does keeping the file."""
    return requester.is_custodian or (
        requester.category is RequesterCategory.SCHOOL_OFFICIAL and not requester.volunteer
        and WRITE_SCOPE in scopes)


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
DUE_WHILE_PENDING = frozenset({Obligation.NOTIFY_PARENT_3_DAYS_BEFORE_DISCLOSURE})


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
            try:
                question = self._question(uow, request, now, today)[3]
            except Refused as refused:  # no such record: answered as a refusal is
                decision = refused.decision
            else:
                decision = self._policy.decide(question, today)
        if decision.log_required:
            raise PreviewNotAnswered("a request the access log must list is answered by a read")
        return decision

    def _question(self, uow: UnitOfWork, request: RecordRequest, now: datetime, today: date):
        # One query: requester, student, record, guardianship, papers and consents.
        found = uow.read_facts.for_read(request.caller.issuer, request.caller.subject,
                                        request.student_sis_id, request.record_id,
                                        at=now, today=today)
        if found is None:
            raise UnregisteredRequester("the district has not registered this requester")
        requester, student, record = found.requester, found.student, found.record
        interest = request.legitimate_educational_interest
        refuse = RefusalOf(self._policy, uow, requester, now, Action.ACCESS, request.purpose,
                           interest, request.request_id)
        refuse.unless_active(student, record)
        keeper = is_record_keeper(requester, request.caller.scopes)
        if student is None:
            # Only those who keep the file learn that a student is not in it; anyone else
            # is answered as they would be about a student who is (nothing is logged: there
            # is no student to log it about).
            if keeper:
                raise UnknownStudentOrRecord("no such record of that student")
            if requester.category in FAMILY:
                raise NoVerifiedRelationship("no verified relationship to this student")
            raise Refused(self._no_such_record(requester, interest, today))
        try:
            who = engine_requester(requester, found.guardianship, student.id, interest)
        except NoVerifiedRelationship as exc:
            refuse(student, self._policy.refusal("unrecognized_request", UNVERIFIED), exc,
                   record)
        if record is None:
            if keeper or requester.category in FAMILY:
                raise UnknownStudentOrRecord("no such record of that student")
            decision = self._no_such_record(requester, interest, today)
            refuse(student, decision, Refused(decision))
        question = AccessQuestion(
            requester=who,
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

    def _no_such_record(self, requester: models.Requester, interest: str,
                        today: date) -> Decision:
        """The answer to one who may not be told which records (or students) exist, about
        one that does not: the refusal the engine gives when no basis allows a record."""
        return self._policy.refusal("no_basis", NO_BASIS,
                                    requester=requester.as_fact(None, interest), today=today)

    @staticmethod
    def _add_duties(uow: UnitOfWork, decision: Decision, student_id: uuid.UUID,
                    record_id: uuid.UUID, request: RecordRequest,
                    now: datetime) -> tuple[str, ...]:
        # A pending decision discloses nothing yet: of the duties it names, only the one it
        # waits on (the notice before a subpoenaed disclosure) is due now; the others come
        # with the disclosure, when a later request is permitted.
        duties = tuple(o for o in decision.obligations if o in DUTY_DUE and (
            decision.outcome is Outcome.PERMIT or o in DUE_WHILE_PENDING))
        for duty in duties:
            uow.obligations.add(models.ObligationTask(
                student_id=student_id, record_id=record_id, obligation=duty.value,
                due_by=now + DUTY_DUE[duty], created_from_request_id=request.request_id))
        return tuple(d.value for d in duties)


@dataclass(frozen=True, slots=True)
class RefusalOf:
    """Refuses a request outside the engine, entering the refusal in the access log
    first (a ``denial``, committed on its own) when it is about a student the district
    holds: Ed Code 49064 lists those requesting information, not only those the engine
    answered. Fails closed like every entry."""

    policy: PolicyEngine
    uow: UnitOfWork
    requester: models.Requester
    now: datetime
    action: Action
    purpose: str = ""
    stated_interest: str = ""
    request_id: str = ""

    def __call__(self, student: models.Student | None, decision: Decision,
                 answer: Exception, record: models.StudentRecord | None = None) -> NoReturn:
        if student is not None:
            log_refusal(self.uow, self.policy, self.requester, student.id, decision,
                        at=self.now, action=self.action, purpose=self.purpose,
                        stated_interest=self.stated_interest, request_id=self.request_id,
                        records=() if record is None else (
                            RecordRef(str(record.id), record.record_type.value),))
        raise answer

    def unless_active(self, student: models.Student | None,
                      record: models.StudentRecord | None = None) -> None:
        """Refuse (and log) the request of a requester whose registration was withdrawn."""
        if not self.requester.active:
            self(student, self.policy.refusal("unrecognized_request", WITHDRAWN),
                 UnregisteredRequester("the district has withdrawn this requester"), record)


def log_refusal(uow: UnitOfWork, policy: PolicyEngine, requester: models.Requester,
                student_id: uuid.UUID, decision: Decision, *, at: datetime, action: Action,
                purpose: str = "", stated_interest: str = "", request_id: str = "",
                records: Sequence[RecordRef] = ()) -> None:
    """Enter a refusal made outside the engine as a ``denial`` about the student and
    commit it (the refused request writes nothing else); DisclosureNotRecorded if it
    cannot be, so that a refusal is never answered unlogged."""
    uow.start_writing()
    try:
        uow.access_log.append(
            EventType.DENIAL, at=at, student_id=student_id, records=records,
            requester=log_requester(requester), action=action.value, purpose=purpose,
            stated_interest=stated_interest, decision=decision, request_id=request_id,
            policy_version=policy.pack.version, outcome=OUTCOME[Outcome.DENY])
        uow.commit()
    except (SQLAlchemyError, EntryError, CryptoError) as exc:
        raise DisclosureNotRecorded("the refusal could not be recorded") from exc


def log_requester(requester: models.Requester) -> Requester:
    """A registered requester as an access-log entry names them (identity sealed,
    category clear)."""
    return Requester(requester_identity(requester.id, requester.display_name),
                     requester.category.value)


def known_requester(uow: UnitOfWork, caller: Caller) -> models.Requester:
    """The requester registered for the token, active or withdrawn; else refused."""
    requester = uow.requesters.by_subject(caller.issuer, caller.subject)
    if requester is None:
        raise UnregisteredRequester("the district has not registered this requester")
    return requester


def registered_requester(uow: UnitOfWork, caller: Caller) -> models.Requester:
    requester = known_requester(uow, caller)
    if not requester.active:
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


def evidence_on_file(uow: UnitOfWork, requester_id: uuid.UUID, student_id: uuid.UUID | None,
                     record_type: RecordType, now: datetime, today: date) -> Evidence:
    """What the district holds for this requester and student: papers, consents, court
    orders and subpoenas, an emergency it determined (for no student: the papers)."""
    kinds = {a.kind for a in uow.agreements.in_force(requester_id, today)}
    return _evidence(
        record_type, today,
        consents=(uow.consents.for_recipient(student_id, requester_id, at=now)
                  if student_id is not None else ()),
        written_agreement=models.AgreementKind.WRITTEN_AGREEMENT in kinds,
        written_certification=models.AgreementKind.WRITTEN_CERTIFICATION in kinds,
        emergency_threat=(uow.emergencies.threat_on(student_id, requester_id, today)
                          if student_id is not None else ""),
        judicial_orders=(uow.judicial_orders.of_student(student_id, requester_id)
                         if student_id is not None else ()))


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
