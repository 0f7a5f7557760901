"""Properties of the engine over generated questions (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.policy.decision import Outcome
from gateway.policy.engine import PolicyEngine
from gateway.policy.facts import (
    Action,
    ConsentGiver,
    OrganizationType,
    ParentType,
    Purpose,
    RecordType,
    RequesterCategory,
    StudentStatus,
)
from gateway.policy.wire import question_from_wire

AS_OF = date(2026, 3, 2)
EVIDENCE_FLAGS = ["court_order", "subpoena", "court_instructs_no_notice", "written_agreement",
                  "written_certification", "routine_update", "deidentified"]


def names(enum) -> st.SearchStrategy[str]:
    return st.sampled_from([e.value for e in enum])


def unknown(enum) -> st.SearchStrategy[str]:
    known = {e.value for e in enum}
    return st.text(min_size=1, max_size=12).filter(lambda s: s not in known)


requesters = st.fixed_dictionaries({"category": names(RequesterCategory)}, optional={
    "legal_custody": st.booleans(), "access_revoked_by_court": st.booleans(),
    "parent_type": names(ParentType), "volunteer": st.booleans(),
    "legitimate_educational_interest": st.sampled_from(["", "teaches the student"]),
    "organization_type": names(OrganizationType),
})
students = st.fixed_dictionaries({
    "birth_date": st.dates(date(2000, 1, 1), date(2022, 1, 1)).map(date.isoformat),
    "grade_completed": st.integers(0, 12),
}, optional={
    "attends_postsecondary": st.booleans(), "tax_dependent": st.booleans(),
    "incompetent_adult_with_disability": st.booleans(), "disability": st.booleans(),
    "expelled_or_suspended_for_pc245": st.booleans(), "directory_opt_out": st.booleans(),
    "status": names(StudentStatus),
})
consents = st.fixed_dictionaries({
    "signed": st.booleans(), "dated": st.booleans(), "by": names(ConsentGiver),
    "records": st.one_of(st.just("all"), st.lists(names(RecordType), max_size=3)),
    "purpose": st.sampled_from(["tutoring", "research"]), "recipient": st.just("Acme"),
})
evidences = st.fixed_dictionaries({}, optional={
    **{flag: st.booleans() for flag in EVIDENCE_FLAGS},
    "consent": consents,
    "parent_notified_on": st.dates(AS_OF - timedelta(days=10), AS_OF).map(date.isoformat),
    "emergency_threat": st.sampled_from(["", "fire in the building"]),
})
questions = st.fixed_dictionaries({
    "requester": requesters, "student": students, "action": names(Action),
    "record": st.fixed_dictionaries({"type": names(RecordType)}),
    "purpose": st.one_of(names(Purpose), st.sampled_from(["tutoring", "research", "review"])),
    "evidence": evidences,
})


def decide(engine: PolicyEngine, wire: dict[str, Any]):
    return engine.decide(question_from_wire(wire), AS_OF)


@settings(max_examples=300)
@given(question=questions, where=st.sampled_from(["requester", "action", "record"]),
       data=st.data())
def test_unknown_category_record_type_or_action_denies(engine, question, where, data) -> None:
    if where == "requester":
        question["requester"] = {**question["requester"],
                                 "category": data.draw(unknown(RequesterCategory))}
    elif where == "action":
        question["action"] = data.draw(unknown(Action))
    else:
        question["record"] = {"type": data.draw(unknown(RecordType))}

    d = decide(engine, question)

    assert d.outcome is Outcome.DENY
    assert d.clause == "unrecognized_request"


@settings(max_examples=300)
@given(question=questions, order=st.randoms(use_true_random=False))
def test_decision_does_not_depend_on_the_order_of_evidence(engine, question, order) -> None:
    keys = list(question["evidence"])
    order.shuffle(keys)
    shuffled = {**question, "evidence": {k: question["evidence"][k] for k in keys}}

    assert decide(engine, shuffled) == decide(engine, question)


@settings(max_examples=500)
@given(question=questions)
def test_every_decision_is_well_formed(engine, question) -> None:
    d = decide(engine, question)

    assert d.clause in engine.pack.clauses
    assert d.reason
    if d.outcome is Outcome.PERMIT:
        assert d.citations, "a permit names at least one citation"
        assert d.discloses and not d.requires
    else:
        assert not d.discloses
    if d.outcome is Outcome.DENY:
        assert not d.obligations and not d.requires, "a denial carries no duties"
    if d.outcome is Outcome.PENDING:
        assert d.requires, "pending says what is still required"


@settings(max_examples=300)
@given(question=questions, flag=st.sampled_from(EVIDENCE_FLAGS))
def test_more_evidence_never_takes_access_away(engine, question, flag) -> None:
    before = decide(engine, question)
    after = decide(engine, {**question, "evidence": {**question["evidence"], flag: True}})

    if before.outcome is Outcome.PERMIT:
        assert after.outcome is Outcome.PERMIT
    if before.outcome is Outcome.PENDING:
        assert after.outcome is not Outcome.DENY


@settings(max_examples=200)
@given(question=questions, missing=st.sampled_from(["birth_date", "grade_completed"]))
def test_a_missing_birth_date_or_grade_never_grants_more(engine, question, missing) -> None:
    """Fail closed: forgetting a fact must not open a door the fact would have shut."""
    full = decide(engine, question)
    student = {k: v for k, v in question["student"].items() if k != missing}
    partial = decide(engine, {**question, "student": student})

    if partial.outcome is Outcome.PERMIT:
        assert full.outcome is Outcome.PERMIT
