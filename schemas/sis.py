"""Wire schemas of the SIS write API: students, imports, parents and guardians, records."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gateway.policy.facts import (
    OrganizationType,
    ParentType,
    RecordType,
    RequesterCategory,
    StudentStatus,
)
from gateway.store.models import AgreementKind, JudicialOrderKind
from schemas.problem import ProblemSchema
from schemas.records import DecisionSchema

# A record's content travels as base64; 16 MiB of content is ~22 MiB of base64.
MAX_CONTENT_BYTES = 16 * 1024 * 1024
_MEDIA_TYPE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}/"
                              r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}(\s*;[ -~]*)?$",
                              error="a media type such as application/pdf is required")


def plain_text(value: str) -> None:
    """Text a database can hold: no NUL or other control characters (tab and line breaks
    aside), no lone surrogates; otherwise a field error, not a 500 from the driver."""
    for c in value:
        code = ord(c)
        if (code < 0x20 and c not in "\t\n\r") or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            raise ValidationError("text without control characters is required")


def one_line(value: str) -> None:
    """An identifier such as a token's subject: plain text on one line (a subject with a
    line break matches no token, and breaks every log line it is written in)."""
    plain_text(value)
    if any(c in value for c in "\t\n\r"):
        raise ValidationError("one line of text is required")


def _date(description: str) -> fields.Date:
    return fields.Date(allow_none=True, metadata={"description": description})


def _flag(description: str) -> fields.Boolean:
    return fields.Boolean(metadata={"description": description})


class StudentFieldsSchema(Schema):
    """The facts AR 5125 turns on. A field left out keeps its stored value (or its default,
    for a new student), so a partial feed never erases what another sent."""

    birth_date = _date("Decides who holds the rights (34 CFR 99.5)")
    grade_completed = fields.Integer(allow_none=True, strict=True,
                                     validate=validate.Range(-1, 16),
                                     metadata={"description": "-1 is pre-kindergarten"})
    status = fields.Enum(StudentStatus, by_value=True, metadata={
        "description": "withdrawn and graduated are departures (5 CCR 437)"})
    attends_postsecondary = _flag("Rights pass to the student (34 CFR 99.3, 99.5)")
    tax_dependent = _flag("A dependent under 26 USC 152 (Ed Code 49076)")
    incompetent_adult_with_disability = _flag("Declared incompetent (Ed Code 56041.5)")
    disability = _flag("A student with disabilities")
    expelled_or_suspended_for_pc245 = _flag("Ed Code 48902 applies")
    directory_opt_out = _flag("The parent or adult student restricted directory information")
    left_district_on = _date("Left the district (5 CCR 437)")
    program_completed_on = _date("Completed the educational program")
    withdrawn_on = _date("Withdrew")
    returned_on = _date("Came back after leaving")


class StudentSchema(StudentFieldsSchema):
    sis_id = fields.String(required=True)
    status = fields.Enum(StudentStatus, by_value=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ImportRowSchema(StudentFieldsSchema):
    """One row of an import: a student by SIS id. For the document only: rows are checked
    by the store, which names each problem by row number and field."""

    sis_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class ImportArgsSchema(Schema):
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "Check every row and report, writing nothing"})


class ImportResultSchema(Schema):
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    dry_run = fields.Boolean(required=True)


class RowProblemSchema(Schema):
    row = fields.Integer(required=True, metadata={"description": "1 is the first row"})
    field = fields.String(required=True)
    problem = fields.String(required=True)


class ImportProblemSchema(ProblemSchema):
    rows = fields.List(fields.Nested(RowProblemSchema), metadata={
        "description": "Every refused row, by number and field (never the value)"})


class ParentSchema(Schema):
    subject = fields.String(required=True, validate=[validate.Length(min=1, max=255),
                                                     one_line],
                            metadata={"description": "The parent's subject (`sub`) at the "
                                      "district's OpenID provider"})
    display_name = fields.String(required=True,
                                 validate=[validate.Length(min=1, max=200), plain_text])


class GuardianWriteSchema(Schema):
    parent = fields.Nested(ParentSchema, required=True)
    parent_type = fields.Enum(ParentType, by_value=True, required=True,
                              metadata={"description": "Ed Code 49061, 56050, 56055"})
    legal_custody = fields.Boolean(required=True)
    access_revoked_by_court = fields.Boolean(load_default=False, metadata={
        "description": "A court order revokes this parent's rights (34 CFR 99.4)"})
    both_parents_written_agreement = fields.Boolean(load_default=False, metadata={
        "description": "Both parents told the district in writing they agree (Ed Code 49061)"})
    verified = fields.Boolean(load_default=None, allow_none=True, metadata={
        "description": "true: the custodian of records checked the papers (custodian only); "
                       "false: withdraw a verification"})


class StudentLoginSchema(Schema):
    subject = fields.String(required=True, validate=[validate.Length(min=1, max=255),
                                                     one_line],
                            metadata={"description": "The student's subject (`sub`) at the "
                                      "district's OpenID provider"})
    display_name = fields.String(required=True,
                                 validate=[validate.Length(min=1, max=200), plain_text])


class GuardianSchema(Schema):
    id = fields.UUID(required=True)
    parent = fields.Nested(ParentSchema, required=True)
    parent_type = fields.String(required=True)
    legal_custody = fields.Boolean(required=True)
    access_revoked_by_court = fields.Boolean(required=True)
    both_parents_written_agreement = fields.Boolean(required=True)
    verified = fields.Boolean(required=True, metadata={
        "description": "Parents reach records only once a custodian verified the relationship"})
    verified_at = fields.DateTime(allow_none=True, required=True)


class Base64Content(fields.String):
    """Bytes sent as standard base64; malformed or empty content is a field error."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bytes:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > (MAX_CONTENT_BYTES // 3 + 1) * 4:
            raise ValidationError(f"at most {MAX_CONTENT_BYTES} bytes of content")
        try:
            content = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("standard base64 is required") from None
        if not content:
            raise ValidationError("a record has some content")
        return content


class NewRecordSchema(Schema):
    record_type = fields.Enum(RecordType, by_value=True, required=True)
    school_year_of_origin = fields.Integer(
        required=True, strict=True, validate=validate.Range(1900, 2999),
        metadata={"description": "By its starting year: 2024-25 is 2024"})
    originator = fields.String(required=True,
                               validate=[validate.Length(min=1, max=200), plain_text],
                               metadata={"description": "Who originated the data (5 CCR 431)"})
    originated_on = fields.Date(allow_none=True, load_default=None, metadata={
        "description": "The originator's date; required of anecdotal information and "
                       "assessment reports (5 CCR 431)"})
    signed_by_originator = fields.Boolean(load_default=False)
    anecdotal_or_assessment = fields.Boolean(load_default=False, metadata={
        "description": "Anecdotal information or an assessment report (5 CCR 431)"})
    media_type = fields.String(required=True, validate=_MEDIA_TYPE)
    content_base64 = Base64Content(required=True, data_key="content_base64",
                                   attribute="content", metadata={"format": "byte"})
    legitimate_educational_interest = fields.String(
        load_default="", validate=[validate.Length(max=2000), plain_text],
        metadata={"description": "Required of school officials, SIS integrations included "
                                 "(AR 5125(i))"})
    routine_update = fields.Boolean(load_default=False, metadata={
        "description": "Routine updating, the only addition allowed without consent after "
                       "graduation or permanent departure (5 CCR 437)"})


class RecordMetadataSchema(Schema):
    id = fields.UUID(required=True)
    record_type = fields.String(required=True)
    category = fields.String(required=True, metadata={"description": "5 CCR 430"})
    school_year_of_origin = fields.Integer(required=True)
    originator = fields.String(required=True)
    originated_on = fields.Date(allow_none=True, required=True)
    signed_by_originator = fields.Boolean(required=True)
    anecdotal_or_assessment = fields.Boolean(required=True)
    media_type = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class RecordDirectorySchema(Schema):
    sis_id = fields.String(required=True)
    records = fields.List(fields.Nested(RecordMetadataSchema), required=True)


class RecordAddedSchema(RecordMetadataSchema):
    decision = fields.Nested(DecisionSchema, required=True)


# --- court orders and subpoenas (AR 5125(e) item 8; Ed Code 49077) --------------------


class JudicialOrderWriteSchema(Schema):
    kind = fields.Enum(JudicialOrderKind, by_value=True, required=True,
                       metadata={"description": "A court order or a lawfully issued subpoena"})
    recipient_subject = fields.String(
        required=True, validate=[validate.Length(min=1, max=255), one_line],
        metadata={"description": "The party the order authorizes, as registered with the "
                  "gateway (its subject or client id at the district's provider)"})
    reference = fields.String(required=True,
                              validate=[validate.Length(min=1, max=200), plain_text],
                              metadata={"description": "The court and case number"})
    served_on = fields.Date(required=True)
    records = fields.List(fields.Enum(RecordType, by_value=True), load_default=None,
                          allow_none=True, validate=validate.Length(min=1), metadata={
                              "description": "The records it names; null: every record"})
    court_instructs_no_notice = fields.Boolean(load_default=False, metadata={
        "description": "The court instructs the district not to notify the parent"})
    parent_notified_on = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "The day the parent or adult student was told (Ed Code 49077: at "
                       "least three days before a disclosure)"})


class JudicialOrderUpdateSchema(Schema):
    parent_notified_on = fields.Date(metadata={
        "description": "The day the parent or adult student was told"})
    withdrawn_on = fields.Date(metadata={
        "description": "Quashed or withdrawn: not in force from that day"})

    @validates_schema
    def _something(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data:
            raise ValidationError("give parent_notified_on, withdrawn_on or both")


class JudicialOrderSchema(Schema):
    id = fields.UUID(required=True)
    sis_id = fields.String(required=True)
    kind = fields.String(required=True)
    recipient_subject = fields.String(required=True)
    reference = fields.String(required=True)
    served_on = fields.Date(required=True)
    records = fields.List(fields.String(), required=True, allow_none=True)
    court_instructs_no_notice = fields.Boolean(required=True)
    parent_notified_on = fields.Date(required=True, allow_none=True)
    withdrawn_on = fields.Date(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class JudicialOrderListSchema(Schema):
    sis_id = fields.String(required=True)
    judicial_orders = fields.List(fields.Nested(JudicialOrderSchema), required=True)


# --- the register of requesters and their papers ------------------------------------


class RequesterWriteSchema(Schema):
    display_name = fields.String(required=True,
                                 validate=[validate.Length(min=1, max=200), plain_text])
    category = fields.Enum(RequesterCategory, by_value=True, required=True, metadata={
        "description": "Its AR 5125 category (parents and students are registered with "
                       "their student, through /guardians and /login)"})
    organization_type = fields.Enum(OrganizationType, by_value=True, load_default=None,
                                    allow_none=True)
    volunteer = fields.Boolean(load_default=False, metadata={
        "description": "A volunteer, not a contractor (no access as one)"})
    active = fields.Boolean(load_default=True, metadata={
        "description": "false: its reads are refused from now on; it stays in the log"})


class AgreementWriteSchema(Schema):
    kind = fields.Enum(AgreementKind, by_value=True, required=True)
    purpose = fields.String(required=True,
                            validate=[validate.Length(min=1, max=2000), plain_text])
    signed_on = fields.Date(required=True)
    effective_from = fields.Date(required=True)
    expires_on = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "The last day in force; null: until withdrawn"})
    reference = fields.String(required=True,
                              validate=[validate.Length(min=1, max=200), plain_text],
                              metadata={"description": "The district's reference for the "
                                        "paper itself"})


class AgreementSchema(Schema):
    id = fields.UUID(required=True)
    kind = fields.String(required=True)
    purpose = fields.String(required=True)
    signed_on = fields.Date(required=True)
    effective_from = fields.Date(required=True)
    expires_on = fields.Date(required=True, allow_none=True)
    reference = fields.String(required=True)


class RegisteredRequesterSchema(Schema):
    subject = fields.String(required=True)
    display_name = fields.String(required=True)
    category = fields.String(required=True)
    organization_type = fields.String(required=True, allow_none=True)
    volunteer = fields.Boolean(required=True)
    active = fields.Boolean(required=True)
    agreements = fields.List(fields.Nested(AgreementSchema), required=True)


# --- emergencies (AR 5125(f), discretionary item 1; 34 CFR 99.36) ---------------------


class EmergencyWriteSchema(Schema):
    recipient_subject = fields.String(
        required=True, validate=[validate.Length(min=1, max=255), one_line],
        metadata={"description": "The party whose knowledge of the records is necessary, as "
                  "registered with the gateway"})
    threat = fields.String(required=True, validate=[validate.Length(min=3, max=2000),
                                                    plain_text],
                           metadata={"description": "The articulable and significant threat "
                                     "to the health or safety of the student or others"})
    ends_on = fields.Date(required=True, metadata={
        "description": "The last day the emergency stands (today at the earliest)"})


class EmergencySchema(Schema):
    id = fields.UUID(required=True)
    sis_id = fields.String(required=True)
    recipient_subject = fields.String(required=True)
    threat = fields.String(required=True)
    determined_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)


class EmergencyListSchema(Schema):
    sis_id = fields.String(required=True)
    emergencies = fields.List(fields.Nested(EmergencySchema), required=True)
