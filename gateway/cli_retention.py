"""``records-gateway retention``: plan, review, hold and run the destruction of records.

Registered on the main command in gateway/cli.py. Output goes to standard output, log
lines (structlog) to standard error, so ``--format json`` output can be piped as it is.
A refusal or bad input is one line on standard error and a non-zero exit: 2 for input
the command cannot use, 1 when the service refuses (plan not approved, another run).
"""

from __future__ import annotations

import csv
import json
import logging
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Any, NoReturn

import click

from gateway.retention.schedule import HoldKind

FORMATS = click.Choice(["table", "json", "csv"])
ITEM_FIELDS = ("record_id", "record_type", "kind", "rule", "section", "citations",
               "eligible_from", "held_by", "decision", "outcome")
HOLD_FIELDS = ("id", "kind", "student_id", "record_id", "owner", "reason", "placed_at",
               "placed_by_id", "released_at", "released_by_id", "release_reason")


def _fail(message: str, status: int = 2) -> NoReturn:
    from gateway.cli import fail

    fail(message, status)


class _Stderr:
    """Whatever sys.stderr is at the time of writing (a runner may swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _configure_logs(log_format: str, *, quiet: bool) -> None:
    """structlog lines to standard error (standard output is the command's answer)."""
    import structlog

    from gateway.logs import configure_logging

    configure_logging(log_format)
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(_Stderr()),
        cache_logger_on_first_use=False,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.WARNING if quiet else logging.INFO))


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@contextmanager
def _service(*, quiet: bool = False) -> Iterator[Any]:
    """The retention service on the configured database; errors become one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.app import key_encryption_keys
    from gateway.cli import _settings, database_problem
    from gateway.retention import RetentionConfigError
    from gateway.services.retention import (
        PlanNotApproved,
        RetentionError,
        RetentionService,
        RunInProgress,
    )
    from gateway.store.db import make_engine, make_session_factory
    from gateway.store.uow import UnitOfWork

    settings = _settings()
    _configure_logs(settings.log_format, quiet=quiet)
    try:
        keys = key_encryption_keys(settings)
    except (OSError, ValueError) as exc:
        _fail(f"the key-encryption key cannot be loaded: {exc}")
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    try:
        yield RetentionService.from_config(lambda: UnitOfWork(sessions, keys),
                                           settings.config_dir, _utc_now, settings.zone)
    except RetentionConfigError as exc:
        _fail(str(exc))
    except (PlanNotApproved, RunInProgress) as exc:
        _fail(str(exc), 1)
    except RetentionError as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        _fail("the database refused or cannot be reached "
              f"({database_problem(exc, settings.database_url)}); "
              "is it migrated? (records-gateway db upgrade)")
    finally:
        engine.dispose()


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _items_option(items: tuple[str, ...]) -> list[uuid.UUID] | None:
    if not items:
        return None
    ids = []
    for given in items:
        for part in given.replace(",", " ").split():
            try:
                ids.append(uuid.UUID(part))
            except ValueError:
                _fail(f"--items: {part!r} is not a record id")
    return ids


def _plain(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value) if not isinstance(value, (int, float, str, bool)) else value


def _item_row(item: Any) -> dict[str, object]:
    return {name: _plain(getattr(item, name)) for name in ITEM_FIELDS}


def _plan_head(plan: Any) -> dict[str, object]:
    return {"id": str(plan.id), "as_of": plan.as_of.isoformat(), "status": str(plan.status),
            "created_at": plan.created_at.isoformat(), "created_by": plan.created_by,
            "schedule": f"{plan.schedule_id} {plan.schedule_version}",
            "summary": plan.summary}


def _write(head: dict[str, object], rows: Iterable[dict[str, object]], fmt: str,
           fields: tuple[str, ...], key: str) -> None:
    """Stream ``rows`` in the format asked, one at a time (a plan may be big)."""
    out = sys.stdout
    if fmt == "json":
        out.write(json.dumps(head)[:-1] + f', "{key}": [')
        for n, row in enumerate(rows):
            out.write(("," if n else "") + "\n  " + json.dumps(row))
        out.write("\n]}\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        for name, value in head.items():
            out.write(f"{name:<11} {value}\n")
        out.write("\n")
        count = 0
        for row in rows:
            count += 1
            out.write("  ".join(f"{name}={row[name]}" for name in fields
                                if row[name] not in (None, "")) + "\n")
        out.write(f"({count} {key})\n")


@click.group("retention")
def retention() -> None:
    """Retention and destruction of student records (AR 5125(j)-(m); 5 CCR 432, 437)."""


@retention.command("plan")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]),
              help="The day the schedule is applied on (default: today; never later).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--by", "created_by", default="records-gateway retention plan",
              show_default=True, help="Who makes the plan (a custodian, or the job).")
def plan_command(as_of: datetime | None, fmt: str, created_by: str) -> None:
    """Make a disposition plan: which records may be destroyed and why (rule, citation,
    dates), which are held and by what. It is stored as a draft for a custodian."""
    with _service() as service:
        made = service.plan(created_by=created_by, as_of=_day(as_of))
        _write(_plan_head(made), (_item_row(i) for i in service.items(made.id)), fmt,
               ITEM_FIELDS, "items")


@retention.command("show")
@click.argument("plan_id", type=click.UUID)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def show_command(plan_id: uuid.UUID, fmt: str) -> None:
    """Show a plan and its items (decisions and outcomes included)."""
    with _service() as service:
        found = service.get_plan(plan_id)
        _write(_plan_head(found), (_item_row(i) for i in service.items(plan_id)), fmt,
               ITEM_FIELDS, "items")


def _review(plan_id: uuid.UUID, items: tuple[str, ...], custodian: str, note: str,
            approve: bool) -> None:
    records = _items_option(items)
    with _service() as service:
        result = service.review(plan_id, custodian=custodian, approve=approve,
                                records=records, note=note)
    click.echo(f"plan {result.plan_id}: {result.items} item(s) {result.decision}; "
               f"the plan is {result.status}")


review_options = [
    click.argument("plan_id", type=click.UUID),
    click.option("--items", multiple=True, help="Record ids of the plan (comma or space "
                 "separated; repeatable). Default: every undecided eligible item."),
    click.option("--custodian", required=True, help="The custodian's requester id or "
                 "subject."),
    click.option("--note", default="", help="Why (kept with the review)."),
]


def _with(options: list[Any]):
    def apply(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function
    return apply


@retention.command("approve")
@_with(review_options)
def approve_command(plan_id: uuid.UUID, items: tuple[str, ...], custodian: str,
                    note: str) -> None:
    """Approve a plan, or some of its items, for destruction."""
    _review(plan_id, items, custodian, note, approve=True)


@retention.command("reject")
@_with(review_options)
def reject_command(plan_id: uuid.UUID, items: tuple[str, ...], custodian: str,
                   note: str) -> None:
    """Reject a plan, or some of its items: they are kept."""
    _review(plan_id, items, custodian, note, approve=False)


@retention.command("run")
@click.argument("plan_id", type=click.UUID, required=False)
@click.option("--all-approved", is_flag=True, help="Run every approved plan not yet done "
              "(oldest first), as the scheduled job does.")
@click.option("--by", "started_by", default="records-gateway retention run",
              show_default=True)
def run_command(plan_id: uuid.UUID | None, all_approved: bool, started_by: str) -> None:
    """Destroy the approved items of a plan and write its destruction certificate.

    A progress bar on a terminal; structured log lines (standard error) otherwise.
    Rerun after a crash to finish the plan; a finished plan is not run again.
    """
    if (plan_id is None) == (not all_approved):
        _fail("give a plan id or --all-approved (not both)")
    terminal = sys.stdout.isatty()
    with _service(quiet=terminal) as service:
        plans = [plan_id] if plan_id is not None else service.runnable_plans()
        if not plans:
            click.echo("no approved plan to run")
        for one in plans:
            report = _run_one(service, one, started_by, terminal)
            if report.already_done:
                click.echo(f"plan {one}: already done")
            else:
                click.echo(f"plan {one}: {report.destroyed} destroyed, {report.skipped} "
                           f"kept (held or no longer eligible); certificate written")


def _run_one(service: Any, plan_id: uuid.UUID, started_by: str, terminal: bool) -> Any:
    if not terminal:
        return service.run(plan_id, started_by=started_by)
    bar: Any = None

    def start(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(length=total, label=f"plan {str(plan_id)[:8]}",
                                show_pos=True)
        bar.__enter__()

    try:
        return service.run(plan_id, started_by=started_by, on_start=start,
                           progress=lambda n: bar.update(n) if bar else None)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@retention.command("usefulness")
@click.argument("record_id", type=click.UUID)
@click.option("--custodian", required=True, help="The custodian's requester id or subject.")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]),
              help="The date of the determination (default: today).")
def usefulness_command(record_id: uuid.UUID, custodian: str, on: datetime | None) -> None:
    """Record that a mandatory interim record's usefulness has ceased (AR 5125(k))."""
    with _service() as service:
        service.determine_usefulness_ceased(record_id, custodian=custodian, on=_day(on))
    click.echo(f"record {record_id}: usefulness determined to have ceased")


@retention.group("hold")
def hold() -> None:
    """Holds stop destruction: legal hold, pending challenge, open request for copies,
    audit, transfer in progress."""


@hold.command("add")
@click.option("--kind", required=True, type=click.Choice([k.value for k in HoldKind]))
@click.option("--student", "student_sis_id", help="The student's SIS id: every record.")
@click.option("--record", "record_id", type=click.UUID, help="One record.")
@click.option("--owner", required=True, help="Who answers for the hold.")
@click.option("--reason", required=True)
@click.option("--custodian", required=True, help="The custodian's requester id or subject.")
def hold_add(kind: str, student_sis_id: str | None, record_id: uuid.UUID | None, owner: str,
             reason: str, custodian: str) -> None:
    """Place a hold on one record (--record) or every record of a student (--student)."""
    with _service() as service:
        placed = service.place_hold(kind=kind, custodian=custodian, owner=owner,
                                    reason=reason, student_sis_id=student_sis_id,
                                    record_id=record_id)
    click.echo(f"hold {placed.id} placed")


@hold.command("release")
@click.argument("hold_id", type=click.UUID)
@click.option("--reason", required=True)
@click.option("--custodian", required=True, help="The custodian's requester id or subject.")
def hold_release(hold_id: uuid.UUID, reason: str, custodian: str) -> None:
    """Release a hold; it stays on file with who released it, when and why."""
    with _service() as service:
        service.release_hold(hold_id, custodian=custodian, reason=reason)
    click.echo(f"hold {hold_id} released")


@hold.command("list")
@click.option("--all", "include_released", is_flag=True, help="Released holds too.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def hold_list(include_released: bool, fmt: str) -> None:
    """The holds in force (with --all, released ones too)."""
    with _service() as service:
        holds = service.holds(include_released=include_released)
    rows = ({name: _plain(getattr(h, name)) for name in HOLD_FIELDS} for h in holds)
    _write({"count": len(holds)}, rows, fmt, HOLD_FIELDS, "holds")
