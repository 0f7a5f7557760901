"""Challenges, written responses and directory restrictions on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from audit.events import EventType
from gateway.policy.facts import RecordType, RequesterCategory
from gateway.records_requests.challenges import ChallengeGround, ChallengeStatus
from gateway.services.challenges import (
    ChallengeAlreadyDecided,
    ChallengeRefused,
    ChallengeService,
)
from gateway.services.portal import DirectoryChoiceRefused, NotACustodian
from gateway.settings import load_settings

Cat = RequesterCategory
G = ChallengeGround


@pytest.fixture
def challenges(unit_of_work, engine, clock) -> ChallengeService:
    return ChallengeService(unit_of_work, engine, clock, load_settings(environ={}).zone)


@pytest.fixture
def family(register, enrol, relate, unit_of_work):
    def make(**facts):
        guardianship = facts.pop("guardianship", {})
        parent, login = register(Cat.PARENT, "Dana Johnson")
        student = enrol(**facts)
        relate(parent, student, **guardianship)
        with unit_of_work() as uow:
            record = uow.records.add(
                student_id=student.id, record_type=RecordType.BEHAVIORAL_REPORT,
                content=b"Talked in class.", media_type="text/plain",
                school_year_of_origin=2025, originator="Mr. Hale",
                originated_on=date(2026, 10, 1), signed_by_originator=True)
            uow.commit()
        return login, student, record
    return make


def test_a_custodial_parent_challenges_a_record_which_is_held_until_decided(
        challenges, family, custodian, unit_of_work) -> None:
    login, student, record = family()

    filed = challenges.challenge(login, student.sis_id, record.id,
                                 [G.INACCURATE, G.NOT_PERSONAL_OBSERVATION], "Never happened.")

    assert filed.decide_by == date(2026, 12, 23) and filed.status is ChallengeStatus.OPEN
    assert filed.grounds == ("inaccurate", "not_personal_observation")
    with unit_of_work() as uow:
        [hold] = [h for h in uow.retention.holds() if h.record_id == record.id]
    assert hold.kind == "pending_challenge"

    [queued] = challenges.queue(custodian[1])
    decided = challenges.decide(custodian[1], queued.id, sustained=False,
                                note="The teacher's note is dated and signed.")

    assert decided.status is ChallengeStatus.DENIED
    with pytest.raises(ChallengeAlreadyDecided):
        challenges.decide(custodian[1], queued.id, sustained=True, note="again")
    with unit_of_work() as uow:
        assert uow.retention.get_hold(hold.id).released
        outcomes = [e.stored.clear["outcome"] for e in uow.access_log.search(student_id=student.id)
                    if e.event == EventType.CHALLENGE]
    assert sorted(outcomes) == ["challenge_denied", "challenge_filed"]
    [mine] = challenges.challenges_of(login, student.sis_id)
    assert "dated and signed" in mine.decision_note


def test_a_written_response_becomes_a_signed_dated_rejoinder(challenges, family,
                                                             unit_of_work) -> None:
    login, student, record = family()

    rejoinder = challenges.respond(login, student.sis_id, record.id, "We disagree.")

    assert rejoinder.record_type == "rejoinder" and rejoinder.originator == "Dana Johnson"
    assert rejoinder.originated_on == date(2026, 11, 23)
    with unit_of_work() as uow:
        content = uow.records.read(rejoinder.id).content.decode()
    assert "We disagree." in content and str(record.id) in content
    assert {r.record_type for r in challenges.records_of(login, student.sis_id)} == {
        "behavioral_report", "rejoinder"}


@pytest.mark.parametrize(("facts", "why"), [
    ({"guardianship": {"legal_custody": False}}, "Only a parent with legal custody"),
    ({"birth_date": date(2007, 1, 1)}, "passed to the adult student"),
    ({"guardianship": {"access_revoked_by_court": True}}, "court order"),
])
def test_who_may_not_challenge(challenges, family, facts, why, unit_of_work) -> None:
    login, student, record = family(**facts)

    with pytest.raises(ChallengeRefused) as refused:
        challenges.challenge(login, student.sis_id, record.id, [G.MISLEADING], "No.")
    assert why in refused.value.decision.reason
    with pytest.raises(ChallengeRefused):
        challenges.respond(login, student.sis_id, record.id, "No.")

    # Each refusal is a denial in the access log, naming the record challenged.
    with unit_of_work() as uow:
        denials = [e for e in uow.access_log.search(student_id=student.id)
                   if e.event == EventType.DENIAL]
        opened = uow.access_log.open(denials)
    assert [o.entry.action for o in opened] == ["challenge", "challenge"]
    assert all(o.entry.records[0].id == str(record.id) for o in opened)
    assert {o.logged.clause for o in opened} == {refused.value.decision.clause}


def test_only_the_custodian_decides(challenges, family) -> None:
    login, _, _ = family()
    with pytest.raises(NotACustodian):
        challenges.queue(login)


def test_a_parent_restricts_directory_information(portal, family, unit_of_work,
                                                  clock) -> None:
    login, student, _ = family()

    assert portal.restrict_directory_information(login, student.sis_id, True) is True
    clock.now += timedelta(minutes=1)
    portal.restrict_directory_information(login, student.sis_id, True)  # no change, no entry

    [standing] = portal.my_students(login)
    assert standing.directory_restricted
    with unit_of_work() as uow:
        entries = [e for e in uow.access_log.search(student_id=student.id)
                   if e.event == EventType.DIRECTORY_RESTRICTION]
    assert [e.stored.clear["outcome"] for e in entries] == ["restricted"]


def test_once_the_rights_passed_the_parent_no_longer_restricts(portal, family,
                                                                unit_of_work) -> None:
    login, student, _ = family(birth_date=date(2007, 1, 1))
    with pytest.raises(DirectoryChoiceRefused):
        portal.restrict_directory_information(login, student.sis_id, True)
    with unit_of_work() as uow:
        [entry] = uow.access_log.search(student_id=student.id)
    assert entry.event == EventType.DENIAL


def test_a_refusal_names_no_record_of_another_student(challenges, family, enrol, relate,
                                                       unit_of_work) -> None:
    # A parent whose challenges the engine refuses (no legal custody of this student)
    # names a record of their other child: the refusal about this student is an entry in
    # this student's log, and must not carry the other child's record (its id and type).
    login, other_child, others_record = family()
    with unit_of_work() as uow:
        parent = uow.requesters.by_subject(login.issuer, login.subject)
    student = enrol()
    relate(parent, student, legal_custody=False)

    for attempt in (lambda: challenges.challenge(login, student.sis_id, others_record.id,
                                                 [G.INACCURATE], "No."),
                    lambda: challenges.respond(login, student.sis_id, others_record.id, "No.")):
        with pytest.raises(Exception):  # noqa: B017 - refused, or no such record here
            attempt()

    with unit_of_work() as uow:
        opened = uow.access_log.open(uow.access_log.search(student_id=student.id))
    assert opened, "the refusals are entries about the student"
    assert all(str(others_record.id) not in [r.id for r in o.entry.records] for o in opened)
