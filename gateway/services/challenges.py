"""Challenging a record and filing a written response (Ed Code 49061, 49070; AR 5125.3).

Who may do either is the engine's ``challenge`` answer: a parent with legal custody, or
the adult student once the rights have passed. A challenge names its grounds, holds the
record from destruction until it is decided, and is decided by the custodian (for the
Superintendent) within 30 days. A written response is filed as a rejoinder record,
signed and dated by the parent, kept with the student's records. Each is an entry in the
access log, committed with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import structlog

from audit.events import EventType, RecordRef
from gateway.policy.decision import Decision, Outcome
from gateway.policy.engine import PolicyEngine
from gateway.policy.facts import Action, RecordType
from gateway.records_requests.challenges import ChallengeGround, ChallengeStatus, decide_by
from gateway.retention.calendar import CALIFORNIA, SchoolCalendar
from gateway.retention.schedule import HoldKind
from gateway.services.access import (
    AccessError,
    Caller,
    UnknownStudentOrRecord,
    log_requester,
)
from gateway.services.base import DistrictService, Refused
from gateway.services.portal import _custodian, family_standing
from gateway.store import models
from gateway.store.errors import NotFound
from gateway.store.uow import UnitOfWork

log = structlog.get_logger("gateway.challenges")


class ChallengeRefused(Refused, AccessError):
    """The engine does not let this person see, challenge or answer the student's
    records here."""


class UnknownChallenge(AccessError):
    """No such challenge."""


class ChallengeAlreadyDecided(AccessError):
    """The challenge was decided already; nothing was changed."""


@dataclass(frozen=True, slots=True)
class RecordSummary:
    """What a record is, without its content."""

    id: uuid.UUID
    record_type: str
    school_year: str
    originator: str
    originated_on: date | None


@dataclass(frozen=True, slots=True)
class ChallengeView:
    id: uuid.UUID
    sis_id: str
    record_type: str
    grounds: tuple[str, ...]
    statement: str
    filed_on: date
    decide_by: date
    status: ChallengeStatus
    challenger_name: str = ""
    decision_note: str = ""


class ChallengeService(DistrictService):
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], policy: PolicyEngine,
                 clock: Callable[[], datetime], zone: ZoneInfo,
                 calendar: SchoolCalendar = CALIFORNIA) -> None:
        super().__init__(unit_of_work, policy, clock, zone)
        self._calendar = calendar  # the district's school years, for a rejoinder's year

    def records_of(self, caller: Caller, sis_id: str) -> list[RecordSummary]:
        """The records on file for a parent's student, described, not opened."""
        with self._uow() as uow:
            uow.read_snapshot()
            student = self._student_shown_to(uow, caller, sis_id)
            return [_summary(r, self._calendar) for r in uow.records.of_student(student.id)]

    def challenges_of(self, caller: Caller, sis_id: str) -> list[ChallengeView]:
        with self._uow() as uow:
            uow.read_snapshot()
            student = self._student_shown_to(uow, caller, sis_id)
            types = {r.id: r.record_type.value
                     for r in uow.records.of_student(student.id, include_destroyed=True)}
            return [self._view(c, student.sis_id, types.get(c.record_id, ""))
                    for c in uow.challenges.of_student(student.id)]

    def _student_shown_to(self, uow: UnitOfWork, caller: Caller,
                          sis_id: str) -> models.Student:
        """The student, if the engine lets the caller see their records."""
        _, student, decision = self._standing(uow, caller, sis_id, Action.ACCESS,
                                              RecordType.COURSES_AND_MARKS, self._clock())
        if decision.outcome is not Outcome.PERMIT:
            raise ChallengeRefused(decision)
        return student

    def challenge(self, caller: Caller, sis_id: str, record_id: uuid.UUID,
                  grounds: Iterable[ChallengeGround], statement: str) -> ChallengeView:
        now = self._clock()
        grounds = tuple(sorted({ChallengeGround(g) for g in grounds}))
        if not grounds:
            raise ValueError("a challenge names at least one ground (Ed Code 49070)")
        with self._uow() as uow:
            record = self._record(uow, record_id)
            parent, student, decision = self._standing(uow, caller, sis_id, Action.CHALLENGE,
                                                       record.record_type, now, record)
            if decision.outcome is not Outcome.PERMIT:
                raise ChallengeRefused(decision)
            hold = uow.retention.add_hold(models.RetentionHold(
                kind=HoldKind.PENDING_CHALLENGE, student_id=student.id, record_id=record.id,
                reason="a challenge to the record is undecided (Ed Code 49070)",
                owner="custodian of records", placed_at=now, placed_by_id=parent.id))
            challenge = uow.challenges.add(models.RecordChallenge(
                student_id=student.id, record_id=record.id, challenger_id=parent.id,
                grounds=[g.value for g in grounds], statement=statement.strip(),
                filed_at=now, decide_by=decide_by(self._today(now)),
                status=ChallengeStatus.OPEN, hold_id=hold.id))
            self._log(uow, now, parent, student.id, record, decision,
                      purpose="challenge: " + ", ".join(g.value for g in grounds),
                      outcome="challenge_filed")
            view = self._view(challenge, student.sis_id, record.record_type.value)
            uow.commit()
        log.info("challenge_filed", challenge=str(view.id))
        return view

    def respond(self, caller: Caller, sis_id: str, record_id: uuid.UUID,
                response: str) -> RecordSummary:
        """File the parent's written response to a record, as a rejoinder record signed
        and dated by them (Ed Code 49070; 5 CCR 432 lists rejoinders among the records)."""
        now = self._clock()
        today = self._today(now)
        response = response.strip()
        if not response:
            raise ValueError("a written response says something")
        with self._uow() as uow:
            record = self._record(uow, record_id)
            parent, student, decision = self._standing(uow, caller, sis_id, Action.CHALLENGE,
                                                       record.record_type, now, record)
            if decision.outcome is not Outcome.PERMIT:
                raise ChallengeRefused(decision)
            text = (f"Written response of {parent.display_name}, dated {today.isoformat()}, "
                    f"to the {record.record_type.value.replace('_', ' ')} record "
                    f"{record.id}:\n\n{response}\n")
            rejoinder = uow.records.add(
                student_id=student.id, record_type=RecordType.REJOINDER,
                content=text.encode(), media_type="text/plain; charset=utf-8",
                school_year_of_origin=self._calendar.school_year_of(today),
                originator=parent.display_name, originated_on=today,
                signed_by_originator=True)
            uow.access_log.append(
                EventType.RECORD_ADDED, at=now, student_id=student.id,
                requester=log_requester(parent),
                records=(RecordRef(str(rejoinder.id), "rejoinder"),),
                action=Action.CHALLENGE.value, purpose="written response to a record",
                decision=decision, policy_version=self._policy.pack.version,
                outcome="written_response_filed")
            summary = _summary(rejoinder, self._calendar)
            uow.commit()
        log.info("written_response_filed", record=str(summary.id))
        return summary

    # --- the custodian ---------------------------------------------------------------

    def queue(self, caller: Caller) -> list[ChallengeView]:
        with self._uow() as uow:
            uow.read_snapshot()
            _custodian(uow, caller)
            return [self._view(c, s.sis_id, r.record_type.value, challenger_name=q.display_name)
                    for c, q, s, r in uow.challenges.open_queue()]

    def decide(self, caller: Caller, challenge_id: uuid.UUID, *, sustained: bool,
               note: str) -> ChallengeView:
        """The decision after meeting the parent (Ed Code 49070(b)): sustained (the record
        is to be corrected or removed) or denied (the parent may appeal to the board and
        file a written response); the hold on the record is released."""
        now = self._clock()
        note = note.strip()
        if not note:
            raise ValueError("a decision gives its reasons")
        with self._uow() as uow:
            custodian = _custodian(uow, caller)
            try:
                challenge = uow.challenges.get(challenge_id)
            except NotFound:
                raise UnknownChallenge("no such challenge") from None
            if challenge.status is not ChallengeStatus.OPEN:
                raise ChallengeAlreadyDecided("the challenge was decided already")
            challenge.status = (ChallengeStatus.SUSTAINED if sustained
                                else ChallengeStatus.DENIED)
            challenge.decided_at, challenge.decided_by_id = now, custodian.id
            challenge.decision_note = note
            if challenge.hold_id is not None:
                hold = uow.retention.get_hold(challenge.hold_id)
                if not hold.released:
                    uow.retention.release_hold(
                        hold, by=custodian.id, at=now,
                        reason=f"the challenge was {challenge.status.value}")
            record = uow.records.get(challenge.record_id)
            uow.access_log.append(
                EventType.CHALLENGE, at=now, student_id=challenge.student_id,
                requester=log_requester(custodian),
                records=(RecordRef(str(record.id), record.record_type.value),),
                action=Action.CHALLENGE.value, purpose="decision on a challenge",
                policy_version=self._policy.pack.version,
                outcome=f"challenge_{challenge.status.value}")
            uow.session.flush()
            view = self._view(challenge, uow.students.get(challenge.student_id).sis_id,
                              record.record_type.value)
            uow.commit()
        log.info("challenge_decided", challenge=str(challenge_id), status=view.status.value)
        return view

    # --- shared -----------------------------------------------------------------------

    def _standing(self, uow: UnitOfWork, caller: Caller, sis_id: str, action: Action,
                  record_type: RecordType, now: datetime,
                  record: models.StudentRecord | None = None):
        # A refusal's entry names the record only if it is this student's: an entry in one
        # student's log never carries another's record.
        held = uow.students.by_sis_id(sis_id) if record is not None else None
        refs = (() if record is None or held is None or record.student_id != held.id
                else (RecordRef(str(record.id), record.record_type.value),))
        person, student, decision = family_standing(
            uow, self._policy, caller, sis_id, self._today(now), at=now, action=action,
            record_type=record_type, purpose="challenge or respond to a record",
            records=refs)
        if record is not None and record.student_id != student.id:
            raise UnknownStudentOrRecord("no such record of that student")
        return person, student, decision

    @staticmethod
    def _record(uow: UnitOfWork, record_id: uuid.UUID) -> models.StudentRecord:
        try:
            record = uow.records.get(record_id)
        except NotFound:
            raise UnknownStudentOrRecord("no such record of that student") from None
        if record.destroyed:
            raise UnknownStudentOrRecord("the record was destroyed")
        return record

    def _log(self, uow: UnitOfWork, now: datetime, parent: models.Requester,
             student_id: uuid.UUID, record: models.StudentRecord, decision: Decision, *,
             purpose: str, outcome: str) -> None:
        uow.access_log.append(
            EventType.CHALLENGE, at=now, student_id=student_id, requester=log_requester(parent),
            records=(RecordRef(str(record.id), record.record_type.value),),
            action=Action.CHALLENGE.value, purpose=purpose, decision=decision,
            policy_version=self._policy.pack.version, outcome=outcome)

    def _view(self, challenge: models.RecordChallenge, sis_id: str, record_type: str,
              challenger_name: str = "") -> ChallengeView:
        return ChallengeView(
            id=challenge.id, sis_id=sis_id, record_type=record_type,
            grounds=tuple(challenge.grounds), statement=challenge.statement,
            filed_on=self._today(challenge.filed_at), decide_by=challenge.decide_by,
            status=challenge.status, challenger_name=challenger_name,
            decision_note=challenge.decision_note)


def _summary(record: models.StudentRecord, calendar: SchoolCalendar) -> RecordSummary:
    return RecordSummary(id=record.id, record_type=record.record_type.value,
                         school_year=calendar.label(record.school_year_of_origin),
                         originator=record.originator, originated_on=record.originated_on)
