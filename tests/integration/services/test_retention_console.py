"""The custodian's retention console on SQLite and PostgreSQL: plans reviewed and holds
placed and released under the signed-in custodian's name."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.policy.facts import RecordType, RequesterCategory
from gateway.services.portal import NotACustodian
from gateway.services.retention import RetentionError, RetentionService
from gateway.services.retention_console import RetentionConsole
from gateway.settings import DEFAULT_CONFIG_DIR, load_settings
from gateway.store.models import PlanStatus, StudentStatus


@pytest.fixture
def console(unit_of_work, clock) -> RetentionConsole:
    retention = RetentionService.from_config(unit_of_work, DEFAULT_CONFIG_DIR, clock,
                                             load_settings(environ={}).zone)
    return RetentionConsole(unit_of_work, retention)


def test_the_custodian_approves_a_plan_and_works_holds(console, enrol, custodian, register,
                                                       unit_of_work) -> None:
    student = enrol(sis_id="SIS-GONE", status=StudentStatus.WITHDRAWN,
                    withdrawn_on=date(2025, 1, 10), birth_date=date(2010, 1, 1))
    with unit_of_work() as uow:
        uow.records.add(student_id=student.id, record_type=RecordType.ROUTINE_DISCIPLINE,
                        content=b"x", media_type="text/plain", school_year_of_origin=2024,
                        originator="Office")
        uow.commit()
    console._retention.plan(created_by=str(custodian[0].id))

    [plan] = console.plans(custodian[1])
    assert plan.reviewable and plan.summary["eligible"] == 1
    result = console.review(custodian[1], plan.id, approve=True, note="checked")
    assert result.items == 1 and result.status is PlanStatus.APPROVED
    assert not console.plans(custodian[1])[0].reviewable

    hold = console.place_hold(custodian[1], kind="legal_hold", sis_id="SIS-GONE",
                              owner="District counsel", reason="Pending litigation")
    [line] = console.holds(custodian[1])
    assert line.sis_id == "SIS-GONE" and line.hold.id == hold.id
    with pytest.raises(RetentionError):
        console.place_hold(custodian[1], kind="nap", sis_id="SIS-GONE", owner="x", reason="y")
    released = console.release_hold(custodian[1], hold.id, "Case settled")
    assert released.released_by_id == custodian[0].id and console.holds(custodian[1]) == []

    parent = register(RequesterCategory.PARENT)[1]
    with pytest.raises(NotACustodian):
        console.plans(parent)
    with pytest.raises(NotACustodian):
        console.place_hold(parent, kind="legal_hold", sis_id="SIS-GONE", owner="x",
                           reason="y")
