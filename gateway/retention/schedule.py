"""The retention schedule of AR 5125(j)-(m): which student records may be destroyed, and when.

Pure: frozen facts, the date ``today``, the district's schedule and its school calendar
in; a ``Disposition`` out. No clock, no files, nothing outside the standard library and
the record vocabulary of ``gateway.policy.facts``.

The three rules, paraphrased (5 CCR 432, 437):

- mandatory permanent records are kept indefinitely; when a student transfers, the
  original or a copy stays here permanently (AR 5125(j)-(k), (m); 5 CCR 438);
- mandatory interim records not forwarded to another district become subject to
  destruction during the third school year after the one they originated in, once their
  usefulness has been determined to have ceased or the student has left the district
  (AR 5125(k)-(l));
- permitted records may be destroyed six months after the student completes or
  withdraws from the educational program (AR 5125(l)-(m)).

"Eligible" means the law allows destruction, never that it requires it. Whatever this
module cannot establish from the facts it is given keeps the record (fails closed).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType

from gateway.policy.facts import RecordCategory, RecordType
from gateway.retention.calendar import SchoolCalendar, add_calendar_months

RC = RecordCategory

# The law's periods. A district may keep records longer, never shorter.
INTERIM_SCHOOL_YEARS = 3  # interim: from the third school year after origin (AR 5125(k))
PERMITTED_MONTHS = 6  # permitted: six months after completion or withdrawal (AR 5125(l))

DESTRUCTION_OBLIGATION = ("destroy it so that it is not available to possible public "
                          "inspection in the process (5 CCR 437; AR 5125(m))")
ORIGINATOR_CITATION = "5 CCR 431"
TRANSFER_CITATION = "5 CCR 438"


# --- The schedule ---------------------------------------------------------------


class RuleKind(enum.StrEnum):
    PERMANENT = "permanent"
    INTERIM = "interim"
    PERMITTED = "permitted"
    NOT_A_STUDENT_RECORD = "not_a_student_record"


# The only rule the law gives each class of record (5 CCR 430, 432).
KIND_OF_CATEGORY: Mapping[RecordCategory, RuleKind] = MappingProxyType({
    RC.MANDATORY_PERMANENT: RuleKind.PERMANENT,
    RC.MANDATORY_INTERIM: RuleKind.INTERIM,
    RC.PERMITTED: RuleKind.PERMITTED,
    RC.NOT_A_STUDENT_RECORD: RuleKind.NOT_A_STUDENT_RECORD,
})


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """One rule as the law states it, with where the regulation says so."""

    id: str
    kind: RuleKind
    section: str
    title: str
    citations: tuple[str, ...]
    # interim: destroyable from the first day of the school year this many years after origin
    school_years: int | None = None
    months: int | None = None  # permitted: calendar months after completion or withdrawal

    def __post_init__(self) -> None:
        problem = rule_problem(self.kind, self.school_years, self.months)
        if problem:
            raise ValueError(f"rule {self.id}: {problem[0]}: {problem[1]}")


@dataclass(frozen=True, slots=True)
class DistrictOverride:
    """A district keeping one record type longer than the law requires (never shorter)."""

    reason: str
    keep_permanently: bool = False
    school_years: int | None = None  # interim records only; at least INTERIM_SCHOOL_YEARS
    months: int | None = None  # permitted records only; at least PERMITTED_MONTHS


@dataclass(frozen=True, slots=True)
class RecordRetention:
    """The schedule's entry for one record type."""

    record_type: RecordType
    category: RecordCategory
    rule: RetentionRule
    section: str  # where AR 5125 lists this record
    override: DistrictOverride | None = None

    def __post_init__(self) -> None:
        problem = retention_problem(self.record_type, self.category, self.rule, self.override)
        if problem:
            raise ValueError(f"{self.record_type}: {problem[0]} {problem[1]}: {problem[2]}")

    @property
    def keeps_permanently(self) -> bool:
        return self.rule.kind is RuleKind.PERMANENT or (
            self.override is not None and self.override.keep_permanently)

    @property
    def school_years(self) -> int:
        if self.override is not None and self.override.school_years is not None:
            return self.override.school_years
        return self.rule.school_years or INTERIM_SCHOOL_YEARS

    @property
    def months(self) -> int:
        if self.override is not None and self.override.months is not None:
            return self.override.months
        return self.rule.months or PERMITTED_MONTHS


@dataclass(frozen=True, slots=True)
class RetentionSchedule:
    id: str
    title: str
    district: str
    version: str
    adopted: date
    rules: Mapping[str, RetentionRule]
    records: Mapping[RecordType, RecordRetention]

    def for_type(self, record_type: RecordType) -> RecordRetention | None:
        return self.records.get(record_type)


def rule_problem(kind: RuleKind, school_years: object, months: object) -> tuple[str, str] | None:
    """(key, problem) if a rule misstates the law's period, else None.

    The rules table states the law; a district that keeps longer says so in an override,
    so that the law and the district's choice stay distinguishable.
    """
    if kind is RuleKind.INTERIM:
        if school_years != INTERIM_SCHOOL_YEARS:
            return ("school_years", f"the law makes interim records destroyable during the "
                    f"third school year after origin: {INTERIM_SCHOOL_YEARS} is required "
                    "(keep longer with an override)")
    elif school_years is not None:
        return ("school_years", "only an interim rule counts school years")
    if kind is RuleKind.PERMITTED:
        if months != PERMITTED_MONTHS:
            return ("months", f"the law makes permitted records destroyable six months after "
                    f"completion or withdrawal: {PERMITTED_MONTHS} is required "
                    "(keep longer with an override)")
    elif months is not None:
        return ("months", "only a permitted rule counts months")
    return None


def retention_problem(record_type: RecordType, category: RecordCategory, rule: RetentionRule,
                      override: DistrictOverride | None) -> tuple[str, str, str] | None:
    """(table, key, problem) if this entry would destroy earlier than the law allows.

    The table is "records", "rules" or "overrides", so the loader can name the place.
    """
    if category is not record_type.category:
        return ("records", "category", f"{record_type} is a {record_type.category} record "
                f"(5 CCR 430, 432), not {category}")
    wanted = KIND_OF_CATEGORY[category]
    if rule.kind is not wanted:
        if category is RC.MANDATORY_PERMANENT:
            problem = ("a mandatory permanent record is kept indefinitely (5 CCR 432, 437); "
                       f"rule {rule.id!r} would make it destroyable")
        else:
            problem = (f"a {category} record follows the {wanted} rule, not {rule.id!r} "
                       f"({rule.kind}); to keep it longer use an override")
        return ("records", "rule", problem)
    problem = rule_problem(rule.kind, rule.school_years, rule.months)
    if problem:
        return ("rules", *problem)
    if override is None:
        return None
    return _override_problem(category, override)


def _override_problem(category: RecordCategory,
                      override: DistrictOverride) -> tuple[str, str, str] | None:
    if category is RC.MANDATORY_PERMANENT:
        return ("overrides", "", "a mandatory permanent record is kept indefinitely "
                "(5 CCR 432, 437): there is nothing to override")
    if category is RC.NOT_A_STUDENT_RECORD:
        return ("overrides", "", "directory information is not a student record: the "
                "retention schedule does not govern it")
    if not override.reason.strip():
        return ("overrides", "reason", "say why the district keeps this record longer")
    given = [k for k, v in (("keep_permanently", override.keep_permanently or None),
                            ("school_years", override.school_years),
                            ("months", override.months)) if v is not None]
    if len(given) != 1:
        return ("overrides", "", "give exactly one of keep_permanently, school_years "
                f"or months (given: {', '.join(given) or 'none'})")
    if override.school_years is not None:
        if category is not RC.MANDATORY_INTERIM:
            return ("overrides", "school_years", "only interim records count school years")
        if override.school_years < INTERIM_SCHOOL_YEARS:
            return ("overrides", "school_years", f"{override.school_years} would destroy "
                    "earlier than the law allows: interim records are kept until the third "
                    f"school year after origin at least ({INTERIM_SCHOOL_YEARS}; 5 CCR 437)")
    if override.months is not None:
        if category is not RC.PERMITTED:
            return ("overrides", "months", "only permitted records count months")
        if override.months < PERMITTED_MONTHS:
            return ("overrides", "months", f"{override.months} would destroy earlier than "
                    "the law allows: permitted records are kept at least six months after "
                    f"completion or withdrawal ({PERMITTED_MONTHS}; 5 CCR 437)")
    return None


# --- The facts ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordFacts:
    record_id: str
    student_id: str
    record_type: RecordType | str  # a str the vocabulary does not know fails closed
    school_year_of_origin: int | None = None  # by its starting calendar year: 2022-23 is 2022
    originated_on: date | None = None
    forwarded_to_another_district: bool = False
    usefulness_ceased_on: date | None = None  # the date of a recorded determination...
    usefulness_determined_by: str = ""  # ...and who made it; without both there is none
    # 5 CCR 431: anecdotal information and assessment reports carry the originator's
    # date and signature.
    anecdotal_or_assessment: bool = False
    dated: bool = False
    signed: bool = False


@dataclass(frozen=True, slots=True)
class StudentFacts:
    student_id: str
    left_district_on: date | None = None
    program_completed_on: date | None = None
    withdrawn_on: date | None = None
    returned_on: date | None = None  # enrolled again: departures before it no longer count

    def departed_on(self) -> date | None:
        """The departure from the district still in effect, if any."""
        left = self.left_district_on
        if left is None or (self.returned_on is not None and self.returned_on >= left):
            return None
        return left

    def program_ended_on(self) -> date | None:
        """The completion or withdrawal still in effect.

        If both are recorded the later counts: completing after withdrawing means the
        student came back, whether or not the return was recorded.
        """
        ends = [d for d in (self.program_completed_on, self.withdrawn_on)
                if d is not None and (self.returned_on is None or d > self.returned_on)]
        return max(ends, default=None)


class HoldKind(enum.StrEnum):
    LEGAL_HOLD = "legal_hold"  # litigation, a subpoena or a court order reaches the record
    PENDING_CHALLENGE = "pending_challenge"  # a challenge to it is undecided (Ed Code 49070)
    OPEN_COPY_REQUEST = "open_copy_request"  # a request to inspect or copy is open
    # (Ed Code 49069)
    AUDIT = "audit"  # an audit or evaluation needs it (Ed Code 49076)
    TRANSFER_IN_PROGRESS = "transfer_in_progress"  # being forwarded to a new school (5 CCR 438)


@dataclass(frozen=True, slots=True)
class Hold:
    """Something that stops destruction of records the schedule would let go.

    Without a record id it reaches every record of the student; without either id,
    every record. A kind the vocabulary does not know is honoured all the same.
    """

    kind: HoldKind | str
    reason: str
    owner: str
    placed_on: date
    released_on: date | None = None
    student_id: str | None = None
    record_id: str | None = None

    def applies_to(self, record: RecordFacts) -> bool:
        return ((self.record_id is None or self.record_id == record.record_id)
                and (self.student_id is None or self.student_id == record.student_id))

    def in_force_on(self, day: date) -> bool:
        if self.placed_on > day:
            return False
        released = self.released_on
        # A release dated before the hold was placed is contradictory: keep honouring it.
        return released is None or released > day or released < self.placed_on

    def describe(self) -> str:
        owner = self.owner or "(no owner)"
        return f"{self.kind} placed {self.placed_on} by {owner}: {self.reason}"


# --- The disposition ------------------------------------------------------------


class DispositionKind(enum.StrEnum):
    KEEP = "keep"  # a permanent record (or one the district keeps permanently)
    NOT_YET = "not_yet"  # time, or a fact the rule needs, has not come
    ELIGIBLE = "eligible"  # the law allows destruction from eligible_from
    HELD = "held"  # eligible, but a hold in force stops destruction
    NO_RULE = "no_rule"  # no rule lets this district destroy it: not a student record,
    # forwarded interim record, unknown record type


@dataclass(frozen=True, slots=True)
class Disposition:
    record_id: str
    student_id: str
    record_type: str
    kind: DispositionKind
    on: date  # the day the disposition speaks for
    rule: str = ""  # the schedule rule id
    section: str = ""  # where AR 5125 states it
    citations: tuple[str, ...] = ()
    # eligible/held: since when; not_yet: the date it becomes eligible if only time is missing.
    eligible_from: date | None = None
    missing: tuple[str, ...] = ()  # not_yet: facts still needed before any date can be set
    holds: tuple[Hold, ...] = ()  # held: the holds in force
    override: str = ""  # the district's reason for keeping longer, if it does
    reasons: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()

    @property
    def may_destroy(self) -> bool:
        return self.kind is DispositionKind.ELIGIBLE


@dataclass(slots=True)
class _Draft:
    """A disposition being assembled (local to one call, never shared)."""

    kind: DispositionKind
    eligible_from: date | None = None
    missing: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)


def dispose(record: RecordFacts, student: StudentFacts | None, holds: Iterable[Hold],
            today: date, schedule: RetentionSchedule, calendar: SchoolCalendar) -> Disposition:
    """What the schedule allows for ``record`` on ``today``."""
    require_day(today)
    notes = list(_originator_notes(record))
    try:
        record_type = RecordType(record.record_type)
    except ValueError:
        return _finish(record, today, None, notes, _Draft(DispositionKind.NO_RULE, reasons=[
            f"unknown record type {record.record_type!r}: no retention rule, never eligible"]))
    entry = schedule.for_type(record_type)
    if entry is None:
        return _finish(record, today, None, notes, _Draft(DispositionKind.NO_RULE, reasons=[
            f"the schedule has no entry for {record_type}: never eligible"]))

    if student is not None and student.student_id != record.student_id:
        # Facts about someone else say nothing about this student's departure.
        notes.insert(0, f"the student facts given are for {student.student_id!r}, not "
                     f"{record.student_id!r}: ignored")
        student = None

    kind = entry.rule.kind
    if kind is RuleKind.NOT_A_STUDENT_RECORD:
        draft = _Draft(DispositionKind.NO_RULE, reasons=[
            f"{record_type} is not a student record (Education Code 49061; AR 5125(a)): "
            "the retention schedule has no rule for it"])
    elif entry.keeps_permanently:
        draft = _keep(record, entry)
    elif kind is RuleKind.INTERIM:
        draft = _interim(record, student, entry, calendar)
    else:
        draft = _permitted(record, student, entry)

    if draft.kind is DispositionKind.NOT_YET:
        if draft.missing or draft.eligible_from is None:
            draft.eligible_from = None  # the date depends on what is still missing
        elif today < draft.eligible_from:
            draft.reasons.append(f"not before {draft.eligible_from}")
        else:
            draft.kind = DispositionKind.ELIGIBLE
    if draft.kind is DispositionKind.ELIGIBLE:
        _apply_holds(draft, record, holds, today)
    return _finish(record, today, entry, notes, draft)


def _apply_holds(draft: _Draft, record: RecordFacts, holds: Iterable[Hold], today: date) -> None:
    released: list[str] = []
    for hold in holds:
        if not hold.applies_to(record):
            continue
        if hold.in_force_on(today):
            draft.holds.append(hold)
            draft.reasons.append(f"held: {hold.describe()}")
            if hold.kind not in _HOLD_KINDS:
                draft.reasons.append(f"{hold.kind!r} is not a hold kind the schedule knows; "
                                     "honoured all the same")
        elif hold.released_on is not None and hold.placed_on <= today:
            released.append(f"{hold.kind} released on {hold.released_on}: no longer stops "
                            "destruction")
    draft.reasons.extend(released)
    if draft.holds:
        draft.kind = DispositionKind.HELD


_HOLD_KINDS = frozenset(HoldKind.__members__.values())


def _finish(record: RecordFacts, today: date, entry: RecordRetention | None,
            notes: list[str], draft: _Draft) -> Disposition:
    rule = entry.rule if entry else None
    citations = rule.citations if rule else ()
    if notes and ORIGINATOR_CITATION not in citations:
        citations = (*citations, ORIGINATOR_CITATION)
    eligible = draft.kind is DispositionKind.ELIGIBLE
    return Disposition(
        record_id=record.record_id, student_id=record.student_id,
        record_type=str(record.record_type), kind=draft.kind, on=today,
        rule=rule.id if rule else "", section=entry.section if entry else "",
        citations=citations, eligible_from=draft.eligible_from,
        missing=tuple(draft.missing), holds=tuple(draft.holds),
        override=entry.override.reason if entry and entry.override else "",
        reasons=(*draft.reasons, *notes),
        obligations=(DESTRUCTION_OBLIGATION,) if eligible else ())


def _keep(record: RecordFacts, entry: RecordRetention) -> _Draft:
    draft = _Draft(DispositionKind.KEEP)
    if entry.rule.kind is RuleKind.PERMANENT:
        draft.reasons.append("a mandatory permanent record is kept indefinitely "
                             "(5 CCR 432, 437)")
        if record.forwarded_to_another_district:
            draft.reasons.append("forwarded to another district: the original or a copy is "
                                 f"kept here permanently ({TRANSFER_CITATION})")
    else:
        draft.reasons.append(f"the district keeps this {entry.category} record permanently, "
                             "longer than the law requires")
    return draft


def _interim(record: RecordFacts, student: StudentFacts | None, entry: RecordRetention,
             calendar: SchoolCalendar) -> _Draft:
    if record.forwarded_to_another_district:
        return _Draft(DispositionKind.NO_RULE, reasons=[
            "a mandatory interim record forwarded to another district is outside this rule "
            "(AR 5125(k) excepts forwarded records): this district does not destroy it "
            "under it"])
    draft = _Draft(DispositionKind.NOT_YET)
    origin = _school_year_of_origin(record, calendar, draft)

    triggers: list[tuple[date, str]] = []
    returned = student.returned_on if student else None
    if record.usefulness_ceased_on is not None:
        if not record.usefulness_determined_by.strip():
            draft.reasons.append("a usefulness date without who determined it is not a "
                                 "recorded determination")
        elif returned is not None and record.usefulness_ceased_on < returned:
            # The student is back: a determination made before the return may no longer hold.
            draft.reasons.append("the usefulness determination of "
                                 f"{record.usefulness_ceased_on} predates the student's "
                                 f"return on {returned}")
        else:
            triggers.append((record.usefulness_ceased_on,
                             f"usefulness determined to have ceased on "
                             f"{record.usefulness_ceased_on} by {record.usefulness_determined_by}"))
    if student is None:
        draft.reasons.append("no facts about the student were given")
    else:
        departed = student.departed_on()
        if departed is not None:
            triggers.append((departed, f"the student left the district on {departed}"))
        elif student.left_district_on is not None:
            draft.reasons.append(f"the student left on {student.left_district_on} and returned "
                                 f"on {student.returned_on}: enrolled again")
    if not triggers:
        draft.missing.append("usefulness determination or the student's departure")

    if origin is None:
        return draft
    third_year = origin + entry.school_years
    opens = calendar.first_day(third_year)
    draft.reasons.append(f"originated in {calendar.label(origin)}; the "
                         f"{_ordinal(entry.school_years)} school year after it, "
                         f"{calendar.label(third_year)}, begins {opens}")
    if triggers:
        # Either event suffices, so the earlier one counts; never before the third year.
        trigger_day, why = min(triggers)
        draft.reasons.append(why)
        draft.eligible_from = max(opens, trigger_day)
    return draft


def _school_year_of_origin(record: RecordFacts, calendar: SchoolCalendar,
                           draft: _Draft) -> int | None:
    if record.anecdotal_or_assessment and not record.dated:
        # Its origin rests on the originator's date (5 CCR 431), and there is none.
        draft.missing.append("the originator's date on the record (5 CCR 431)")
        return None
    given = record.school_year_of_origin
    derived = calendar.school_year_of(record.originated_on) if record.originated_on else None
    if given is not None and derived is not None and given != derived:
        draft.missing.append("a school year of origin that agrees with the date it originated")
        draft.reasons.append(f"school year of origin {calendar.label(given)} disagrees with "
                             f"originated on {record.originated_on} ({calendar.label(derived)})")
        return None
    origin = given if given is not None else derived
    if origin is None:
        draft.missing.append("the school year of origin")
    return origin


def _permitted(record: RecordFacts, student: StudentFacts | None,
               entry: RecordRetention) -> _Draft:
    draft = _Draft(DispositionKind.NOT_YET)
    if record.forwarded_to_another_district:
        draft.reasons.append("a copy was forwarded to another district; this district's copy "
                             "follows the permitted-record rule")
    ended = student.program_ended_on() if student else None
    if ended is None:
        draft.missing.append("the student's completion of or withdrawal from the "
                             "educational program")
        if student is None:
            draft.reasons.append("no facts about the student were given")
        elif student.returned_on is not None and (student.program_completed_on
                                                  or student.withdrawn_on):
            draft.reasons.append(f"the student returned on {student.returned_on}: enrolled "
                                 "again, the clock no longer runs")
        return draft
    assert student is not None
    how = "completed" if ended == student.program_completed_on else "withdrew from"
    months = entry.months
    draft.eligible_from = add_calendar_months(ended, months)
    draft.reasons.append(f"the student {how} the educational program on {ended}; "
                         f"{months} calendar months later is {draft.eligible_from}")
    return draft


def _ordinal(n: int) -> str:
    words = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth"}
    if n in words:
        return words[n]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _originator_notes(record: RecordFacts) -> tuple[str, ...]:
    if not record.anecdotal_or_assessment or (record.dated and record.signed):
        return ()
    lacking = " and ".join(w for w, ok in (("dated", record.dated), ("signed", record.signed))
                           if not ok)
    return (f"not {lacking} by its originator, as 5 CCR 431 requires of anecdotal "
            "information and assessment reports",)


def require_day(today: object) -> None:
    # A datetime is a date too, but comparing it with dates raises; refuse it up front.
    if not isinstance(today, date) or isinstance(today, datetime):
        raise TypeError(f"today must be a datetime.date, not {type(today).__name__}")
