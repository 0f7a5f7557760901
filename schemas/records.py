"""Wire schemas of record reads and decision previews."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate


def encodable(value: str) -> None:
    """Text that is UTF-8 (no lone surrogate, which a JSON body can carry as an escape):
    else a field error for every caller alike, before anything is looked up or entered
    in the access log (an entry that cannot be written must not tell who is there)."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValidationError("valid Unicode text is required (no lone surrogates)")


_TEXT = [validate.Length(max=2000), encodable]


class AccessArgsSchema(Schema):
    purpose = fields.String(required=True, validate=[validate.Length(min=1, max=200),
                                                     encodable],
                            metadata={"description": "Why the record is wanted, e.g. "
                                      "`educational_interest`, `enrollment_transfer`"})
    legitimate_educational_interest = fields.String(
        load_default="", validate=_TEXT,
        metadata={"description": "The interest, for officials and contractors (AR 5125(i)). "
                  "An emergency is not stated here: the custodian records the district's "
                  "determination (POST /v1/students/{sis_id}/emergencies)"})


class DecisionRequestSchema(AccessArgsSchema):
    student_sis_id = fields.String(required=True,
                                   validate=[validate.Length(min=1, max=64), encodable])
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
