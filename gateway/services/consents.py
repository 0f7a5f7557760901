"""A parent's written consent to a release, given and revoked in the portal
(34 CFR 99.30; Ed Code 49075).

The consent is signed electronically by the authenticated parent and dated today; it
names the records, the purpose and a registered recipient. Whether this parent may
consent for this student (legal custody, both parents agreeing in writing, rights passed
to the adult student) is the engine's answer, the same test it applies when the
recipient later asks. Giving and revoking are access-log entries committed with them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import structlog

from audit.events import EventType
from gateway.policy.facts import ConsentGiver, RecordType, RequesterCategory
from gateway.services.access import (
    AccessError,
    Caller,
    NoVerifiedRelationship,
    UnknownStudentOrRecord,
    log_requester,
    registered_requester,
)
from gateway.services.base import DistrictService
from gateway.store import models
from gateway.store.errors import NotFound
from gateway.store.repositories import NOT_CONSENT_RECIPIENTS
from gateway.store.uow import UnitOfWork

log = structlog.get_logger("gateway.consents")


class ConsentRefused(AccessError):
    """This parent may not give this consent; ``reason`` says why, in the engine's words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownConsent(AccessError):
    """No such consent (or not one this person gave)."""


class UnknownRecipient(AccessError):
    """The recipient is not a party the district has registered."""


@dataclass(frozen=True, slots=True)
class Recipient:
    id: uuid.UUID
    name: str


@dataclass(frozen=True, slots=True)
class ConsentView:
    id: uuid.UUID
    sis_id: str
    recipient: str
    purpose: str
    records: tuple[str, ...]  # record types; empty: every record
    signed_on: date | None
    revoked_on: date | None

    @property
    def in_force(self) -> bool:
        return self.revoked_on is None


class ConsentService(DistrictService):
    def recipients(self) -> list[Recipient]:
        with self._uow() as uow:
            uow.read_snapshot()
            return [Recipient(r.id, r.display_name) for r in uow.requesters.organizations()]

    def mine(self, caller: Caller) -> list[ConsentView]:
        with self._uow() as uow:
            uow.read_snapshot()
            parent = registered_requester(uow, caller)
            return [self._view(c, s) for c, s in uow.consents.given_by(parent.id)]

    def give(self, caller: Caller, sis_id: str, *, recipient_id: uuid.UUID, purpose: str,
             records: frozenset[RecordType] | None, signature: str) -> ConsentView:
        """Sign and date a consent now, if the engine says this parent may give it."""
        now = self._clock()
        today = self._today(now)
        purpose = " ".join(purpose.split())
        with self._uow() as uow:
            parent = registered_requester(uow, caller)
            student = uow.students.by_sis_id(sis_id)
            if student is None:
                raise UnknownStudentOrRecord("no such student")
            if parent.category is RequesterCategory.STUDENT:
                if parent.student_id != student.id:
                    raise NoVerifiedRelationship("a student consents for themselves only")
                giver = ConsentGiver.ADULT_STUDENT
            else:
                guardianship = uow.guardianships.find(parent.id, student.id)
                if guardianship is None or not guardianship.verified:
                    raise NoVerifiedRelationship("no verified relationship to this student")
                if guardianship.access_revoked_by_court:
                    raise ConsentRefused("a court order revokes your rights to this "
                                         "student's records")
                giver = (ConsentGiver.BOTH_PARENTS
                         if guardianship.both_parents_written_agreement
                         else ConsentGiver.CUSTODIAL_PARENT if guardianship.legal_custody
                         else ConsentGiver.NONCUSTODIAL_PARENT)
            if " ".join(signature.split()).casefold() != parent.display_name.casefold():
                raise ConsentRefused("the signature must be your name as the district "
                                     f"registered it: {parent.display_name}")
            try:
                recipient = uow.requesters.get(recipient_id)
            except NotFound:
                raise UnknownRecipient("no such recipient") from None
            if not recipient.active or recipient.category in NOT_CONSENT_RECIPIENTS:
                raise UnknownRecipient("no such recipient")
            consent = models.Consent(
                student_id=student.id, given_by_id=parent.id, giver_role=giver, signed=True,
                signed_on=today, records=records, purpose=purpose,
                recipient=recipient.display_name, recipient_id=recipient.id)
            fact = consent.as_fact()
            for record_type in sorted(records or {RecordType.COURSES_AND_MARKS}):
                problem = self._policy.consent_refusal(student.as_fact(), fact, record_type,
                                                       today)
                if problem:
                    raise ConsentRefused(problem)
            uow.consents.add(consent)
            self._log(uow, EventType.CONSENT_GIVEN, now, student.id, parent, purpose)
            view = self._view(consent, student)
            uow.commit()
        log.info("consent_given", consent=str(view.id))
        return view

    def revoke(self, caller: Caller, consent_id: uuid.UUID) -> ConsentView:
        """The parent who gave a consent withdraws it from now on (not for what was
        already disclosed under it)."""
        now = self._clock()
        with self._uow() as uow:
            parent = registered_requester(uow, caller)
            try:
                consent = uow.consents.get(consent_id)
            except NotFound:
                raise UnknownConsent("no such consent") from None
            if consent.given_by_id != parent.id:
                raise UnknownConsent("no such consent")
            if consent.revoked_at is None:
                uow.consents.revoke(consent.id, at=now)
                self._log(uow, EventType.CONSENT_REVOKED, now, consent.student_id, parent,
                          consent.purpose)
            view = self._view(consent, uow.students.get(consent.student_id))
            uow.commit()
        log.info("consent_revoked", consent=str(consent_id))
        return view

    def _log(self, uow: UnitOfWork, event: EventType, now: datetime, student_id: uuid.UUID,
             parent: models.Requester, purpose: str) -> None:
        uow.access_log.append(
            event, at=now, student_id=student_id,
            requester=log_requester(parent),
            action="consent", purpose=purpose, policy_version=self._policy.pack.version,
            outcome=event.value)

    def _view(self, consent: models.Consent,
              student: models.Student) -> ConsentView:
        return ConsentView(
            id=consent.id, sis_id=student.sis_id, recipient=consent.recipient,
            purpose=consent.purpose,
            records=tuple(sorted(r.value for r in consent.records or ())),
            signed_on=consent.signed_on,
            revoked_on=self._today(consent.revoked_at) if consent.revoked_at else None)
