"""Retention and destruction of student records: AR 5125(j)-(m); 5 CCR 431, 432, 437, 438.

The rule code (calendar, schedule, plan) is pure: no clock, no files, no framework.
``loader`` reads the TOML files in ``config/retention/`` and is the only I/O.
"""

from gateway.retention.calendar import CALIFORNIA, SchoolCalendar, add_calendar_months
from gateway.retention.loader import (
    RetentionConfigError,
    load_calendar,
    load_schedule,
    parse_calendar,
    parse_schedule,
)
from gateway.retention.plan import PlanSummary, plan, summarize
from gateway.retention.schedule import (
    Disposition,
    DispositionKind,
    DistrictOverride,
    Hold,
    HoldKind,
    RecordFacts,
    RecordRetention,
    RetentionRule,
    RetentionSchedule,
    RuleKind,
    StudentFacts,
    dispose,
)

__all__ = [
    "CALIFORNIA", "DistrictOverride", "Disposition", "DispositionKind", "Hold", "HoldKind",
    "PlanSummary", "RecordFacts", "RecordRetention", "RetentionConfigError", "RetentionRule",
    "RetentionSchedule", "RuleKind", "SchoolCalendar", "StudentFacts", "add_calendar_months",
    "dispose", "load_calendar", "load_schedule", "parse_calendar", "parse_schedule", "plan",
    "summarize",
]
