"""Requests to inspect or copy records on SQLite and PostgreSQL: the parent asks, the
custodian answers within five business days, the copies are made and logged."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from audit.events import EventType
from gateway.policy.facts import RecordType, RequesterCategory
from gateway.records_requests.config import load_requests_config
from gateway.records_requests.fees import RequestKind
from gateway.services.access import NoVerifiedRelationship
from gateway.services.portal import NotACustodian
from gateway.services.records_requests import (
    NoCopiesToDownload,
    RecordsRequestService,
    RequestAlreadyDecided,
    RequestRefused,
    UnknownRequest,
)
from gateway.settings import load_settings
from gateway.store.models import RequestStatus, StudentStatus

Cat = RequesterCategory
Kind = RequestKind


@pytest.fixture
def requests_service(unit_of_work, engine, clock) -> RecordsRequestService:
    settings = load_settings(environ={})
    return RecordsRequestService(unit_of_work, engine,
                                 load_requests_config(settings.requests_config_file),
                                 clock, settings.zone, "Example Unified School District")


@pytest.fixture
def family(register, enrol, relate, unit_of_work):
    """A verified parent of a minor with two records on file."""
    def make(**student_facts):
        parent, login = register(Cat.PARENT, "Zoë Ångström-Núñez")
        student = enrol(**student_facts)
        relate(parent, student)
        with unit_of_work() as uow:
            for record_type, text in ((RecordType.COURSES_AND_MARKS, "Algebra I: A\nBiology: B+"),
                                      (RecordType.IMMUNIZATION, "MMR: 2 doses")):
                uow.records.add(student_id=student.id, record_type=record_type,
                                content=text.encode(), media_type="text/plain",
                                school_year_of_origin=2025, originator="Registrar")
            uow.commit()
        return parent, login, student
    return make


def test_a_request_is_due_five_business_days_later_and_holds_the_records(
        requests_service, family, unit_of_work) -> None:
    _, login, student = family()  # asked on Monday 2026-11-23, Thanksgiving Thursday

    made = requests_service.ask(login, student.sis_id, Kind.COPIES, "all of them")

    assert made.due_on == date(2026, 12, 2) and made.status is RequestStatus.OPEN
    with unit_of_work() as uow:
        [hold] = [h for h in uow.retention.holds() if h.student_id == student.id]
    assert hold.kind == "open_copy_request" and not hold.released


def test_the_custodian_sees_the_most_overdue_first(requests_service, family, custodian,
                                                    clock) -> None:
    _, first, a = family()
    _, second, b = family()
    requests_service.ask(second, b.sis_id, Kind.INSPECT, "")
    clock.now -= timedelta(days=14)
    requests_service.ask(first, a.sis_id, Kind.COPIES, "")
    clock.now += timedelta(days=14)

    queue = requests_service.queue(custodian[1])

    assert [r.sis_id for r in queue] == [a.sis_id, b.sis_id]
    assert [r.overdue for r in queue] == [True, False]


def test_copies_are_made_from_the_records_priced_and_logged(
        requests_service, family, custodian, unit_of_work) -> None:
    parent, login, student = family()
    made = requests_service.ask(login, student.sis_id, Kind.COPIES, "")

    done = requests_service.fulfil(custodian[1], made.id, "")
    copies = requests_service.copies(login, made.id, request_tag="req-1")

    assert done.status is RequestStatus.FULFILLED and done.pages == copies.pages >= 1
    assert done.fee_cents == 10 * done.pages  # the shipped charge: 10 cents a page
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(copies.pdf)).pages)
    assert "Algebra I: A" in text and "MMR: 2 doses" in text
    assert "Zoë Ångström-Núñez" in text
    with unit_of_work() as uow:
        entries = uow.access_log.search(student_id=student.id)
        holds = [h for h in uow.retention.holds(include_released=True)
                 if h.student_id == student.id]
    disclosure = [e for e in entries if e.event == EventType.DISCLOSURE]
    assert len(disclosure) == 1 and disclosure[0].request_id == "req-1"
    assert holds[0].released


def test_a_former_students_first_two_transcripts_are_free(
        requests_service, family, custodian) -> None:
    _, login, student = family(status=StudentStatus.GRADUATED,
                               birth_date=date(2012, 5, 1))
    fees = []
    for _ in range(3):
        made = requests_service.ask(login, student.sis_id, Kind.TRANSCRIPT, "")
        fees.append(requests_service.fulfil(custodian[1], made.id, "").fee_cents)

    assert fees[:2] == [0, 0] and fees[2] > 0


def test_copies_are_refused_once_the_rights_passed_to_the_student(
        requests_service, family, custodian, clock, unit_of_work) -> None:
    _, login, student = family(birth_date=date(2008, 11, 24))  # 18 tomorrow
    made = requests_service.ask(login, student.sis_id, Kind.COPIES, "")
    requests_service.fulfil(custodian[1], made.id, "")
    clock.now += timedelta(days=1)

    with pytest.raises(RequestRefused) as refused:
        requests_service.copies(login, made.id)

    assert refused.value.decision.clause == "adult_student"
    with unit_of_work() as uow:
        events = [e.event for e in uow.access_log.search(student_id=student.id)]
    assert EventType.DENIAL in events and EventType.DISCLOSURE not in events


def test_a_parent_whose_access_a_court_revoked_cannot_ask(requests_service, register, enrol,
                                                           relate, unit_of_work) -> None:
    parent, login = register(Cat.PARENT)
    student = enrol()
    relate(parent, student, access_revoked_by_court=True)

    with pytest.raises(RequestRefused):
        requests_service.ask(login, student.sis_id, Kind.COPIES, "")

    with unit_of_work() as uow:  # the refusal is in the access log (Ed Code 49064)
        [entry] = uow.access_log.search(student_id=student.id)
    assert (entry.event, entry.clause) == (EventType.DENIAL, "parent_of_minor")


def test_an_unverified_parent_cannot_ask(requests_service, register, enrol, relate,
                                         unit_of_work) -> None:
    parent, login = register(Cat.PARENT)
    student = enrol()
    relate(parent, student, verified=False)

    with pytest.raises(NoVerifiedRelationship):
        requests_service.ask(login, student.sis_id, Kind.INSPECT, "")

    # The refused request is an entry, the same as a refusal the engine makes.
    with unit_of_work() as uow:
        [refusal] = uow.access_log.search(student_id=student.id)
    assert (refusal.event, refusal.requester_id) == (EventType.DENIAL, parent.id)
    assert refusal.log_required


def test_a_parent_is_not_told_whether_a_student_exists(requests_service, register,
                                                       enrol, unit_of_work) -> None:
    _, login = register(Cat.PARENT)
    someone_elses = enrol()

    with pytest.raises(NoVerifiedRelationship):
        requests_service.ask(login, someone_elses.sis_id, Kind.INSPECT, "")
    with pytest.raises(NoVerifiedRelationship):
        requests_service.ask(login, "SIS-NOBODY", Kind.INSPECT, "")


def test_only_the_custodian_answers_and_only_once(requests_service, family,
                                                  custodian) -> None:
    _, login, student = family()
    made = requests_service.ask(login, student.sis_id, Kind.INSPECT, "")

    with pytest.raises(NotACustodian):
        requests_service.fulfil(login, made.id, "")
    requests_service.deny(custodian[1], made.id, "The student has no records here.")
    with pytest.raises(RequestAlreadyDecided):
        requests_service.fulfil(custodian[1], made.id, "")
    [mine] = requests_service.mine(login)
    assert mine.status is RequestStatus.DENIED and "no records" in mine.denial_reason


def test_no_copies_of_an_inspection_or_of_anothers_request(requests_service, family,
                                                          custodian) -> None:
    _, login, student = family()
    _, stranger, _ = family()
    made = requests_service.ask(login, student.sis_id, Kind.INSPECT, "")
    requests_service.fulfil(custodian[1], made.id, "Tuesday 10am, front office")

    with pytest.raises(NoCopiesToDownload):
        requests_service.copies(login, made.id)
    with pytest.raises(UnknownRequest):
        requests_service.copies(stranger, made.id)
    with pytest.raises(UnknownRequest):
        requests_service.copies(login, uuid.uuid4())


def test_a_copy_of_what_was_disclosed_under_a_consent(requests_service, family, custodian,
                                                      register, unit_of_work, engine,
                                                      clock) -> None:
    from gateway.services.access import RecordAccessService, RecordRequest
    from gateway.services.consents import ConsentService

    parent, login, student = family()
    camp, camp_login = register(Cat.THIRD_PARTY, "Sierra Summer Camp")
    zone = load_settings(environ={}).zone
    consent = ConsentService(unit_of_work, engine, clock, zone).give(
        login, student.sis_id, recipient_id=camp.id, purpose="camp health check",
        records=frozenset({RecordType.IMMUNIZATION}), signature="Zoë Ångström-Núñez")
    with unit_of_work() as uow:
        [immunization] = [r.id for r in uow.records.of_student(student.id)
                          if r.record_type is RecordType.IMMUNIZATION]
    read = RecordAccessService(unit_of_work, engine, clock, zone).read(RecordRequest(
        caller=camp_login, student_sis_id=student.sis_id, record_id=immunization,
        purpose="camp health check"))
    assert read.decision.clause == "written_consent" and read.content

    made = requests_service.ask_for_what_was_disclosed(login, consent.id)
    done = requests_service.fulfil(custodian[1], made.id, "")
    copies = requests_service.copies(login, made.id)

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(copies.pdf)).pages)
    assert "MMR: 2 doses" in text and "Algebra" not in text
    assert "Sierra Summer Camp" in made.note and done.kind is Kind.COPIES
    _, stranger, _ = family()  # another family's parent: not this student's
    with pytest.raises(NoVerifiedRelationship):
        requests_service.ask_for_what_was_disclosed(stranger, consent.id)
    with pytest.raises(UnknownRequest):
        requests_service.ask_for_what_was_disclosed(login, uuid.uuid4())
