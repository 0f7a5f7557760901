"""What services ask: who is whose parent, which papers are in force, which consents hold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import pytest

from gateway.policy.facts import (
    ConsentGiver,
    ParentType,
    RecordType,
    RequesterCategory,
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
)
from gateway.store.uow import UnitOfWork

NOW = datetime(2025, 10, 1, 18, 0, tzinfo=timezone.utc)
TODAY = date(2025, 10, 1)


def test_a_student_is_found_by_sis_id(unit_of_work: Callable[[], UnitOfWork],
                                      student: Student) -> None:
    with unit_of_work() as uow:
        found = uow.students.by_sis_id(student.sis_id)
        assert found is not None and found.id == student.id
        assert uow.students.by_sis_id("SIS-NOBODY") is None


def test_a_requester_is_found_by_issuer_and_subject(
        unit_of_work: Callable[[], UnitOfWork], register: Callable[..., Requester]) -> None:
    client = register(RequesterCategory.CONTRACTOR, issuer="https://idp.example",
                      subject="powerschool-sync")
    with unit_of_work() as uow:
        found = uow.requesters.by_subject("https://idp.example", "powerschool-sync")
        assert found is not None and found.id == client.id
        assert uow.requesters.by_subject("https://evil.example", "powerschool-sync") is None


def test_the_guardianship_between_a_parent_and_a_student(
        unit_of_work: Callable[[], UnitOfWork], parent: Requester, student: Student,
        enrol: Callable[..., Student]) -> None:
    sibling_of_nobody = enrol()
    with unit_of_work() as uow:
        guardianship = uow.guardianships.find(parent.id, student.id)
        assert guardianship is not None and guardianship.verified
        assert guardianship.parent_type is ParentType.NATURAL and guardianship.legal_custody
        assert uow.guardianships.find(parent.id, sibling_of_nobody.id) is None
        assert [g.parent_id for g in uow.guardianships.of_student(student.id)] == [parent.id]


def test_only_a_registered_parent_can_be_a_guardian(
        unit_of_work: Callable[[], UnitOfWork], student: Student,
        register: Callable[..., Requester]) -> None:
    teacher = register(RequesterCategory.SCHOOL_OFFICIAL)
    with unit_of_work() as uow, pytest.raises(NotAParent):
        uow.guardianships.add(Guardianship(parent_id=teacher.id, student_id=student.id,
                                           parent_type=ParentType.GUARDIAN))


def test_a_custodian_verifies_a_guardianship(
        unit_of_work: Callable[[], UnitOfWork], student: Student, custodian: Requester,
        register: Callable[..., Requester]) -> None:
    foster = register(RequesterCategory.PARENT)
    with unit_of_work() as uow:
        claimed = uow.guardianships.add(Guardianship(parent_id=foster.id, student_id=student.id,
                                                     parent_type=ParentType.FOSTER))
        assert not claimed.verified
        uow.guardianships.verify(claimed.id, custodian.id, at=NOW)
        uow.commit()
    with unit_of_work() as uow:
        verified = uow.guardianships.find(foster.id, student.id)
        assert verified is not None
        assert (verified.verified_by_id, verified.verified_at) == (custodian.id, NOW)


# --- Agreements and certifications in force -------------------------------------------


@pytest.fixture
def researcher(register: Callable[..., Requester],
               unit_of_work: Callable[[], UnitOfWork]) -> Requester:
    """A research organization with a history of papers on file."""
    org = register(RequesterCategory.RESEARCH_ORGANIZATION)
    papers = [
        # signed, effective, expires (last day in force), reference
        (AgreementKind.WRITTEN_AGREEMENT, date(2023, 6, 1), date(2023, 7, 1),
         date(2024, 6, 30), "A-2023"),
        (AgreementKind.WRITTEN_AGREEMENT, date(2024, 6, 15), date(2024, 7, 1),
         date(2025, 6, 30), "A-2024"),
        (AgreementKind.WRITTEN_AGREEMENT, date(2025, 9, 20), date(2025, 9, 1),
         None, "A-2025"),  # signed after its effective date: in force from signing
        (AgreementKind.WRITTEN_CERTIFICATION, date(2024, 1, 10), date(2024, 1, 10),
         date(2024, 1, 10), "C-ONE-DAY"),
    ]
    with unit_of_work() as uow:
        for kind, signed, effective, expires, reference in papers:
            uow.agreements.add(Agreement(requester_id=org.id, kind=kind, signed_on=signed,
                                         effective_from=effective, expires_on=expires,
                                         reference=reference, purpose="study"))
        uow.commit()
    return org


@pytest.mark.parametrize("day, in_force", [
    (date(2023, 6, 30), []),  # signed, not yet effective
    (date(2023, 7, 1), ["A-2023"]),  # the first day in force
    (date(2024, 1, 10), ["A-2023", "C-ONE-DAY"]),
    (date(2024, 1, 11), ["A-2023"]),  # the certification expired the day before
    (date(2024, 6, 30), ["A-2023"]),  # the last day; A-2024 not effective until July
    (date(2024, 7, 1), ["A-2024"]),
    (date(2025, 7, 1), []),  # A-2024 expired; A-2025 not yet signed
    (date(2025, 9, 19), []),  # effective on paper, but not signed yet
    (date(2025, 9, 20), ["A-2025"]),
    (date(2040, 1, 1), ["A-2025"]),  # no expiry
])
def test_agreements_in_force_on_a_date(unit_of_work: Callable[[], UnitOfWork],
                                       researcher: Requester, day: date,
                                       in_force: list[str]) -> None:
    with unit_of_work() as uow:
        found = uow.agreements.in_force(researcher.id, day)
        assert sorted(a.reference for a in found) == sorted(in_force)
        assert all(a.in_force_on(day) for a in found)


def test_agreements_in_force_of_one_kind_and_one_requester(
        unit_of_work: Callable[[], UnitOfWork], researcher: Requester,
        register: Callable[..., Requester]) -> None:
    other = register(RequesterCategory.RESEARCH_ORGANIZATION)
    with unit_of_work() as uow:
        assert [a.reference for a in uow.agreements.in_force(
            researcher.id, date(2024, 1, 10), AgreementKind.WRITTEN_CERTIFICATION)] == [
            "C-ONE-DAY"]
        assert uow.agreements.in_force(other.id, date(2024, 1, 10)) == []


# --- Consents -------------------------------------------------------------------------


@pytest.fixture
def clinic(register: Callable[..., Requester]) -> Requester:
    return register(RequesterCategory.THIRD_PARTY)


@pytest.fixture
def give_consent(unit_of_work: Callable[[], UnitOfWork], student: Student,
                 parent: Requester, clinic: Requester) -> Callable[..., Consent]:
    """The parent signs a consent to disclose to the clinic (details as given)."""
    def give(**details: object) -> Consent:
        values: dict[str, object] = dict(
            student_id=student.id, given_by_id=parent.id,
            giver_role=ConsentGiver.CUSTODIAL_PARENT, signed=True,
            signed_on=date(2025, 9, 2), records=None, purpose="speech therapy",
            recipient="Bayview Clinic", recipient_id=clinic.id)
        values.update(details)
        with unit_of_work() as uow:
            consent = uow.consents.add(Consent(**values))
            uow.commit()
        return consent
    return give


def valid(unit_of_work: Callable[[], UnitOfWork], student: Student, clinic: Requester,
          record_type: RecordType = RecordType.HEALTH, at: datetime = NOW,
          today: date = TODAY) -> list[str]:
    with unit_of_work() as uow:
        return [c.purpose for c in uow.consents.valid_for(student.id, record_type, clinic.id,
                                                          at=at, today=today)]


def test_a_signed_dated_consent_for_all_records_is_valid(
        unit_of_work: Callable[[], UnitOfWork], student: Student, clinic: Requester,
        give_consent: Callable[..., Consent]) -> None:
    give_consent()
    assert valid(unit_of_work, student, clinic) == ["speech therapy"]
    assert valid(unit_of_work, student, clinic, RecordType.IEP) == ["speech therapy"]


def test_a_consent_covers_only_the_records_it_names(
        unit_of_work: Callable[[], UnitOfWork], student: Student, clinic: Requester,
        give_consent: Callable[..., Consent]) -> None:
    give_consent(records=frozenset({RecordType.IEP, RecordType.SPECIAL_EDUCATION}))
    assert valid(unit_of_work, student, clinic, RecordType.IEP) == ["speech therapy"]
    assert valid(unit_of_work, student, clinic, RecordType.HEALTH) == []


@pytest.mark.parametrize("details", [
    {"signed": False},
    {"signed_on": None},  # not dated
    {"signed_on": date(2025, 10, 2)},  # dated after today
], ids=["unsigned", "undated", "dated-tomorrow"])
def test_an_unsigned_or_undated_consent_is_not_valid_but_is_on_file(
        unit_of_work: Callable[[], UnitOfWork], student: Student, clinic: Requester,
        give_consent: Callable[..., Consent], details: dict[str, object]) -> None:
    consent = give_consent(**details)
    assert valid(unit_of_work, student, clinic) == []
    with unit_of_work() as uow:  # the engine still gets to say why it does not suffice
        on_file = uow.consents.for_recipient(student.id, clinic.id, at=NOW)
        assert [c.id for c in on_file] == [consent.id]


def test_a_revoked_consent_is_valid_only_before_its_revocation(
        unit_of_work: Callable[[], UnitOfWork], student: Student, clinic: Requester,
        give_consent: Callable[..., Consent]) -> None:
    consent = give_consent()
    with unit_of_work() as uow:
        uow.consents.revoke(consent.id, at=NOW)
        uow.consents.revoke(consent.id, at=NOW + timedelta(days=1))  # first revocation stands
        uow.commit()
    assert valid(unit_of_work, student, clinic, at=NOW - timedelta(seconds=1)) == [
        "speech therapy"]
    assert valid(unit_of_work, student, clinic, at=NOW) == []
    assert valid(unit_of_work, student, clinic, at=NOW + timedelta(days=2)) == []


def test_a_consent_holds_only_for_its_recipient_and_its_student(
        unit_of_work: Callable[[], UnitOfWork], student: Student, clinic: Requester,
        give_consent: Callable[..., Consent], register: Callable[..., Requester],
        enrol: Callable[..., Student]) -> None:
    give_consent()
    other_clinic = register(RequesterCategory.THIRD_PARTY)
    assert valid(unit_of_work, student, other_clinic) == []
    assert valid(unit_of_work, enrol(), clinic) == []


# --- Obligations --------------------------------------------------------------


def test_open_obligations_soonest_first_and_completing_one(
        unit_of_work: Callable[[], UnitOfWork], student: Student,
        custodian: Requester) -> None:
    with unit_of_work() as uow:
        later = uow.obligations.add(ObligationTask(
            student_id=student.id, obligation="notify_parent_3_days_before_disclosure",
            due_by=NOW + timedelta(days=3), created_from_request_id="req-1"))
        sooner = uow.obligations.add(ObligationTask(
            student_id=student.id, obligation="notify_parent_within_24_hours",
            due_by=NOW + timedelta(hours=24), created_from_request_id="req-2"))
        uow.commit()
    with unit_of_work() as uow:
        assert [t.id for t in uow.obligations.open(student_id=student.id)] == [sooner.id,
                                                                               later.id]
        assert [t.id for t in uow.obligations.open(due_by=NOW + timedelta(days=1))] == [
            sooner.id]
        uow.obligations.complete(sooner.id, done_by=custodian.id, at=NOW + timedelta(hours=2))
        uow.commit()
    with unit_of_work() as uow:
        assert [t.id for t in uow.obligations.open()] == [later.id]

