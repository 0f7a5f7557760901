"""Retention: holds, disposition plans and their review, destruction runs, certificates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Hand-written; portable types only (no imports from the models), enumerations as
literal values with their CHECK constraints, as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLD_KIND = ("legal_hold", "pending_challenge", "open_copy_request", "audit",
             "transfer_in_progress")
PLAN_STATUS = ("draft", "approved", "rejected", "partly_approved", "running", "done")
PLAN_ITEM_KIND = ("eligible", "held")
ITEM_DECISION = ("approved", "rejected")
ITEM_OUTCOME = ("destroyed", "held", "not_eligible", "already_destroyed")
RUN_STATUS = ("running", "done", "interrupted")
RECORD_TYPE = (
    "legal_name", "birth_verification", "sex", "parent_name_address",
    "residence_verification", "enrollment_dates", "courses_and_marks", "immunization",
    "graduation_date",
    "expulsion_order", "access_log", "health", "special_education", "iep",
    "language_training", "progress_notice", "directory_restrictions", "rejoinder",
    "program_authorization", "standardized_test", "independent_study_finding",
    "counselor_teacher_rating", "standardized_test_old", "routine_discipline",
    "behavioral_report", "disciplinary_notice", "supplementary_attendance",
    "directory_information",
)


def _enum(name: str, values: Sequence[str]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=40)


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Uuid(), nullable=False)


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, source: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"],
                                   name=op.f(f"fk_{source}_{column}_{table}"))


def upgrade() -> None:
    op.create_table(
        "retention_holds",
        _id(),
        sa.Column("kind", _enum("hold_kind", HOLD_KIND), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        _timestamp("placed_at"),
        sa.Column("placed_by_id", sa.Uuid(), nullable=False),
        _timestamp("released_at", nullable=True),
        sa.Column("released_by_id", sa.Uuid(), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(released_at IS NULL AND released_by_id IS NULL AND release_reason IS NULL) OR "
            "(released_at IS NOT NULL AND released_by_id IS NOT NULL "
            "AND release_reason IS NOT NULL)",
            name=op.f("ck_retention_holds_released_at_by_and_why")),
        _fk("student_id", "students", "retention_holds"),
        _fk("record_id", "student_records", "retention_holds"),
        _fk("placed_by_id", "requesters", "retention_holds"),
        _fk("released_by_id", "requesters", "retention_holds"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_holds")),
    )
    op.create_index(op.f("ix_retention_holds_student_id"), "retention_holds", ["student_id"])
    op.create_index(op.f("ix_retention_holds_record_id"), "retention_holds", ["record_id"])

    op.create_table(
        "disposition_plans",
        _id(),
        _timestamp("created_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("schedule_id", sa.String(100), nullable=False),
        sa.Column("schedule_version", sa.String(100), nullable=False),
        sa.Column("status", _enum("plan_status", PLAN_STATUS), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposition_plans")),
    )

    op.create_table(
        "disposition_approvals",
        _id(),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("custodian_id", sa.Uuid(), nullable=False),
        sa.Column("decision", _enum("item_decision", ITEM_DECISION), nullable=False),
        _timestamp("decided_at"),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _fk("plan_id", "disposition_plans", "disposition_approvals"),
        _fk("custodian_id", "requesters", "disposition_approvals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposition_approvals")),
    )
    op.create_index(op.f("ix_disposition_approvals_plan_id"), "disposition_approvals",
                    ["plan_id"])

    op.create_table(
        "disposition_plan_items",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("record_type", _enum("record_type", RECORD_TYPE), nullable=False),
        sa.Column("kind", _enum("plan_item_kind", PLAN_ITEM_KIND), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("section", sa.String(200), nullable=False),
        sa.Column("citations", sa.Text(), nullable=False),
        sa.Column("eligible_from", sa.Date(), nullable=True),
        sa.Column("held_by", sa.Text(), nullable=True),
        sa.Column("decision", _enum("item_decision", ITEM_DECISION), nullable=True),
        sa.Column("approval_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", _enum("item_outcome", ITEM_OUTCOME), nullable=True),
        _timestamp("done_at", nullable=True),
        sa.CheckConstraint("(decision IS NULL AND approval_id IS NULL) OR "
                           "(decision IS NOT NULL AND approval_id IS NOT NULL)",
                           name=op.f("ck_disposition_plan_items_decided_in_an_approval")),
        sa.CheckConstraint("kind = 'eligible' OR decision IS NULL",
                           name=op.f("ck_disposition_plan_items_only_eligible_items_decided")),
        sa.CheckConstraint("outcome IS NULL OR decision = 'approved'",
                           name=op.f("ck_disposition_plan_items_only_approved_items_run")),
        _fk("plan_id", "disposition_plans", "disposition_plan_items"),
        _fk("record_id", "student_records", "disposition_plan_items"),
        _fk("student_id", "students", "disposition_plan_items"),
        _fk("approval_id", "disposition_approvals", "disposition_plan_items"),
        sa.PrimaryKeyConstraint("plan_id", "record_id", name=op.f("pk_disposition_plan_items")),
    )

    op.create_table(
        "destruction_runs",
        _id(),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        _timestamp("started_at"),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("status", _enum("run_status", RUN_STATUS), nullable=False),
        sa.Column("destroyed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        _timestamp("progress_at"),
        _timestamp("finished_at", nullable=True),
        _fk("plan_id", "disposition_plans", "destruction_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destruction_runs")),
    )
    op.create_index(op.f("ix_destruction_runs_plan_id"), "destruction_runs", ["plan_id"])

    op.create_table(
        "destruction_certificates",
        _id(),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        _timestamp("issued_at"),
        sa.Column("method", sa.String(200), nullable=False),
        sa.Column("destroyed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("logged", sa.Boolean(), nullable=False, server_default=sa.false()),
        _fk("plan_id", "disposition_plans", "destruction_certificates"),
        _fk("run_id", "destruction_runs", "destruction_certificates"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destruction_certificates")),
        sa.UniqueConstraint("plan_id", name=op.f("uq_destruction_certificates_plan_id")),
    )

    op.create_table(
        "retention_locks",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        _timestamp("acquired_at"),
        _timestamp("heartbeat_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_retention_locks")),
    )


def downgrade() -> None:
    for table in ("retention_locks", "destruction_certificates", "destruction_runs",
                  "disposition_plan_items", "disposition_approvals", "disposition_plans",
                  "retention_holds"):
        op.drop_table(table)  # its indexes go with it
