"""Every model survives a round trip; the database itself refuses what the law does not allow."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

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
from gateway.store.models import (
    Agreement,
    AgreementKind,
    Consent,
    Guardianship,
    ObligationTask,
    Requester,
    Student,
    StudentRecord,
)
from gateway.store.uow import UnitOfWork

PACIFIC = timezone(timedelta(hours=-8))


def reloaded(session: Session, row: object) -> object:
    """The row as read back from the database, not from the identity map."""
    session.add(row)
    session.flush()
    session.expunge_all()
    return session.get(type(row), row.id)  # type: ignore[attr-defined]


def test_a_student_round_trips_with_every_fact(db_session: Session) -> None:
    student = Student(
        sis_id="SIS-RT-1", birth_date=date(2008, 2, 29), grade_completed=10,
        status=StudentStatus.WITHDRAWN, attends_postsecondary=True, tax_dependent=True,
        incompetent_adult_with_disability=True, disability=True,
        expelled_or_suspended_for_pc245=True, directory_opt_out=True,
        left_district_on=date(2025, 6, 13), program_completed_on=date(2025, 6, 12),
        withdrawn_on=date(2025, 6, 1), returned_on=None)
    db_session.add(student)
    back = reloaded(db_session, student)
    assert isinstance(back, Student)
    assert back.as_fact() == facts.Student(
        birth_date=date(2008, 2, 29), grade_completed=10, attends_postsecondary=True,
        tax_dependent=True, incompetent_adult_with_disability=True, disability=True,
        expelled_or_suspended_for_pc245=True, directory_opt_out=True,
        status=StudentStatus.WITHDRAWN)
    assert back.status is StudentStatus.WITHDRAWN
    assert (back.left_district_on, back.program_completed_on, back.withdrawn_on) == (
        date(2025, 6, 13), date(2025, 6, 12), date(2025, 6, 1))
    assert back.created_at.tzinfo is not None and back.created_at.utcoffset() == timedelta(0)


def test_a_new_student_is_enrolled_with_no_flags(db_session: Session) -> None:
    back = reloaded(db_session, student := Student(sis_id="SIS-RT-2"))
    assert isinstance(back, Student) and back.id == student.id
    assert back.as_fact() == facts.Student()


def test_timestamps_come_back_as_the_same_instant_in_utc(db_session: Session,
                                                         student: Student) -> None:
    due = datetime(2025, 3, 10, 17, 30, 15, 123456, tzinfo=PACIFIC)
    task = ObligationTask(student_id=student.id, obligation="notify_parent_within_24_hours",
                          due_by=due, created_from_request_id="req-1")
    db_session.add(task)
    back = reloaded(db_session, task)
    assert isinstance(back, ObligationTask)
    assert back.due_by == due and back.due_by.tzinfo == timezone.utc
    assert back.due_by.hour == 1 and back.due_by.day == 11


def test_a_naive_timestamp_is_refused(db_session: Session, student: Student) -> None:
    db_session.add(ObligationTask(student_id=student.id, obligation="x",
                                  due_by=datetime(2025, 3, 10, 12), created_from_request_id="r"))
    with pytest.raises(StatementError, match="time zone"):
        db_session.flush()


def test_a_requester_round_trips_and_is_unique_per_issuer(db_session: Session) -> None:
    requester = Requester(issuer="https://idp.example", subject="sis-aeries",
                          display_name="Aeries integration",
                          category=RequesterCategory.CONTRACTOR,
                          organization_type=OrganizationType.PRIVATE_FOR_PROFIT,
                          volunteer=False)
    back = reloaded(db_session, requester)
    assert isinstance(back, Requester)
    assert (back.issuer, back.subject, back.category, back.organization_type, back.active) == (
        "https://idp.example", "sis-aeries", RequesterCategory.CONTRACTOR,
        OrganizationType.PRIVATE_FOR_PROFIT, True)
    assert back.as_fact(legitimate_educational_interest="nightly sync") == facts.Requester(
        category=RequesterCategory.CONTRACTOR, legitimate_educational_interest="nightly sync",
        organization_type=OrganizationType.PRIVATE_FOR_PROFIT)

    db_session.add(Requester(issuer="https://other.example", subject="sis-aeries",
                             display_name="x", category=RequesterCategory.CONTRACTOR))
    db_session.flush()  # the same subject at another issuer is another requester
    db_session.add(Requester(issuer="https://idp.example", subject="sis-aeries",
                             display_name="x", category=RequesterCategory.CONTRACTOR))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_a_guardianship_round_trips_and_gives_the_parent_standing(
        db_session: Session, student: Student, custodian: Requester,
        register: Callable[..., Requester]) -> None:
    father = register(RequesterCategory.PARENT)
    verified_at = datetime(2025, 8, 20, 16, 0, tzinfo=timezone.utc)
    guardianship = Guardianship(parent_id=father.id, student_id=student.id,
                                parent_type=ParentType.ADOPTIVE, legal_custody=False,
                                access_revoked_by_court=True,
                                both_parents_written_agreement=True,
                                verified_by_id=custodian.id, verified_at=verified_at)
    back = reloaded(db_session, guardianship)
    assert isinstance(back, Guardianship)
    assert (back.parent_type, back.legal_custody, back.access_revoked_by_court,
            back.both_parents_written_agreement, back.verified_by_id, back.verified_at) == (
        ParentType.ADOPTIVE, False, True, True, custodian.id, verified_at)
    assert back.parent.id == father.id
    assert back.parent.as_fact(back) == facts.Requester(
        category=RequesterCategory.PARENT, legal_custody=False, access_revoked_by_court=True,
        parent_type=ParentType.ADOPTIVE)


def test_a_parent_without_a_verified_guardianship_has_no_standing(
        db_session: Session, student: Student, register: Callable[..., Requester]) -> None:
    claimant = register(RequesterCategory.PARENT)
    with pytest.raises(NotAParent):
        claimant.as_fact()
    unverified = Guardianship(parent_id=claimant.id, student_id=student.id,
                              parent_type=ParentType.NATURAL)
    with pytest.raises(NotAParent):
        claimant.as_fact(unverified)


def test_a_guardianship_is_verified_by_someone_at_some_time_or_not_at_all(
        db_session: Session, student: Student, parent: Requester,
        register: Callable[..., Requester]) -> None:
    other = register(RequesterCategory.PARENT)
    db_session.add(Guardianship(parent_id=other.id, student_id=student.id,
                                parent_type=ParentType.NATURAL,
                                verified_at=datetime.now(timezone.utc)))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_an_agreement_round_trips(db_session: Session,
                                  register: Callable[..., Requester]) -> None:
    researcher = register(RequesterCategory.RESEARCH_ORGANIZATION,
                          organization_type=OrganizationType.NONPROFIT)
    agreement = Agreement(requester_id=researcher.id, kind=AgreementKind.WRITTEN_AGREEMENT,
                          purpose="reading intervention study", signed_on=date(2025, 7, 1),
                          effective_from=date(2025, 8, 1), expires_on=date(2026, 6, 30),
                          reference="BOARD-2025-117")
    back = reloaded(db_session, agreement)
    assert isinstance(back, Agreement)
    assert (back.kind, back.purpose, back.signed_on, back.effective_from, back.expires_on,
            back.reference) == (AgreementKind.WRITTEN_AGREEMENT, "reading intervention study",
                                date(2025, 7, 1), date(2025, 8, 1), date(2026, 6, 30),
                                "BOARD-2025-117")


def test_an_agreement_cannot_expire_before_it_takes_effect(
        db_session: Session, register: Callable[..., Requester]) -> None:
    agency = register(RequesterCategory.COUNTY_PLACING_AGENCY)
    db_session.add(Agreement(requester_id=agency.id, kind=AgreementKind.WRITTEN_CERTIFICATION,
                             signed_on=date(2025, 1, 1), effective_from=date(2025, 1, 1),
                             expires_on=date(2024, 12, 31), reference="C-1"))
    with pytest.raises(IntegrityError):
        db_session.flush()


@pytest.mark.parametrize("records", [None, frozenset({RecordType.HEALTH, RecordType.IEP})],
                         ids=["all-records", "named-records"])
def test_a_consent_round_trips(db_session: Session, student: Student, parent: Requester,
                               register: Callable[..., Requester],
                               records: frozenset[RecordType] | None) -> None:
    clinic = register(RequesterCategory.THIRD_PARTY)
    consent = Consent(student_id=student.id, given_by_id=parent.id,
                      giver_role=ConsentGiver.CUSTODIAL_PARENT, signed=True,
                      signed_on=date(2025, 9, 2), records=records,
                      purpose="speech therapy", recipient="Bayview Clinic",
                      recipient_id=clinic.id)
    back = reloaded(db_session, consent)
    assert isinstance(back, Consent)
    assert back.records == records and back.revoked_at is None
    assert back.as_fact() == facts.Consent(signed=True, dated=True,
                                           by=ConsentGiver.CUSTODIAL_PARENT, records=records,
                                           purpose="speech therapy", recipient="Bayview Clinic")


def test_a_consent_names_some_records_or_all(db_session: Session, student: Student,
                                             parent: Requester) -> None:
    db_session.add(Consent(student_id=student.id, given_by_id=parent.id,
                           giver_role=ConsentGiver.CUSTODIAL_PARENT, records=frozenset(),
                           recipient="x"))
    with pytest.raises(StatementError, match="at least one record type"):
        db_session.flush()


def test_a_record_row_round_trips_with_its_category(
        db_session: Session, unit_of_work: Callable[[], UnitOfWork], student: Student) -> None:
    with unit_of_work() as uow:
        added = uow.records.add(
            student_id=student.id, record_type=RecordType.IEP, content=b"%PDF-1.7 ...",
            media_type="application/pdf", school_year_of_origin=2024,
            originator="Special education coordinator", originated_on=date(2024, 10, 3),
            forwarded_to="Redding Unified")
        uow.commit()
    back = db_session.get(StudentRecord, added.id)
    assert back is not None
    assert (back.record_type, back.category, back.school_year_of_origin, back.originator,
            back.originated_on, back.forwarded_to, back.media_type, back.destroyed_at) == (
        RecordType.IEP, RecordCategory.MANDATORY_INTERIM, 2024,
        "Special education coordinator", date(2024, 10, 3), "Redding Unified",
        "application/pdf", None)


@pytest.mark.parametrize("record_type", list(RecordType))
def test_every_record_type_is_filed_in_its_5_ccr_430_category(record_type: RecordType) -> None:
    record = StudentRecord(record_type=record_type)
    assert record.category is record_type.category
    record.record_type = RecordType.LEGAL_NAME  # reclassified: the category follows
    assert record.category is RecordCategory.MANDATORY_PERMANENT


def test_an_obligation_task_round_trips(db_session: Session, student: Student,
                                        custodian: Requester) -> None:
    task = ObligationTask(student_id=student.id,
                          obligation="notify_parent_3_days_before_disclosure",
                          due_by=datetime(2025, 9, 5, tzinfo=timezone.utc),
                          created_from_request_id="req-42")
    back = reloaded(db_session, task)
    assert isinstance(back, ObligationTask)
    assert (back.obligation, back.created_from_request_id, back.done_at, back.record_id) == (
        "notify_parent_3_days_before_disclosure", "req-42", None, None)


@pytest.mark.parametrize("table, column", [
    ("students", "status"), ("requesters", "category"), ("requesters", "organization_type"),
    ("guardianships", "parent_type"), ("agreements", "kind"),
    ("student_records", "record_type"), ("student_records", "category"),
    ("consents", "giver_role")])
def test_the_database_refuses_a_value_the_vocabulary_does_not_know(
        connection: Connection, one_of_each: None, table: str, column: str) -> None:
    """The CHECK holds for any client of the database, not only for this ORM."""
    assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
    nested = connection.begin_nested()
    with pytest.raises(IntegrityError):
        connection.execute(text(f"UPDATE {table} SET {column} = 'not_a_value'"))
    nested.rollback()


@pytest.fixture
def one_of_each(unit_of_work: Callable[[], UnitOfWork], student: Student, parent: Requester,
                register: Callable[..., Requester]) -> None:
    agency = register(RequesterCategory.COUNTY_PLACING_AGENCY,
                      organization_type=OrganizationType.PUBLIC_AGENCY)
    with unit_of_work() as uow:
        uow.records.add(student_id=student.id, record_type=RecordType.HEALTH, content=b"x",
                        media_type="text/plain", school_year_of_origin=2025,
                        originator="nurse")
        uow.consents.add(Consent(student_id=student.id, given_by_id=parent.id,
                                 giver_role=ConsentGiver.CUSTODIAL_PARENT, recipient="x"))
        uow.agreements.add(Agreement(requester_id=agency.id,
                                     kind=AgreementKind.WRITTEN_CERTIFICATION,
                                     signed_on=date(2025, 1, 1),
                                     effective_from=date(2025, 1, 1), reference="C-1"))
        uow.commit()


def test_a_record_is_sealed_or_a_tombstone_never_both(
        connection: Connection, unit_of_work: Callable[[], UnitOfWork], student: Student) -> None:
    with unit_of_work() as uow:
        record = uow.records.add(student_id=student.id, record_type=RecordType.HEALTH,
                                 content=b"x", media_type="text/plain",
                                 school_year_of_origin=2025, originator="nurse")
        uow.commit()
    for change in ("destroyed_at = created_at",  # destroyed, yet sealed content is still there
                   "ciphertext = NULL"):  # no content, yet not destroyed
        nested = connection.begin_nested()
        with pytest.raises(IntegrityError):
            connection.execute(text(f"UPDATE student_records SET {change} WHERE id = :id"),
                               {"id": _db_id(connection, record.id)})
        nested.rollback()


def _db_id(connection: Connection, ident: uuid.UUID) -> object:
    return ident if connection.dialect.name == "postgresql" else ident.hex


def test_ids_are_uuids_made_by_the_gateway(db_session: Session, student: Student) -> None:
    ids = db_session.scalars(select(Student.id)).all()
    assert student.id in ids and all(isinstance(i, uuid.UUID) for i in ids)


def test_a_record_is_stored_in_its_types_category_whatever_was_assigned(
        db_session: Session, unit_of_work: Callable[[], UnitOfWork], student: Student) -> None:
    with unit_of_work() as uow:
        added = uow.records.add(student_id=student.id, record_type=RecordType.HEALTH,
                                content=b"x", media_type="text/plain",
                                school_year_of_origin=2025, originator="nurse")
        added.category = RecordCategory.PERMITTED  # would make it destroyable too early
        uow.commit()
    stored = reloaded(db_session, added)
    assert isinstance(stored, StudentRecord)
    assert stored.category is RecordCategory.MANDATORY_INTERIM
