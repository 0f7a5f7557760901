"""Retention and destruction (AR 5125(j)-(m); 5 CCR 432, 437): plan, review, run, certify.

- ``plan`` applies the schedule (``gateway.retention``) to every record in the store and
  stores which may go and why, and which are held and by what. What a record type gets
  regardless of dates comes from the pure schedule; the date rules run in SQL (one
  INSERT ... SELECT per rule kind, checked against the pure rules by
  tests/integration/retention/test_rules_in_sql.py), except for students with holds,
  whose records go through the pure rules one by one.
- ``review``: a custodian of records approves or rejects all of a plan or some of its
  items; each review is recorded with who and when. Nothing is destroyed unless approved.
- ``run`` destroys the approved items of a plan: one run at a time (a database lock),
  a batch (a key range of plan items) per transaction, each record's holds and
  eligibility checked again at run time the same way,
  crypto-shredding (data key, nonce and ciphertext deleted in one statement, so no record
  is ever half destroyed). Rerunning a plan finishes what a crashed run left; a finished
  plan is not run again. The last step writes the destruction certificate (counts by
  record type and rule, the plan, approvers, method and time; no content) to the store and
  to the tamper-evident access log, and the access log destroys the content key of every
  student whose last records went (5 CCR 437).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self
from zoneinfo import ZoneInfo

import structlog

from gateway.policy.facts import RecordCategory, RecordType
from gateway.retention import (
    Disposition,
    DispositionKind,
    Hold,
    HoldKind,
    PlanSummary,
    RecordFacts,
    RetentionSchedule,
    SchoolCalendar,
    StudentFacts,
    dispose,
    load_calendar,
    load_schedule,
    plan,
)
from gateway.retention.schedule import RuleKind
from gateway.store.errors import NotFound
from gateway.store.models import (
    DestructionCertificate,
    DestructionRun,
    DispositionApproval,
    DispositionPlan,
    DispositionPlanItem,
    ItemDecision,
    ItemOutcome,
    PlanItemKind,
    PlanStatus,
    Requester,
    RetentionHold,
    RunStatus,
)
from gateway.store.retention import DateRule, RecordRow
from gateway.store.uow import UnitOfWork


def _log() -> Any:
    # A fresh proxy per use: a cached one would keep the stream of its first use.
    return structlog.get_logger("gateway.retention")


DESTRUCTION_METHOD = ("crypto-shredding: the record's AES-256-GCM data key, nonce and "
                      "ciphertext deleted in one transaction; the row kept as a tombstone "
                      "(5 CCR 437)")
BATCH_SIZE = 10_000  # plan items per run transaction: a commit (an fsync) each
STALE_LOCK_AFTER = timedelta(minutes=15)


class RetentionError(Exception):
    """Something the retention service refuses; the message is one line, no student data."""


class NotACustodian(RetentionError):
    pass


class PlanNotApproved(RetentionError):
    pass


class RunInProgress(RetentionError):
    pass


class AccessLogWriter(Protocol):
    """The part of the tamper-evident access log (``uow.access_log``) retention uses."""

    def append(self, event: Any, *, at: datetime, **fields: Any) -> Any: ...

    def destroy_student_key(self, student_id: uuid.UUID, at: datetime) -> Any: ...


def access_log_of(uow: UnitOfWork) -> AccessLogWriter | None:
    """The seam to the access log: the unit of work's, once the store provides it."""
    return getattr(uow, "access_log", None)


@dataclass(frozen=True, slots=True)
class ReviewResult:
    plan_id: uuid.UUID
    approval_id: uuid.UUID
    decision: ItemDecision
    items: int
    status: PlanStatus


@dataclass(frozen=True, slots=True)
class RunReport:
    plan_id: uuid.UUID
    run_id: uuid.UUID
    destroyed: int  # by this run
    skipped: int  # by this run: held, no longer eligible or already destroyed
    interrupted_runs: int  # earlier runs found dead and resumed from
    certificate: dict[str, Any] = field(default_factory=dict)
    already_done: bool = False


@dataclass(frozen=True, slots=True)
class HoldView:
    id: uuid.UUID
    kind: str
    student_id: uuid.UUID
    record_id: uuid.UUID | None
    reason: str
    owner: str
    placed_at: datetime
    placed_by_id: uuid.UUID
    released_at: datetime | None
    released_by_id: uuid.UUID | None
    release_reason: str | None

    @classmethod
    def of(cls, hold: RetentionHold) -> HoldView:
        return cls(hold.id, str(hold.kind), hold.student_id, hold.record_id, hold.reason,
                   hold.owner, hold.placed_at, hold.placed_by_id, hold.released_at,
                   hold.released_by_id, hold.release_reason)


class RetentionService:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], schedule: RetentionSchedule,
                 calendar: SchoolCalendar, clock: Callable[[], datetime], zone: ZoneInfo, *,
                 batch_size: int = BATCH_SIZE,
                 access_log: Callable[[UnitOfWork], AccessLogWriter | None] = access_log_of,
                 stale_lock_after: timedelta = STALE_LOCK_AFTER) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._uow = unit_of_work
        self.schedule = schedule
        self.calendar = calendar
        self._clock = clock
        self._zone = zone
        self._batch = batch_size
        self._access_log = access_log
        self._stale_after = stale_lock_after
        self._rules = _TypeRules(schedule, calendar)
        self._year_starts = (calendar.start_month, calendar.start_day)

    @classmethod
    def from_config(cls, unit_of_work: Callable[[], UnitOfWork], config_dir: Path,
                    clock: Callable[[], datetime], zone: ZoneInfo, **options: Any) -> Self:
        """The district's schedule and calendar from ``config_dir/retention/``."""
        directory = config_dir / "retention"
        return cls(unit_of_work, load_schedule(directory / "schedule.toml"),
                   load_calendar(directory / "calendar.toml"), clock, zone, **options)

    def _today(self, now: datetime) -> date:
        return now.astimezone(self._zone).date()

    # --- Plan ----------------------------------------------------------------------------

    def plan(self, *, created_by: str, as_of: date | None = None) -> DispositionPlan:
        """Apply the schedule to every record in the store and keep the result as a draft.

        Streams: one batch of records in memory at a time. A plan may look back, never
        ahead: the law counts from days that have come.
        """
        now = self._clock()
        today = self._today(now)
        as_of = as_of or today
        if as_of > today:
            raise RetentionError(f"a plan cannot be made as of {as_of}, after today ({today})")
        if not created_by.strip():
            raise RetentionError("say who makes the plan")
        summary = PlanSummary()
        counts = summary.by_kind
        with self._uow() as uow:
            holds = self._hold_facts(uow, as_of)
            made = uow.retention.add_plan(DispositionPlan(
                created_at=now, created_by=created_by.strip()[:200], as_of=as_of,
                schedule_id=self.schedule.id, schedule_version=self.schedule.version,
                status=PlanStatus.DRAFT, summary={}))
            # Students with holds (few): the pure rules, record by record. First, so that a
            # hold placed meanwhile leaves its records out of both paths (kept), never in both.
            for batch in uow.retention.live_record_batches(
                    self._batch, except_categories=(RecordCategory.MANDATORY_PERMANENT,),
                    held_students_only=True):
                items = []
                for row, disposition in zip(batch, self._dispose(batch, holds, as_of),
                                            strict=True):
                    if disposition.kind in (DispositionKind.ELIGIBLE, DispositionKind.HELD):
                        counts[disposition.kind] += 1
                        items.append(_item(made.id, row, disposition))
                uow.retention.add_items(items)
            # Everyone else: the same rules in one INSERT ... SELECT per rule kind.
            counts[DispositionKind.ELIGIBLE] += uow.retention.insert_eligible_items(
                made.id, self._rules.date_rules, as_of, self._year_starts)
            # The other kinds follow from the record type alone (permanent, no rule...);
            # what is neither eligible nor held of the date-dependent types is not yet.
            for record_type, forwarded, n in uow.retention.live_counts():
                counts[self._rules.kind_of(record_type, forwarded)] += n
            counts[DispositionKind.NOT_YET] -= (counts[DispositionKind.ELIGIBLE]
                                                + counts[DispositionKind.HELD])
            made.summary = summary.as_dict()
            uow.commit()
        _log().info("retention.plan", plan_id=str(made.id), as_of=as_of.isoformat(),
                 **made.summary)
        return made

    def _dispose(self, batch: Sequence[RecordRow], holds: Sequence[Hold], day: date):
        students = {str(row.student_id): _student_facts(row) for row in batch}
        return plan([_record_facts(row) for row in batch], students, holds, day,
                    self.schedule, self.calendar)

    def _hold_facts(self, uow: UnitOfWork, day: date) -> list[Hold]:
        # Holds released before ``day`` cannot be in force on it; all others might be.
        since = datetime.combine(day, time(), self._zone).astimezone(timezone.utc)
        return [self._hold_fact(h) for h in uow.retention.holds(released_since=since)]

    def _hold_fact(self, hold: RetentionHold) -> Hold:
        return Hold(kind=hold.kind, reason=hold.reason, owner=hold.owner,
                    placed_on=self._today(hold.placed_at),
                    released_on=self._today(hold.released_at) if hold.released_at else None,
                    student_id=str(hold.student_id),
                    record_id=str(hold.record_id) if hold.record_id else None)

    def get_plan(self, plan_id: uuid.UUID) -> DispositionPlan:
        with self._uow() as uow:
            uow.read_snapshot()
            return _plan(uow, plan_id)

    def runnable_plans(self) -> list[uuid.UUID]:
        """Plans a scheduled run may carry out (approved, partly, or interrupted), oldest
        first."""
        runnable = (PlanStatus.APPROVED, PlanStatus.PARTLY_APPROVED, PlanStatus.RUNNING)
        with self._uow() as uow:
            uow.read_snapshot()
            return [p.id for p in reversed(uow.retention.plans(limit=1000))
                    if p.status in runnable]

    def items(self, plan_id: uuid.UUID) -> Iterator[DispositionPlanItem]:
        """The plan's items by record id, streamed."""
        with self._uow() as uow:
            uow.read_snapshot()
            _plan(uow, plan_id)
            for batch in uow.retention.item_batches(plan_id, self._batch):
                yield from batch

    # --- Review --------------------------------------------------------------------------

    def review(self, plan_id: uuid.UUID, *, custodian: str, approve: bool,
               records: Sequence[uuid.UUID] | None = None, note: str = "") -> ReviewResult:
        """A custodian approves (or rejects) the plan's undecided eligible items, or the
        items of ``records``. A decided item stays decided; a held item cannot be decided."""
        now = self._clock()
        decision = ItemDecision.APPROVED if approve else ItemDecision.REJECTED
        with self._uow() as uow:
            who = _custodian(uow, custodian)
            target = _plan(uow, plan_id, for_update=True)
            if target.status in (PlanStatus.RUNNING, PlanStatus.DONE):
                raise RetentionError(f"plan {plan_id} is {target.status}: its review is closed")
            approval = uow.retention.add_approval(DispositionApproval(
                plan_id=plan_id, custodian_id=who.id, decision=decision, decided_at=now,
                item_count=0, note=note))
            if records is None:
                count = uow.retention.decide_undecided(plan_id, approval)
                if count == 0:
                    raise RetentionError(f"plan {plan_id} has no undecided eligible item")
            else:
                count = self._decide_items(uow, plan_id, approval, records)
            approval.item_count = count
            target.status = _status(uow.retention.decision_counts(plan_id))
            uow.commit()
        _log().info("retention.review", plan_id=str(plan_id), decision=str(decision),
                 items=count, status=str(target.status), custodian_id=str(who.id))
        return ReviewResult(plan_id, approval.id, decision, count, target.status)

    @staticmethod
    def _decide_items(uow: UnitOfWork, plan_id: uuid.UUID, approval: DispositionApproval,
                      records: Sequence[uuid.UUID]) -> int:
        wanted = list(dict.fromkeys(records))
        if not wanted:
            raise RetentionError("name at least one record of the plan")
        found = uow.retention.items_by_record(plan_id, wanted)
        for record_id in wanted:
            item = found.get(record_id)
            if item is None:
                raise RetentionError(f"record {record_id} is not in plan {plan_id}")
            if item.kind is PlanItemKind.HELD:
                raise RetentionError(f"record {record_id} is held: a held record cannot be "
                                     "approved or rejected")
            if item.decision is not None:
                raise RetentionError(f"record {record_id} was already {item.decision}")
            item.decision = approval.decision
            item.approval_id = approval.id
        uow.session.flush()
        return len(wanted)

    # --- Holds ---------------------------------------------------------------------------

    def place_hold(self, *, kind: str, custodian: str, owner: str, reason: str,
                   student_sis_id: str | None = None,
                   record_id: uuid.UUID | None = None) -> HoldView:
        """Stop destruction of one record, or of every record of a student."""
        try:
            hold_kind = HoldKind(kind)
        except ValueError:
            raise RetentionError(f"{kind!r} is not a hold kind (one of: "
                                 + ", ".join(HoldKind) + ")") from None
        if not owner.strip() or not reason.strip():
            raise RetentionError("a hold needs an owner and a reason")
        with self._uow() as uow:
            who = _custodian(uow, custodian)
            student_id = self._hold_scope(uow, student_sis_id, record_id)
            hold = uow.retention.add_hold(RetentionHold(
                kind=hold_kind, student_id=student_id, record_id=record_id,
                reason=reason.strip(), owner=owner.strip()[:200], placed_at=self._clock(),
                placed_by_id=who.id))
            uow.commit()
        _log().info("retention.hold.placed", hold_id=str(hold.id), kind=str(hold_kind),
                 scope="record" if record_id else "student")
        return HoldView.of(hold)

    @staticmethod
    def _hold_scope(uow: UnitOfWork, student_sis_id: str | None,
                    record_id: uuid.UUID | None) -> uuid.UUID:
        if (student_sis_id is None) == (record_id is None):
            raise RetentionError("a hold names one record or one student (give exactly one)")
        if record_id is not None:
            try:
                return uow.records.get(record_id).student_id
            except NotFound:
                raise RetentionError(f"no student record {record_id}") from None
        student = uow.students.by_sis_id(student_sis_id or "")
        if student is None:
            raise RetentionError("no student with that SIS id")
        return student.id

    def release_hold(self, hold_id: uuid.UUID, *, custodian: str, reason: str) -> HoldView:
        """Release a hold (it stays on file with who released it, when and why)."""
        if not reason.strip():
            raise RetentionError("say why the hold is released")
        with self._uow() as uow:
            who = _custodian(uow, custodian)
            try:
                hold = uow.retention.get_hold(hold_id)
            except NotFound:
                raise RetentionError(f"no hold {hold_id}") from None
            if hold.released_at is not None:
                raise RetentionError(f"hold {hold_id} was already released on "
                                     f"{hold.released_at:%Y-%m-%d}")
            uow.retention.release_hold(hold, by=who.id, at=self._clock(),
                                       reason=reason.strip())
            uow.commit()
        _log().info("retention.hold.released", hold_id=str(hold_id))
        return HoldView.of(hold)

    def holds(self, *, include_released: bool = False) -> list[HoldView]:
        with self._uow() as uow:
            uow.read_snapshot()
            return [HoldView.of(h) for h in uow.retention.holds(include_released=include_released)]

    # --- Usefulness ------------------------------------------------------------------------

    def determine_usefulness_ceased(self, record_id: uuid.UUID, *, custodian: str,
                                    on: date | None = None) -> None:
        """Record a custodian's determination that a mandatory interim record's
        usefulness has ceased (AR 5125(k)): one of the two events its rule waits for."""
        today = self._today(self._clock())
        on = on or today
        if on > today:
            raise RetentionError("a determination cannot be dated after today")
        with self._uow() as uow:
            who = _custodian(uow, custodian)
            try:
                record = uow.records.get(record_id)
            except NotFound:
                raise RetentionError(f"no student record {record_id}") from None
            if record.category is not RecordCategory.MANDATORY_INTERIM:
                raise RetentionError(f"record {record_id} is {record.category}: only a "
                                     "mandatory interim record's usefulness is determined")
            uow.retention.determine_usefulness_ceased(record_id, on, str(who.id))
            uow.commit()

    # --- Run -----------------------------------------------------------------------------

    def run(self, plan_id: uuid.UUID, *, started_by: str,
            progress: Callable[[int], None] | None = None,
            on_start: Callable[[int], None] | None = None) -> RunReport:
        """Destroy the approved items of the plan not yet dealt with, then certify.

        ``on_start`` gets how many items are left; ``progress`` how many a committed batch
        dealt with. Raises ``RunInProgress`` while another run holds the lock.
        """
        holder = uuid.uuid4().hex
        with _RunLock(self._uow, holder, self._clock(), self._stale_after):
            return self._run_locked(plan_id, started_by, holder, progress, on_start)

    def _run_locked(self, plan_id: uuid.UUID, started_by: str, holder: str,
                    progress: Callable[[int], None] | None,
                    on_start: Callable[[int], None] | None) -> RunReport:
        now = self._clock()
        with self._uow() as uow:
            target = _plan(uow, plan_id, for_update=True)
            if target.status is PlanStatus.DONE:
                certificate = uow.retention.certificate(plan_id)
                return RunReport(plan_id, certificate.run_id if certificate else plan_id, 0, 0,
                                 0, certificate.body if certificate else {}, already_done=True)
            if target.status not in (PlanStatus.APPROVED, PlanStatus.PARTLY_APPROVED,
                                     PlanStatus.RUNNING):
                raise PlanNotApproved(f"plan {plan_id} is {target.status}: only an approved "
                                      "plan is run")
            interrupted = uow.retention.interrupt_running(plan_id)
            run = uow.retention.add_run(DestructionRun(
                plan_id=plan_id, started_at=now, started_by=started_by.strip()[:200] or "?",
                status=RunStatus.RUNNING, destroyed=0, skipped=0, progress_at=now))
            target.status = PlanStatus.RUNNING
            pending = uow.retention.count_pending(plan_id)
            uow.commit()
        _log().info("retention.run.start", plan_id=str(plan_id), run_id=str(run.id),
                 pending=pending, resumed_from=interrupted)
        if on_start is not None:
            on_start(pending)

        destroyed = skipped = 0
        after: uuid.UUID | None = None
        while True:
            with self._uow() as uow:
                now = self._clock()
                if not uow.retention.heartbeat(holder, now):
                    raise RunInProgress("the run lock was taken over: stopping")
                count, last = uow.retention.next_batch(plan_id, after, self._batch)
                if last is None:
                    break
                batch_destroyed = self._destroy_batch(uow, plan_id, (after, last), now)
                batch_skipped = count - batch_destroyed
                row = uow.retention.get_run(run.id)
                row.destroyed += batch_destroyed
                row.skipped += batch_skipped
                row.progress_at = now
                uow.commit()
            destroyed += batch_destroyed
            skipped += batch_skipped
            after = last
            _log().info("retention.run.batch", plan_id=str(plan_id), run_id=str(run.id),
                     destroyed=batch_destroyed, skipped=batch_skipped, done=destroyed + skipped,
                     pending=pending)
            if progress is not None:
                progress(count)

        certificate = self._certify(plan_id, run.id)
        _log().info("retention.run.done", plan_id=str(plan_id), run_id=str(run.id),
                 destroyed=destroyed, skipped=skipped)
        return RunReport(plan_id, run.id, destroyed, skipped, interrupted, certificate)

    def _destroy_batch(self, uow: UnitOfWork, plan_id: uuid.UUID,
                       batch: tuple[uuid.UUID | None, uuid.UUID], now: datetime) -> int:
        """Deal with the pending items in ``batch`` (after, last], all in this transaction:
        each record's holds and eligibility are checked again as they are now (a hold
        placed, or a student back, since the plan was made stops destruction: fail
        closed). Returns how many records were destroyed."""
        today = self._today(now)
        repo = uow.retention
        repo.mark_pending(plan_id, batch, ItemOutcome.ALREADY_DESTROYED, now, destroyed=True)
        held = repo.held_in_batch(plan_id, batch)
        if held:  # records of students with holds: the pure rules, one by one
            live = [row for row in repo.record_rows(held).values() if not row.destroyed]
            dispositions = self._dispose(live, self._hold_facts(uow, today), today)
            destroy, stopped = [], []
            for row, disposition in zip(live, dispositions, strict=True):
                if disposition.kind is DispositionKind.ELIGIBLE:
                    destroy.append(row.record_id)
                elif disposition.kind is DispositionKind.HELD:
                    stopped.append(row.record_id)
            repo.shred_batch(destroy, now)
            repo.mark_pending(plan_id, batch, ItemOutcome.HELD, now, record_ids=stopped)
        repo.shred_eligible(plan_id, batch, self._rules.date_rules, today, self._year_starts,
                            now)
        destroyed = repo.mark_pending(plan_id, batch, ItemOutcome.DESTROYED, now,
                                      destroyed=True)
        repo.mark_pending(plan_id, batch, ItemOutcome.NOT_ELIGIBLE, now)
        gone = repo.students_left_without_records(plan_id, batch, now)
        if gone:
            access_log = self._access_log(uow)
            if access_log is None:
                _log().warning("retention.access_log_missing", step="destroy_student_key",
                            students=len(gone))
            for student_id in gone:
                if access_log is not None:
                    access_log.destroy_student_key(student_id, now)
        return destroyed

    def _certify(self, plan_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, Any]:
        """Write the plan's certificate once (store and access log), close run and plan."""
        now = self._clock()
        with self._uow() as uow:
            target = _plan(uow, plan_id, for_update=True)
            certificate = uow.retention.certificate(plan_id)
            if certificate is None:
                outcomes = uow.retention.outcome_counts(plan_id)
                approvers = sorted({str(a.custodian_id) for a in uow.retention.approvals(plan_id)
                                    if a.decision is ItemDecision.APPROVED})
                body = {
                    "plan_id": str(plan_id),
                    "plan_as_of": target.as_of.isoformat(),
                    "schedule": f"{target.schedule_id} {target.schedule_version}",
                    "approved_by": approvers,
                    "method": DESTRUCTION_METHOD,
                    "destroyed_at": now.astimezone(timezone.utc).isoformat(),
                    "destroyed": outcomes.get(ItemOutcome.DESTROYED.value, 0),
                    "not_destroyed": {k: v for k, v in sorted(outcomes.items())
                                      if k != ItemOutcome.DESTROYED.value},
                    "by_type_and_rule": [
                        {"record_type": t, "rule": r, "count": n}
                        for t, r, n in uow.retention.destroyed_by_type_and_rule(plan_id)],
                }
                certificate = uow.retention.add_certificate(DestructionCertificate(
                    plan_id=plan_id, run_id=run_id, issued_at=now, method=DESTRUCTION_METHOD[:200],
                    destroyed=body["destroyed"],
                    skipped=sum(body["not_destroyed"].values()), body=body, logged=False))
                certificate.logged = self._log_certificate(uow, body, now)
            run = uow.retention.get_run(run_id)
            run.status = RunStatus.DONE
            run.finished_at = now
            target.status = PlanStatus.DONE
            uow.commit()
            return dict(certificate.body)

    def _log_certificate(self, uow: UnitOfWork, body: dict[str, Any], now: datetime) -> bool:
        access_log = self._access_log(uow)
        if access_log is None:
            _log().warning("retention.access_log_missing", step="destruction_certificate",
                        plan_id=body["plan_id"])
            return False
        from audit.events import EventType

        access_log.append(EventType.DESTRUCTION_CERTIFICATE, at=now, action="destroy",
                          request_id=body["plan_id"], policy_version=body["schedule"],
                          outcome=json.dumps(body, sort_keys=True, separators=(",", ":")),
                          obligations=None)
        return True


class _TypeRules:
    """What the pure schedule says of each record type before any date is known.

    A probe per record type (and forwarded or not), without dates or student facts: the
    schedule keeps it, has no rule for it, or waits for dates (not yet). Only the last
    kind's eligibility turns on dates; those types become the ``DateRule``s applied in
    SQL, with the rule, section and citations the schedule gives them.
    """

    def __init__(self, schedule: RetentionSchedule, calendar: SchoolCalendar) -> None:
        self._schedule, self._calendar = schedule, calendar
        self.date_rules: list[DateRule] = []
        for record_type in RecordType:
            entry = schedule.for_type(record_type)
            probe = self._probe(record_type, forwarded=False)
            if entry is None or probe.kind is not DispositionKind.NOT_YET:
                continue
            interim = entry.rule.kind is RuleKind.INTERIM
            self.date_rules.append(DateRule(
                record_type, interim, entry.school_years if interim else entry.months,
                probe.rule, probe.section, "; ".join(probe.citations)))

    def _probe(self, record_type: RecordType, forwarded: bool) -> Disposition:
        facts = RecordFacts(record_id="", student_id="", record_type=record_type,
                            forwarded_to_another_district=forwarded)
        return dispose(facts, None, (), date.min, self._schedule, self._calendar)

    def kind_of(self, record_type: RecordType, forwarded: bool) -> DispositionKind:
        return self._probe(record_type, forwarded).kind


class _RunLock:
    """Held for a whole run: PostgreSQL's advisory lock lives in this unit of work's open
    transaction; SQLite's lock row is committed at once and deleted at the end."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], holder: str, now: datetime,
                 stale_after: timedelta) -> None:
        self._uow = unit_of_work()
        self._holder = holder
        self._now = now
        self._stale_after = stale_after

    def __enter__(self) -> Self:
        uow = self._uow.__enter__()
        try:
            if not uow.retention.take_run_lock(self._holder, self._now, self._stale_after):
                raise RunInProgress("another destruction run is in progress (one at a time)")
            if not uow.retention.run_lock_is_transactional:
                uow.commit()
        except BaseException as exc:
            self._uow.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        uow = self._uow
        try:
            if not uow.retention.run_lock_is_transactional:
                uow.retention.release_run_lock(self._holder)
            # Commit, never roll back: the batches before a failure are committed and
            # must stay so (in tests they are savepoints inside this transaction).
            uow.commit()
        finally:
            uow.__exit__(None, None, None)


def _plan(uow: UnitOfWork, plan_id: uuid.UUID, *, for_update: bool = False) -> DispositionPlan:
    try:
        return uow.retention.get_plan(plan_id, for_update=for_update)
    except NotFound:
        raise RetentionError(f"no disposition plan {plan_id}") from None


def _custodian(uow: UnitOfWork, ident: str) -> Requester:
    """The active custodian of records named by requester id or by subject."""
    found = uow.retention.requesters_with_subject(ident)
    try:
        found.append(uow.requesters.get(uuid.UUID(ident)))
    except (ValueError, NotFound):  # not an id, or nobody's: a subject (or no one)
        pass
    custodians = list({r.id: r for r in found
                       if r.is_custodian and r.active}.values())
    if len(custodians) != 1:
        raise NotACustodian(f"{ident!r} is not a registered, active custodian of records"
                            if not custodians else
                            f"{ident!r} names several custodians: give the requester id")
    return custodians[0]


def _status(counts: dict[str | None, int]) -> PlanStatus:
    approved = counts.get(ItemDecision.APPROVED.value, 0)
    rejected = counts.get(ItemDecision.REJECTED.value, 0)
    undecided = counts.get(None, 0)
    if approved and not rejected and not undecided:
        return PlanStatus.APPROVED
    if approved:
        return PlanStatus.PARTLY_APPROVED
    if rejected and not undecided:
        return PlanStatus.REJECTED
    return PlanStatus.DRAFT


def _record_facts(row: RecordRow) -> RecordFacts:
    return RecordFacts(
        record_id=str(row.record_id), student_id=str(row.student_id),
        record_type=row.record_type, school_year_of_origin=row.school_year_of_origin,
        originated_on=row.originated_on,
        forwarded_to_another_district=bool(row.forwarded_to),
        usefulness_ceased_on=row.usefulness_ceased_on,
        usefulness_determined_by=row.usefulness_determined_by or "",
        anecdotal_or_assessment=row.anecdotal_or_assessment,
        dated=row.originated_on is not None, signed=row.signed_by_originator)


def _student_facts(row: RecordRow) -> StudentFacts:
    return StudentFacts(student_id=str(row.student_id), left_district_on=row.left_district_on,
                        program_completed_on=row.program_completed_on,
                        withdrawn_on=row.withdrawn_on, returned_on=row.returned_on)


def _item(plan_id: uuid.UUID, row: RecordRow, disposition: Any) -> dict[str, object]:
    held = disposition.kind is DispositionKind.HELD
    return {
        "plan_id": plan_id, "record_id": row.record_id, "student_id": row.student_id,
        "record_type": RecordType(row.record_type),
        "kind": PlanItemKind.HELD if held else PlanItemKind.ELIGIBLE,
        "rule": disposition.rule, "section": disposition.section[:200],
        "citations": "; ".join(disposition.citations),
        "eligible_from": disposition.eligible_from,
        "held_by": "; ".join(h.describe() for h in disposition.holds) if held else None,
        "decision": None, "approval_id": None, "outcome": None, "done_at": None,
    }


__all__ = ["DESTRUCTION_METHOD", "AccessLogWriter", "HoldView", "NotACustodian",
           "PlanNotApproved", "RetentionError", "RetentionService", "ReviewResult",
           "RunInProgress", "RunReport", "access_log_of"]
