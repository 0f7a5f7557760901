"""Adult students in the portal, on SQLite and PostgreSQL: once the rights pass to the
student (34 CFR 99.5), the student's own login asks for copies, consents, challenges
and restricts directory information; before that it reads nothing but what the engine
allows."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from gateway.policy.facts import RecordType, RequesterCategory
from gateway.records_requests.challenges import ChallengeGround
from gateway.records_requests.config import load_requests_config
from gateway.records_requests.fees import RequestKind
from gateway.services.access import Caller, NoVerifiedRelationship
from gateway.services.challenges import ChallengeService
from gateway.services.consents import ConsentService
from gateway.services.records_requests import RecordsRequestService, RequestRefused
from gateway.settings import load_settings
from gateway.store.models import Requester
from tests.integration.services.conftest import ISSUER

Cat = RequesterCategory
SETTINGS = load_settings(environ={})


@pytest.fixture
def services(unit_of_work, engine, clock):
    zone = SETTINGS.zone
    return (RecordsRequestService(unit_of_work, engine,
                                  load_requests_config(SETTINGS.requests_config_file),
                                  clock, zone, "Example USD"),
            ConsentService(unit_of_work, engine, clock, zone),
            ChallengeService(unit_of_work, engine, clock, zone))


@pytest.fixture
def own_login(unit_of_work, enrol):
    def make(**facts):
        student = enrol(**facts)
        subject = uuid.uuid4().hex
        with unit_of_work() as uow:
            uow.requesters.add(Requester(issuer=ISSUER, subject=subject, display_name="Riley",
                                         category=Cat.STUDENT, student_id=student.id))
            record = uow.records.add(student_id=student.id,
                                     record_type=RecordType.COURSES_AND_MARKS,
                                     content=b"Senior year: A", media_type="text/plain",
                                     school_year_of_origin=2025, originator="Registrar")
            uow.commit()
        return Caller(ISSUER, subject), student, record
    return make


def test_an_adult_student_sees_their_own_record_and_exercises_the_rights(
        portal, services, own_login, register, custodian) -> None:
    requests, consents, challenges = services
    login, student, record = own_login(birth_date=date(2007, 5, 5))
    camp = register(Cat.THIRD_PARTY, "Sierra College")[0]

    [standing] = portal.my_students(login)
    assert standing.own and standing.may_access and standing.decision.clause == "adult_student"

    asked = requests.ask(login, student.sis_id, RequestKind.COPIES, "")
    requests.fulfil(custodian[1], asked.id, "")
    assert b"%PDF" in requests.copies(login, asked.id).pdf[:8]
    given = consents.give(login, student.sis_id, recipient_id=camp.id, purpose="admission",
                          records=None, signature="Riley")
    assert given.in_force
    filed = challenges.challenge(login, student.sis_id, record.id, [ChallengeGround.MISLEADING],
                                 "It leaves out the summer course.")
    assert filed.status == "open"
    assert portal.restrict_directory_information(login, student.sis_id, True)


def test_a_minor_students_login_has_no_rights_of_its_own_yet(portal, services,
                                                              own_login) -> None:
    requests, _, _ = services
    login, student, _ = own_login(birth_date=date(2012, 5, 5))

    [standing] = portal.my_students(login)
    assert standing.own and not standing.may_access
    with pytest.raises(RequestRefused):
        requests.ask(login, student.sis_id, RequestKind.COPIES, "")


def test_a_students_login_reaches_no_other_student(services, own_login) -> None:
    requests, consents, challenges = services
    login, _, _ = own_login(birth_date=date(2007, 5, 5))
    _, other, other_record = own_login(birth_date=date(2007, 6, 6))

    with pytest.raises(NoVerifiedRelationship):
        requests.ask(login, other.sis_id, RequestKind.COPIES, "")
    with pytest.raises(NoVerifiedRelationship):
        challenges.challenge(login, other.sis_id, other_record.id,
                             [ChallengeGround.INACCURATE], "x")
