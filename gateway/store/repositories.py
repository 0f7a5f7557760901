"""Repositories: the questions the services ask of the store, in the regulation's words.

Each works inside the session of a unit of work and never commits: the unit of work
does, so that an action and its audit trail land together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from gateway.policy.facts import RecordType, RequesterCategory
from gateway.store import crypto
from gateway.store.crypto import Envelope, KeyEncryptionKeys
from gateway.store.errors import (
    ImportRejected,
    NotAParent,
    NotFound,
    RecordDestroyed,
    RecordRefused,
    RowError,
)
from gateway.store.importing import check_row
from gateway.store.models import (
    Agreement,
    AgreementKind,
    Base,
    Consent,
    EmergencyDetermination,
    Guardianship,
    JudicialOrder,
    ObligationTask,
    Requester,
    Student,
    StudentRecord,
    utc_now,
)

# 5 CCR 431 asks the originator to date and sign "anecdotal information and assessment
# reports". These types are such by nature; any other record is one when it is flagged.
ANECDOTAL_OR_ASSESSMENT_TYPES = frozenset({
    RecordType.COUNSELOR_TEACHER_RATING,
    RecordType.BEHAVIORAL_REPORT,
})
# Who a consent is never addressed to: the family itself and the custodian's office.
NOT_CONSENT_RECIPIENTS = (RequesterCategory.PARENT, RequesterCategory.STUDENT,
                          RequesterCategory.CUSTODIAN)
_IN_CHUNK = 500  # values per IN (...): well under SQLite's bound-parameter limit

M = TypeVar("M", bound=Base)


class _Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _get(self, model: type[M], ident: uuid.UUID) -> M:
        found = self.session.get(model, ident)
        if found is None:
            raise NotFound(model.__tablename__, ident)
        return found

    def _add(self, row: M) -> M:
        self.session.add(row)
        self.session.flush()  # constraint violations surface here, at the call
        return row


# --- Students -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: ids of the students created and updated, in row order."""

    created: tuple[uuid.UUID, ...] = ()
    updated: tuple[uuid.UUID, ...] = ()


class StudentRepository(_Repository):
    def get(self, student_id: uuid.UUID) -> Student:
        return self._get(Student, student_id)

    def by_sis_id(self, sis_id: str) -> Student | None:
        if "\x00" in sis_id:  # PostgreSQL cannot even be asked: no SIS id holds a NUL
            return None
        return self.session.scalars(select(Student).where(Student.sis_id == sis_id)).one_or_none()

    def add(self, student: Student) -> Student:
        return self._add(student)

    def upsert_many(self, rows: Iterable[Mapping[str, Any]]) -> ImportReport:
        """Create or update students by SIS id: all rows, or none.

        Every row is checked before anything is written; if any is wrong this raises
        ``ImportRejected`` listing each problem by row number and field. A column a row
        leaves out keeps its stored value (or the default, for a new student).
        """
        checked: list[dict[str, Any]] = []
        errors: list[RowError] = []
        first_row_of: dict[str, int] = {}
        for number, row in enumerate(rows, start=1):
            values, problems = check_row(number, row)
            sis_id = values.get("sis_id")
            if sis_id is not None:
                if sis_id in first_row_of:
                    problems.append(RowError(number, "sis_id", "the same SIS id is in row "
                                             f"{first_row_of[sis_id]}"))
                first_row_of.setdefault(sis_id, number)
            errors.extend(problems)
            checked.append(values)
        if errors:
            raise ImportRejected(errors)

        existing = self._by_sis_ids([values["sis_id"] for values in checked])
        created: list[Student] = []
        updated: list[Student] = []
        for values in checked:
            student = existing.get(values["sis_id"])
            if student is None:
                student = Student(**values)
                self.session.add(student)
                created.append(student)
            else:
                for key, value in values.items():
                    setattr(student, key, value)
                updated.append(student)
        self.session.flush()
        return ImportReport(created=tuple(s.id for s in created),
                            updated=tuple(s.id for s in updated))

    def sis_ids(self, student_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The SIS ids of those of these students the district still holds."""
        ids, found = sorted(set(student_ids)), {}
        for start in range(0, len(ids), _IN_CHUNK):
            rows = self.session.execute(select(Student.id, Student.sis_id)
                                        .where(Student.id.in_(ids[start:start + _IN_CHUNK])))
            found.update((student_id, sis_id) for student_id, sis_id in rows)
        return found

    def _by_sis_ids(self, sis_ids: list[str]) -> dict[str, Student]:
        found: dict[str, Student] = {}
        for start in range(0, len(sis_ids), _IN_CHUNK):
            chunk = sis_ids[start:start + _IN_CHUNK]
            for student in self.session.scalars(select(Student)
                                                .where(Student.sis_id.in_(chunk))):
                found[student.sis_id] = student
        return found


# --- Requesters and parents ---------------------------------------------------------


class RequesterRepository(_Repository):
    def get(self, requester_id: uuid.UUID) -> Requester:
        return self._get(Requester, requester_id)

    def by_subject(self, issuer: str, subject: str) -> Requester | None:
        """The requester an OpenID provider's ``sub`` (or ``client_id``) stands for."""
        return self.session.scalars(select(Requester).where(
            Requester.issuer == issuer, Requester.subject == subject)).one_or_none()

    def add(self, requester: Requester) -> Requester:
        return self._add(requester)

    def of_student(self, student_id: uuid.UUID) -> Requester | None:
        """The student's own login, if the district registered one."""
        return self.session.scalars(select(Requester).where(
            Requester.student_id == student_id)).one_or_none()

    def outside_family(self, limit: int = 2000) -> list[Requester]:
        """Every registered requester but parents and students, active or not, by name."""
        return list(self.session.scalars(
            select(Requester).where(Requester.category.not_in(
                (RequesterCategory.PARENT, RequesterCategory.STUDENT)))
            .order_by(Requester.display_name, Requester.id).limit(limit)))

    def organizations(self, limit: int = 500) -> list[Requester]:
        """Registered parties outside the family and the custodian's office, by name: the
        recipients a parent may name in a consent."""
        return list(self.session.scalars(
            select(Requester).where(Requester.active,
                                    Requester.category.not_in(NOT_CONSENT_RECIPIENTS))
            .order_by(Requester.display_name, Requester.id).limit(limit)))


class GuardianshipRepository(_Repository):
    def add(self, guardianship: Guardianship) -> Guardianship:
        """Record a parent's standing; the requester must be registered as a parent."""
        parent = self.session.get(Requester, guardianship.parent_id)
        if parent is None or parent.category is not RequesterCategory.PARENT:
            raise NotAParent("a guardianship names a requester registered as a parent")
        return self._add(guardianship)

    def find(self, parent_id: uuid.UUID, student_id: uuid.UUID) -> Guardianship | None:
        """The guardianship between this requester and this student, if there is one."""
        return self.session.scalars(select(Guardianship).where(
            Guardianship.parent_id == parent_id,
            Guardianship.student_id == student_id)).one_or_none()

    def of_student(self, student_id: uuid.UUID) -> list[Guardianship]:
        return list(self.session.scalars(select(Guardianship)
                                         .where(Guardianship.student_id == student_id)
                                         .order_by(Guardianship.created_at)))

    # For the portal and the custodian's console (gateway.services.portal).
    def of_parent(self, parent_id: uuid.UUID) -> list[tuple[Guardianship, Student]]:
        """This parent's guardianships, verified or not, with their students."""
        return [(g, s) for g, s in self.session.execute(
            select(Guardianship, Student).join(Student, Guardianship.student_id == Student.id)
            .where(Guardianship.parent_id == parent_id)
            .order_by(Student.sis_id, Guardianship.id))]

    def awaiting_verification(self, limit: int = 200,
                              ) -> list[tuple[Guardianship, Requester, Student]]:
        """Guardianships no custodian has verified yet, oldest first."""
        return [(g, r, s) for g, r, s in self.session.execute(
            select(Guardianship, Requester, Student)
            .join(Requester, Guardianship.parent_id == Requester.id)
            .join(Student, Guardianship.student_id == Student.id)
            .where(Guardianship.verified_at.is_(None))
            .order_by(Guardianship.created_at, Guardianship.id).limit(limit))]

    def get(self, guardianship_id: uuid.UUID) -> Guardianship:
        return self._get(Guardianship, guardianship_id)

    def verify(self, guardianship_id: uuid.UUID, custodian_id: uuid.UUID,
               at: datetime | None = None) -> Guardianship:
        """A custodian of records checked the papers that make this requester a parent."""
        guardianship = self._get(Guardianship, guardianship_id)
        guardianship.verified_by_id = custodian_id
        guardianship.verified_at = at or utc_now()
        self.session.flush()
        return guardianship


# --- Papers on file -----------------------------------------------------------------


class AgreementRepository(_Repository):
    def add(self, agreement: Agreement) -> Agreement:
        return self._add(agreement)

    def of_requester(self, requester_id: uuid.UUID) -> list[Agreement]:
        """Every agreement and certification of the requester, oldest first."""
        return list(self.session.scalars(select(Agreement).where(
            Agreement.requester_id == requester_id).order_by(Agreement.signed_on,
                                                              Agreement.created_at)))

    def in_force(self, requester_id: uuid.UUID, on: date,
                 kind: AgreementKind | None = None) -> list[Agreement]:
        """Agreements and certifications of this requester in force on ``on``.

        In force: signed and effective by that day, and not expired (``expires_on`` is
        the last day in force).
        """
        stmt = select(Agreement).where(
            Agreement.requester_id == requester_id,
            Agreement.signed_on <= on,
            Agreement.effective_from <= on,
            or_(Agreement.expires_on.is_(None), Agreement.expires_on >= on),
        )
        if kind is not None:
            stmt = stmt.where(Agreement.kind == kind)
        return list(self.session.scalars(stmt.order_by(Agreement.effective_from,
                                                       Agreement.id)))


class EmergencyRepository(_Repository):
    def add(self, determination: EmergencyDetermination) -> EmergencyDetermination:
        return self._add(determination)

    def of_student(self, student_id: uuid.UUID) -> list[EmergencyDetermination]:
        """The student's emergency determinations, newest first."""
        return list(self.session.scalars(select(EmergencyDetermination).where(
            EmergencyDetermination.student_id == student_id).order_by(
            EmergencyDetermination.determined_on.desc(),
            EmergencyDetermination.created_at.desc())))

    def standing_on(self, day: date) -> list[EmergencyDetermination]:
        """Every student's determinations that stand on ``day``, newest first."""
        return list(self.session.scalars(select(EmergencyDetermination).where(
            EmergencyDetermination.determined_on <= day, EmergencyDetermination.ends_on >= day)
            .order_by(EmergencyDetermination.determined_on.desc(),
                      EmergencyDetermination.created_at.desc())))

    def threat_on(self, student_id: uuid.UUID, recipient_id: uuid.UUID, day: date) -> str:
        """The threat of the newest determination naming the party that stands on
        ``day``; "" if none does."""
        threat = self.session.scalar(_threat_standing(
            EmergencyDetermination.student_id == student_id,
            EmergencyDetermination.recipient_id == recipient_id, day=day))
        return threat or ""


def _threat_standing(*where: Any, day: Any) -> Any:
    return (select(EmergencyDetermination.threat)
            .where(*where, EmergencyDetermination.determined_on <= day,
                   EmergencyDetermination.ends_on >= day)
            .order_by(EmergencyDetermination.determined_on.desc(),
                      EmergencyDetermination.created_at.desc()).limit(1))


class JudicialOrderRepository(_Repository):
    def add(self, order: JudicialOrder) -> JudicialOrder:
        return self._add(order)

    def get(self, order_id: uuid.UUID) -> JudicialOrder:
        return self._get(JudicialOrder, order_id)

    def of_student(self, student_id: uuid.UUID,
                   recipient_id: uuid.UUID | None = None) -> list[JudicialOrder]:
        """The student's orders (naming ``recipient_id``, if given), oldest first."""
        stmt = select(JudicialOrder).where(JudicialOrder.student_id == student_id)
        if recipient_id is not None:
            stmt = stmt.where(JudicialOrder.recipient_id == recipient_id)
        return list(self.session.scalars(stmt.order_by(JudicialOrder.served_on,
                                                       JudicialOrder.created_at)))

    def in_force_on(self, day: date) -> list[JudicialOrder]:
        """Every student's orders not quashed or withdrawn by ``day``, newest first."""
        return list(self.session.scalars(select(JudicialOrder).where(or_(
            JudicialOrder.withdrawn_on.is_(None), JudicialOrder.withdrawn_on > day)).order_by(
            JudicialOrder.served_on.desc(), JudicialOrder.created_at.desc())))


# Built once (every audited read asks it): no statement building or cache key per call.
_CONSENTS_FOR_RECIPIENT = select(Consent).where(
    Consent.student_id == bindparam("student_id", type_=Consent.student_id.type),
    Consent.recipient_id == bindparam("recipient_id", type_=Consent.recipient_id.type),
    or_(Consent.revoked_at.is_(None),
        Consent.revoked_at > bindparam("at", type_=Consent.revoked_at.type)),
).order_by(Consent.created_at, Consent.id)


class ConsentRepository(_Repository):
    def add(self, consent: Consent) -> Consent:
        return self._add(consent)

    def for_recipient(self, student_id: uuid.UUID, recipient_id: uuid.UUID, *,
                      at: datetime) -> list[Consent]:
        """Unrevoked consents about this student naming this recipient, valid or not.

        For the engine to explain why a consent on file does not suffice.
        """
        return list(self.session.scalars(_CONSENTS_FOR_RECIPIENT, {
            "student_id": student_id, "recipient_id": recipient_id, "at": at}))

    def valid_for(self, student_id: uuid.UUID, record_type: RecordType,
                  recipient_id: uuid.UUID, *, at: datetime, today: date) -> list[Consent]:
        """Consents that are signed, dated no later than ``today``, not revoked at ``at``,
        name this recipient and cover this record.

        Whether the giver may consent for this student (custody, rights passed to the
        student) is the engine's to decide (``Consent.as_fact``).
        """
        return self.valid_among(self.for_recipient(student_id, recipient_id, at=at),
                                record_type, today)

    @staticmethod
    def valid_among(on_file: Iterable[Consent], record_type: RecordType,
                    today: date) -> list[Consent]:
        """``valid_for`` over consents already fetched by ``for_recipient``: one query
        serves both the consent to weigh and, failing one, the consent to explain."""
        return [consent for consent in on_file
                if consent.signed and consent.signed_on is not None
                and consent.signed_on <= today and consent.covers(record_type)]

    # For the portal: the consents a parent gave, and one of them.
    def given_by(self, giver_id: uuid.UUID, limit: int = 200) -> list[tuple[Consent, Student]]:
        return [(c, s) for c, s in self.session.execute(
            select(Consent, Student).join(Student, Consent.student_id == Student.id)
            .where(Consent.given_by_id == giver_id)
            .order_by(Consent.created_at.desc(), Consent.id).limit(limit))]

    def get(self, consent_id: uuid.UUID) -> Consent:
        return self._get(Consent, consent_id)

    def revoke(self, consent_id: uuid.UUID, at: datetime | None = None) -> Consent:
        consent = self._get(Consent, consent_id)
        if consent.revoked_at is None:
            consent.revoked_at = at or utc_now()
            self.session.flush()
        return consent


# --- The facts of one audited read --------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadFacts:
    """What an audited read is decided on, as one query finds it."""

    requester: Requester
    student: Student | None
    record: StudentRecord | None  # only if it is this student's record
    guardianship: Guardianship | None  # between this requester and this student, if any
    written_agreement: bool  # in force on the day asked about
    written_certification: bool
    consents: tuple[Consent, ...]  # ConsentRepository.for_recipient's, in its order
    judicial_orders: tuple[JudicialOrder, ...]  # about the student, naming the requester
    emergency_threat: str  # of a determination naming the requester standing today


def _agreement_in_force(kind: AgreementKind) -> Any:
    today = bindparam("today", type_=Agreement.signed_on.type)
    return exists().where(
        Agreement.requester_id == Requester.id, Agreement.kind == kind,
        Agreement.signed_on <= today, Agreement.effective_from <= today,
        or_(Agreement.expires_on.is_(None), Agreement.expires_on >= today),
    ).label(str(kind))


# Built once and reused: a read then costs SQLAlchemy no statement building and no cache
# key, which were most of the time the six separate queries it replaces took. One row
# per unrevoked consent and judicial order naming the requester (at least one row: outer
# joins; both are rare, so their product stays small).
_READ_FACTS = (
    select(Requester, Student, StudentRecord, Guardianship,
           _agreement_in_force(AgreementKind.WRITTEN_AGREEMENT),
           _agreement_in_force(AgreementKind.WRITTEN_CERTIFICATION), Consent, JudicialOrder,
           _threat_standing(EmergencyDetermination.student_id == Student.id,
                            EmergencyDetermination.recipient_id == Requester.id,
                            day=bindparam("today", type_=EmergencyDetermination.ends_on.type))
           .scalar_subquery())
    .select_from(Requester)
    .outerjoin(Student, Student.sis_id == bindparam("sis_id", type_=Student.sis_id.type))
    .outerjoin(StudentRecord, and_(
        StudentRecord.id == bindparam("record_id", type_=StudentRecord.id.type),
        StudentRecord.student_id == Student.id))
    .outerjoin(Guardianship, and_(Guardianship.parent_id == Requester.id,
                                  Guardianship.student_id == Student.id))
    .outerjoin(Consent, and_(
        Consent.student_id == Student.id, Consent.recipient_id == Requester.id,
        or_(Consent.revoked_at.is_(None),
            Consent.revoked_at > bindparam("at", type_=Consent.revoked_at.type))))
    .outerjoin(JudicialOrder, and_(JudicialOrder.student_id == Student.id,
                                   JudicialOrder.recipient_id == Requester.id))
    .where(Requester.issuer == bindparam("issuer", type_=Requester.issuer.type),
           Requester.subject == bindparam("subject", type_=Requester.subject.type))
    .order_by(Consent.created_at, Consent.id, JudicialOrder.created_at, JudicialOrder.id)
)


class ReadFactsRepository(_Repository):
    def for_read(self, issuer: str, subject: str, sis_id: str, record_id: uuid.UUID, *,
                 at: datetime, today: date) -> ReadFacts | None:
        """In one round trip: the requester an OpenID provider's ``sub`` stands for, the
        student by SIS id, the record if it is that student's, the guardianship between
        them, whether the requester's papers are in force ``today`` and the consents
        about the student naming the requester not revoked ``at``. None if no such
        requester is registered."""
        # PostgreSQL cannot be asked about a NUL, and no SIS id holds one: ask for
        # "sis_id = NULL", which matches no student, and still find the requester.
        rows = self.session.execute(_READ_FACTS, {
            "issuer": issuer, "subject": subject,
            "sis_id": None if "\x00" in sis_id else sis_id, "record_id": record_id,
            "today": today, "at": at}).all()
        if not rows:
            return None
        requester, student, record, guardianship, agreement, certification = rows[0][:6]
        return ReadFacts(requester=requester, student=student, record=record,
                         guardianship=guardianship, written_agreement=bool(agreement),
                         written_certification=bool(certification),
                         consents=_distinct(row[6] for row in rows),
                         judicial_orders=_distinct(row[7] for row in rows),
                         emergency_threat=rows[0][8] or "")


def _distinct(rows: Iterable[M | None]) -> tuple[M, ...]:
    """Each row once, in order of first appearance (the joins repeat them)."""
    return tuple(dict.fromkeys(row for row in rows if row is not None))


# --- Records --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordContent:
    """A record's content, decrypted, with the row it came from."""

    record: StudentRecord
    content: bytes = field(repr=False)

    @property
    def media_type(self) -> str:
        return self.record.media_type


class RecordRepository(_Repository):
    """Student records, sealed on the way in and opened on the way out."""

    def __init__(self, session: Session, keys: KeyEncryptionKeys) -> None:
        super().__init__(session)
        self._keys = keys

    def add(self, *, student_id: uuid.UUID, record_type: RecordType, content: bytes,
            media_type: str, school_year_of_origin: int, originator: str,
            originated_on: date | None = None, signed_by_originator: bool = False,
            anecdotal_or_assessment: bool = False, forwarded_to: str | None = None,
            ) -> StudentRecord:
        """Seal and keep a record.

        Refuses (``RecordRefused``, 5 CCR 431) anecdotal information or an assessment
        report that its originator has not dated and signed.
        """
        record_type = RecordType(record_type)
        anecdotal = anecdotal_or_assessment or record_type in ANECDOTAL_OR_ASSESSMENT_TYPES
        if anecdotal:
            missing = [what for what, ok in (("the originator's date", originated_on),
                                             ("the originator's signature",
                                              signed_by_originator)) if not ok]
            if missing:
                raise RecordRefused("5 CCR 431", "anecdotal information and assessment "
                                    "reports must be dated and signed by their originator",
                                    missing)
        record_id = uuid.uuid4()
        envelope = crypto.seal(self._keys, record_id, record_type, content)
        record = StudentRecord(
            id=record_id, student_id=student_id, record_type=record_type,
            school_year_of_origin=school_year_of_origin, originator=originator,
            originated_on=originated_on, signed_by_originator=signed_by_originator,
            anecdotal_or_assessment=anecdotal, forwarded_to=forwarded_to,
            media_type=media_type, ciphertext=envelope.ciphertext, nonce=envelope.nonce,
            wrapped_key=envelope.wrapped_key, kek_id=envelope.kek_id)
        return self._add(record)

    def get(self, record_id: uuid.UUID) -> StudentRecord:
        """The record's row (a tombstone too), without opening its content."""
        return self._get(StudentRecord, record_id)

    def of_student(self, student_id: uuid.UUID, *,
                   include_destroyed: bool = False) -> list[StudentRecord]:
        stmt = select(StudentRecord).where(StudentRecord.student_id == student_id)
        if not include_destroyed:
            stmt = stmt.where(StudentRecord.destroyed_at.is_(None))
        return list(self.session.scalars(stmt.order_by(StudentRecord.created_at,
                                                       StudentRecord.id)))

    def read(self, record_id: uuid.UUID) -> RecordContent:
        """Open a record's content (the caller has decided the disclosure is lawful)."""
        record = self.get(record_id)
        if (record.destroyed_at is not None or record.ciphertext is None
                or record.nonce is None or record.wrapped_key is None
                or record.kek_id is None):
            raise RecordDestroyed(record_id)
        envelope = Envelope(ciphertext=record.ciphertext, nonce=record.nonce,
                            wrapped_key=record.wrapped_key, kek_id=record.kek_id)
        return RecordContent(record=record, content=crypto.unseal(
            self._keys, record.id, record.record_type, envelope))

    def hold_for_disclosure(self, record_id: uuid.UUID) -> None:
        """In the transaction that logs a disclosure: RecordDestroyed if the record was
        destroyed since it was read; on PostgreSQL its row is share-locked, so that a
        destruction waits until the disclosure has committed (SQLite: the write lock)."""
        row = self.session.connection().execute(
            _RECORD_DESTROYED_AT, {"record_id": record_id}).first()
        if row is None or row.destroyed_at is not None:
            raise RecordDestroyed(record_id)

    def shred(self, record_id: uuid.UUID, at: datetime | None = None) -> StudentRecord:
        """Destroy a record's content (5 CCR 437) by deleting its data key and ciphertext.

        The row stays as a tombstone with ``destroyed_at``. Copies of the wrapped key in
        backups (and, until VACUUM, PostgreSQL's old row versions) stay sealed by their
        KEK: rotate and retire that KEK to finish the job for them.
        """
        record = self.get(record_id)
        if record.destroyed_at is None:
            self.session.flush()  # pending changes first: the statement bypasses the ORM
            self.session.execute(shred_statement(at or utc_now(), StudentRecord.id == record_id))
            self.session.refresh(record)
        return record

    def data_keys_by_kek(self) -> dict[str, int]:
        """How many live records each KEK still wraps: a KEK absent here can be retired."""
        rows = self.session.execute(
            select(StudentRecord.kek_id, func.count())
            .where(StudentRecord.destroyed_at.is_(None))
            .group_by(StudentRecord.kek_id))
        return {kek_id: count for kek_id, count in rows if kek_id is not None}

    def rewrap_batch(self, after: uuid.UUID | None, limit: int) -> tuple[int, uuid.UUID | None]:
        """Re-wrap up to ``limit`` data keys not under the active KEK, after id ``after``.

        Returns (how many were re-wrapped, the last id looked at, or None when there is
        nothing left). Content is untouched; a row shredded meanwhile is left alone.
        """
        active = self._keys.active_id
        stmt = (select(StudentRecord.id, StudentRecord.kek_id, StudentRecord.wrapped_key)
                .where(StudentRecord.destroyed_at.is_(None),
                       StudentRecord.kek_id != active)
                .order_by(StudentRecord.id).limit(limit)
                .with_for_update(skip_locked=True))
        if after is not None:
            stmt = stmt.where(StudentRecord.id > after)
        rows = self.session.execute(stmt).all()
        done = 0
        for record_id, kek_id, wrapped in rows:
            if kek_id is None or wrapped is None:  # excluded by the sealed_or_tombstone CHECK
                continue
            new_kek_id, new_wrapped = crypto.rewrap(self._keys, kek_id, wrapped)
            result = self.session.execute(
                update(StudentRecord)
                .where(StudentRecord.id == record_id, StudentRecord.kek_id == kek_id,
                       StudentRecord.destroyed_at.is_(None))
                .values(kek_id=new_kek_id, wrapped_key=new_wrapped)
                .execution_options(synchronize_session="fetch"))
            done += result.rowcount  # type: ignore[attr-defined]
        return done, (rows[-1][0] if rows else None)


_RECORD_DESTROYED_AT = (
    select(StudentRecord.destroyed_at)
    .where(StudentRecord.id == bindparam("record_id", type_=StudentRecord.id.type))
    .with_for_update(read=True))


def shred_statement(at: datetime, *where: Any) -> Any:
    """The one statement that crypto-shreds records (5 CCR 437), for one record
    (``RecordRepository.shred``) or a batch (retention runs): the wrapped data key, nonce
    and ciphertext go together, so no record is ever half destroyed, and a record already
    destroyed keeps its first ``destroyed_at``."""
    return (update(StudentRecord).where(StudentRecord.destroyed_at.is_(None), *where)
            .values(ciphertext=None, nonce=None, wrapped_key=None, kek_id=None,
                    destroyed_at=at)
            .execution_options(synchronize_session=False))


# --- Duties -------------------------------------------------------------------------


class ObligationRepository(_Repository):
    def add(self, task: ObligationTask) -> ObligationTask:
        return self._add(task)

    def open(self, *, student_id: uuid.UUID | None = None,
             due_by: datetime | None = None) -> list[ObligationTask]:
        """Tasks not done yet, soonest due first; optionally of one student, or due by then."""
        stmt = select(ObligationTask).where(ObligationTask.done_at.is_(None))
        if student_id is not None:
            stmt = stmt.where(ObligationTask.student_id == student_id)
        if due_by is not None:
            stmt = stmt.where(ObligationTask.due_by <= due_by)
        return list(self.session.scalars(stmt.order_by(ObligationTask.due_by,
                                                       ObligationTask.id)))

    def open_with_students(self, limit: int = 500) -> list[tuple[ObligationTask, Student]]:
        """For the custodian's console: tasks not done, soonest due first."""
        return [(t, s) for t, s in self.session.execute(
            select(ObligationTask, Student).join(Student, ObligationTask.student_id == Student.id)
            .where(ObligationTask.done_at.is_(None))
            .order_by(ObligationTask.due_by, ObligationTask.id).limit(limit))]

    def get(self, task_id: uuid.UUID) -> ObligationTask:
        return self._get(ObligationTask, task_id)

    def complete(self, task_id: uuid.UUID, done_by: uuid.UUID,
                 at: datetime | None = None) -> ObligationTask:
        task = self._get(ObligationTask, task_id)
        if task.done_at is None:
            task.done_at = at or utc_now()
            task.done_by_id = done_by
            self.session.flush()
        return task



__all__ = [
    "ANECDOTAL_OR_ASSESSMENT_TYPES",
    "AgreementRepository",
    "ConsentRepository",
    "GuardianshipRepository",
    "ImportReport",
    "ObligationRepository",
    "ReadFacts",
    "ReadFactsRepository",
    "RecordContent",
    "RecordRepository",
    "RequesterRepository",
    "StudentRepository",
]
