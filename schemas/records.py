"""Wire schemas of record reads and decision previews."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

_TEXT = validate.Length(max=2000)


class AccessArgsSchema(Schema):
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=200),
                            metadata={"description": "Why the record is wanted, e.g. "
                                      "`educational_interest`, `enrollment_transfer`"})
    legitimate_educational_interest = fields.String(
        load_default="", validate=_TEXT,
        metadata={"description": "The interest, for officials and contractors (AR 5125(i)). "
                  "An emergency is not stated here: the custodian records the district's "
                  "determination (POST /v1/students/{sis_id}/emergencies)"})


class DecisionRequestSchema(AccessArgsSchema):
    student_sis_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    record_id = fields.UUID(required=True)


class DecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["permit", "deny",
                                                                      "pending"]))
    clause = fields.String(required=True)
    citations = fields.List(fields.String(), required=True)
    obligations = fields.List(fields.String(), required=True)
    requires = fields.List(fields.String(), required=True)
    log_required = fields.Boolean(required=True)
    reason = fields.String(required=True)


class DisclosedRecordSchema(Schema):
    record_id = fields.UUID(required=True)
    record_type = fields.String(required=True)
    media_type = fields.String(required=True)
    content_base64 = fields.String(required=True)
    decision = fields.Nested(DecisionSchema, required=True)
    duties = fields.List(fields.String(), required=True, metadata={
        "description": "Duties the district must still carry out (due tasks)"})
    redisclosure_notice = fields.String(required=True, metadata={
        "description": "Ed Code 49076; 34 CFR 99.33: the recipient may not pass it on"})


class PendingSchema(Schema):
    decision = fields.Nested(DecisionSchema, required=True)
    duties = fields.List(fields.String(), required=True)
