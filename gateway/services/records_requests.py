"""Requests to inspect, review or copy a student's records (Ed Code 49065, 49069).

A parent asks; the request is due five business days later on the district's calendar
and holds the student's records from destruction while it is open (5 CCR 437). The
custodian of records fulfils it (setting the fee by Ed Code 49065) or denies it with a
reason. Copies are made when the parent downloads them: the engine decides again at
that moment (rights may have passed to the student since), and the disclosure's entry
in the access log commits with the read, or no copy is returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.exc import SQLAlchemyError

from audit.events import EntryError, EventType, RecordRef
from gateway.policy.decision import Outcome
from gateway.policy.engine import PolicyEngine
from gateway.policy.facts import Action, StudentStatus
from gateway.records_requests.config import RequestsConfig
from gateway.records_requests.fees import RequestKind, fee_for
from gateway.retention.schedule import HoldKind
from gateway.services import copies_pdf
from gateway.services.access import (
    AccessError,
    Caller,
    DisclosureNotRecorded,
    log_requester,
    registered_requester,
)
from gateway.services.base import DistrictService, Refused
from gateway.services.portal import _custodian, family_standing
from gateway.store import models
from gateway.store.crypto import CryptoError
from gateway.store.errors import NotFound
from gateway.store.models import RecordsRequest, RequestStatus
from gateway.store.uow import UnitOfWork

log = structlog.get_logger("gateway.records_requests")
COPY_PURPOSE = "copies of records requested by the family (Ed Code 49065, 49069)"


class RequestRefused(Refused, AccessError):
    """The engine does not let this parent have the student's records."""


class UnknownRequest(AccessError):
    """No such request (or not this person's)."""


class RequestAlreadyDecided(AccessError):
    """The request was fulfilled or denied already; nothing was changed."""


class NoCopiesToDownload(AccessError):
    """The request is not a fulfilled request for copies."""


@dataclass(frozen=True, slots=True)
class RequestView:
    id: uuid.UUID
    sis_id: str
    kind: RequestKind
    note: str
    requested_on: date
    due_on: date
    status: RequestStatus
    overdue: bool
    requester_name: str = ""
    decided_on: date | None = None
    denial_reason: str = ""
    custodian_note: str = ""
    pages: int | None = None
    fee_cents: int | None = None
    fee_basis: str = ""

    @property
    def copies_ready(self) -> bool:
        return self.status is RequestStatus.FULFILLED and self.kind is not RequestKind.INSPECT


@dataclass(frozen=True, slots=True)
class Copies:
    pdf: bytes
    filename: str
    pages: int


class RecordsRequestService(DistrictService):
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], policy: PolicyEngine,
                 config: RequestsConfig, clock: Callable[[], datetime], zone: ZoneInfo,
                 district: str) -> None:
        super().__init__(unit_of_work, policy, clock, zone)
        self._config = config
        self._district = district

    # --- the parent -----------------------------------------------------------------

    def ask(self, caller: Caller, sis_id: str, kind: RequestKind, note: str, *,
            consent_id: uuid.UUID | None = None) -> RequestView:
        """A parent asks to inspect or copy a student's records; with ``consent_id``, for
        a copy of what was disclosed under a consent they gave (34 CFR 99.30(d))."""
        now = self._clock()
        today = self._today(now)
        with self._uow() as uow:
            parent, student, decision = family_standing(uow, self._policy, caller, sis_id, today,
                                                     at=now)
            if decision.outcome is not Outcome.PERMIT:
                raise RequestRefused(decision)
            if consent_id is not None:
                try:
                    consent = uow.consents.get(consent_id)
                except NotFound:
                    raise UnknownRequest("no such consent") from None
                if consent.given_by_id != parent.id or consent.student_id != student.id:
                    raise UnknownRequest("no such consent")
                kind = RequestKind.COPIES
            due_on = self._config.calendar.due_date(today)
            hold = uow.retention.add_hold(models.RetentionHold(
                kind=HoldKind.OPEN_COPY_REQUEST, student_id=student.id,
                reason=f"a request to {kind.value} records, due {due_on.isoformat()} "
                       "(Ed Code 49069)",
                owner="custodian of records", placed_at=now, placed_by_id=parent.id))
            request = uow.records_requests.add(RecordsRequest(
                student_id=student.id, requester_id=parent.id, kind=kind, note=note.strip(),
                requested_at=now, due_on=due_on, status=RequestStatus.OPEN,
                hold_id=hold.id, consent_id=consent_id))
            view = self._view(request, student, today)
            uow.commit()
        log.info("records_request_opened", request=str(view.id), kind=kind.value)
        return view

    def ask_for_what_was_disclosed(self, caller: Caller,
                                   consent_id: uuid.UUID) -> RequestView:
        """A copy of the records disclosed under a consent the person gave."""
        with self._uow() as uow:
            uow.read_snapshot()
            try:
                consent = uow.consents.get(consent_id)
            except NotFound:
                raise UnknownRequest("no such consent") from None
            sis_id = uow.students.get(consent.student_id).sis_id
            note = (f"A copy of what was disclosed to {consent.recipient} under the consent "
                    f"signed on {consent.signed_on}.")
        return self.ask(caller, sis_id, RequestKind.COPIES, note, consent_id=consent_id)

    def mine(self, caller: Caller) -> list[RequestView]:
        today = self._today()
        with self._uow() as uow:
            uow.read_snapshot()
            requester = registered_requester(uow, caller)
            return [self._view(r, s, today)
                    for r, s in uow.records_requests.of_requester(requester.id)]

    def copies(self, caller: Caller, request_id: uuid.UUID, request_tag: str = "") -> Copies:
        """The copies of a fulfilled request, made now from the stored records.

        The engine decides again; the disclosure (or the denial) is an access-log entry
        committed with the read, or nothing is returned.
        """
        now = self._clock()
        today = self._today(now)
        with self._uow() as uow:
            requester = registered_requester(uow, caller)
            request = self._get(uow, request_id)
            if request.requester_id != requester.id:
                raise UnknownRequest("no such request")
            if request.status is not RequestStatus.FULFILLED or request.kind is RequestKind.INSPECT:
                raise NoCopiesToDownload("these copies are not ready")
            student = uow.students.get(request.student_id)
            parent, _, decision = family_standing(uow, self._policy, caller, student.sis_id,
                                                  today, at=now, log_denial=False)
            records = [r for r in (uow.records.get(uuid.UUID(i)) for i in request.record_ids or ())
                       if not r.destroyed]
            refs = tuple(RecordRef(str(r.id), r.record_type.value) for r in records)
            who = log_requester(parent)
            permitted = decision.outcome is Outcome.PERMIT
            try:
                opened = [uow.records.read(r.id).content for r in records] if permitted else []
                uow.access_log.append(
                    EventType.DISCLOSURE if permitted else EventType.DENIAL, at=now,
                    student_id=student.id, requester=who, records=refs,
                    action=Action.ACCESS.value, purpose=COPY_PURPOSE, decision=decision,
                    request_id=request_tag, policy_version=self._policy.pack.version,
                    outcome="copies_disclosed" if permitted else "refused")
                if not permitted:
                    uow.commit()
                    raise RequestRefused(decision)
                pdf, pages = copies_pdf.render(
                    copies_pdf.CopiesHeader(
                        district=self._district, student_sis_id=student.sis_id,
                        request_id=str(request.id), requested_by=parent.display_name,
                        prepared_on=today, fee=_fee_text(request)),
                    [_copied(r, content) for r, content in zip(records, opened, strict=True)])
                uow.commit()
            except (SQLAlchemyError, EntryError, CryptoError) as exc:
                raise DisclosureNotRecorded("the copies could not be recorded") from exc
        log.info("copies_disclosed", request=str(request_id), records=len(records))
        return Copies(pdf=pdf, filename=f"records-{student.sis_id}-{request_id}.pdf",
                      pages=pages)

    # --- the custodian of records ---------------------------------------------------

    def queue(self, caller: Caller) -> list[RequestView]:
        today = self._today()
        with self._uow() as uow:
            uow.read_snapshot()
            _custodian(uow, caller)
            return [self._view(r, s, today, requester_name=q.display_name)
                    for r, q, s in uow.records_requests.open_queue()]

    def fulfil(self, caller: Caller, request_id: uuid.UUID, note: str) -> RequestView:
        """The custodian grants the request: for copies, fixes the records they are made
        of and the fee (Ed Code 49065); the hold on the student's records is released."""
        now = self._clock()
        today = self._today(now)
        with self._uow() as uow:
            custodian = _custodian(uow, caller)
            request = self._open(uow, request_id)
            student = uow.students.get(request.student_id)
            if request.kind is not RequestKind.INSPECT:
                records = (disclosed_under(uow, request.consent_id)
                           if request.consent_id is not None
                           else uow.records.of_student(student.id))
                parent = uow.requesters.get(request.requester_id)
                # The page count, from the copies as they will be made; not disclosed.
                _, pages = copies_pdf.render(
                    copies_pdf.CopiesHeader(self._district, student.sis_id, str(request.id),
                                            parent.display_name, today, ""),
                    [_copied(r, uow.records.read(r.id).content) for r in records])
                request.record_ids = [str(r.id) for r in records]
                request.pages = pages
            fee = fee_for(self._config.fees, request.kind, request.pages or 0,
                          former_student=_former_student(student),
                          free_ones_given=uow.records_requests.free_ones_given(
                              student.id, request.kind))
            request.fee_cents, request.fee_basis = fee.cents, fee.basis
            self._decide(uow, request, custodian.id, now, RequestStatus.FULFILLED,
                         custodian_note=note.strip())
            view = self._view(request, student, today)
            uow.commit()
        log.info("records_request_fulfilled", request=str(request_id))
        return view

    def deny(self, caller: Caller, request_id: uuid.UUID, reason: str) -> RequestView:
        now = self._clock()
        reason = reason.strip()
        if not reason:
            raise ValueError("a denial needs its reason")
        with self._uow() as uow:
            custodian = _custodian(uow, caller)
            request = self._open(uow, request_id)
            student = uow.students.get(request.student_id)
            self._decide(uow, request, custodian.id, now, RequestStatus.DENIED,
                         denial_reason=reason)
            view = self._view(request, student, self._today(now))
            uow.commit()
        log.info("records_request_denied", request=str(request_id))
        return view

    # --- shared -----------------------------------------------------------------------

    @staticmethod
    def _get(uow: UnitOfWork, request_id: uuid.UUID) -> RecordsRequest:
        try:
            return uow.records_requests.get(request_id)
        except NotFound:
            raise UnknownRequest("no such request") from None

    def _open(self, uow: UnitOfWork, request_id: uuid.UUID) -> RecordsRequest:
        request = self._get(uow, request_id)
        if request.status is not RequestStatus.OPEN:
            raise RequestAlreadyDecided("the request was decided already")
        return request

    @staticmethod
    def _decide(uow: UnitOfWork, request: RecordsRequest, custodian_id: uuid.UUID,
                now: datetime, status: RequestStatus, **fields: str) -> None:
        request.status = status
        request.decided_at = now
        request.decided_by_id = custodian_id
        for name, value in fields.items():
            setattr(request, name, value)
        if request.hold_id is not None:
            hold = uow.retention.get_hold(request.hold_id)
            if not hold.released:
                uow.retention.release_hold(hold, by=custodian_id, at=now,
                                           reason=f"the request was {status.value}")
        uow.session.flush()

    def _view(self, request: RecordsRequest, student: models.Student, today: date,
              requester_name: str = "") -> RequestView:
        return RequestView(
            id=request.id, sis_id=student.sis_id, kind=request.kind, note=request.note,
            requested_on=self._today(request.requested_at), due_on=request.due_on,
            status=request.status,
            overdue=request.status is RequestStatus.OPEN and today > request.due_on,
            requester_name=requester_name,
            decided_on=self._today(request.decided_at) if request.decided_at else None,
            denial_reason=request.denial_reason, custodian_note=request.custodian_note,
            pages=request.pages, fee_cents=request.fee_cents, fee_basis=request.fee_basis)


def disclosed_under(uow: UnitOfWork, consent_id: uuid.UUID) -> list[models.StudentRecord]:
    """The records disclosed to a consent's recipient on a written consent, as the access
    log has them (those since destroyed are gone from the copy too)."""
    consent = uow.consents.get(consent_id)
    if consent.recipient_id is None:
        return []
    found = uow.access_log.search(student_id=consent.student_id,
                                  requester_id=consent.recipient_id,
                                  event=EventType.DISCLOSURE, clause="written_consent",
                                  limit=1000)
    ids = dict.fromkeys(uuid.UUID(ref.id) for opened in uow.access_log.open(found)
                        if opened.entry is not None for ref in opened.entry.records)
    records = [uow.records.get(record_id) for record_id in ids]
    return [r for r in records if not r.destroyed]


def _former_student(student: models.Student) -> bool:
    return (student.status in (StudentStatus.GRADUATED, StudentStatus.WITHDRAWN)
            or student.left_district_on is not None)


def _fee_text(request: RecordsRequest) -> str:
    if not request.fee_cents:
        return "no charge"
    return f"${request.fee_cents // 100}.{request.fee_cents % 100:02d}"


def _copied(record: models.StudentRecord, content: bytes) -> copies_pdf.CopiedRecord:
    year = record.school_year_of_origin
    return copies_pdf.CopiedRecord(
        record_type=record.record_type.value, category=record.category.value,
        school_year=f"{year}-{(year + 1) % 100:02d}", originator=record.originator,
        originated_on=record.originated_on, media_type=record.media_type, content=content)
