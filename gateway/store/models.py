"""The tables of the regulation's world: students, requesters, their papers, records.

Enumerations are the policy vocabulary of ``gateway.policy.facts``, stored as their
string values with a CHECK constraint (not native enum types), so SQLite and PostgreSQL
hold the same thing and a value the vocabulary does not know cannot be written by any
client. Timestamps are UTC and time-zone aware on both backends. Record content is only
ever stored encrypted (``gateway.store.crypto``); rows have no field-by-field repr so
student data cannot slip into a log line through one.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, timezone
from typing import Annotated, Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from gateway.policy import facts
from gateway.policy.facts import (
    ConsentGiver,
    OrganizationType,
    ParentType,
    RecordCategory,
    RecordType,
    RequesterCategory,
    StudentStatus,
)
from gateway.store.errors import NotAParent


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class AgreementKind(enum.StrEnum):
    """Papers a recipient must have on file before some disclosures (AR 5125; 34 CFR 99.31)."""

    WRITTEN_AGREEMENT = "written_agreement"  # e.g. research organizations, contractors
    WRITTEN_CERTIFICATION = "written_certification"  # e.g. county placing agencies


# --- Column types -----------------------------------------------------------------


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A point in time, always aware and in UTC when it comes back.

    SQLite has no time zones: values are stored there as naive UTC, so that comparisons
    in SQL stay correct. A naive datetime is refused on the way in, since it is ambiguous.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("a timestamp must carry its time zone (give it in UTC)")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class RecordTypeSet(sa.TypeDecorator[frozenset[RecordType]]):
    """The records a consent names, as a sorted JSON list; SQL NULL means every record."""

    impl = sa.JSON(none_as_null=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> list[str] | None:
        if value is None:
            return None
        types = sorted(RecordType(v).value for v in value)
        if not types:
            raise ValueError("a consent names at least one record type, or all records")
        return types

    def process_result_value(self, value: Any, dialect: Dialect) -> frozenset[RecordType] | None:
        if value is None:
            return None
        return frozenset(RecordType(v) for v in value)


def _values(enumeration: type[enum.Enum]) -> list[str]:
    return [str(member.value) for member in enumeration]


def string_enum(enumeration: type[enum.Enum], name: str) -> sa.Enum:
    """An enumeration stored as its values in a VARCHAR with a named CHECK constraint."""
    return sa.Enum(enumeration, name=name, native_enum=False, create_constraint=True,
                   validate_strings=True, values_callable=_values, length=40)


ENUM_COLUMNS: dict[type[enum.Enum], str] = {
    RecordType: "record_type",
    RecordCategory: "record_category",
    RequesterCategory: "requester_category",
    ParentType: "parent_type",
    OrganizationType: "organization_type",
    StudentStatus: "student_status",
    ConsentGiver: "consent_giver",
    AgreementKind: "agreement_kind",
}

# Shared column declarations.
uuid_pk = Annotated[uuid.UUID, mapped_column(primary_key=True, default=uuid.uuid4)]
created_at = Annotated[datetime, mapped_column(default=utc_now)]
flag = Annotated[bool, mapped_column(default=False, server_default=sa.false())]
short_text = Annotated[str, mapped_column(sa.String(200))]
long_text = Annotated[str, mapped_column(sa.Text, default="")]
request_id = Annotated[str, mapped_column(sa.String(64), index=True)]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (a ClassVar of DeclarativeBase)
        datetime: UTCDateTime(),
        uuid.UUID: sa.Uuid(),
        frozenset[RecordType]: RecordTypeSet(),
        **{enumeration: string_enum(enumeration, name)
           for enumeration, name in ENUM_COLUMNS.items()},
    }


def _fk(target: str, *, nullable: bool = False, index: bool = True) -> Any:
    return mapped_column(sa.ForeignKey(target), nullable=nullable, index=index)


# --- Students and requesters ------------------------------------------------------


class Student(Base):
    """A student as the gateway knows one: the facts AR 5125 turns on, keyed by SIS id."""

    __tablename__ = "students"
    __table_args__ = (
        sa.CheckConstraint("grade_completed IS NULL OR grade_completed BETWEEN -1 AND 16",
                           name="grade_completed_range"),
    )

    id: Mapped[uuid_pk]
    sis_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    birth_date: Mapped[date | None]
    grade_completed: Mapped[int | None]
    status: Mapped[StudentStatus] = mapped_column(default=StudentStatus.ENROLLED)
    attends_postsecondary: Mapped[flag]
    tax_dependent: Mapped[flag]
    incompetent_adult_with_disability: Mapped[flag]
    disability: Mapped[flag]
    expelled_or_suspended_for_pc245: Mapped[flag]
    directory_opt_out: Mapped[flag]
    # Retention (5 CCR 437): when the student left, completed or withdrew, came back.
    left_district_on: Mapped[date | None]
    program_completed_on: Mapped[date | None]
    withdrawn_on: Mapped[date | None]
    returned_on: Mapped[date | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    def as_fact(self) -> facts.Student:
        return facts.Student(
            birth_date=self.birth_date,
            grade_completed=self.grade_completed,
            attends_postsecondary=self.attends_postsecondary,
            tax_dependent=self.tax_dependent,
            incompetent_adult_with_disability=self.incompetent_adult_with_disability,
            disability=self.disability,
            expelled_or_suspended_for_pc245=self.expelled_or_suspended_for_pc245,
            directory_opt_out=self.directory_opt_out,
            status=self.status,
        )


class Requester(Base):
    """A person or client registered with the gateway, known by its OpenID issuer.

    ``subject`` is the ``sub`` of a person or the ``client_id`` of an SIS integration;
    it is unique per issuer.
    """

    __tablename__ = "requesters"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject"),)

    id: Mapped[uuid_pk]
    issuer: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[short_text]
    category: Mapped[RequesterCategory]
    organization_type: Mapped[OrganizationType | None]
    volunteer: Mapped[flag]
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[created_at]

    def as_fact(self, guardianship: Guardianship | None = None,
                legitimate_educational_interest: str = "") -> facts.Requester:
        """The requester as the engine sees it.

        A parent's standing towards a student comes from a verified guardianship: without
        one the gateway does not know this requester to be the student's parent, and says
        so rather than let the engine assume custody.
        """
        if guardianship is not None and guardianship.parent_id != self.id:
            raise NotAParent("the guardianship is another requester's")
        if self.category is RequesterCategory.PARENT and (
                guardianship is None or not guardianship.verified):
            raise NotAParent("no verified guardianship links this parent to the student")
        custody = guardianship is None or guardianship.legal_custody
        return facts.Requester(
            category=self.category,
            legal_custody=custody,
            access_revoked_by_court=guardianship is not None
            and guardianship.access_revoked_by_court,
            parent_type=guardianship.parent_type if guardianship is not None else None,
            legitimate_educational_interest=legitimate_educational_interest,
            volunteer=self.volunteer,
            organization_type=self.organization_type,
        )


class Guardianship(Base):
    """A parent's standing towards one student (Ed Code 49061, 56050, 56055), once verified."""

    __tablename__ = "guardianships"
    __table_args__ = (
        sa.UniqueConstraint("parent_id", "student_id"),
        sa.CheckConstraint("(verified_by_id IS NULL AND verified_at IS NULL) OR "
                           "(verified_by_id IS NOT NULL AND verified_at IS NOT NULL)",
                           name="verified_by_and_at"),
    )

    id: Mapped[uuid_pk]
    parent_id: Mapped[uuid.UUID] = _fk("requesters.id", index=False)
    student_id: Mapped[uuid.UUID] = _fk("students.id")
    parent_type: Mapped[ParentType]
    legal_custody: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    access_revoked_by_court: Mapped[flag]
    # Both parents told the district in writing that they agree (Ed Code 49075).
    both_parents_written_agreement: Mapped[flag]
    verified_by_id: Mapped[uuid.UUID | None] = _fk("requesters.id", nullable=True, index=False)
    verified_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

    parent: Mapped[Requester] = relationship(foreign_keys=[parent_id])

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


# --- Papers on file -----------------------------------------------------------------


class Agreement(Base):
    """A written agreement or certification a recipient has on file with the district."""

    __tablename__ = "agreements"
    __table_args__ = (
        sa.CheckConstraint("expires_on IS NULL OR expires_on >= effective_from",
                           name="expires_after_effective"),
    )

    id: Mapped[uuid_pk]
    requester_id: Mapped[uuid.UUID] = _fk("requesters.id")
    kind: Mapped[AgreementKind]
    purpose: Mapped[long_text]
    signed_on: Mapped[date]
    effective_from: Mapped[date]
    expires_on: Mapped[date | None]  # the last day in force; none: until withdrawn
    reference: Mapped[short_text]  # the district's reference for the paper itself
    created_at: Mapped[created_at]

    def in_force_on(self, day: date) -> bool:
        return (self.signed_on <= day and self.effective_from <= day
                and (self.expires_on is None or day <= self.expires_on))


class Consent(Base):
    """A written consent to disclose (34 CFR 99.30; Ed Code 49075) as the district holds it."""

    __tablename__ = "consents"

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = _fk("students.id")
    given_by_id: Mapped[uuid.UUID] = _fk("requesters.id", index=False)
    giver_role: Mapped[ConsentGiver]
    signed: Mapped[flag]
    signed_on: Mapped[date | None]  # the date written on the consent; none: undated
    records: Mapped[frozenset[RecordType] | None]  # none: every record
    purpose: Mapped[long_text]
    recipient: Mapped[short_text]  # as written on the consent
    recipient_id: Mapped[uuid.UUID | None] = _fk("requesters.id", nullable=True)
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

    @property
    def dated(self) -> bool:
        return self.signed_on is not None

    def covers(self, record_type: RecordType) -> bool:
        return self.records is None or record_type in self.records

    def as_fact(self) -> facts.Consent:
        return facts.Consent(signed=self.signed, dated=self.dated, by=self.giver_role,
                             records=self.records, purpose=self.purpose,
                             recipient=self.recipient)


# --- Records ----------------------------------------------------------------------


class StudentRecord(Base):
    """One student record: its classification and provenance in clear, its content sealed.

    The content columns hold AES-256-GCM ciphertext, its nonce and the data key wrapped
    by the key-encryption key ``kek_id``. Destroying the record deletes all four and
    keeps the row as a tombstone with ``destroyed_at`` (the access log and retention
    decisions still refer to it).
    """

    __tablename__ = "student_records"
    __table_args__ = (
        sa.CheckConstraint("school_year_of_origin BETWEEN 1900 AND 2999",
                           name="school_year_of_origin_range"),
        # 5 CCR 431: anecdotal information and assessment reports are dated and signed.
        sa.CheckConstraint("NOT anecdotal_or_assessment OR "
                           "(signed_by_originator AND originated_on IS NOT NULL)",
                           name="originator_dated_and_signed"),
        sa.CheckConstraint(
            "(destroyed_at IS NULL AND ciphertext IS NOT NULL AND nonce IS NOT NULL "
            "AND wrapped_key IS NOT NULL AND kek_id IS NOT NULL) OR "
            "(destroyed_at IS NOT NULL AND ciphertext IS NULL AND nonce IS NULL "
            "AND wrapped_key IS NULL AND kek_id IS NULL)",
            name="sealed_or_tombstone"),
        sa.Index("ix_student_records_student_id_record_type", "student_id", "record_type"),
    )

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = _fk("students.id", index=False)
    record_type: Mapped[RecordType]
    category: Mapped[RecordCategory]  # 5 CCR 430: set from the record type, never by hand
    school_year_of_origin: Mapped[int]  # by its starting year: 2024-25 is 2024
    originator: Mapped[short_text]
    originated_on: Mapped[date | None]
    signed_by_originator: Mapped[flag]
    anecdotal_or_assessment: Mapped[flag]
    forwarded_to: Mapped[str | None] = mapped_column(sa.String(200))
    usefulness_ceased_on: Mapped[date | None]  # a recorded determination (5 CCR 437)...
    usefulness_determined_by: Mapped[str | None] = mapped_column(sa.String(200))  # ...by whom
    media_type: Mapped[str] = mapped_column(sa.String(127))
    ciphertext: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    nonce: Mapped[bytes | None] = mapped_column(sa.LargeBinary(12))
    wrapped_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary(64))
    kek_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[created_at]
    destroyed_at: Mapped[datetime | None]

    @validates("record_type")
    def _classify(self, _key: str, record_type: RecordType) -> RecordType:
        record_type = RecordType(record_type)
        self.category = record_type.category
        return record_type

    @property
    def destroyed(self) -> bool:
        return self.destroyed_at is not None

    @property
    def dated_by_originator(self) -> bool:
        return self.originated_on is not None


@sa.event.listens_for(StudentRecord, "before_insert")
@sa.event.listens_for(StudentRecord, "before_update")
def _file_in_its_category(_mapper: Any, _connection: Any, record: StudentRecord) -> None:
    """Whatever was assigned, a record is stored in the category its type has."""
    record.category = RecordType(record.record_type).category


# --- Duties and disclosures -------------------------------------------------------


class ObligationTask(Base):
    """A duty a decision brought to the district (e.g. notify the parent within 24 hours)."""

    __tablename__ = "obligation_tasks"
    __table_args__ = (
        sa.CheckConstraint("(done_at IS NULL AND done_by_id IS NULL) OR "
                           "(done_at IS NOT NULL AND done_by_id IS NOT NULL)",
                           name="done_at_and_by"),
    )

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = _fk("students.id")
    record_id: Mapped[uuid.UUID | None] = _fk("student_records.id", nullable=True, index=False)
    # A gateway.policy.decision.Obligation value; a plain string so the engine's list can
    # grow without a migration.
    obligation: Mapped[str] = mapped_column(sa.String(64))
    due_by: Mapped[datetime] = mapped_column(index=True)
    created_from_request_id: Mapped[request_id]
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[uuid.UUID | None] = _fk("requesters.id", nullable=True, index=False)
    created_at: Mapped[created_at]


class Disclosure(Base):
    """A disclosure as decided; the tamper-evident access log will replace this table."""

    __tablename__ = "disclosures"

    id: Mapped[uuid_pk]
    request_id: Mapped[request_id]
    requester_id: Mapped[uuid.UUID] = _fk("requesters.id", index=False)
    student_id: Mapped[uuid.UUID] = _fk("students.id")
    record_id: Mapped[uuid.UUID | None] = _fk("student_records.id", nullable=True, index=False)
    clause: Mapped[str] = mapped_column(sa.String(100))  # the policy pack clause relied on
    purpose: Mapped[long_text]
    legitimate_educational_interest: Mapped[long_text]  # as the requester stated it
    disclosed_at: Mapped[datetime] = mapped_column(default=utc_now)
