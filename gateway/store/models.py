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
from collections.abc import Iterable
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


class JudicialOrderKind(enum.StrEnum):
    """What the district was served with for a student's records (Ed Code 49077)."""

    COURT_ORDER = "court_order"
    SUBPOENA = "subpoena"  # lawfully issued


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
    JudicialOrderKind: "judicial_order_kind",
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
    __table_args__ = (
        sa.UniqueConstraint("issuer", "subject"),
        # Only a student's own login names a student: theirs.
        sa.CheckConstraint("student_id IS NULL OR category = 'student'",
                           name="only_a_student_is_a_student"),
    )

    id: Mapped[uuid_pk]
    issuer: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[short_text]
    category: Mapped[RequesterCategory]
    organization_type: Mapped[OrganizationType | None]
    volunteer: Mapped[flag]
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[created_at]
    # The language the person chose in the portal ("en", "es"); none: the browser's.
    preferred_language: Mapped[str | None] = mapped_column(sa.String(8))
    # The person's last sign-out from the portal: every session begun before it is over
    # (the session lives in a signed cookie, which a copy would otherwise keep alive).
    signed_out_at: Mapped[datetime | None]
    # A student's own login: the student it is (registered by the SIS, like a parent's).
    student_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("students.id"), unique=True)

    @property
    def is_custodian(self) -> bool:
        """The custodian of records: an employee (5 CCR 433), so never a volunteer, whatever
        the registration says (the engine gives a volunteer custodian no access either)."""
        return self.category is RequesterCategory.CUSTODIAN and not self.volunteer

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
    # A parent's consents page lists theirs, newest first.
    __table_args__ = (sa.Index("ix_consents_given_by_id_created_at", "given_by_id",
                               "created_at"),)

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


class JudicialOrder(Base):
    """A court order or lawfully issued subpoena for a student's records and the party it
    authorizes to receive them (AR 5125(e) item 8; Ed Code 49077; 5 CCR 435), as the
    custodian of records entered it, with the notice the parent or adult student was
    given (at least three days before a disclosure, unless the court instructs otherwise).
    """

    __tablename__ = "judicial_orders"
    __table_args__ = (
        sa.CheckConstraint("withdrawn_on IS NULL OR withdrawn_on >= served_on",
                           name="withdrawn_after_served"),
    )

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = _fk("students.id")
    recipient_id: Mapped[uuid.UUID] = _fk("requesters.id")
    kind: Mapped[JudicialOrderKind]
    reference: Mapped[short_text]  # the court and case number, as on the paper
    served_on: Mapped[date]
    records: Mapped[frozenset[RecordType] | None]  # none: every record
    court_instructs_no_notice: Mapped[flag]
    parent_notified_on: Mapped[date | None]
    withdrawn_on: Mapped[date | None]  # quashed or withdrawn: not in force from that day
    entered_by_id: Mapped[uuid.UUID] = _fk("requesters.id", index=False)
    created_at: Mapped[created_at]

    def in_force_for(self, record_type: RecordType, day: date) -> bool:
        return (self.served_on <= day and (self.withdrawn_on is None or day < self.withdrawn_on)
                and (self.records is None or record_type in self.records))

    def evidence(self) -> dict[str, Any]:
        """The engine's evidence this order is (facts.Evidence's fields)."""
        return {"court_order": self.kind is JudicialOrderKind.COURT_ORDER,
                "subpoena": self.kind is JudicialOrderKind.SUBPOENA,
                "court_instructs_no_notice": self.court_instructs_no_notice,
                "parent_notified_on": self.parent_notified_on}


class EmergencyDetermination(Base):
    """The district's determination that an articulable and significant threat to the
    health or safety of the student or others makes a party's knowledge of the records
    necessary (AR 5125(f), discretionary item 1; Ed Code 49076; 34 CFR 99.36), as the
    custodian of records recorded it: the threat, the party, and the days it stands.

    The threat is the district's finding, not what a requester says: a read names no
    emergency of its own (anyone could), the engine sees only a determination on file.
    """

    __tablename__ = "emergency_determinations"
    __table_args__ = (
        sa.CheckConstraint("ends_on >= determined_on", name="ends_after_determined"),
    )

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = _fk("students.id")
    recipient_id: Mapped[uuid.UUID] = _fk("requesters.id")
    threat: Mapped[str] = mapped_column(sa.Text)
    determined_on: Mapped[date]
    ends_on: Mapped[date]  # the last day the emergency stands
    entered_by_id: Mapped[uuid.UUID] = _fk("requesters.id", index=False)
    created_at: Mapped[created_at]


def judicial_evidence(orders: Iterable[JudicialOrder], record_type: RecordType,
                      day: date) -> dict[str, Any]:
    """The evidence of the order in force for the record that asks least of the district
    (no notice needed, else the earliest notice), or none."""
    in_force = [o for o in orders if o.in_force_for(record_type, day)]
    if not in_force:
        return {}
    best = min(in_force, key=lambda o: (not o.court_instructs_no_notice,
                                        o.parent_notified_on is None,
                                        o.parent_notified_on or day, o.created_at))
    return best.evidence()


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

# Disclosures are entries of the access log (AccessLogEntry, below).


# --- Access log -------------------------------------------------------------------
# The tamper-evident access log (audit/, issue 4). Its tables only ever grow: the
# migration adds triggers that refuse UPDATE and DELETE (and, on PostgreSQL, a service
# role without those privileges). The leaf bytes are the record; the other columns of
# an entry are search keys, checked against the leaf by `records-gateway audit verify`.

from audit.events import EventType  # noqa: E402  (the log's own vocabulary)


class AccessLogEntry(Base):
    """One entry: its RFC 8785 stored form (the Merkle leaf) and what it is searched by.

    ``student_id`` has no foreign key: the log outlives the student's records (34 CFR
    99.32), and after the student's content key is destroyed it names nobody.
    """

    __tablename__ = "access_log_entries"
    __table_args__ = (
        sa.CheckConstraint("seq >= 0", name="seq_not_negative"),
        sa.Index("ix_access_log_entries_student_id_seq", "student_id", "seq"),
        sa.Index("ix_access_log_entries_requester_id_seq", "requester_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    leaf: Mapped[bytes] = mapped_column(sa.LargeBinary)
    time: Mapped[datetime] = mapped_column(index=True)
    event: Mapped[EventType] = mapped_column(string_enum(EventType, "access_log_event"))
    requester_category: Mapped[str | None] = mapped_column(sa.String(40))
    decision: Mapped[str | None] = mapped_column(sa.String(16))
    clause: Mapped[str | None] = mapped_column(sa.String(100))
    student_id: Mapped[uuid.UUID | None]
    request_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    # The requester's registered id (a gateway uuid, not student data), so a custodian can
    # find someone's accesses without opening every entry.
    requester_id: Mapped[uuid.UUID | None]


class AccessLogNode(Base):
    """The hash of one complete subtree of the log's Merkle tree (level 0: a leaf hash)."""

    __tablename__ = "access_log_nodes"

    level: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class AccessLogHead(Base):
    """The tree head, one row: writers lock it to take the next seq.

    ``edge`` is the right edge of the tree (the hashes of the complete subtrees the
    binary digits of ``size`` name, largest first), so an append reads no node.
    """

    __tablename__ = "access_log_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="one_row"),
                      sa.CheckConstraint("size >= 0", name="size_not_negative"))

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    root: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    last_leaf_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    edge: Mapped[bytes] = mapped_column(sa.LargeBinary)


class AccessLogCheckpoint(Base):
    """A signed checkpoint (C2SP signed note) of the log at ``size``."""

    __tablename__ = "access_log_checkpoints"

    size: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    note: Mapped[str] = mapped_column(sa.Text)
    key_name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime]


class StudentContentKey(Base):
    """A student's access-log content key, wrapped by the key-encryption key.

    Destroying it (5 CCR 437, with the student's records) deletes the wrapped key and
    keeps the row, so that later entries about the student are not sealed under a new
    key that would open them.
    """

    __tablename__ = "access_log_content_keys"
    __table_args__ = (
        sa.CheckConstraint(
            "(destroyed_at IS NULL AND wrapped_key IS NOT NULL AND kek_id IS NOT NULL) OR "
            "(destroyed_at IS NOT NULL AND wrapped_key IS NULL AND kek_id IS NULL)",
            name="wrapped_or_destroyed"),
    )

    student_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary(64))
    kek_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime]
    destroyed_at: Mapped[datetime | None]


# --- Retention --------------------------------------------------------------------
# The disposition of student records under the retention schedule (issue 5; AR 5125(j)-(m);
# 5 CCR 432, 437): holds that stop destruction, plans a custodian reviews, the runs that
# carry an approved plan out, and the certificate that proves what went without saying
# what it was. The usefulness determination and the forwarded mark of a record are
# StudentRecord.usefulness_ceased_on/_determined_by and StudentRecord.forwarded_to; the
# student's departure is on Student.

from gateway.retention.schedule import HoldKind  # noqa: E402  (the schedule's vocabulary)


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"  # no item decided yet
    APPROVED = "approved"  # every eligible item approved
    REJECTED = "rejected"  # every eligible item rejected
    PARTLY_APPROVED = "partly_approved"  # some approved; others rejected or undecided
    RUNNING = "running"  # a destruction run has started on it
    DONE = "done"  # run to the end; its certificate is written


class PlanItemKind(enum.StrEnum):
    ELIGIBLE = "eligible"  # the schedule lets it go; a custodian decides
    HELD = "held"  # eligible but for a hold in force (listed, never approvable)


class ItemDecision(enum.StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class ItemOutcome(enum.StrEnum):
    """What the run did with an approved item."""

    DESTROYED = "destroyed"
    HELD = "held"  # a hold placed after the plan stopped it at run time
    NOT_ELIGIBLE = "not_eligible"  # the facts changed (the student came back...)
    ALREADY_DESTROYED = "already_destroyed"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    INTERRUPTED = "interrupted"  # found running by a later run: its process died


def _enum_column(enumeration: type[enum.Enum], name: str, *, nullable: bool = False) -> Any:
    return mapped_column(string_enum(enumeration, name), nullable=nullable)


class RetentionHold(Base):
    """Something that stops destruction of one record, or of every record of a student.

    A hold is released, never deleted: who released it, when and why stay on the row.
    """

    __tablename__ = "retention_holds"
    __table_args__ = (
        sa.CheckConstraint(
            "(released_at IS NULL AND released_by_id IS NULL AND release_reason IS NULL) OR "
            "(released_at IS NOT NULL AND released_by_id IS NOT NULL "
            "AND release_reason IS NOT NULL)",
            name="released_at_by_and_why"),
    )

    id: Mapped[uuid_pk]
    kind: Mapped[HoldKind] = _enum_column(HoldKind, "hold_kind")
    student_id: Mapped[uuid.UUID] = _fk("students.id")
    record_id: Mapped[uuid.UUID | None] = _fk("student_records.id", nullable=True)  # none:
    # every record of the student
    reason: Mapped[str] = mapped_column(sa.Text)
    owner: Mapped[short_text]  # who answers for it (counsel, the auditor, the registrar)
    placed_at: Mapped[datetime] = mapped_column(default=utc_now)
    placed_by_id: Mapped[uuid.UUID] = _fk("requesters.id", index=False)
    released_at: Mapped[datetime | None]
    released_by_id: Mapped[uuid.UUID | None] = _fk("requesters.id", nullable=True, index=False)
    release_reason: Mapped[str | None] = mapped_column(sa.Text)

    @property
    def released(self) -> bool:
        return self.released_at is not None


class DispositionPlan(Base):
    """The schedule applied to the store on one day: what may go, what is held."""

    __tablename__ = "disposition_plans"

    id: Mapped[uuid_pk]
    created_at: Mapped[created_at]
    created_by: Mapped[short_text]  # a custodian's id, or the scheduled job
    as_of: Mapped[date]
    schedule_id: Mapped[str] = mapped_column(sa.String(100))
    schedule_version: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[PlanStatus] = _enum_column(PlanStatus, "plan_status")
    # Dispositions of every record looked at, by kind (keep, not_yet, ...; total).
    summary: Mapped[dict[str, int]] = mapped_column(sa.JSON)


class DispositionApproval(Base):
    """One review of a plan by a custodian: who decided what, when; the items it covers
    point back to it."""

    __tablename__ = "disposition_approvals"

    id: Mapped[uuid_pk]
    plan_id: Mapped[uuid.UUID] = _fk("disposition_plans.id")
    custodian_id: Mapped[uuid.UUID] = _fk("requesters.id", index=False)
    decision: Mapped[ItemDecision] = _enum_column(ItemDecision, "item_decision")
    decided_at: Mapped[datetime] = mapped_column(default=utc_now)
    item_count: Mapped[int]
    note: Mapped[long_text]


class DispositionPlanItem(Base):
    """One record of a plan: why it may go (or what holds it), its review, its fate."""

    __tablename__ = "disposition_plan_items"
    __table_args__ = (
        sa.CheckConstraint("(decision IS NULL AND approval_id IS NULL) OR "
                           "(decision IS NOT NULL AND approval_id IS NOT NULL)",
                           name="decided_in_an_approval"),
        sa.CheckConstraint("kind = 'eligible' OR decision IS NULL",
                           name="only_eligible_items_decided"),
        sa.CheckConstraint("outcome IS NULL OR decision = 'approved'",
                           name="only_approved_items_run"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("disposition_plans.id"),
                                               primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("student_records.id"),
                                                 primary_key=True)
    student_id: Mapped[uuid.UUID] = _fk("students.id", index=False)
    record_type: Mapped[RecordType]
    kind: Mapped[PlanItemKind] = _enum_column(PlanItemKind, "plan_item_kind")
    rule: Mapped[str] = mapped_column(sa.String(100))
    section: Mapped[short_text]
    citations: Mapped[long_text]  # "; "-joined, as the schedule gives them
    eligible_from: Mapped[date | None]
    held_by: Mapped[str | None] = mapped_column(sa.Text)  # the holds in force, described
    decision: Mapped[ItemDecision | None] = _enum_column(ItemDecision, "item_decision",
                                                         nullable=True)
    approval_id: Mapped[uuid.UUID | None] = _fk("disposition_approvals.id", nullable=True,
                                                index=False)
    outcome: Mapped[ItemOutcome | None] = _enum_column(ItemOutcome, "item_outcome",
                                                       nullable=True)
    done_at: Mapped[datetime | None]


class DestructionRun(Base):
    """One attempt to carry out a plan; a crashed attempt is found running and marked."""

    __tablename__ = "destruction_runs"

    id: Mapped[uuid_pk]
    plan_id: Mapped[uuid.UUID] = _fk("disposition_plans.id")
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    started_by: Mapped[short_text]
    status: Mapped[RunStatus] = _enum_column(RunStatus, "run_status")
    destroyed: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    progress_at: Mapped[datetime] = mapped_column(default=utc_now)  # the last batch committed
    finished_at: Mapped[datetime | None]


class DestructionCertificate(Base):
    """What a plan destroyed, by record type and rule, who approved it and how: no content.

    One per plan; the same text goes to the access log (DESTRUCTION_CERTIFICATE).
    """

    __tablename__ = "destruction_certificates"

    id: Mapped[uuid_pk]
    plan_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("disposition_plans.id"),
                                               unique=True)
    run_id: Mapped[uuid.UUID] = _fk("destruction_runs.id", index=False)
    issued_at: Mapped[datetime] = mapped_column(default=utc_now)
    method: Mapped[short_text]
    destroyed: Mapped[int]
    skipped: Mapped[int]
    # {"by_type_and_rule": [...], "approvers": [...], "schedule_version": ..., ...}
    body: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    logged: Mapped[flag]  # written to the tamper-evident access log too


class RetentionLock(Base):
    """SQLite's stand-in for PostgreSQL's advisory lock: one destruction run at a time.

    The holder's host and process let a later run see that a crashed holder is gone;
    ``heartbeat_at`` (moved at every batch) lets it see a holder that stopped moving.
    """

    __tablename__ = "retention_locks"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(64))
    host: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int]
    acquired_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


# --- Requests to inspect or copy records (Ed Code 49065, 49069) --------------------

from gateway.records_requests.fees import RequestKind  # noqa: E402  (the requests' vocabulary)


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    FULFILLED = "fulfilled"
    DENIED = "denied"


class RecordsRequest(Base):
    """A parent's or adult student's request to inspect, review or copy records.

    ``due_on`` is five business days after the request (Ed Code 49069). The custodian
    fulfils or denies it; who and when stay on the row. Copies are made from the stored
    records when they are downloaded, so nothing here holds a record's content.
    """

    __tablename__ = "records_requests"
    __table_args__ = (
        sa.CheckConstraint(
            "(status = 'open' AND decided_at IS NULL AND decided_by_id IS NULL) OR "
            "(status <> 'open' AND decided_at IS NOT NULL AND decided_by_id IS NOT NULL)",
            name="decided_at_and_by"),
        sa.CheckConstraint("status <> 'denied' OR denial_reason <> ''",
                           name="denial_has_a_reason"),
        sa.CheckConstraint("fee_cents IS NULL OR fee_cents >= 0", name="fee_not_negative"),
        sa.Index("ix_records_requests_status_due_on", "status", "due_on"),
    )

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = _fk("students.id")
    requester_id: Mapped[uuid.UUID] = _fk("requesters.id")
    kind: Mapped[RequestKind] = _enum_column(RequestKind, "request_kind")
    note: Mapped[long_text]  # what the requester wrote: which records, when they can come
    requested_at: Mapped[datetime] = mapped_column(default=utc_now)
    due_on: Mapped[date]
    status: Mapped[RequestStatus] = _enum_column(RequestStatus, "request_status")
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[uuid.UUID | None] = _fk("requesters.id", nullable=True, index=False)
    denial_reason: Mapped[long_text]
    custodian_note: Mapped[long_text]  # e.g. when and where to inspect the records
    # The records the copies are made of, fixed when the custodian fulfils the request,
    # so that the copies downloaded are the ones the fee was set for.
    record_ids: Mapped[list[str] | None] = mapped_column(sa.JSON)
    pages: Mapped[int | None]
    fee_cents: Mapped[int | None]
    fee_basis: Mapped[long_text]
    hold_id: Mapped[uuid.UUID | None] = _fk("retention_holds.id", nullable=True, index=False)
    # A copy of what was disclosed under this consent (34 CFR 99.30(d)); none: the records.
    consent_id: Mapped[uuid.UUID | None] = _fk("consents.id", nullable=True, index=False)


# --- Challenges to a record (Ed Code 49070; AR 5125.3) -------------------------------

from gateway.records_requests.challenges import ChallengeStatus  # noqa: E402


class RecordChallenge(Base):
    """A parent's or adult student's written challenge to one record, and its decision."""

    __tablename__ = "record_challenges"
    __table_args__ = (
        sa.CheckConstraint(
            "(status = 'open' AND decided_at IS NULL AND decided_by_id IS NULL) OR "
            "(status <> 'open' AND decided_at IS NOT NULL AND decided_by_id IS NOT NULL "
            "AND decision_note <> '')",
            name="decided_at_by_and_why"),
    )

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = _fk("students.id")
    record_id: Mapped[uuid.UUID] = _fk("student_records.id")
    challenger_id: Mapped[uuid.UUID] = _fk("requesters.id", index=False)
    grounds: Mapped[list[str]] = mapped_column(sa.JSON)  # ChallengeGround values
    statement: Mapped[long_text]
    filed_at: Mapped[datetime] = mapped_column(default=utc_now)
    decide_by: Mapped[date]
    status: Mapped[ChallengeStatus] = _enum_column(ChallengeStatus, "challenge_status")
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[uuid.UUID | None] = _fk("requesters.id", nullable=True, index=False)
    decision_note: Mapped[long_text]
    hold_id: Mapped[uuid.UUID | None] = _fk("retention_holds.id", nullable=True, index=False)
