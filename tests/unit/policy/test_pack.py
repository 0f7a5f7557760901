"""A district's policy pack: data that is checked when it is loaded."""

from __future__ import annotations

import re
from datetime import date

import pytest

from gateway.policy.decision import Outcome
from gateway.policy.engine import PolicyEngine
from gateway.policy.pack import CLAUSE_SCOPES, PolicyPackError, load_pack, parse_pack
from gateway.policy.wire import question_from_wire
from tests.conftest import DEFAULT_PACK

TEXT = DEFAULT_PACK.read_text()
AS_OF = date(2026, 3, 2)


def edited(old: str, new: str) -> str:
    assert old in TEXT
    return TEXT.replace(old, new, 1)


def test_the_default_pack_defines_every_clause_the_engine_implements(pack) -> None:
    assert set(pack.clauses) == set(CLAUSE_SCOPES)
    assert pack.approved.isoformat() == "2013-04-08"
    assert all(c.citations for c in pack.clauses.values())


@pytest.mark.parametrize(("text", "place"), [
    (edited("[clauses.sarb]", "[clauses.sarb_typo]"), "clauses.sarb_typo"),
    (edited('records = ["courses_and_marks", "iep"]', 'records = ["courses_and_marks", "grades"]'),
     "clauses.foster_family_agency.records[1]"),
    (edited('records = ["courses_and_marks", "iep"]', 'records = ["courses_and_marks", "health"]'),
     "clauses.foster_family_agency.records[1]"),
    (edited('citations = ["Education Code 49077", "5 CCR 435", "34 CFR 99.31"]',
            "citations = []"), "clauses.court_order_or_subpoena.citations"),
    (edited('title = "Parents and guardians of a student under 18, including a non-custodial '
            'parent"', 'title = "Parents"\nuse = false'), "clauses.parent_of_minor.use"),
    (edited("approved = 2013-04-08", 'approved = "last spring"'), "pack.approved"),
    (edited("use = true", 'use = "yes"'), "clauses.emergency.use"),
    (edited("[pack]", "[pack]\n[extra]"), "extra"),
    (TEXT + "\n[clauses.sarb.oops\n", "not valid TOML"),
])
def test_a_broken_pack_is_refused_with_a_message_naming_the_place(text: str, place: str) -> None:
    with pytest.raises(PolicyPackError, match=re.escape(place)) as caught:
        parse_pack(text, source="district.toml")

    assert str(caught.value).startswith("district.toml: ")


def test_a_pack_missing_a_clause_is_refused() -> None:
    start = TEXT.index("[clauses.challenge]")
    end = TEXT.index("[clauses.record_keeping]")

    with pytest.raises(PolicyPackError, match=r"clauses\.challenge: missing"):
        parse_pack(TEXT[:start] + TEXT[end:])


def test_an_unreadable_pack_file_is_refused(tmp_path) -> None:
    with pytest.raises(PolicyPackError, match="cannot read the policy pack"):
        load_pack(tmp_path / "absent.toml")


def test_a_district_that_does_not_use_a_discretionary_disclosure_denies_it() -> None:
    pack = parse_pack(edited('title = "Accrediting associations"\ncitations = '
                             '["Education Code 49076", "34 CFR 99.31"]\nuse = true',
                             'title = "Accrediting associations"\ncitations = '
                             '["Education Code 49076", "34 CFR 99.31"]\nuse = false'))
    question = question_from_wire({
        "requester": {"category": "accrediting_association"},
        "student": {"birth_date": "2014-01-21", "grade_completed": 6}, "action": "access",
        "record": {"type": "courses_and_marks"}, "purpose": "accreditation"})

    d = PolicyEngine(pack).decide(question, AS_OF)

    assert (d.outcome, d.clause) == (Outcome.DENY, "accrediting_association")
    assert "does not make this discretionary disclosure" in d.reason


def test_a_district_may_narrow_a_bounded_clause(engine) -> None:
    pack = parse_pack(edited('records = ["courses_and_marks", "iep"]',
                             'records = ["courses_and_marks"]'))
    question = question_from_wire({
        "requester": {"category": "foster_family_agency"},
        "student": {"birth_date": "2014-01-21", "grade_completed": 6}, "action": "access",
        "record": {"type": "iep"}, "purpose": "review"})

    assert engine.decide(question, AS_OF).outcome is Outcome.PERMIT
    assert PolicyEngine(pack).decide(question, AS_OF).outcome is Outcome.DENY
