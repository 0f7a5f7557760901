"""The store's side of retention: holds, plans and their review, runs, the run lock.

Like the other repositories it works in the unit of work's session and never commits.
The bulk paths are set-based: a plan is an INSERT ... SELECT per rule kind, a run batch a
few UPDATEs over a key range of plan items, so that neither holds an object per record
nor reads a byte of ciphertext. The date rules they apply in SQL (``eligible_select``) are
the pure schedule's (``gateway.retention``), restated; tests/integration/retention/
test_rules_in_sql.py holds the two to agreeing, edges included.
"""

from __future__ import annotations

import operator
import os
import socket
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Interval,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from gateway.policy.facts import RecordCategory, RecordType
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
    Requester,
    RetentionHold,
    RetentionLock,
    RunStatus,
    Student,
    StudentRecord,
)
from gateway.store.repositories import shred_statement

# PostgreSQL advisory lock key of destruction runs ("RETAIN" in ASCII).
DESTRUCTION_LOCK_KEY = 0x52455441494E
DESTRUCTION_LOCK = "destruction_run"
_IN_CHUNK = 500  # values per IN (...): well under SQLite's bound-parameter limit
# What Python's str.strip() removes: a determination "by" only whitespace is none.
_WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())


@dataclass(frozen=True, slots=True)
class DateRule:
    """A record type whose disposition turns on dates, as the schedule states it."""

    record_type: RecordType
    interim: bool  # else permitted
    period: int  # interim: school years after origin; permitted: calendar months
    rule: str
    section: str
    citations: str


@dataclass(frozen=True, slots=True)
class RecordRow:
    """What the schedule needs of a record and its student: never its content."""

    record_id: uuid.UUID
    student_id: uuid.UUID
    record_type: str
    school_year_of_origin: int | None
    originated_on: date | None
    signed_by_originator: bool
    anecdotal_or_assessment: bool
    forwarded_to: str | None
    usefulness_ceased_on: date | None
    usefulness_determined_by: str | None
    destroyed: bool
    left_district_on: date | None
    program_completed_on: date | None
    withdrawn_on: date | None
    returned_on: date | None


_ROW_COLUMNS = (
    StudentRecord.id, StudentRecord.student_id, StudentRecord.record_type,
    StudentRecord.school_year_of_origin, StudentRecord.originated_on,
    StudentRecord.signed_by_originator, StudentRecord.anecdotal_or_assessment,
    StudentRecord.forwarded_to, StudentRecord.usefulness_ceased_on,
    StudentRecord.usefulness_determined_by, StudentRecord.destroyed_at.is_not(None),
    Student.left_district_on, Student.program_completed_on, Student.withdrawn_on,
    Student.returned_on,
)


def _rows(result: Iterable[Sequence[object]]) -> list[RecordRow]:
    return [RecordRow(*row) for row in result]  # type: ignore[arg-type]


class RetentionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- Records, as the schedule sees them ----------------------------------------

    def live_record_batches(self, batch_size: int, *,
                            except_categories: Sequence[RecordCategory] = (),
                            held_students_only: bool = False,
                            ) -> Iterator[list[RecordRow]]:
        """Every record not destroyed (but those of ``except_categories``; only those of
        students with a hold if ``held_students_only``), with its student's departure,
        in batches by id.

        Keyset pagination: each batch is one indexed query, so memory and time per batch
        stay the same however many records there are.
        """
        after: uuid.UUID | None = None
        while True:
            stmt = (select(*_ROW_COLUMNS)
                    .join(Student, Student.id == StudentRecord.student_id)
                    .where(StudentRecord.destroyed_at.is_(None))
                    .order_by(StudentRecord.id).limit(batch_size))
            if except_categories:
                stmt = stmt.where(StudentRecord.category.not_in(except_categories))
            if held_students_only:
                # IN, not a correlated EXISTS: the few held students drive the query
                # through the student_id index instead of a scan of every record.
                stmt = stmt.where(StudentRecord.student_id.in_(
                    select(RetentionHold.student_id)))
            if after is not None:
                stmt = stmt.where(StudentRecord.id > after)
            # Core rows on the session's connection: no ORM bookkeeping per row.
            batch = _rows(self.session.connection().execute(stmt))
            if not batch:
                return
            yield batch
            after = batch[-1].record_id

    def live_counts(self) -> list[tuple[RecordType, bool, int]]:
        """Live records by (record type, forwarded to another district)."""
        forwarded = func.coalesce(StudentRecord.forwarded_to, "") != ""
        return [(RecordType(t), bool(f), n) for t, f, n in self.session.execute(
            select(StudentRecord.record_type, forwarded, func.count())
            .where(StudentRecord.destroyed_at.is_(None))
            .group_by(StudentRecord.record_type, forwarded))]

    def record_rows(self, record_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RecordRow]:
        """These records (destroyed ones too) with their students' departure facts."""
        found: dict[uuid.UUID, RecordRow] = {}
        for start in range(0, len(record_ids), _IN_CHUNK):
            chunk = record_ids[start:start + _IN_CHUNK]
            stmt = (select(*_ROW_COLUMNS)
                    .join(Student, Student.id == StudentRecord.student_id)
                    .where(StudentRecord.id.in_(chunk)))
            found.update((row.record_id, row) for row in _rows(self.session.execute(stmt)))
        return found

    # --- The date rules in SQL ----------------------------------------------------------

    def eligible_select(self, rules: Sequence[DateRule], today: date,
                        year_starts: tuple[int, int]) -> list[Select[Any]]:
        """SELECTs of (record id, student id, record type, rule, section, citations,
        eligible from) of the live records that ``rules`` make eligible on ``today``,
        one per rule kind. Students with a hold, in force or released, are left out:
        their records go through the pure rules one by one.

        The schedule's ``_interim`` and ``_permitted`` restated over the joined rows;
        ``year_starts`` is the calendar's (month, day) on which a school year begins.
        The CHECK constraints of student_records mean a record always has a school year
        of origin and an anecdotal record is dated and signed, so 5 CCR 431 adds nothing.
        """
        dates = _Dates(self.session.get_bind().dialect.name, *year_starts)
        selects = []
        for interim in (True, False):
            group = [r for r in rules if r.interim is interim]
            if not group:
                continue
            kind = StudentRecord.record_type
            period = case({r.record_type: r.period for r in group}, value=kind)
            if interim:
                eligible_from, conditions = _interim_terms(dates, period)
            else:
                eligible_from, conditions = _permitted_terms(dates, period)
            selects.append(
                select(StudentRecord.id, StudentRecord.student_id, kind,
                       case({r.record_type: r.rule for r in group}, value=kind),
                       case({r.record_type: r.section[:200] for r in group}, value=kind),
                       case({r.record_type: r.citations for r in group}, value=kind),
                       eligible_from)
                .join(Student, Student.id == StudentRecord.student_id)
                .where(StudentRecord.destroyed_at.is_(None),
                       kind.in_([r.record_type for r in group]), *conditions,
                       eligible_from <= literal(today, Date),
                       not_(exists().where(RetentionHold.student_id == StudentRecord.student_id))))
        return selects

    def insert_eligible_items(self, plan_id: uuid.UUID, rules: Sequence[DateRule],
                              today: date, year_starts: tuple[int, int]) -> int:
        """Store the eligible records of students without holds as items of the plan, in
        INSERT ... SELECT statements; returns how many."""
        items = DispositionPlanItem.__table__
        columns = ["record_id", "student_id", "record_type", "rule", "section", "citations",
                   "eligible_from", "plan_id", "kind"]
        inserted = 0
        for chosen in self.eligible_select(rules, today, year_starts):
            chosen = chosen.add_columns(
                literal(plan_id, DispositionPlanItem.plan_id.type),
                literal(PlanItemKind.ELIGIBLE, DispositionPlanItem.kind.type))
            result = self.session.execute(insert(items).from_select(columns, chosen)
                                          .execution_options(preserve_rowcount=True))
            inserted += result.rowcount  # type: ignore[attr-defined]
        return inserted

    # --- Runs, a key range of plan items at a time -----------------------------------------

    def shred_eligible(self, plan_id: uuid.UUID, batch: tuple[uuid.UUID | None, uuid.UUID],
                       rules: Sequence[DateRule], today: date,
                       year_starts: tuple[int, int], at: datetime) -> int:
        """Crypto-shred the pending approved items of the plan in ``batch`` (after, last]
        that the rules still make eligible today (students without holds only)."""
        # The ids first, then UPDATE by id: one statement with the selection as a
        # subquery let PostgreSQL scan every record once per batch (quadratic at 1M).
        items = DispositionPlanItem
        done = 0
        for chosen in self.eligible_select(rules, today, year_starts):
            ids = list(self.session.scalars(
                chosen.with_only_columns(StudentRecord.id)
                .join(items, items.record_id == StudentRecord.id)
                .where(*self._pending(plan_id, batch))))
            done += self.shred_batch(ids, at)
        return done

    def shred_batch(self, record_ids: Sequence[uuid.UUID], at: datetime) -> int:
        """Crypto-shred these records (``shred_statement`` by chunks of ids); a record
        already destroyed is left as it is. Returns how many were destroyed now."""
        done = 0
        for start in range(0, len(record_ids), _IN_CHUNK):
            chunk = record_ids[start:start + _IN_CHUNK]
            result = self.session.execute(shred_statement(at, StudentRecord.id.in_(chunk)))
            done += result.rowcount  # type: ignore[attr-defined]
        return done

    @staticmethod
    def _pending(plan_id: uuid.UUID,
                 batch: tuple[uuid.UUID | None, uuid.UUID]) -> list[ColumnElement[bool]]:
        """Conditions on plan items: approved, not dealt with, in ``batch``."""
        return [*_open_items(plan_id), *_in_range(batch)]

    def mark_pending(self, plan_id: uuid.UUID, batch: tuple[uuid.UUID | None, uuid.UUID],
                     outcome: ItemOutcome, at: datetime, *, destroyed: bool | None = None,
                     record_ids: Sequence[uuid.UUID] | None = None) -> int:
        """Give the pending items of ``batch`` this outcome: those whose record is
        destroyed (``destroyed=True``), those of ``record_ids``, or all that are left."""
        pending = self._pending(plan_id, batch)
        if destroyed:
            pending.append(exists().where(StudentRecord.id == DispositionPlanItem.record_id,
                                          StudentRecord.destroyed_at.is_not(None)))
        done = 0
        for start in range(0, len(record_ids or ()) or 1, _IN_CHUNK):
            chosen = list(pending)
            if record_ids is not None:
                chosen.append(DispositionPlanItem.record_id.in_(
                    record_ids[start:start + _IN_CHUNK]))
            result = self.session.execute(
                update(DispositionPlanItem).where(*chosen)
                .values(outcome=outcome, done_at=at)
                .execution_options(synchronize_session=False))
            done += result.rowcount  # type: ignore[attr-defined]
        return done

    def students_left_without_records(self, plan_id: uuid.UUID,
                                      batch: tuple[uuid.UUID | None, uuid.UUID],
                                      at: datetime) -> list[uuid.UUID]:
        """Students of the items of ``batch`` destroyed at ``at`` none of whose records
        is left undestroyed, by id."""
        items = DispositionPlanItem
        return list(self.session.scalars(
            select(items.student_id).distinct()
            .where(items.plan_id == plan_id, items.outcome == ItemOutcome.DESTROYED,
                   items.done_at == at, *_in_range(batch),
                   not_(exists().where(StudentRecord.student_id == items.student_id,
                                       StudentRecord.destroyed_at.is_(None))))
            .order_by(items.student_id)))

    def determine_usefulness_ceased(self, record_id: uuid.UUID, on: date,
                                    by: str) -> StudentRecord:
        record = self.session.get(StudentRecord, record_id)
        if record is None:
            raise NotFound("student_records", record_id)
        record.usefulness_ceased_on = on
        record.usefulness_determined_by = by
        self.session.flush()
        return record

    # --- Holds -------------------------------------------------------------------------

    def add_hold(self, hold: RetentionHold) -> RetentionHold:
        self.session.add(hold)
        self.session.flush()
        return hold

    def release_hold(self, hold: RetentionHold, *, by: uuid.UUID, at: datetime,
                     reason: str) -> None:
        """Release a hold in force; the row keeps who released it, when and why."""
        hold.released_at, hold.released_by_id, hold.release_reason = at, by, reason
        self.session.flush()

    def get_hold(self, hold_id: uuid.UUID) -> RetentionHold:
        hold = self.session.get(RetentionHold, hold_id)
        if hold is None:
            raise NotFound("retention_holds", hold_id)
        return hold

    def holds(self, *, include_released: bool = False,
              released_since: datetime | None = None) -> list[RetentionHold]:
        """Holds in placement order: those in force, plus (optionally) released ones,
        or only those released at or after ``released_since``."""
        stmt = select(RetentionHold)
        if released_since is not None:
            stmt = stmt.where(or_(RetentionHold.released_at.is_(None),
                                  RetentionHold.released_at >= released_since))
        elif not include_released:
            stmt = stmt.where(RetentionHold.released_at.is_(None))
        return list(self.session.scalars(stmt.order_by(RetentionHold.placed_at,
                                                       RetentionHold.id)))

    # --- Plans ---------------------------------------------------------------------------

    def add_plan(self, plan: DispositionPlan) -> DispositionPlan:
        self.session.add(plan)
        self.session.flush()
        return plan

    def get_plan(self, plan_id: uuid.UUID, *, for_update: bool = False) -> DispositionPlan:
        stmt = select(DispositionPlan).where(DispositionPlan.id == plan_id)
        if for_update:
            stmt = stmt.with_for_update()
        plan = self.session.scalars(stmt).one_or_none()
        if plan is None:
            raise NotFound("disposition_plans", plan_id)
        return plan

    def plans(self, limit: int = 50) -> list[DispositionPlan]:
        return list(self.session.scalars(select(DispositionPlan)
                                         .order_by(DispositionPlan.created_at.desc(),
                                                   DispositionPlan.id).limit(limit)))

    def add_items(self, rows: Sequence[dict[str, object]]) -> None:
        if rows:
            self.session.connection().execute(insert(DispositionPlanItem.__table__),
                                              list(rows))

    def item_batches(self, plan_id: uuid.UUID,
                     batch_size: int) -> Iterator[list[DispositionPlanItem]]:
        """The plan's items by record id, in batches (detached after each)."""
        after: uuid.UUID | None = None
        while True:
            stmt = (select(DispositionPlanItem).where(DispositionPlanItem.plan_id == plan_id)
                    .order_by(DispositionPlanItem.record_id).limit(batch_size))
            if after is not None:
                stmt = stmt.where(DispositionPlanItem.record_id > after)
            batch = list(self.session.scalars(stmt))
            if not batch:
                return
            self.session.expunge_all()  # keep the session's identity map one batch big
            yield batch
            after = batch[-1].record_id

    def next_batch(self, plan_id: uuid.UUID, after: uuid.UUID | None,
                   limit: int) -> tuple[int, uuid.UUID | None]:
        """How many of the next ``limit`` approved items the run has not dealt with
        (after record id ``after``) there are, and the last one's record id: the key
        range (after, last] a run batch works on, without reading the items."""
        nxt = (select(DispositionPlanItem.record_id).where(*_open_items(plan_id))
               .order_by(DispositionPlanItem.record_id).limit(limit))
        if after is not None:
            nxt = nxt.where(DispositionPlanItem.record_id > after)
        batch = nxt.subquery()
        count = self.session.execute(select(func.count()).select_from(batch)).scalar_one()
        # PostgreSQL has no max(uuid): the last by order instead.
        last = self.session.execute(select(batch.c.record_id)
                                    .order_by(batch.c.record_id.desc()).limit(1)).scalar()
        return count, last

    def held_in_batch(self, plan_id: uuid.UUID,
                      batch: tuple[uuid.UUID | None, uuid.UUID]) -> list[uuid.UUID]:
        """Record ids of the pending items in ``batch`` whose students have a hold."""
        return list(self.session.scalars(select(DispositionPlanItem.record_id).where(
            *self._pending(plan_id, batch),
            exists().where(RetentionHold.student_id == DispositionPlanItem.student_id))))

    def count_pending(self, plan_id: uuid.UUID) -> int:
        return self.session.execute(select(func.count()).select_from(DispositionPlanItem)
                                    .where(*_open_items(plan_id))).scalar_one()

    def requesters_with_subject(self, subject: str) -> list[Requester]:
        """Requesters known by this ``sub`` or ``client_id`` at any issuer."""
        return list(self.session.scalars(select(Requester).where(Requester.subject == subject)
                                         .order_by(Requester.issuer)))

    def items_by_record(self, plan_id: uuid.UUID,
                        record_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, DispositionPlanItem]:
        found: dict[uuid.UUID, DispositionPlanItem] = {}
        for start in range(0, len(record_ids), _IN_CHUNK):
            chunk = record_ids[start:start + _IN_CHUNK]
            found.update((item.record_id, item) for item in self.session.scalars(
                select(DispositionPlanItem).where(DispositionPlanItem.plan_id == plan_id,
                                                  DispositionPlanItem.record_id.in_(chunk))))
        return found

    def decide_undecided(self, plan_id: uuid.UUID, approval: DispositionApproval) -> int:
        """Give every eligible, undecided item of the plan this approval's decision."""
        result = self.session.execute(
            update(DispositionPlanItem)
            .where(DispositionPlanItem.plan_id == plan_id,
                   DispositionPlanItem.kind == PlanItemKind.ELIGIBLE,
                   DispositionPlanItem.decision.is_(None))
            .values(decision=approval.decision, approval_id=approval.id)
            .execution_options(synchronize_session=False))
        return result.rowcount  # type: ignore[attr-defined]

    def decision_counts(self, plan_id: uuid.UUID) -> dict[str | None, int]:
        """Eligible items of the plan by decision (None: undecided)."""
        rows = self.session.execute(
            select(DispositionPlanItem.decision, func.count())
            .where(DispositionPlanItem.plan_id == plan_id,
                   DispositionPlanItem.kind == PlanItemKind.ELIGIBLE)
            .group_by(DispositionPlanItem.decision))
        return {(str(d) if d is not None else None): n for d, n in rows}

    def destroyed_by_type_and_rule(self, plan_id: uuid.UUID) -> list[tuple[str, str, int]]:
        rows = self.session.execute(
            select(DispositionPlanItem.record_type, DispositionPlanItem.rule, func.count())
            .where(DispositionPlanItem.plan_id == plan_id,
                   DispositionPlanItem.outcome == ItemOutcome.DESTROYED)
            .group_by(DispositionPlanItem.record_type, DispositionPlanItem.rule)
            .order_by(DispositionPlanItem.record_type, DispositionPlanItem.rule))
        return [(str(t), r, n) for t, r, n in rows]

    def outcome_counts(self, plan_id: uuid.UUID) -> dict[str, int]:
        rows = self.session.execute(
            select(DispositionPlanItem.outcome, func.count())
            .where(DispositionPlanItem.plan_id == plan_id,
                   DispositionPlanItem.outcome.is_not(None))
            .group_by(DispositionPlanItem.outcome))
        return {str(o): n for o, n in rows}

    def approvals(self, plan_id: uuid.UUID) -> list[DispositionApproval]:
        return list(self.session.scalars(
            select(DispositionApproval).where(DispositionApproval.plan_id == plan_id)
            .order_by(DispositionApproval.decided_at, DispositionApproval.id)))

    def add_approval(self, approval: DispositionApproval) -> DispositionApproval:
        self.session.add(approval)
        self.session.flush()
        return approval

    # --- Runs and certificates -----------------------------------------------------------

    def add_run(self, run: DestructionRun) -> DestructionRun:
        self.session.add(run)
        self.session.flush()
        return run

    def get_run(self, run_id: uuid.UUID) -> DestructionRun:
        run = self.session.get(DestructionRun, run_id)
        if run is None:
            raise NotFound("destruction_runs", run_id)
        return run

    def interrupt_running(self, plan_id: uuid.UUID) -> int:
        """Mark runs of this plan still 'running' as interrupted: called under the run
        lock, so their processes are gone."""
        result = self.session.execute(
            update(DestructionRun)
            .where(DestructionRun.plan_id == plan_id,
                   DestructionRun.status == RunStatus.RUNNING)
            .values(status=RunStatus.INTERRUPTED)
            .execution_options(synchronize_session=False))
        return result.rowcount  # type: ignore[attr-defined]

    def certificate(self, plan_id: uuid.UUID) -> DestructionCertificate | None:
        return self.session.scalars(select(DestructionCertificate).where(
            DestructionCertificate.plan_id == plan_id)).one_or_none()

    def add_certificate(self, certificate: DestructionCertificate) -> DestructionCertificate:
        self.session.add(certificate)
        self.session.flush()
        return certificate

    # --- The run lock --------------------------------------------------------------------

    @property
    def run_lock_is_transactional(self) -> bool:
        """PostgreSQL's lock lasts as long as the transaction that took it; SQLite's row
        must be committed to be seen, and deleted to be released."""
        return self.session.get_bind().dialect.name == "postgresql"

    def take_run_lock(self, holder: str, now: datetime, stale_after: timedelta) -> bool:
        """One destruction run at a time, for as long as this transaction is open
        (PostgreSQL) or until ``release_run_lock`` (SQLite).

        PostgreSQL: a transaction-level advisory lock, which the server releases however
        the holder ends. SQLite: a row; a holder whose process is gone from this host, or
        whose heartbeat is older than ``stale_after``, is taken over.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            return bool(self.session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                             {"key": DESTRUCTION_LOCK_KEY}).scalar_one())
        host, pid = socket.gethostname(), os.getpid()
        row = self.session.get(RetentionLock, DESTRUCTION_LOCK)
        if row is None:
            try:
                with self.session.begin_nested():
                    self.session.add(RetentionLock(name=DESTRUCTION_LOCK, holder=holder,
                                                   host=host, pid=pid, acquired_at=now,
                                                   heartbeat_at=now))
            except IntegrityError:  # another run inserted it first
                return False
            return True
        if not _stale(row, now, stale_after):
            return False
        result = self.session.execute(
            update(RetentionLock)
            .where(RetentionLock.name == DESTRUCTION_LOCK, RetentionLock.holder == row.holder)
            .values(holder=holder, host=host, pid=pid, acquired_at=now, heartbeat_at=now)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def heartbeat(self, holder: str, now: datetime) -> bool:
        """Still ours? (SQLite) Moves the heartbeat; PostgreSQL's lock needs none."""
        if self.session.get_bind().dialect.name == "postgresql":
            return True
        result = self.session.execute(
            update(RetentionLock)
            .where(RetentionLock.name == DESTRUCTION_LOCK, RetentionLock.holder == holder)
            .values(heartbeat_at=now).execution_options(synchronize_session=False))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def release_run_lock(self, holder: str) -> None:
        if self.session.get_bind().dialect.name == "postgresql":
            return  # released with the transaction that took it
        self.session.execute(delete(RetentionLock).where(
            and_(RetentionLock.name == DESTRUCTION_LOCK, RetentionLock.holder == holder)))


def _open_items(plan_id: uuid.UUID) -> list[ColumnElement[bool]]:
    """Items of the plan approved and not yet dealt with by a run."""
    items = DispositionPlanItem
    return [items.plan_id == plan_id, items.decision == ItemDecision.APPROVED,
            items.outcome.is_(None)]


def _in_range(batch: tuple[uuid.UUID | None, uuid.UUID]) -> list[ColumnElement[bool]]:
    """Items in the key range (after, last] of a run batch: a range of the primary key,
    so that every statement of a batch is an index range scan."""
    after, last = batch
    items = DispositionPlanItem
    return [items.record_id <= last] + ([items.record_id > after] if after else [])


class _Dates:
    """The date arithmetic the rules need, in each backend's SQL (SQLite keeps a date
    as 'YYYY-MM-DD' text, which compares as the date does)."""

    def __init__(self, dialect: str, month: int, day: int) -> None:
        self.postgres = dialect == "postgresql"
        self.month, self.day = month, day

    def year_start(self, school_year: Any) -> Any:
        """The first day of ``school_year`` (calendar.first_day)."""
        if self.postgres:
            return func.make_date(school_year, self.month, self.day, type_=Date)
        return func.printf("%04d-%02d-%02d", school_year, self.month, self.day, type_=Date)

    def add_months(self, day: Any, months: Any) -> Any:
        """``day`` plus whole calendar months, clamped to the end of a shorter month
        (add_calendar_months)."""
        if self.postgres:  # PostgreSQL clamps the same way
            return cast(day + func.make_interval(0, months, type_=Interval), Date)
        day_of_month = cast(func.strftime("%d", day), Integer)
        same_day = func.date(day, "start of month", func.printf("+%d months", months),
                             func.printf("+%d days", day_of_month - 1))
        last_day = func.date(day, "start of month", func.printf("+%d months", months + 1),
                             "-1 day")
        return func.min(same_day, last_day, type_=Date)


def _either(a: tuple[Any, Any], b: tuple[Any, Any], a_first: Any) -> Any:
    """Of two (condition, date) events that count only when their condition holds, the
    one ``a_first(a, b)`` picks (min: ``operator.le``, max: ``operator.ge``); NULL if
    neither counts."""
    (a_ok, a_day), (b_ok, b_day) = a, b
    return case((and_(a_ok, or_(not_(b_ok), a_first(a_day, b_day))), a_day), (b_ok, b_day))


def _interim_terms(dates: _Dates, school_years: Any) -> tuple[Any, list[Any]]:
    """schedule._interim: from the first day of the Nth school year after origin, once
    usefulness has ceased (determined, by someone, not before a return) or the student
    has left (and not come back), whichever is earlier."""
    r, s = StudentRecord, Student
    origin = r.school_year_of_origin
    useful = (and_(r.usefulness_ceased_on.is_not(None),
                   func.trim(func.coalesce(r.usefulness_determined_by, ""), _WHITESPACE) != "",
                   or_(s.returned_on.is_(None), r.usefulness_ceased_on >= s.returned_on)),
              r.usefulness_ceased_on)
    left = (and_(s.left_district_on.is_not(None),
                 or_(s.returned_on.is_(None), s.returned_on < s.left_district_on)),
            s.left_district_on)
    trigger = _either(useful, left, operator.le)  # whichever came first
    opens = dates.year_start(origin + school_years)
    eligible_from = case((trigger > opens, trigger), else_=opens)
    conditions = [
        func.coalesce(r.forwarded_to, "") == "",  # forwarded: outside the rule
        not_(and_(r.anecdotal_or_assessment, r.originated_on.is_(None))),
        # an origin date must agree with the school year of origin
        or_(r.originated_on.is_(None),
            and_(r.originated_on >= dates.year_start(origin),
                 r.originated_on < dates.year_start(origin + 1))),
        trigger.is_not(None),
    ]
    return eligible_from, conditions


def _permitted_terms(dates: _Dates, months: Any) -> tuple[Any, list[Any]]:
    """schedule._permitted: N calendar months after the later of completion and
    withdrawal still in effect (after any return)."""
    s = Student

    def ended(day: Any) -> tuple[Any, Any]:
        return and_(day.is_not(None), or_(s.returned_on.is_(None), day > s.returned_on)), day

    later = _either(ended(s.program_completed_on), ended(s.withdrawn_on), operator.ge)
    return dates.add_months(later, months), [later.is_not(None)]


def _stale(row: RetentionLock, now: datetime, stale_after: timedelta) -> bool:
    if row.host == socket.gethostname() and not _alive(row.pid):
        return True
    return now - row.heartbeat_at > stale_after


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


__all__ = ["DESTRUCTION_LOCK_KEY", "DateRule", "RecordRow", "RetentionRepository"]
