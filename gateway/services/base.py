"""What every use case of the gateway holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from gateway.policy.decision import Decision
from gateway.policy.engine import PolicyEngine
from gateway.store.uow import UnitOfWork


class Refused(Exception):
    """The AR 5125 engine did not permit it, and nothing was done: the decision (reason,
    clause, citations) says why."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


class DistrictService:
    """Its transactions, the AR 5125 engine, the clock, and the district's time zone (the
    regulation counts days in the district's own time)."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], policy: PolicyEngine,
                 clock: Callable[[], datetime], zone: ZoneInfo) -> None:
        self._uow = unit_of_work
        self._policy = policy
        self._clock = clock
        self._zone = zone

    def _today(self, moment: datetime | None = None) -> date:
        """The district's date at ``moment`` (default: now)."""
        return (moment or self._clock()).astimezone(self._zone).date()
