"""The schedule and calendar files, and the files the loader refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.policy.facts import RecordCategory, RecordType
from gateway.retention import (
    DistrictOverride,
    RecordRetention,
    RetentionConfigError,
    RetentionSchedule,
    RuleKind,
    load_calendar,
    load_schedule,
)
from gateway.retention.schedule import KIND_OF_CATEGORY

CONFIG = Path(__file__).resolve().parents[3] / "config" / "retention"
SHIPPED = (CONFIG / "schedule.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "schedule.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert SHIPPED.count(old) >= 1, old
    return SHIPPED.replace(old, new, 1)


def refused(tmp_path: Path, text: str, place: str, *words: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(RetentionConfigError) as caught:
        load_schedule(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {place}"), message
    for word in words:
        assert word in message, message
    return message


def test_the_shipped_schedule_covers_every_record_type(schedule: RetentionSchedule) -> None:
    assert set(schedule.records) == set(RecordType)
    for record_type, entry in schedule.records.items():
        assert entry.category is record_type.category
        assert entry.rule.kind is KIND_OF_CATEGORY[entry.category]
        assert entry.rule.citations and entry.section.startswith("AR 5125(")
        assert entry.override is None
    assert schedule.rules["interim_third_school_year"].school_years == 3
    assert schedule.rules["permitted_six_months"].months == 6


PERMANENT_LEGAL_NAME = ('[records.legal_name]\ncategory = "mandatory_permanent"\n'
                        'rule = "permanent"')


@pytest.mark.parametrize("rule", ["interim_third_school_year", "permitted_six_months",
                                  "not_a_student_record"])
def test_a_permanent_record_marked_destroyable_is_refused(tmp_path: Path, rule: str) -> None:
    text = edited(PERMANENT_LEGAL_NAME, PERMANENT_LEGAL_NAME.replace('"permanent"', f'"{rule}"'))
    refused(tmp_path, text, "[records.legal_name] rule:", "mandatory permanent")


def test_a_category_that_contradicts_the_vocabulary_is_refused(tmp_path: Path) -> None:
    text = edited(PERMANENT_LEGAL_NAME,
                  '[records.legal_name]\ncategory = "permitted"\nrule = "permitted_six_months"')
    refused(tmp_path, text, "[records.legal_name] category:", "mandatory_permanent")


def test_an_interim_record_under_the_permitted_rule_is_refused(tmp_path: Path) -> None:
    old = '[records.health]\ncategory = "mandatory_interim"\nrule = "interim_third_school_year"'
    text = edited(old, old.replace("interim_third_school_year", "permitted_six_months"))
    refused(tmp_path, text, "[records.health] rule:", "override")


@pytest.mark.parametrize(("override", "place"), [
    ('[overrides.behavioral_report]\nmonths = 5\nreason = "space"',
     "[overrides.behavioral_report] months:"),
    ('[overrides.behavioral_report]\nmonths = 0\nreason = "space"',
     "[overrides.behavioral_report] months:"),
    ('[overrides.health]\nschool_years = 2\nreason = "space"',
     "[overrides.health] school_years:"),
])
def test_an_override_that_destroys_earlier_than_the_law_is_refused(
        tmp_path: Path, override: str, place: str) -> None:
    refused(tmp_path, SHIPPED + "\n" + override + "\n", place, "earlier than the law")


@pytest.mark.parametrize(("override", "place", "words"), [
    ('[overrides.legal_name]\nkeep_permanently = true\nreason = "x"', "[overrides.legal_name]:",
     ("kept indefinitely",)),
    ('[overrides.directory_information]\nmonths = 12\nreason = "x"',
     "[overrides.directory_information]:", ("not a student record",)),
    ('[overrides.health]\nmonths = 12\nreason = "x"', "[overrides.health] months:",
     ("permitted records",)),
    ('[overrides.behavioral_report]\nschool_years = 4\nreason = "x"',
     "[overrides.behavioral_report] school_years:", ("interim records",)),
    ('[overrides.behavioral_report]\nmonths = 12', "[overrides.behavioral_report] reason:", ()),
    ('[overrides.behavioral_report]\nmonths = 12\nkeep_permanently = true\nreason = "x"',
     "[overrides.behavioral_report]:", ("exactly one",)),
    ('[overrides.behavioral_report]\nreason = "x"', "[overrides.behavioral_report]:",
     ("exactly one",)),
    ('[overrides.behavioral_report]\nmonths = "twelve"\nreason = "x"',
     "[overrides.behavioral_report] months:", ("whole number",)),
    ('[overrides.behavioral_report]\nyears = 1\nreason = "x"',
     "[overrides.behavioral_report] years:", ("unknown key",)),
    ('[overrides.report_card]\nmonths = 12\nreason = "x"', "[overrides.report_card]:",
     ("unknown record type",)),
])
def test_a_malformed_override_is_refused(tmp_path: Path, override: str, place: str,
                                         words: tuple[str, ...]) -> None:
    refused(tmp_path, SHIPPED + "\n" + override + "\n", place, *words)


@pytest.mark.parametrize(("old", "new", "place"), [
    ("school_years = 3", "school_years = 2", "[rules.interim_third_school_year] school_years:"),
    ("school_years = 3", "school_years = 4", "[rules.interim_third_school_year] school_years:"),
    ("months = 6", "months = 5", "[rules.permitted_six_months] months:"),
    ('kind = "permitted"', 'kind = "someday"', "[rules.permitted_six_months] kind:"),
    ('[records.sex]\ncategory = "mandatory_permanent"\nrule = "permanent"\n'
     'section = "AR 5125(k), mandatory permanent records, item 3"\n', "", "[records.sex]:"),
    ("[records.sex]", "[records.gender_identity]", "[records.gender_identity]:"),
    ('rule = "permanent"\nsection = "AR 5125(j), mandatory permanent records, item 1"',
     'rule = "forever"\nsection = "AR 5125(j), mandatory permanent records, item 1"',
     "[records.legal_name] rule:"),
    ('section = "AR 5125(j), mandatory permanent records, item 1"',
     'section = "AR 5125(j)"\nretain = "always"', "[records.legal_name] retain:"),
    ('section = "AR 5125(j), mandatory permanent records, item 1"', 'section = ""',
     "[records.legal_name] section:"),
    ("adopted = 2013-04-08", 'adopted = "April 2013"', "[schedule] adopted:"),
    ('citations = ["5 CCR 432", "5 CCR 437"]', "citations = []",
     "[rules.permitted_six_months] citations:"),
])
def test_a_broken_schedule_is_refused_naming_the_place(tmp_path: Path, old: str, new: str,
                                                       place: str) -> None:
    refused(tmp_path, edited(old, new), place)


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, SHIPPED + "\n[records\n", "not valid TOML")


def test_a_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(RetentionConfigError, match=re.escape(str(missing))):
        load_schedule(missing)


@pytest.mark.parametrize(("override", "check"), [
    ('[overrides.behavioral_report]\nmonths = 12\nreason = "board"', "months"),
    ('[overrides.health]\nschool_years = 4\nreason = "board"', "school_years"),
    ('[overrides.health]\nkeep_permanently = true\nreason = "board"', "keeps_permanently"),
])
def test_a_district_may_keep_longer(tmp_path: Path, override: str, check: str) -> None:
    schedule = load_schedule(write(tmp_path, SHIPPED + "\n" + override + "\n"))
    record_type = RecordType(override.split("]")[0].removeprefix("[overrides."))
    entry = schedule.records[record_type]
    assert entry.override is not None and entry.override.reason == "board"
    assert getattr(entry, check) in (12, 4, True)


def test_the_rules_refuse_an_unlawful_entry_built_in_code(schedule: RetentionSchedule) -> None:
    permanent = schedule.rules["permanent"]
    interim = schedule.rules["interim_third_school_year"]
    with pytest.raises(ValueError, match="mandatory permanent"):
        RecordRetention(RecordType.LEGAL_NAME, RecordCategory.MANDATORY_PERMANENT, interim, "x")
    with pytest.raises(ValueError, match="earlier than the law"):
        RecordRetention(RecordType.HEALTH, RecordCategory.MANDATORY_INTERIM, interim, "x",
                        DistrictOverride(reason="x", school_years=1))
    with pytest.raises(ValueError, match="kept indefinitely"):
        RecordRetention(RecordType.LEGAL_NAME, RecordCategory.MANDATORY_PERMANENT, permanent,
                        "x", DistrictOverride(reason="x", keep_permanently=True))
    assert RuleKind.PERMANENT is permanent.kind


# --- The calendar file -----------------------------------------------------------


def test_the_shipped_calendar_loads() -> None:
    calendar = load_calendar(CONFIG / "calendar.toml")
    assert (calendar.start_month, calendar.start_day) == (7, 1)


def test_a_configured_calendar_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "[school_year]\nstart_month = 8\nstart_day = 15\n", "calendar.toml")
    calendar = load_calendar(path)
    assert (calendar.start_month, calendar.start_day) == (8, 15)


@pytest.mark.parametrize(("text", "place"), [
    ("[school_year]\nstart_month = 2\nstart_day = 29\n", "[school_year] start_day:"),
    ("[school_year]\nstart_month = 13\nstart_day = 1\n", "[school_year] start_month:"),
    ("[school_year]\nstart_month = 7\n", "[school_year] start_day:"),
    ('[school_year]\nstart_month = "July"\nstart_day = 1\n', "[school_year] start_month:"),
    ("[school_year]\nstart_month = 7\nstart_day = 1\nend_day = 30\n",
     "[school_year] end_day:"),
    ("[calendar]\nstart_month = 7\n", "(top level) calendar:"),
    ("", "[school_year]:"),
])
def test_a_broken_calendar_is_refused_naming_the_place(tmp_path: Path, text: str,
                                                       place: str) -> None:
    path = write(tmp_path, text, "calendar.toml")
    with pytest.raises(RetentionConfigError) as caught:
        load_calendar(path)
    assert str(caught.value).startswith(f"{path}: {place}"), str(caught.value)
