"""The date rules in SQL (plan and run, both backends) agree with the pure schedule.

For students without holds a plan is an INSERT ... SELECT and a run an UPDATE that
restate ``gateway.retention.schedule`` in SQL (``RetentionRepository.eligible_select``).
Hypothesis draws records and students around the edges the rules turn on (first and last
day of the third school year, six months to the day, month ends, leap days, returns,
forwarded records, whitespace "determinations", holds) and checks that the plan's items,
and what a later run destroys, are exactly what the pure rules say, record by record.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.policy.facts import RecordType
from gateway.retention import (
    DispositionKind,
    DistrictOverride,
    Hold,
    RecordFacts,
    SchoolCalendar,
    StudentFacts,
    plan,
)
from gateway.services.retention import RetentionService
from gateway.store.models import RetentionHold, Student
from gateway.store.repositories import ANECDOTAL_OR_ASSESSMENT_TYPES
from gateway.store.uow import UnitOfWork
from tests.integration.retention.conftest import ZONE, Clock, make_service

# Interim and permitted types twice as often: only their dispositions turn on dates.
TYPES = [RecordType.HEALTH, RecordType.STANDARDIZED_TEST, RecordType.ROUTINE_DISCIPLINE,
         RecordType.BEHAVIORAL_REPORT] * 2 + [RecordType.LEGAL_NAME,
                                               RecordType.DIRECTORY_INFORMATION]


def _edges() -> list[date]:
    days = []
    for year in range(2019, 2028):
        for month, day in ((7, 1), (6, 30), (3, 1), (2, 28), (8, 31), (8, 29), (12, 31),
                           (1, 1), (5, 1), (11, 1)):
            days.append(date(year, month, day))
        if year % 4 == 0:
            days.append(date(year, 2, 29))
    return days


EDGES = _edges()
days = st.one_of(st.sampled_from(EDGES).flatmap(
    lambda d: st.sampled_from([d - timedelta(days=1), d, d + timedelta(days=1)])),
    st.dates(date(2019, 1, 1), date(2027, 12, 31)))
maybe_day = st.none() | days


@st.composite
def record(draw: st.DrawFn) -> dict[str, object]:
    record_type = draw(st.sampled_from(TYPES))
    origin = draw(st.integers(2018, 2024))
    first = date(origin, 7, 1)
    originated = draw(st.none() | st.sampled_from(
        [first - timedelta(days=1), first, first + timedelta(days=200),
         date(origin + 1, 6, 30), date(origin + 1, 7, 1)]) | days)
    anecdotal = draw(st.booleans()) or record_type in ANECDOTAL_OR_ASSESSMENT_TYPES
    if anecdotal:  # 5 CCR 431 is enforced on the way in: dated and signed
        originated = originated or first
    return {
        "record_type": record_type, "school_year_of_origin": origin,
        "originated_on": originated, "anecdotal_or_assessment": anecdotal,
        "signed_by_originator": anecdotal or draw(st.booleans()),
        "forwarded_to": draw(st.sampled_from([None, None, "", "Redding ESD"])),
        "usefulness_ceased_on": draw(maybe_day | st.just(first + timedelta(days=365 * 3))),
        "usefulness_determined_by": draw(st.sampled_from([None, "", " \t", "custodian"])),
    }


@st.composite
def student(draw: st.DrawFn) -> dict[str, date | None]:
    facts = {name: draw(maybe_day) for name in ("left_district_on", "program_completed_on",
                                                 "withdrawn_on")}
    # A return on, or a day either side of, another of the student's dates: the rules
    # compare them with < and <=.
    near = [d + timedelta(days=n) for d in facts.values() if d for n in (-1, 0, 1)]
    facts["returned_on"] = draw((st.sampled_from(near) if near else st.none())
                                | st.none() | days)
    if draw(st.booleans()) and facts["left_district_on"]:  # completed the day they left
        facts["program_completed_on"] = facts["left_district_on"]
    return facts
hold = st.tuples(days, st.none() | st.integers(0, 400), st.booleans())  # placed, kept, one?
SETUPS = ["law", "longer"]


def _service(setup: str, unit_of_work: Callable[[], UnitOfWork],
             clock: Clock) -> RetentionService:
    service = make_service(unit_of_work, clock, batch_size=3)
    if setup == "law":
        return service
    # A district that keeps longer, with a school year from March 1 (leap days at its end).
    schedule = service.schedule
    records = dict(schedule.records)
    records[RecordType.HEALTH] = dataclasses.replace(
        records[RecordType.HEALTH], override=DistrictOverride("longer", school_years=4))
    records[RecordType.ROUTINE_DISCIPLINE] = dataclasses.replace(
        records[RecordType.ROUTINE_DISCIPLINE], override=DistrictOverride("longer", months=13))
    records[RecordType.BEHAVIORAL_REPORT] = dataclasses.replace(
        records[RecordType.BEHAVIORAL_REPORT],
        override=DistrictOverride("kept", keep_permanently=True))
    return RetentionService(unit_of_work, dataclasses.replace(schedule, records=records),
                            SchoolCalendar(3, 1), clock, ZONE, batch_size=3)


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 20, 0, tzinfo=timezone.utc)  # 12/13h in CA


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(setup=st.sampled_from(SETUPS), facts=student(),
       records=st.lists(record(), min_size=1, max_size=5),
       holds=st.lists(hold, max_size=2), today=days, later=st.integers(0, 500))
def test_plan_and_run_in_sql_agree_with_the_pure_rules(
        unit_of_work: Callable[[], UnitOfWork], custodian, setup: str,
        facts: dict[str, date | None], records: list[dict[str, object]],
        holds: list[tuple[date, int | None, bool]], today: date, later: int) -> None:
    run_day = today + timedelta(days=later)
    clock = Clock(_noon(run_day))
    service = _service(setup, unit_of_work, clock)
    with unit_of_work() as uow:
        pupil = uow.students.add(Student(sis_id=f"EQ-{uuid.uuid4().hex[:12]}", **facts))
        stored = []
        for details in records:
            row = uow.records.add(
                student_id=pupil.id, content=b"x", media_type="text/plain", originator="t",
                **{k: v for k, v in details.items() if not k.startswith("usefulness")})
            row.usefulness_ceased_on = details["usefulness_ceased_on"]  # type: ignore[assignment]
            row.usefulness_determined_by = details["usefulness_determined_by"]  # type: ignore[assignment]
            stored.append(row)
        hold_facts = []
        for placed, kept, on_one_record in holds:
            target = stored[0].id if on_one_record else None
            released = placed + timedelta(days=kept) if kept is not None else None
            uow.retention.add_hold(RetentionHold(
                kind="legal_hold", student_id=pupil.id, record_id=target, reason="r",
                owner="o", placed_at=_noon(placed), placed_by_id=custodian.id,
                released_at=_noon(released) if released else None,
                released_by_id=custodian.id if released else None,
                release_reason="done" if released else None))
            hold_facts.append(Hold("legal_hold", "r", "o", placed, released, str(pupil.id),
                                   str(target) if target else None))
        uow.commit()
    pure_facts = [RecordFacts(
        record_id=str(r.id), student_id=str(pupil.id), record_type=r.record_type,
        school_year_of_origin=r.school_year_of_origin, originated_on=r.originated_on,
        forwarded_to_another_district=bool(r.forwarded_to),
        usefulness_ceased_on=r.usefulness_ceased_on,
        usefulness_determined_by=r.usefulness_determined_by or "",
        anecdotal_or_assessment=r.anecdotal_or_assessment, dated=r.originated_on is not None,
        signed=r.signed_by_originator) for r in stored]
    students = [StudentFacts(str(pupil.id), **facts)]

    def expected(day: date) -> dict[uuid.UUID, object]:
        return {uuid.UUID(d.record_id): d for d in plan(
            pure_facts, students, hold_facts, day, service.schedule, service.calendar)}

    made = service.plan(created_by="hypothesis", as_of=today)
    with unit_of_work() as uow:
        items = uow.retention.items_by_record(made.id, [r.id for r in stored])
    want = {record_id: d for record_id, d in expected(today).items()
            if d.kind in (DispositionKind.ELIGIBLE, DispositionKind.HELD)}
    assert set(items) == set(want)
    for record_id, item in items.items():
        disposition = want[record_id]
        assert (str(item.kind), item.eligible_from, item.rule, item.section,
                item.citations) == (str(disposition.kind), disposition.eligible_from,
                                    disposition.rule, disposition.section,
                                    "; ".join(disposition.citations))

    if made.summary["eligible"] == 0:
        return
    service.review(made.id, custodian=str(custodian.id), approve=True)
    service.run(made.id, started_by="hypothesis")
    at_run = expected(run_day)
    with unit_of_work() as uow:
        for r in stored:
            destroyed = uow.records.get(r.id).destroyed_at is not None
            approved = r.id in items and str(items[r.id].kind) == "eligible"
            assert destroyed == (approved and at_run[r.id].kind is DispositionKind.ELIGIBLE)
