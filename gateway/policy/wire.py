"""The shared case format (shared/ar5125-cases/FORMAT.md) at the engine's edge.

Two kinds of bad input are told apart. A value of the wrong shape (a date that
is not a date, a flag that is not true or false) makes the input unreadable:
``WireError``, naming the field. A well-formed value the regulation does not
know (a requester category, record type or action it never names, or a key it
does not define) is kept as an unrecognized fact, and the engine denies.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from gateway.policy.decision import Decision
from gateway.policy.facts import (
    AccessQuestion,
    Action,
    Consent,
    ConsentGiver,
    Evidence,
    OrganizationType,
    ParentType,
    RecordCategory,
    RecordType,
    Requester,
    RequesterCategory,
    Student,
    StudentStatus,
)


class WireError(ValueError):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


E = TypeVar("E", bound=enum.Enum)

_REQUESTER_KEYS = {"category", "legal_custody", "access_revoked_by_court", "parent_type",
                   "legitimate_educational_interest", "volunteer", "organization_type"}
_STUDENT_KEYS = {"birth_date", "grade_completed", "attends_postsecondary", "tax_dependent",
                 "incompetent_adult_with_disability", "disability",
                 "expelled_or_suspended_for_pc245", "directory_opt_out", "status"}
_EVIDENCE_KEYS = {"consent", "court_order", "subpoena", "court_instructs_no_notice",
                  "parent_notified_on", "written_agreement", "written_certification",
                  "emergency_threat", "routine_update", "deidentified"}
_CONSENT_KEYS = {"signed", "dated", "by", "records", "purpose", "recipient"}
_QUESTION_KEYS = {"requester", "student", "action", "record", "purpose", "evidence"}


class _Reader:
    """Reads one question, collecting what the regulation does not recognize."""

    def __init__(self) -> None:
        self.unrecognized: list[str] = []

    def obj(self, data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise WireError(f"{where}{key}", "an object is required")
        return value

    def keys(self, data: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in sorted(set(data) - allowed):
            self.unrecognized.append(f"{where}{key}: not a fact the regulation defines")

    def flag(self, data: Mapping[str, Any], key: str, where: str, default: bool = False) -> bool:
        value = data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise WireError(f"{where}{key}", "true or false is required")
        return value

    def text(self, data: Mapping[str, Any], key: str, where: str) -> str:
        value = data.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise WireError(f"{where}{key}", "a string is required")
        return value

    def day(self, data: Mapping[str, Any], key: str, where: str) -> date | None:
        value = data.get(key)
        if value is None:
            return None
        return parse_date(value, f"{where}{key}")

    def choice(self, data: Mapping[str, Any], key: str, kind: type[E], where: str) -> E | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise WireError(f"{where}{key}", "a string is required")
        try:
            return kind(value)
        except ValueError:
            self.unrecognized.append(f"{where}{key}: {value!r}")
            return None

    def requester(self, data: Mapping[str, Any] | None) -> Requester | None:
        if data is None:
            return None
        w = "requester."
        self.keys(data, _REQUESTER_KEYS, w)
        category = self.choice(data, "category", RequesterCategory, w)
        parent_type = self.choice(data, "parent_type", ParentType, w)
        organization = self.choice(data, "organization_type", OrganizationType, w)
        if category is None:
            return None
        return Requester(
            category=category,
            legal_custody=self.flag(data, "legal_custody", w, default=True),
            access_revoked_by_court=self.flag(data, "access_revoked_by_court", w),
            parent_type=parent_type,
            legitimate_educational_interest=self.text(data, "legitimate_educational_interest", w),
            volunteer=self.flag(data, "volunteer", w),
            organization_type=organization,
        )

    def student(self, data: Mapping[str, Any] | None) -> Student:
        if data is None:
            return Student()
        w = "student."
        self.keys(data, _STUDENT_KEYS, w)
        grade = data.get("grade_completed")
        if grade is not None and (isinstance(grade, bool) or not isinstance(grade, int)
                                  or not -1 <= grade <= 16):
            raise WireError(f"{w}grade_completed", "a whole number of grades (0-16) is required")
        status = self.choice(data, "status", StudentStatus, w)
        if status is None and data.get("status") is not None:
            status = StudentStatus.ENROLLED  # recorded as unrecognized; the engine denies
        return Student(
            birth_date=self.day(data, "birth_date", w),
            grade_completed=grade,
            attends_postsecondary=self.flag(data, "attends_postsecondary", w),
            tax_dependent=self.flag(data, "tax_dependent", w),
            incompetent_adult_with_disability=self.flag(
                data, "incompetent_adult_with_disability", w),
            disability=self.flag(data, "disability", w),
            expelled_or_suspended_for_pc245=self.flag(data, "expelled_or_suspended_for_pc245", w),
            directory_opt_out=self.flag(data, "directory_opt_out", w),
            status=status or StudentStatus.ENROLLED,
        )

    def consent(self, data: Mapping[str, Any] | None) -> Consent | None:
        if data is None:
            return None
        w = "evidence.consent."
        self.keys(data, _CONSENT_KEYS, w)
        records = data.get("records")
        covered: frozenset[RecordType] | None
        if records == "all":
            covered = None
        elif isinstance(records, list) and all(isinstance(r, str) for r in records):
            known = set()
            for r in records:
                try:
                    known.add(RecordType(r))
                except ValueError:
                    self.unrecognized.append(f"{w}records: {r!r}")
            covered = frozenset(known)
        elif records is None:
            covered = frozenset()  # a consent that names no records covers none
        else:
            raise WireError(f"{w}records", 'a list of record types or "all" is required')
        return Consent(
            signed=self.flag(data, "signed", w),
            dated=self.flag(data, "dated", w),
            by=self.choice(data, "by", ConsentGiver, w),
            records=covered,
            purpose=self.text(data, "purpose", w),
            recipient=self.text(data, "recipient", w),
        )

    def evidence(self, data: Mapping[str, Any] | None) -> Evidence:
        if data is None:
            return Evidence()
        w = "evidence."
        self.keys(data, _EVIDENCE_KEYS, w)
        return Evidence(
            consent=self.consent(self.obj(data, "consent", w)),
            court_order=self.flag(data, "court_order", w),
            subpoena=self.flag(data, "subpoena", w),
            court_instructs_no_notice=self.flag(data, "court_instructs_no_notice", w),
            parent_notified_on=self.day(data, "parent_notified_on", w),
            written_agreement=self.flag(data, "written_agreement", w),
            written_certification=self.flag(data, "written_certification", w),
            emergency_threat=self.text(data, "emergency_threat", w),
            routine_update=self.flag(data, "routine_update", w),
            deidentified=self.flag(data, "deidentified", w),
        )

    def record_type(self, data: Mapping[str, Any] | None) -> RecordType | None:
        if data is None:
            return None
        self.keys(data, {"type", "category"}, "record.")
        # The type decides the category; a given category is only checked for form.
        self.choice(data, "category", RecordCategory, "record.")
        return self.choice(data, "type", RecordType, "record.")


def parse_date(value: object, where: str) -> date:
    if not isinstance(value, str):
        raise WireError(where, "a date string (YYYY-MM-DD) is required")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise WireError(where, f"{value!r} is not a date (YYYY-MM-DD)") from None


def question_from_wire(data: Mapping[str, Any]) -> AccessQuestion:
    """Read a question in the shared format; raises WireError if it is unreadable."""
    if not isinstance(data, dict):
        raise WireError("question", "a JSON object is required")
    r = _Reader()
    requester = r.requester(r.obj(data, "requester", ""))
    student = r.student(r.obj(data, "student", ""))
    action = r.choice(data, "action", Action, "")
    record_type = r.record_type(r.obj(data, "record", ""))
    purpose = r.text(data, "purpose", "")
    evidence = r.evidence(r.obj(data, "evidence", ""))
    case_keys = {"id", "note", "as_of", "expect"}
    r.keys({k: v for k, v in data.items() if k not in case_keys}, _QUESTION_KEYS, "")
    return AccessQuestion(requester=requester, student=student, action=action,
                          record_type=record_type, purpose=purpose, evidence=evidence,
                          unrecognized=tuple(r.unrecognized))


def _normal(citation: str) -> str:
    return " ".join(citation.lower().split())


@dataclass(frozen=True, slots=True)
class Expectation:
    """The ``expect`` of a case: keys that are absent are not checked."""

    decision: str | None = None
    citations_include: tuple[str, ...] = ()
    obligations_include: tuple[str, ...] = ()
    requires_include: tuple[str, ...] = ()
    log_required: bool | None = None

    def mismatches(self, d: Decision) -> list[str]:
        found: list[str] = []
        if self.decision is not None and d.outcome.value != self.decision:
            found.append(f"decision is {d.outcome.value}, expected {self.decision}")
        cited = {_normal(c) for c in d.citations}
        for wanted in self.citations_include:
            if not any(_normal(alt) in cited for alt in wanted.split("|")):
                found.append(f"citation {wanted!r} is missing")
        for name, wanted_all, have in (
                ("obligation", self.obligations_include, {o.value for o in d.obligations}),
                ("requirement", self.requires_include, {r.value for r in d.requires})):
            found.extend(f"{name} {w!r} is missing" for w in wanted_all if w not in have)
        if self.log_required is not None and d.log_required != self.log_required:
            found.append(f"log_required is {d.log_required}, expected {self.log_required}")
        return found


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    as_of: date
    question: AccessQuestion
    expect: Expectation | None = None
    note: str = field(default="", compare=False)


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WireError(f"expect.{key}", "a list of strings is required")
    return tuple(value)


def case_from_wire(data: Any) -> Case:
    if not isinstance(data, dict):
        raise WireError("case", "a JSON object is required")
    case_id = data.get("id")
    if not isinstance(case_id, str) or not case_id:
        raise WireError("id", "a non-empty string is required")
    if "as_of" not in data:
        raise WireError("as_of", "the date of the question is required")
    expect = None
    if (raw := data.get("expect")) is not None:
        if not isinstance(raw, dict):
            raise WireError("expect", "an object is required")
        log = raw.get("log_required")
        if log is not None and not isinstance(log, bool):
            raise WireError("expect.log_required", "true or false is required")
        decision = raw.get("decision")
        if decision is not None and decision not in ("permit", "deny", "pending"):
            raise WireError("expect.decision", "permit, deny or pending is required")
        expect = Expectation(
            decision=decision,
            citations_include=_strings(raw, "citations_include"),
            obligations_include=_strings(raw, "obligations_include"),
            requires_include=_strings(raw, "requires_include"),
            log_required=log,
        )
    note = data.get("note", "")
    return Case(id=case_id, as_of=parse_date(data["as_of"], "as_of"),
                question=question_from_wire(data), expect=expect,
                note=note if isinstance(note, str) else "")
