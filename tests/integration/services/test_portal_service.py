"""The portal's services on SQLite and PostgreSQL: a parent's students as the AR 5125
engine sees them, and the custodian verifying a parent."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from gateway.policy.decision import Outcome
from gateway.policy.facts import ParentType, RequesterCategory
from gateway.services.access import Caller, UnregisteredRequester
from gateway.services.portal import AlreadyVerified, NotACustodian, UnknownGuardianship
from tests.integration.services.conftest import ISSUER, NOON

Cat = RequesterCategory


def test_a_verified_custodial_parent_of_a_minor_may_see_the_records(
        portal, register, enrol, relate) -> None:
    parent, login = register(Cat.PARENT, "Dana Johnson")
    relate(parent, enrol(sis_id="SIS-MINOR"))

    [standing] = portal.my_students(login)

    assert standing.sis_id == "SIS-MINOR"
    assert standing.may_access and not standing.rights_passed_to_student
    assert standing.decision.clause == "parent_of_minor"
    assert standing.verified_on == date(2026, 11, 23)


def test_a_parent_without_custody_still_may_see_the_records(portal, register, enrol,
                                                           relate) -> None:
    parent, login = register(Cat.PARENT)
    relate(parent, enrol(), legal_custody=False)

    [standing] = portal.my_students(login)

    assert standing.may_access and not standing.legal_custody


def test_a_court_order_revoking_access_is_respected(portal, register, enrol, relate) -> None:
    parent, login = register(Cat.PARENT)
    relate(parent, enrol(), access_revoked_by_court=True)

    [standing] = portal.my_students(login)

    assert standing.decision.outcome is Outcome.DENY
    assert standing.access_revoked_by_court and not standing.may_access


@pytest.mark.parametrize(("facts", "may_access"), [
    ({"birth_date": date(2008, 11, 23)}, False),  # 18 today
    ({"birth_date": date(2010, 1, 1), "attends_postsecondary": True}, False),
    ({"birth_date": date(2006, 1, 1), "tax_dependent": True}, True),
    ({"birth_date": date(2006, 1, 1), "incompetent_adult_with_disability": True}, True),
], ids=["turns-18-today", "postsecondary", "tax-dependent", "incompetent-adult"])
def test_rights_passed_to_the_student_are_shown(portal, register, enrol, relate, facts,
                                                may_access) -> None:
    parent, login = register(Cat.PARENT)
    relate(parent, enrol(**facts))

    [standing] = portal.my_students(login)

    assert standing.rights_passed_to_student
    assert standing.may_access is may_access


def test_the_day_before_18_the_parent_still_holds_the_rights(portal, register, enrol,
                                                             relate) -> None:
    parent, login = register(Cat.PARENT)
    relate(parent, enrol(birth_date=date(2008, 11, 24)))

    [standing] = portal.my_students(login)

    assert standing.may_access and not standing.rights_passed_to_student


def test_an_unverified_relationship_shows_no_decision(portal, register, enrol,
                                                      relate) -> None:
    parent, login = register(Cat.PARENT)
    relate(parent, enrol(), verified=False)

    [standing] = portal.my_students(login)

    assert standing.decision is None and not standing.verified and not standing.may_access


def test_a_parent_sees_only_their_own_students(portal, register, enrol, relate) -> None:
    mine, login = register(Cat.PARENT)
    other, _ = register(Cat.PARENT)
    relate(mine, enrol(sis_id="SIS-MINE"))
    relate(other, enrol(sis_id="SIS-THEIRS"))

    assert [s.sis_id for s in portal.my_students(login)] == ["SIS-MINE"]


def test_people_who_are_not_parents_have_no_students_here(portal, register) -> None:
    _, teacher = register(Cat.SCHOOL_OFFICIAL)
    _, adult_student = register(Cat.STUDENT)

    assert portal.my_students(teacher) == []
    assert portal.my_students(adult_student) == []


def test_an_unregistered_login_is_refused(portal) -> None:
    stranger = Caller(ISSUER, "nobody-" + uuid.uuid4().hex)
    with pytest.raises(UnregisteredRequester):
        portal.my_students(stranger)
    with pytest.raises(UnregisteredRequester):
        portal.account(stranger)


def test_the_account_names_the_registered_person(portal, custodian) -> None:
    account = portal.account(custodian[1])
    assert account.display_name == "Elena Garcia" and account.is_custodian


def test_a_volunteer_registered_as_custodian_is_not_shown_the_console(portal, custodian,
                                                                     unit_of_work) -> None:
    requester, login = custodian
    with unit_of_work() as uow:
        uow.requesters.get(requester.id).volunteer = True
        uow.commit()

    account = portal.account(login)

    assert account.category is RequesterCategory.CUSTODIAN and not account.is_custodian
    with pytest.raises(NotACustodian):
        portal.awaiting_verification(login)


def test_the_custodian_sees_parents_awaiting_verification(portal, custodian, register,
                                                          enrol, relate) -> None:
    waiting, _ = register(Cat.PARENT, "Sofía Rivera")
    done, _ = register(Cat.PARENT, "Dana Johnson")
    relate(waiting, enrol(sis_id="SIS-WAIT"), verified=False, parent_type=ParentType.GUARDIAN)
    relate(done, enrol(sis_id="SIS-DONE"))

    queue = portal.awaiting_verification(custodian[1])

    assert [(a.parent_name, a.sis_id, a.parent_type) for a in queue] == [
        ("Sofía Rivera", "SIS-WAIT", ParentType.GUARDIAN)]


def test_verifying_records_who_and_when_and_the_custody_found(
        portal, custodian, register, enrol, relate, unit_of_work) -> None:
    parent, login = register(Cat.PARENT, "Sofía Rivera")
    claim = relate(parent, enrol(sis_id="SIS-NEW"), verified=False)

    verified = portal.verify(custodian[1], claim.id, legal_custody=False,
                             access_revoked_by_court=False)

    assert (verified.parent_name, verified.sis_id, verified.verified_by) == (
        "Sofía Rivera", "SIS-NEW", "Elena Garcia")
    with unit_of_work() as uow:
        stored = uow.guardianships.get(claim.id)
        assert stored.verified_by_id == custodian[0].id and stored.verified_at == NOON
        assert stored.legal_custody is False
    assert portal.awaiting_verification(custodian[1]) == []
    [standing] = portal.my_students(login)
    assert standing.may_access and not standing.legal_custody


def test_a_court_order_found_at_verification_closes_access(portal, custodian, register,
                                                           enrol, relate) -> None:
    parent, login = register(Cat.PARENT)
    claim = relate(parent, enrol(), verified=False)

    portal.verify(custodian[1], claim.id, legal_custody=True, access_revoked_by_court=True)

    [standing] = portal.my_students(login)
    assert standing.access_revoked_by_court and not standing.may_access


def test_only_the_custodian_verifies(portal, register, enrol, relate, unit_of_work) -> None:
    parent, login = register(Cat.PARENT)
    _, teacher = register(Cat.SCHOOL_OFFICIAL)
    claim = relate(parent, enrol(), verified=False)

    for someone in (login, teacher):
        with pytest.raises(NotACustodian):
            portal.verify(someone, claim.id, legal_custody=True,
                          access_revoked_by_court=False)
        with pytest.raises(NotACustodian):
            portal.awaiting_verification(someone)
    with unit_of_work() as uow:
        assert not uow.guardianships.get(claim.id).verified


def test_a_verification_is_not_overwritten(portal, custodian, register, enrol, relate,
                                           clock, unit_of_work) -> None:
    parent, _ = register(Cat.PARENT)
    claim = relate(parent, enrol(), verified=False)
    portal.verify(custodian[1], claim.id, legal_custody=True, access_revoked_by_court=False)
    clock.now = NOON.replace(hour=22)

    with pytest.raises(AlreadyVerified):
        portal.verify(custodian[1], claim.id, legal_custody=False,
                      access_revoked_by_court=True)
    with unit_of_work() as uow:
        stored = uow.guardianships.get(claim.id)
        assert stored.verified_at == NOON and stored.legal_custody is True


def test_verifying_an_unknown_relationship_is_refused(portal, custodian) -> None:
    with pytest.raises(UnknownGuardianship):
        portal.verify(custodian[1], uuid.uuid4(), legal_custody=True,
                      access_revoked_by_court=False)


def test_the_custodian_sees_duties_soonest_first_and_marks_one_done(
        portal, register, enrol, custodian, unit_of_work, clock) -> None:
    from datetime import timedelta

    from gateway.policy.decision import Obligation
    from gateway.store.models import ObligationTask

    student = enrol(sis_id="SIS-DUTY")
    with unit_of_work() as uow:
        for obligation, due in ((Obligation.NOTIFY_PARENT_WITHIN_24_HOURS, timedelta(hours=24)),
                                (Obligation.RECORD_EMERGENCY_BASIS, -timedelta(hours=1))):
            uow.obligations.add(ObligationTask(
                student_id=student.id, obligation=obligation.value, due_by=NOON + due,
                created_from_request_id="r"))
        uow.commit()

    first, second = portal.duties(custodian[1])
    assert (first.obligation, first.overdue) == ("record_emergency_basis", True)
    assert "24 hours" in second.description and not second.overdue
    with pytest.raises(NotACustodian):
        portal.duties(register(Cat.PARENT)[1])

    portal.mark_done(custodian[1], first.task_id)

    assert [d.task_id for d in portal.duties(custodian[1])] == [second.task_id]
    with unit_of_work() as uow:
        done = uow.obligations.get(first.task_id)
    assert done.done_by_id == custodian[0].id and done.done_at == NOON
