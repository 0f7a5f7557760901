"""Reading the retention schedule and school calendar from TOML (the only I/O here).

A file that would let records go earlier than the law allows, or mark a mandatory
permanent record destroyable, is refused when it is loaded, with a message naming the
place: ``<file>: [<table>] <key>: <problem>``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType

from gateway.policy.facts import RecordCategory, RecordType
from gateway.retention.calendar import SchoolCalendar, boundary_problem
from gateway.retention.schedule import (
    DistrictOverride,
    RecordRetention,
    RetentionRule,
    RetentionSchedule,
    RuleKind,
    retention_problem,
    rule_problem,
)


class RetentionConfigError(ValueError):
    """The file cannot be used; the message names the file, the table and the key."""


def load_schedule(path: str | Path) -> RetentionSchedule:
    return parse_schedule(_read(path), source=str(path))


def load_calendar(path: str | Path) -> SchoolCalendar:
    return parse_calendar(_read(path), source=str(path))


def parse_schedule(text: str, *, source: str = "<retention schedule>") -> RetentionSchedule:
    return _ScheduleReader(source).schedule(_toml(text, source))


def parse_calendar(text: str, *, source: str = "<school calendar>") -> SchoolCalendar:
    r = _Reader(source)
    data = _toml(text, source)
    r.only(data, "", {"school_year"})
    year = r.table(data, "school_year")
    r.only(year, "school_year", {"start_month", "start_day"})
    month, day = year.get("start_month"), year.get("start_day")
    if month is None or day is None:
        raise r.fail("school_year", "start_month" if month is None else "start_day",
                     "required")
    problem = boundary_problem(month, day)
    if problem:
        raise r.fail("school_year", *problem)
    assert isinstance(month, int) and isinstance(day, int)
    return SchoolCalendar(start_month=month, start_day=day)


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RetentionConfigError(f"{path}: cannot read ({exc.strerror})") from None


def _toml(text: str, source: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RetentionConfigError(f"{source}: not valid TOML: {exc}") from None


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, table: str, key: str, problem: str) -> RetentionConfigError:
        place = f"[{table}]" if table else "(top level)"
        return RetentionConfigError(f"{self.source}: {place}{' ' + key if key else ''}: "
                                    f"{problem}")

    def only(self, data: Mapping[str, object], table: str, allowed: set[str]) -> None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise self.fail(table, unknown[0], "unknown key (expected: "
                            + ", ".join(sorted(allowed)) + ")")

    def table(self, data: Mapping[str, object], key: str,
              parent: str = "") -> Mapping[str, object]:
        value = data.get(key)
        name = f"{parent}.{key}" if parent else key
        if not isinstance(value, dict):
            raise self.fail(name, "", "a table is required" if value is None
                            else "must be a table")
        return value

    def text(self, data: Mapping[str, object], table: str, key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(table, key, "a non-empty string is required")
        return value.strip()

    def whole(self, data: Mapping[str, object], table: str, key: str) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(table, key, "a whole number is required")
        return value

    def citations(self, data: Mapping[str, object], table: str) -> tuple[str, ...]:
        value = data.get("citations")
        if (not isinstance(value, list) or not value
                or not all(isinstance(c, str) and c.strip() for c in value)):
            raise self.fail(table, "citations", "a non-empty list of citations is required")
        return tuple(c.strip() for c in value)


class _ScheduleReader(_Reader):
    def schedule(self, data: Mapping[str, object]) -> RetentionSchedule:
        self.only(data, "", {"schedule", "rules", "records", "overrides"})
        head = self.table(data, "schedule")
        self.only(head, "schedule", {"id", "title", "district", "version", "adopted"})
        adopted = head.get("adopted")
        if not isinstance(adopted, date):
            raise self.fail("schedule", "adopted", "a date (YYYY-MM-DD) is required")

        rules_data = self.table(data, "rules")
        rules = {rid: self.rule(rid, self.table(rules_data, rid, "rules"))
                 for rid in rules_data}
        overrides_data = data.get("overrides", {})
        if not isinstance(overrides_data, dict):
            raise self.fail("overrides", "", "must be a table")
        records_data = self.table(data, "records")

        for key in list(records_data) + list(overrides_data):
            if key not in RecordType.__members__.values():
                table = "records" if key in records_data else "overrides"
                raise self.fail(f"{table}.{key}", "", "unknown record type (see "
                                "gateway/policy/facts.py RecordType)")
        missing = [t.value for t in RecordType if t.value not in records_data]
        if missing:
            raise self.fail(f"records.{missing[0]}", "", "missing: the schedule must say how "
                            "every record type is kept")
        for key in overrides_data:
            self.table(overrides_data, key, "overrides")

        records = {RecordType(key): self.record(
            RecordType(key), self.table(records_data, key, "records"), rules,
            overrides_data.get(key)) for key in records_data}
        return RetentionSchedule(
            id=self.text(head, "schedule", "id"),
            title=self.text(head, "schedule", "title"),
            district=self.text(head, "schedule", "district"),
            version=self.text(head, "schedule", "version"),
            adopted=adopted,
            rules=MappingProxyType(rules),
            records=MappingProxyType({t: records[t] for t in RecordType}),
        )

    def rule(self, rid: str, data: Mapping[str, object]) -> RetentionRule:
        table = f"rules.{rid}"
        self.only(data, table, {"kind", "section", "title", "citations", "school_years",
                                "months"})
        raw = data.get("kind")
        try:
            kind = RuleKind(raw)
        except ValueError:
            raise self.fail(table, "kind", f"{raw!r} is not a rule kind (expected: "
                            + ", ".join(RuleKind) + ")") from None
        school_years = self.whole(data, table, "school_years")
        months = self.whole(data, table, "months")
        problem = rule_problem(kind, school_years, months)
        if problem:
            raise self.fail(table, *problem)
        return RetentionRule(
            id=rid, kind=kind, section=self.text(data, table, "section"),
            title=self.text(data, table, "title"), citations=self.citations(data, table),
            school_years=school_years, months=months)

    def record(self, record_type: RecordType, data: Mapping[str, object],
               rules: Mapping[str, RetentionRule], override_data: object) -> RecordRetention:
        table = f"records.{record_type}"
        self.only(data, table, {"category", "rule", "section"})
        raw = data.get("category")
        try:
            category = RecordCategory(raw)
        except ValueError:
            raise self.fail(table, "category", f"{raw!r} is not a record category (expected: "
                            + ", ".join(RecordCategory) + ")") from None
        rule_id = self.text(data, table, "rule")
        if rule_id not in rules:
            raise self.fail(table, "rule", f"no rule {rule_id!r} in [rules]")
        rule = rules[rule_id]
        override = None
        if isinstance(override_data, dict):
            override = self.override(record_type, override_data)
        problem = retention_problem(record_type, category, rule, override)
        if problem:
            where, key, text = problem
            place = {"records": table, "rules": f"rules.{rule_id}",
                     "overrides": f"overrides.{record_type}"}[where]
            raise self.fail(place, key, text)
        return RecordRetention(record_type=record_type, category=category, rule=rule,
                               section=self.text(data, table, "section"), override=override)

    def override(self, record_type: RecordType, data: Mapping[str, object]) -> DistrictOverride:
        table = f"overrides.{record_type}"
        self.only(data, table, {"reason", "keep_permanently", "school_years", "months"})
        permanent = data.get("keep_permanently", False)
        if not isinstance(permanent, bool):
            raise self.fail(table, "keep_permanently", "true or false is required")
        reason = data.get("reason", "")
        if not isinstance(reason, str):
            raise self.fail(table, "reason", "a string is required")
        return DistrictOverride(
            reason=reason.strip(), keep_permanently=permanent,
            school_years=self.whole(data, table, "school_years"),
            months=self.whole(data, table, "months"))
