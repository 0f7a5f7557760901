"""The store's side of retention: holds, plans and their review, runs, the run lock.

Like the other repositories it works in the unit of work's session and never commits.
Bulk paths (streaming records for a plan, writing plan items, shredding a batch) use
Core statements over a few columns, so that a plan over a million records keeps no ORM
object per record and never reads a byte of ciphertext.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.policy.facts import RecordCategory
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

# PostgreSQL advisory lock key of destruction runs ("RETAIN" in ASCII).
DESTRUCTION_LOCK_KEY = 0x52455441494E
DESTRUCTION_LOCK = "destruction_run"
_IN_CHUNK = 500  # values per IN (...): well under SQLite's bound-parameter limit


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
                            ) -> Iterator[list[RecordRow]]:
        """Every record not destroyed (but those of ``except_categories``), with its
        student's departure, in batches by id.

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
            if after is not None:
                stmt = stmt.where(StudentRecord.id > after)
            # Core rows on the session's connection: no ORM bookkeeping per row.
            batch = _rows(self.session.connection().execute(stmt))
            if not batch:
                return
            yield batch
            after = batch[-1].record_id

    def count_live(self, category: RecordCategory) -> int:
        return self.session.execute(
            select(func.count()).select_from(StudentRecord)
            .where(StudentRecord.category == category,
                   StudentRecord.destroyed_at.is_(None))).scalar_one()

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

    def shred_batch(self, record_ids: Sequence[uuid.UUID], at: datetime) -> int:
        """Crypto-shred these records as ``RecordRepository.shred`` does one: the wrapped
        data key, nonce and ciphertext go in one statement, the row stays a tombstone.

        One UPDATE per chunk instead of a load and a flush per record; a record already
        destroyed is left as it is. Returns how many were destroyed now.
        """
        done = 0
        for start in range(0, len(record_ids), _IN_CHUNK):
            chunk = record_ids[start:start + _IN_CHUNK]
            result = self.session.execute(
                update(StudentRecord)
                .where(StudentRecord.id.in_(chunk), StudentRecord.destroyed_at.is_(None))
                .values(ciphertext=None, nonce=None, wrapped_key=None, kek_id=None,
                        destroyed_at=at)
                .execution_options(synchronize_session=False))
            done += result.rowcount  # type: ignore[attr-defined]
        return done

    def students_without_live_records(self, student_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Those of these students none of whose records is left undestroyed."""
        wanted = sorted(set(student_ids))
        alive: set[uuid.UUID] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start:start + _IN_CHUNK]
            alive.update(self.session.scalars(
                select(StudentRecord.student_id).distinct()
                .where(StudentRecord.student_id.in_(chunk),
                       StudentRecord.destroyed_at.is_(None))))
        return set(wanted) - alive

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

    def pending_items(self, plan_id: uuid.UUID, after: uuid.UUID | None,
                      limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(record id, student id) of approved items the run has not dealt with yet,
        by record id after ``after``."""
        stmt = (select(DispositionPlanItem.record_id, DispositionPlanItem.student_id)
                .where(DispositionPlanItem.plan_id == plan_id,
                       DispositionPlanItem.decision == ItemDecision.APPROVED,
                       DispositionPlanItem.outcome.is_(None))
                .order_by(DispositionPlanItem.record_id).limit(limit))
        if after is not None:
            stmt = stmt.where(DispositionPlanItem.record_id > after)
        return [(r, s) for r, s in self.session.execute(stmt)]

    def count_pending(self, plan_id: uuid.UUID) -> int:
        return self.session.execute(
            select(func.count()).select_from(DispositionPlanItem)
            .where(DispositionPlanItem.plan_id == plan_id,
                   DispositionPlanItem.decision == ItemDecision.APPROVED,
                   DispositionPlanItem.outcome.is_(None))).scalar_one()

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

    def set_outcomes(self, plan_id: uuid.UUID, outcomes: dict[uuid.UUID, ItemOutcome],
                     at: datetime) -> None:
        by_outcome: dict[ItemOutcome, list[uuid.UUID]] = {}
        for record_id, outcome in outcomes.items():
            by_outcome.setdefault(outcome, []).append(record_id)
        for outcome, ids in by_outcome.items():
            for start in range(0, len(ids), _IN_CHUNK):
                self.session.execute(
                    update(DispositionPlanItem)
                    .where(DispositionPlanItem.plan_id == plan_id,
                           DispositionPlanItem.record_id.in_(ids[start:start + _IN_CHUNK]))
                    .values(outcome=outcome, done_at=at)
                    .execution_options(synchronize_session=False))

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


__all__ = ["DESTRUCTION_LOCK_KEY", "RecordRow", "RetentionRepository"]
