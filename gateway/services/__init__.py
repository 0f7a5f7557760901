"""Use cases of the gateway, and where the views find them.

Views look services up (``find()``) instead of building them, so tests can swap one
(warehouse's ``find_service``, in the small).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from flask import current_app
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit_signing import AuditKeys
from gateway.identity import AccessTokenValidator
from gateway.policy.engine import PolicyEngine
from gateway.records_requests.config import RequestsConfig
from gateway.retention.calendar import SchoolCalendar
from gateway.retention.loader import load_calendar, load_schedule
from gateway.retention.schedule import RetentionSchedule
from gateway.services.access import RecordAccessService
from gateway.services.access_log import AccessLogService
from gateway.services.challenges import ChallengeService
from gateway.services.consents import ConsentService
from gateway.services.enrolment import EnrolmentService
from gateway.services.portal import PortalService
from gateway.services.records_requests import RecordsRequestService
from gateway.services.registry import RequesterRegistry
from gateway.services.retention import RetentionService  # issue 5
from gateway.services.retention_console import RetentionConsole
from gateway.settings import Settings
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.uow import UnitOfWork


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Services:
    settings: Settings
    policy: PolicyEngine
    database: Engine
    sessions: sessionmaker[Session]
    keys: KeyEncryptionKeys = field(repr=False)
    tokens: AccessTokenValidator | None
    requests_config: RequestsConfig  # the district's calendar and copy charges
    audit_keys: AuditKeys = field(repr=False)  # the log's checkpoint signer, verifier key
    clock: Callable[[], datetime] = utc_now
    _calendar: SchoolCalendar | None = field(default=None, init=False, repr=False)
    _schedule: RetentionSchedule | None = field(default=None, init=False, repr=False)

    def today(self) -> date:
        """The regulation counts days in the district's own time zone."""
        return self.clock().astimezone(self.settings.zone).date()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.keys)

    @property
    def record_access(self) -> RecordAccessService:
        return RecordAccessService(self.unit_of_work, self.policy, self.clock,
                                   self.settings.zone)

    # --- the access log: the custodian's API and the Ed Code 49064 log (issue 4) ---
    @property
    def access_log(self) -> AccessLogService:
        return AccessLogService(self.unit_of_work, self.policy, self.clock,
                                self.settings.zone, self.audit_keys)

    # --- the parent portal and the custodian's console (gateway.portal) ---
    @property
    def portal(self) -> PortalService:
        return PortalService(self.unit_of_work, self.policy, self.clock, self.settings.zone)

    # --- a parent's written consents (34 CFR 99.30; Ed Code 49075) ---
    @property
    def consents(self) -> ConsentService:
        return ConsentService(self.unit_of_work, self.policy, self.clock, self.settings.zone)

    # --- challenges and written responses (Ed Code 49070) ---
    @property
    def challenges(self) -> ChallengeService:
        return ChallengeService(self.unit_of_work, self.policy, self.clock, self.settings.zone,
                                self.school_calendar())

    def school_calendar(self) -> SchoolCalendar:
        """The district's school years (config/retention/calendar.toml), read once."""
        if self._calendar is None:
            self._calendar = load_calendar(self.settings.config_dir / "retention"
                                           / "calendar.toml")
        return self._calendar

    # --- requests to inspect or copy records (Ed Code 49065, 49069) ---
    @property
    def records_requests(self) -> RecordsRequestService:
        return RecordsRequestService(self.unit_of_work, self.policy, self.requests_config,
                                     self.clock, self.settings.zone,
                                     self.settings.district_name)

    # --- the SIS write API (gateway.api.sis) ---
    @property
    def enrolment(self) -> EnrolmentService:
        return EnrolmentService(self.unit_of_work, self.policy, self.clock, self.settings.zone)

    @property
    def registry(self) -> RequesterRegistry:
        return RequesterRegistry(self.unit_of_work, self.policy, self.clock,
                                 self.settings.zone)

    # --- retention and destruction (gateway.services.retention, issue 5) ---
    @property
    def retention(self) -> RetentionService:
        return RetentionService(self.unit_of_work, self.retention_schedule(),
                                self.school_calendar(), self.clock, self.settings.zone)

    def retention_schedule(self) -> RetentionSchedule:
        """The district's retention schedule (config/retention/schedule.toml), read once."""
        if self._schedule is None:
            self._schedule = load_schedule(self.settings.config_dir / "retention"
                                           / "schedule.toml")
        return self._schedule

    @property
    def retention_console(self) -> RetentionConsole:
        return RetentionConsole(self.unit_of_work, self.retention)

    def database_is_reachable(self) -> bool:
        try:
            with self.database.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True


def find() -> Services:
    return current_app.extensions["gateway"]
