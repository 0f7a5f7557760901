"""A parent's written consents on SQLite and PostgreSQL: who may give one (the engine's
test), signing and dating, revoking, and the entries in the access log."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from audit.events import EventType
from gateway.policy.facts import RecordType, RequesterCategory
from gateway.services.access import NoVerifiedRelationship
from gateway.services.consents import (
    ConsentRefused,
    ConsentService,
    UnknownConsent,
    UnknownRecipient,
)
from gateway.settings import load_settings
from tests.integration.services.conftest import NOON

Cat = RequesterCategory


@pytest.fixture
def consents(unit_of_work, engine, clock) -> ConsentService:
    return ConsentService(unit_of_work, engine, clock, load_settings(environ={}).zone)


@pytest.fixture
def camp(register):
    return register(Cat.THIRD_PARTY, "Sierra Summer Camp")[0]


def test_a_custodial_parent_signs_and_dates_a_consent_the_engine_will_honour(
        consents, register, enrol, relate, camp, unit_of_work, engine) -> None:
    parent, login = register(Cat.PARENT, "Dana Johnson")
    student = enrol()
    relate(parent, student)

    given = consents.give(login, student.sis_id, recipient_id=camp.id,
                          purpose="Enrolment in the summer programme",
                          records=frozenset({RecordType.IMMUNIZATION}),
                          signature=" dana  JOHNSON ")

    assert given.signed_on == date(2026, 11, 23) and given.in_force
    assert given.records == ("immunization",) and given.recipient == "Sierra Summer Camp"
    with unit_of_work() as uow:
        [on_file] = uow.consents.valid_for(student.id, RecordType.IMMUNIZATION, camp.id,
                                           at=NOON, today=date(2026, 11, 23))
        events = [e.event for e in uow.access_log.search(student_id=student.id)]
    assert on_file.given_by_id == parent.id and on_file.signed
    assert events == [EventType.CONSENT_GIVEN]


def test_a_parent_without_legal_custody_cannot_consent(consents, register, enrol, relate,
                                                       camp) -> None:
    parent, login = register(Cat.PARENT, "Sam Okafor")
    student = enrol()
    relate(parent, student, legal_custody=False)

    with pytest.raises(ConsentRefused, match="only a parent with legal custody"):
        consents.give(login, student.sis_id, recipient_id=camp.id, purpose="camp",
                      records=None, signature="Sam Okafor")


def test_either_parent_consents_when_both_agreed_in_writing(consents, register, enrol,
                                                            relate, camp) -> None:
    parent, login = register(Cat.PARENT, "Sam Okafor")
    student = enrol()
    relate(parent, student, legal_custody=False, both_parents_written_agreement=True)

    assert consents.give(login, student.sis_id, recipient_id=camp.id, purpose="camp",
                         records=None, signature="Sam Okafor").in_force


def test_once_the_rights_passed_only_the_student_consents(consents, register, enrol, relate,
                                                          camp) -> None:
    parent, login = register(Cat.PARENT, "Dana Johnson")
    student = enrol(birth_date=date(2008, 1, 2))  # 18
    relate(parent, student)

    with pytest.raises(ConsentRefused, match="passed to the student"):
        consents.give(login, student.sis_id, recipient_id=camp.id, purpose="camp",
                      records=None, signature="Dana Johnson")


def test_the_signature_is_the_parents_own_name(consents, register, enrol, relate,
                                               camp) -> None:
    parent, login = register(Cat.PARENT, "Dana Johnson")
    student = enrol()
    relate(parent, student)

    with pytest.raises(ConsentRefused, match="your name"):
        consents.give(login, student.sis_id, recipient_id=camp.id, purpose="camp",
                      records=None, signature="Someone Else")


def test_consents_go_only_to_registered_parties_and_from_verified_parents(
        consents, register, enrol, relate, custodian, camp) -> None:
    parent, login = register(Cat.PARENT, "Dana Johnson")
    student = enrol()
    relate(parent, student)
    unverified, stranger = register(Cat.PARENT, "Lee Rivera")
    relate(unverified, student, verified=False)

    for recipient in (uuid.uuid4(), custodian[0].id, parent.id):
        with pytest.raises(UnknownRecipient):
            consents.give(login, student.sis_id, recipient_id=recipient, purpose="camp",
                          records=None, signature="Dana Johnson")
    with pytest.raises(NoVerifiedRelationship):
        consents.give(stranger, student.sis_id, recipient_id=camp.id, purpose="camp",
                      records=None, signature="Lee Rivera")


def test_revoking_ends_the_consent_from_then_on(consents, register, enrol, relate, camp,
                                                clock, unit_of_work) -> None:
    parent, login = register(Cat.PARENT, "Dana Johnson")
    _, other = register(Cat.PARENT, "Sam Okafor")
    student = enrol()
    relate(parent, student)
    given = consents.give(login, student.sis_id, recipient_id=camp.id, purpose="camp",
                          records=None, signature="Dana Johnson")
    clock.now += timedelta(days=2)

    with pytest.raises(UnknownConsent):
        consents.revoke(other, given.id)
    revoked = consents.revoke(login, given.id)

    assert revoked.revoked_on == date(2026, 11, 25) and not revoked.in_force
    assert consents.revoke(login, given.id).revoked_on == date(2026, 11, 25)  # once
    with unit_of_work() as uow:
        assert uow.consents.valid_for(student.id, RecordType.HEALTH, camp.id,
                                      at=clock.now, today=date(2026, 11, 25)) == []
        events = [e.event for e in uow.access_log.search(student_id=student.id)]
    assert events.count(EventType.CONSENT_REVOKED) == 1
    assert [c.sis_id for c in consents.mine(login)] == [student.sis_id]
