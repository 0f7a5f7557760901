"""The parent portal and the custodian's console: what their pages show and do.

The pages add no rules of their own. Whether a parent may see a student's records is
the AR 5125 engine's answer, asked here with the facts the store holds (custody, court
orders, the student's age and schooling); who may verify a parent's relationship is the
custodian of records (AR 5125(i); 5 CCR 433).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import structlog

from audit.events import EventType, RecordRef
from gateway.policy.decision import Decision, Obligation, Outcome
from gateway.policy.engine import PolicyEngine
from gateway.policy.facts import (
    AccessQuestion,
    Action,
    ParentType,
    RecordType,
    RequesterCategory,
)
from gateway.services.access import (
    FAMILY,
    UNVERIFIED,
    AccessError,
    Caller,
    NoVerifiedRelationship,
    UnknownStudentOrRecord,
    log_refusal,
    log_requester,
    registered_requester,
    requester_fact,
)
from gateway.services.base import DistrictService
from gateway.store import models
from gateway.store.errors import NotAParent, NotFound
from gateway.store.uow import UnitOfWork

log = structlog.get_logger("gateway.portal")

# The question a parent's standing is tested with: inspecting the student's mandatory
# permanent record, which every student has (5 CCR 432). The parent's rights of access
# reach all of a student's records alike (AR 5125; Ed Code 49069), so one record stands
# for them.
STANDING_RECORD = RecordType.COURSES_AND_MARKS
STANDING_PURPOSE = "inspect and review the student's records"


class NotACustodian(AccessError):
    """Only the custodian of records works the console."""


class DirectoryChoiceRefused(AccessError):
    """This parent does not speak for the student's directory information."""


class UnknownGuardianship(AccessError):
    """No relationship with that id."""


class AlreadyVerified(AccessError):
    """The relationship was verified already (by whom and when is kept, not overwritten)."""


@dataclass(frozen=True, slots=True)
class Account:
    """The signed-in person as the district registered them."""

    display_name: str
    category: RequesterCategory
    preferred_language: str | None = None
    is_custodian: bool = False  # models.Requester.is_custodian: never a volunteer

    @property
    def is_parent(self) -> bool:
        return self.category is RequesterCategory.PARENT

    @property
    def is_student(self) -> bool:
        return self.category is RequesterCategory.STUDENT


@dataclass(frozen=True, slots=True)
class Standing:
    """One of a person's students (a parent's child, or an adult student's own record):
    the relationship on file and the engine's answer."""

    guardianship_id: uuid.UUID | None  # None: the student's own login
    sis_id: str
    parent_type: ParentType | None
    legal_custody: bool
    access_revoked_by_court: bool
    verified_on: date | None
    # None until a custodian verified the relationship: nothing is asked before that.
    decision: Decision | None
    directory_restricted: bool = False  # Ed Code 49073

    @property
    def own(self) -> bool:
        return self.guardianship_id is None

    @property
    def verified(self) -> bool:
        return self.own or self.verified_on is not None

    @property
    def may_access(self) -> bool:
        return self.decision is not None and self.decision.outcome is Outcome.PERMIT

    @property
    def rights_passed_to_student(self) -> bool:
        """The engine said the rights belong to the adult student (34 CFR 99.5), whether
        or not a dependency or incompetence keeps the parent's access."""
        return self.decision is not None and self.decision.clause in (
            "adult_student", "parent_of_dependent_adult", "parent_of_incompetent_adult")


@dataclass(frozen=True, slots=True)
class AwaitingVerification:
    guardianship_id: uuid.UUID
    parent_name: str
    sis_id: str
    parent_type: ParentType
    legal_custody: bool
    access_revoked_by_court: bool
    asked_on: date


@dataclass(frozen=True, slots=True)
class Verified:
    guardianship_id: uuid.UUID
    sis_id: str
    parent_name: str
    verified_by: str
    verified_at: datetime


class PortalService(DistrictService):
    def account(self, caller: Caller) -> Account:
        """The registered requester behind a login, or ``UnregisteredRequester``."""
        with self._uow() as uow:
            uow.read_snapshot()
            requester = registered_requester(uow, caller)
            return Account(requester.display_name, requester.category,
                           requester.preferred_language, requester.is_custodian)

    def sign_out(self, caller: Caller) -> None:
        """End every portal session of the person begun before now."""
        with self._uow() as uow:
            requester = uow.requesters.by_subject(caller.issuer, caller.subject)
            if requester is not None:  # an unregistered person reads nothing anyway
                requester.signed_out_at = self._clock()
                uow.commit()

    def signed_out_at(self, caller: Caller) -> datetime | None:
        """When the person last signed out, if ever (None too if not registered)."""
        with self._uow() as uow:
            uow.read_snapshot()
            requester = uow.requesters.by_subject(caller.issuer, caller.subject)
            return requester.signed_out_at if requester is not None else None

    def remember_language(self, caller: Caller, language: str) -> None:
        """Keep the person's choice of language on their account, for every sign-in."""
        with self._uow() as uow:
            requester = registered_requester(uow, caller)
            if requester.preferred_language != language:
                requester.preferred_language = language
                uow.commit()

    def my_students(self, caller: Caller) -> list[Standing]:
        """A parent's students, or an adult student's own record, with what the engine
        says of the person's access today. Others have no students here."""
        now = self._clock()
        today = self._today(now)
        with self._uow() as uow:
            requester = registered_requester(uow, caller)
            if requester.category is RequesterCategory.STUDENT:
                if requester.student_id is None:  # a login the SIS has not tied to a student
                    return []
                student = uow.students.get(requester.student_id)
                return [Standing(
                    guardianship_id=None, sis_id=student.sis_id, parent_type=None,
                    legal_custody=False, access_revoked_by_court=False, verified_on=None,
                    decision=self._standing(requester.as_fact(), student, today),
                    directory_restricted=student.directory_opt_out)]
            if requester.category is not RequesterCategory.PARENT:
                return []
            standings = []
            for guardianship, student in uow.guardianships.of_parent(requester.id):
                decision = None
                if guardianship.verified:
                    try:
                        decision = self._standing(requester.as_fact(guardianship), student,
                                                  today)
                    except NotAParent:
                        decision = None
                standings.append(Standing(
                    guardianship_id=guardianship.id, sis_id=student.sis_id,
                    parent_type=guardianship.parent_type,
                    legal_custody=guardianship.legal_custody,
                    access_revoked_by_court=guardianship.access_revoked_by_court,
                    verified_on=(self._today(guardianship.verified_at)
                                 if guardianship.verified_at else None),
                    decision=decision, directory_restricted=student.directory_opt_out))
            return standings

    def _standing(self, who, student, today: date) -> Decision:
        return self._policy.decide(AccessQuestion(
            requester=who, student=student.as_fact(), action=Action.ACCESS,
            record_type=STANDING_RECORD, purpose=STANDING_PURPOSE), today)

    def awaiting_verification(self, caller: Caller) -> list[AwaitingVerification]:
        """The custodian's queue of parents whose relationship nobody has verified."""
        with self._uow() as uow:
            uow.read_snapshot()
            _custodian(uow, caller)
            return [AwaitingVerification(
                guardianship_id=g.id, parent_name=parent.display_name, sis_id=student.sis_id,
                parent_type=g.parent_type, legal_custody=g.legal_custody,
                access_revoked_by_court=g.access_revoked_by_court,
                asked_on=self._today(g.created_at))
                for g, parent, student in uow.guardianships.awaiting_verification()]

    def verify(self, caller: Caller, guardianship_id: uuid.UUID, *, legal_custody: bool,
               access_revoked_by_court: bool) -> Verified:
        """The custodian checked the papers: record custody and any court order as found,
        and who verified the relationship, and when."""
        now = self._clock()
        with self._uow() as uow:
            custodian = _custodian(uow, caller)
            try:
                guardianship = uow.guardianships.get(guardianship_id)
            except NotFound:
                raise UnknownGuardianship("no such relationship") from None
            if guardianship.verified:
                raise AlreadyVerified("the relationship was verified already")
            guardianship.legal_custody = legal_custody
            guardianship.access_revoked_by_court = access_revoked_by_court
            uow.guardianships.verify(guardianship.id, custodian.id, at=now)
            parent = uow.requesters.get(guardianship.parent_id)
            student = uow.students.get(guardianship.student_id)
            verified = Verified(guardianship_id=guardianship.id, sis_id=student.sis_id,
                                parent_name=parent.display_name,
                                verified_by=custodian.display_name, verified_at=now)
            uow.commit()
        log.info("guardianship_verified", guardianship_id=str(guardianship_id),
                 verified_by=str(custodian.id))
        return verified

    def restrict_directory_information(self, caller: Caller, sis_id: str,
                                       restricted: bool) -> bool:
        """A parent (or the adult student) refuses, or again allows, the release of the
        student's directory information (Ed Code 49073; 34 CFR 99.37). Whether they speak
        for the student is the engine's answer about their access; the change is an entry
        in the access log committed with it."""
        now = self._clock()
        with self._uow() as uow:
            try:
                parent, student, decision = family_standing(
                    uow, self._policy, caller, sis_id, self._today(now), at=now,
                    record_type=RecordType.DIRECTORY_RESTRICTIONS,
                    purpose="restrict directory information")
            except (UnknownStudentOrRecord, NoVerifiedRelationship):
                raise UnknownGuardianship("no such student of yours") from None
            if decision.outcome is not Outcome.PERMIT:
                raise DirectoryChoiceRefused(decision.reason)
            if student.directory_opt_out != restricted:
                student.directory_opt_out = restricted
                uow.access_log.append(
                    EventType.DIRECTORY_RESTRICTION, at=now, student_id=student.id,
                    requester=log_requester(parent),
                    action="directory_restriction", decision=decision,
                    policy_version=self._policy.pack.version,
                    outcome="restricted" if restricted else "allowed")
                uow.commit()
        log.info("directory_restriction", restricted=restricted)
        return restricted

    def duties(self, caller: Caller) -> list[Duty]:
        """The obligations decisions brought (notices before a subpoenaed disclosure,
        24-hour notices, ...) that nobody has marked done, soonest due first."""
        now = self._clock()
        with self._uow() as uow:
            uow.read_snapshot()
            _custodian(uow, caller)
            return [Duty(task_id=t.id, sis_id=s.sis_id, obligation=t.obligation,
                         description=_describe(t.obligation), due_by=t.due_by,
                         overdue=t.due_by < now)
                    for t, s in uow.obligations.open_with_students()]

    def mark_done(self, caller: Caller, task_id: uuid.UUID) -> None:
        """The custodian did it; who and when are kept on the task."""
        now = self._clock()
        with self._uow() as uow:
            custodian = _custodian(uow, caller)
            try:
                uow.obligations.get(task_id)
            except NotFound:
                raise UnknownDuty("no such duty") from None
            uow.obligations.complete(task_id, custodian.id, at=now)
            uow.commit()
        log.info("duty_done", task=str(task_id), done_by=str(custodian.id))


def _describe(obligation: str) -> str:
    try:
        return Obligation(obligation).description
    except ValueError:  # a duty a newer engine knows: show it as stored
        return obligation


@dataclass(frozen=True, slots=True)
class Duty:
    """Something a decision obliged the district to do (a notice, a record), not yet done."""

    task_id: uuid.UUID
    sis_id: str
    obligation: str  # a gateway.policy.decision.Obligation value
    description: str  # the engine's words, with the law
    due_by: datetime
    overdue: bool


class UnknownDuty(AccessError):
    """No such duty."""


def family_standing(uow: UnitOfWork, policy: PolicyEngine, caller: Caller, sis_id: str,
                    today: date, *, at: datetime, action: Action = Action.ACCESS,
                    record_type: RecordType = STANDING_RECORD,
                    purpose: str = STANDING_PURPOSE, records: Sequence[RecordRef] = (),
                    log_denial: bool = True
                    ) -> tuple[models.Requester, models.Student, Decision]:
    """The signed-in person (a parent, or the student themselves), the student, and the
    engine's answer to their question. Anyone else, a parent without a verified
    relationship, or a student the district does not hold (told no more than about one
    it holds) is NoVerifiedRelationship; the parent's refusal is entered in the access
    log (a ``denial`` about the student, committed ``at``), and so is the engine's
    denial, about ``records`` (unless ``log_denial`` is false: the caller enters it with
    what it refused)."""
    person = registered_requester(uow, caller)
    if person.category not in FAMILY:
        raise NoVerifiedRelationship("this is for the student's family")
    student = uow.students.by_sis_id(sis_id)
    if student is None:
        raise NoVerifiedRelationship("no verified relationship to this student")
    try:
        who = requester_fact(uow, person, student.id)
    except NoVerifiedRelationship:
        log_refusal(uow, policy, person, student.id,
                    policy.refusal("unrecognized_request", UNVERIFIED), at=at, action=action,
                    purpose=purpose)
        raise
    decision = policy.decide(AccessQuestion(
        requester=who, student=student.as_fact(),
        action=action, record_type=record_type, purpose=purpose), today)
    if log_denial and decision.outcome is Outcome.DENY:
        log_refusal(uow, policy, person, student.id, decision, at=at, action=action,
                    purpose=purpose, records=records)
    return person, student, decision


def _custodian(uow: UnitOfWork, caller: Caller):
    requester = registered_requester(uow, caller)
    if not requester.is_custodian:
        raise NotACustodian("only the custodian of records works the console")
    return requester
