"""The AR 5125 decision engine: facts and a date in, a Decision out.

Pure: no clock, no I/O, no framework. The caller supplies ``today``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from gateway.policy import rules
from gateway.policy.decision import Decision, Outcome
from gateway.policy.facts import (
    AccessQuestion,
    Action,
    Consent,
    Evidence,
    RecordType,
    Requester,
    RequesterCategory,
    Student,
)
from gateway.policy.pack import PolicyPack
from gateway.policy.rules import Situation

_ACTION_RULES = {
    Action.VIEW_ACCESS_LOG: (rules.access_log_readers,),
    Action.CHALLENGE: (rules.challenge,),
    Action.ADD_RECORD: (rules.add_record,),
}


class PolicyEngine:
    """Answers access questions under one district's policy pack."""

    def __init__(self, pack: PolicyPack) -> None:
        self.pack = pack

    def decide(self, question: AccessQuestion, today: date) -> Decision:
        return decide(question, today, self.pack)

    def refusal(self, clause_id: str, reason: str, *, requester: Requester | None = None,
                student: Student | None = None, today: date | None = None) -> Decision:
        """A refusal made before the rules are asked (a relationship nobody verified, a
        registration withdrawn, a record that is not there, a request only record keepers
        may make), as a denial under ``clause_id`` to enter in the access log.

        Ed Code 49064 lists everyone who requests information, so the student's log lists
        it (``log_required``) unless ``requester`` (as the district knows them: no claimed
        relationship) is one the log need not list; those are asking for a record of this
        ``student``, on ``today``.
        """
        clause = self.pack.clauses[clause_id]
        log_required = True
        if requester is not None and today is not None:
            student = student or Student()
            question = AccessQuestion(requester=requester, student=student,
                                      action=Action.ACCESS,
                                      record_type=RecordType.COURSES_AND_MARKS, purpose="")
            log_required = not Situation(
                question=question, requester=requester,
                record_type=RecordType.COURSES_AND_MARKS, student=student, purpose="",
                today=today, pack=self.pack, age=student.age_on(today)).requester_is_log_exempt
        return Decision(Outcome.DENY, clause_id, clause.citations, reason,
                        log_required=log_required)

    def consent_refusal(self, student: Student, consent: Consent, record_type: RecordType,
                        today: date) -> str | None:
        """Why this written consent, given today, could not support a disclosure of
        ``record_type`` to its recipient (unsigned, undated, given by someone who may not
        consent for this student, not covering the record...), or None if it could.

        The same test the ``written_consent`` clause applies when the recipient asks, so a
        consent the portal accepts is one the engine will honour.
        """
        question = AccessQuestion(
            requester=Requester(category=RequesterCategory.THIRD_PARTY), student=student,
            action=Action.ACCESS, record_type=record_type, purpose=consent.purpose,
            evidence=Evidence(consent=consent))
        situation = Situation(
            question=question, requester=question.requester, record_type=record_type,
            student=student, purpose=" ".join(consent.purpose.lower().split()), today=today,
            pack=self.pack, age=student.age_on(today))
        return rules.consent_problem(situation, consent, check_purpose=False)


def decide(question: AccessQuestion, today: date, pack: PolicyPack) -> Decision:
    born = question.student.birth_date
    if born is not None and born > today:
        # No age can be counted from a birth date after the day asked about: refuse.
        question = replace(question, unrecognized=(
            *question.unrecognized,
            f"student.birth_date: {born.isoformat()} is after the date of the question"))
    requester, action, record_type = question.requester, question.action, question.record_type
    if question.unrecognized or requester is None or action is None or record_type is None:
        return _unrecognized(question, pack)
    situation = Situation(
        question=question, requester=requester, record_type=record_type,
        student=question.student, purpose=" ".join(question.purpose.lower().split()),
        today=today, pack=pack, age=question.student.age_on(today),
    )
    if action is Action.ACCESS and record_type is RecordType.ACCESS_LOG:
        # Reading the access log is governed by Ed Code 49064 however it is asked.
        action = Action.VIEW_ACCESS_LOG
    if action is Action.ACCESS:
        candidates = (*rules.ACCESS_RULES[requester.category], *rules.OPEN_ACCESS_RULES)
        return rules.with_consent_on_file(situation, _most_favourable(situation, candidates))
    return _most_favourable(situation, _ACTION_RULES[action])


def _most_favourable(situation: Situation, candidates: Iterable[rules.Rule]) -> Decision:
    """Access is lawful if any basis allows it; otherwise report the nearest basis."""
    pending = denial = None
    for rule in candidates:
        decision = rule(situation)
        if decision is None:
            continue
        if decision.outcome is Outcome.PERMIT:
            return decision
        if decision.outcome is Outcome.PENDING:
            pending = pending or decision
        else:
            denial = denial or decision
    if pending is not None:
        return pending
    if denial is not None:
        return denial
    return situation.deny("no_basis", NO_BASIS)


NO_BASIS = ("No basis in the regulation allows this requester this record for this purpose: "
            "outside parties need written consent or a judicial order.")


def _unrecognized(question: AccessQuestion, pack: PolicyPack) -> Decision:
    what = list(question.unrecognized)
    for name, value in (("requester", question.requester), ("action", question.action),
                        ("record type", question.record_type)):
        if value is None and not any(u.startswith(name) for u in what):
            what.append(f"{name}: missing")
    clause = pack.clauses["unrecognized_request"]
    return Decision(
        Outcome.DENY, clause.id, clause.citations,
        "The request is refused because the regulation does not know these facts: "
        + "; ".join(what) + ".",
        log_required=True,
    )
