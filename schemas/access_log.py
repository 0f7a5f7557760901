"""Wire schemas of the access-log API: the custodian's searches and exports, integrity
status and proofs, and a student's Ed Code 49064 access log."""

from __future__ import annotations

from datetime import timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from audit.events import EventType
from gateway.services.access_log import MAX_PAGE, MAX_SEQ
from schemas.records import DecisionSchema, encodable

_OUTCOMES = ["permit", "deny", "pending"]


def _moment(description: str) -> fields.AwareDateTime:
    # A time without a zone offset is read as UTC, the log's own clock.
    return fields.AwareDateTime(load_default=None, default_timezone=timezone.utc,
                                metadata={"description": description})


class _Paging(Schema):
    after = fields.Integer(
        load_default=None, validate=validate.Range(min=0, max=MAX_SEQ),
        metadata={"description": "Continue after this seq (`next_after` of the page before)"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE))


class LogFilterSchema(Schema):
    student = fields.String(load_default=None, validate=validate.Length(min=1, max=64),
                            metadata={"description": "The student's SIS id"})
    requester = fields.UUID(load_default=None, metadata={
        "description": "The requester's id (the uuid in `requester`)"})
    since = _moment("Entries at or after this time (ISO 8601)")
    until = _moment("Entries before this time (ISO 8601)")
    clause = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    decision = fields.String(load_default=None, validate=validate.OneOf(_OUTCOMES))
    event = fields.String(load_default=None,
                          validate=validate.OneOf([e.value for e in EventType]))

    @validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError("must be after `since`", "until")


class LogSearchArgsSchema(LogFilterSchema, _Paging):
    newest_first = fields.Boolean(load_default=False)


class LogExportArgsSchema(LogFilterSchema):
    format = fields.String(load_default="jsonl", validate=validate.OneOf(["csv", "jsonl"]))


class StudentLogArgsSchema(_Paging):
    purpose = fields.String(load_default="review",
                            validate=[validate.Length(min=1, max=200), encodable],
                            metadata={"description": "Why the log is wanted"})


class RecordRefSchema(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True)


class LogEntrySchema(Schema):
    """An entry as the custodian reads it; identifying fields are null once the student's
    content key is destroyed (`content_destroyed`)."""

    seq = fields.Integer(required=True)
    time = fields.String(required=True, metadata={"description": "UTC, ISO 8601"})
    event = fields.String(required=True)
    requester_category = fields.String(allow_none=True)
    requester_id = fields.UUID(allow_none=True)
    requester = fields.String(allow_none=True, metadata={
        "description": "Display name [requester id]"})
    student_id = fields.UUID(allow_none=True)
    sis_id = fields.String(allow_none=True)
    records = fields.List(fields.Nested(RecordRefSchema), required=True)
    action = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True)
    stated_interest = fields.String(allow_none=True, metadata={
        "description": "The legitimate educational interest stated (Ed Code 49064)"})
    decision = fields.String(allow_none=True)
    clause = fields.String(allow_none=True)
    citations = fields.List(fields.String(), required=True)
    obligations = fields.List(fields.String(), required=True)
    log_required = fields.Boolean(allow_none=True)
    request_id = fields.String(allow_none=True)
    policy_version = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    content_destroyed = fields.Boolean(required=True)


class LogPageSchema(Schema):
    entries = fields.List(fields.Nested(LogEntrySchema), required=True)
    next_after = fields.Integer(allow_none=True, required=True, metadata={
        "description": "`after` for the next page; null when there is none"})


class CheckpointSchema(Schema):
    size = fields.Integer(required=True)
    root = fields.String(required=True, metadata={"description": "base64"})
    note = fields.String(required=True, metadata={"description": "The C2SP signed note"})
    key_name = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class VerificationSchema(Schema):
    ok = fields.Boolean(required=True)
    size = fields.Integer(required=True)
    root = fields.String(allow_none=True)
    first_bad_seq = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)


class IntegritySchema(Schema):
    size = fields.Integer(required=True)
    root = fields.String(required=True, metadata={"description": "base64"})
    checkpoint = fields.Nested(CheckpointSchema, allow_none=True, required=True)
    verification = fields.Nested(VerificationSchema, allow_none=True, required=True, metadata={
        "description": "The log verified from the latest checkpoint; null before the first"})


class ProofBundleSchema(Schema):
    """What `python -m audit.verify --proof` checks."""

    entry = fields.Dict(required=True, metadata={"description": "The stored (sealed) entry"})
    leaf_index = fields.Integer(required=True)
    tree_size = fields.Integer(required=True)
    proof = fields.List(fields.String(), required=True)
    checkpoint = fields.String(required=True)


class StudentLogEntrySchema(Schema):
    """One line of the Ed Code 49064 log: who asked or received, which records, the
    interest or purpose stated, and when."""

    seq = fields.Integer(required=True)
    time = fields.String(required=True)
    event = fields.String(required=True)
    requester = fields.String(allow_none=True)
    requester_category = fields.String(allow_none=True)
    records = fields.List(fields.Nested(RecordRefSchema), required=True)
    purpose = fields.String(allow_none=True)
    stated_interest = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    clause = fields.String(allow_none=True)
    content_destroyed = fields.Boolean(required=True)


class StudentLogSchema(Schema):
    sis_id = fields.String(required=True)
    decision = fields.Nested(DecisionSchema, required=True)
    entries = fields.List(fields.Nested(StudentLogEntrySchema), required=True)
    next_after = fields.Integer(allow_none=True, required=True)
