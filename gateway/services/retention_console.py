"""The custodian's console for retention (5 CCR 437): plans to approve or reject, and
holds to place or release. The rules and their effects are the retention service's;
this only puts the signed-in custodian's name on each act."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from gateway.services.access import Caller
from gateway.services.portal import _custodian
from gateway.services.retention import HoldView, RetentionError, RetentionService, ReviewResult
from gateway.store.models import PlanStatus
from gateway.store.uow import UnitOfWork

REVIEWABLE = (PlanStatus.DRAFT, PlanStatus.PARTLY_APPROVED)


@dataclass(frozen=True, slots=True)
class PlanView:
    id: uuid.UUID
    created_at: datetime
    created_by: str
    as_of: date
    status: PlanStatus
    summary: dict[str, int]

    @property
    def reviewable(self) -> bool:
        return self.status in REVIEWABLE


@dataclass(frozen=True, slots=True)
class HoldLine:
    hold: HoldView
    sis_id: str


class RetentionConsole:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork],
                 retention: RetentionService) -> None:
        self._uow = unit_of_work
        self._retention = retention

    def _custodian_id(self, caller: Caller) -> str:
        with self._uow() as uow:
            uow.read_snapshot()
            return str(_custodian(uow, caller).id)

    def plans(self, caller: Caller, limit: int = 20) -> list[PlanView]:
        with self._uow() as uow:
            uow.read_snapshot()
            _custodian(uow, caller)
            return [PlanView(p.id, p.created_at, p.created_by, p.as_of, p.status,
                             dict(p.summary)) for p in uow.retention.plans(limit=limit)]

    def review(self, caller: Caller, plan_id: uuid.UUID, *, approve: bool,
               note: str) -> ReviewResult:
        return self._retention.review(plan_id, custodian=self._custodian_id(caller),
                                      approve=approve, note=note.strip())

    def holds(self, caller: Caller) -> list[HoldLine]:
        self._custodian_id(caller)
        holds = self._retention.holds()  # its own transaction: never one inside another
        with self._uow() as uow:
            uow.read_snapshot()
            return [HoldLine(h, uow.students.get(h.student_id).sis_id) for h in holds]

    def place_hold(self, caller: Caller, *, kind: str, sis_id: str, owner: str,
                   reason: str) -> HoldView:
        return self._retention.place_hold(kind=kind, custodian=self._custodian_id(caller),
                                          owner=owner, reason=reason,
                                          student_sis_id=sis_id.strip())

    def release_hold(self, caller: Caller, hold_id: uuid.UUID, reason: str) -> HoldView:
        return self._retention.release_hold(hold_id, custodian=self._custodian_id(caller),
                                            reason=reason)


__all__ = ["HoldLine", "PlanView", "RetentionConsole", "RetentionError"]
