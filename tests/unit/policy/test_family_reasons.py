"""The reasons the portal translates are the engine's, word for word, and the engine's
refusals a family member meets are all among them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from gateway.policy.engine import PolicyEngine
from gateway.policy.facts import Consent, ConsentGiver, RecordType
from gateway.policy.wire import question_from_wire
from gateway.portal.reasons import FAMILY_REASONS

AS_OF = date(2026, 3, 2)
CHILD = {"birth_date": "2014-01-21", "grade_completed": 6}
ADULT = {"birth_date": "2006-01-21", "grade_completed": 12}
COLLEGE_MINOR_DEPENDENT = {"birth_date": "2010-06-01", "grade_completed": 9,
                           "attends_postsecondary": True, "tax_dependent": True}
NO_BIRTH_DATE = {"grade_completed": 6}
NO_GRADE = {"birth_date": "2011-06-01"}
PARENT = {"category": "parent"}
REVOKED = {"category": "parent", "access_revoked_by_court": True}
NONCUSTODIAL = {"category": "parent", "legal_custody": False}
STUDENT = {"category": "student"}

# What a parent or student can ask in the portal: their records, the access log, a
# challenge or written response; each way it is refused.
REFUSED: list[tuple[dict[str, Any], dict[str, Any], str]] = [
    (REVOKED, CHILD, "access"), (PARENT, ADULT, "access"), (PARENT, NO_BIRTH_DATE, "access"),
    (PARENT, COLLEGE_MINOR_DEPENDENT, "access"),
    (STUDENT, CHILD, "access"), (STUDENT, NO_GRADE, "access"),
    (REVOKED, CHILD, "view_access_log"), (PARENT, ADULT, "view_access_log"),
    (STUDENT, CHILD, "view_access_log"), (STUDENT, NO_BIRTH_DATE, "view_access_log"),
    (STUDENT, NO_GRADE, "view_access_log"),
    (REVOKED, CHILD, "challenge"), (PARENT, ADULT, "challenge"),
    (NONCUSTODIAL, CHILD, "challenge"), (STUDENT, CHILD, "challenge"),
]

CONSENT = Consent(signed=True, dated=True, by=ConsentGiver.CUSTODIAL_PARENT, records=None,
                  purpose="tutoring", recipient="Bright Path")
# Each way the portal's consent form can be refused by the engine's test.
CONSENTS = [
    (CHILD, {"signed": False}), (CHILD, {"dated": False}), (NO_BIRTH_DATE, {}),
    (CHILD, {"by": None}), (CHILD, {"by": ConsentGiver.ADULT_STUDENT}),
    (ADULT, {}), (CHILD, {"by": ConsentGiver.NONCUSTODIAL_PARENT}),
    (CHILD, {"records": frozenset({RecordType.HEALTH})}),
    (CHILD, {"recipient": " "}),
]


def _refusals(engine: PolicyEngine) -> set[str]:
    reasons = set()
    for requester, student, action in REFUSED:
        decision = engine.decide(question_from_wire({
            "requester": requester, "student": student, "action": action,
            "record": {"type": "courses_and_marks"}, "purpose": "review"}), AS_OF)
        assert not decision.discloses, (requester, student, action)
        reasons.add(decision.reason)
    for student, changes in CONSENTS:
        consent = replace(CONSENT, **changes)
        fact = question_from_wire({"requester": PARENT, "student": student,
                                   "action": "access", "record": {"type": "health"}}).student
        problem = engine.consent_refusal(fact, consent, RecordType.COURSES_AND_MARKS, AS_OF)
        assert problem is not None, (student, changes)
        reasons.add(problem)
    return reasons


def test_every_family_refusal_is_translated_and_every_translation_is_the_engines(
        engine: PolicyEngine) -> None:
    reasons = _refusals(engine)

    assert sorted(reasons - FAMILY_REASONS) == []
    assert sorted(FAMILY_REASONS - reasons) == []
