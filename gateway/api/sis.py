"""The SIS write API: students, imports, parents and guardians, and new records.

Written by the district's SIS integrations and its custodian of records only
(``gateway.services.enrolment``; the reading is in docs/api.md). Every write is one unit
of work: an error leaves nothing behind.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import g, request, url_for
from flask.views import MethodView
from sqlalchemy.exc import IntegrityError, OperationalError

from gateway.api.auth import current_caller
from gateway.api.documenting import problems
from gateway.api.parsing import Blueprint
from gateway.logs import add_log_fields
from gateway.problems import problem
from gateway.services import find
from gateway.services.enrolment import (
    AdditionRefused,
    CustodianOnly,
    EmergencyOnFile,
    EmergencyRefused,
    EmergencyWrite,
    GuardianSaved,
    GuardianWrite,
    InvalidStudent,
    JudicialOrderOnFile,
    JudicialOrderRefused,
    JudicialOrderWrite,
    NewRecord,
    NotARecordKeeper,
    NothingWritten,
    RelationshipConflict,
    TooManyRows,
    UnknownJudicialOrder,
    UnknownRecipient,
    UnknownStudent,
    Writer,
)
from gateway.services.registry import (
    AgreementRefused,
    AgreementWrite,
    RegisteredRequester,
    RequesterWrite,
    UnknownRequester,
)
from gateway.store.errors import ImportRejected, RecordRefused
from schemas.sis import (
    AgreementWriteSchema,
    EmergencyListSchema,
    EmergencySchema,
    EmergencyWriteSchema,
    GuardianSchema,
    GuardianWriteSchema,
    ImportArgsSchema,
    ImportProblemSchema,
    ImportResultSchema,
    ImportRowSchema,
    JudicialOrderListSchema,
    JudicialOrderSchema,
    JudicialOrderUpdateSchema,
    JudicialOrderWriteSchema,
    NewRecordSchema,
    RecordAddedSchema,
    RecordDirectorySchema,
    RegisteredRequesterSchema,
    RequesterWriteSchema,
    StudentFieldsSchema,
    StudentLoginSchema,
    StudentSchema,
)

blp = Blueprint("sis", __name__, url_prefix="/v1",
                description="Students, parents and records, as the district's SIS "
                            "integrations and its custodian of records write them")

# Bodies are read whole: bound them before anything is read.
MAX_BODY_BYTES = 32 * 1024 * 1024
JSON_LINES = ("application/x-ndjson", "application/jsonl", "application/json-lines")
# The problem-details fields each 5 CCR 431 refusal names.
_431_FIELDS = {"the originator's date": "originated_on",
               "the originator's signature": "signed_by_originator"}


class UnreadableImport(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@blp.before_request
def authenticate() -> None:
    request.max_content_length = MAX_BODY_BYTES
    # Before any argument is parsed: an unauthenticated caller learns nothing.
    g.caller = current_caller()


def _writer() -> Writer:
    return Writer(caller=g.caller, scopes=frozenset(g.get("token_scopes") or ()),
                  request_id=g.get("request_id") or "")


# The problems the views below can answer with, by status.
_PROBLEMS = {
    400: "The body cannot be read", 401: "No valid access token",
    403: "Not a record keeper, or not registered with the gateway",
    404: "No student with that SIS id",
    409: "The parent's subject is registered under another category, or a concurrent write "
         "got there first",
    413: "The body is too large", 415: "Neither JSON nor JSON lines",
    503: "Nothing was written; try again",
}


def _errors(*codes: int) -> Any:
    return problems(blp, {code: _PROBLEMS[code] for code in codes})


_SECURED = {"security": [{"bearer": []}]}


@blp.route("/students/<string:sis_id>")
class Student(MethodView):
    @blp.doc(**_SECURED)
    @blp.arguments(StudentFieldsSchema)
    @blp.response(200, StudentSchema, description="Updated")
    @blp.alt_response(201, schema=StudentSchema, description="Enrolled")
    @_errors(401, 403, 409, 503)
    def put(self, values: dict[str, Any], sis_id: str):
        """Enrol a student or update the fields given (idempotent)."""
        saved = find().enrolment.put_student(_writer(), sis_id, values)
        return saved.student, 201 if saved.created else 200


@blp.route("/imports/students")
class StudentImport(MethodView):
    @blp.doc(**_SECURED, requestBody={
        "required": True,
        "description": "A JSON array of rows, or JSON lines (one row a line). Every row is "
                       "checked first; one bad row refuses the whole import.",
        "content": {"application/json": {"schema": {"type": "array",
                                                    "items": ImportRowSchema}}},
    })
    @blp.arguments(ImportArgsSchema, location="query")
    @blp.response(200, ImportResultSchema, description="Imported, all rows (or checked, for "
                  "a dry run)")
    @problems(blp, {422: "Refused rows by number and field; nothing was imported"},
              schema=ImportProblemSchema)
    @_errors(400, 401, 403, 409, 413, 415, 503)
    def post(self, args: dict[str, Any]):
        """Import students by SIS id: every row, or none."""
        return find().enrolment.import_students(_writer(), _import_rows(),
                                                dry_run=args["dry_run"])


def _import_rows() -> list[Any]:
    if request.mimetype in JSON_LINES:
        rows = []
        for number, line in enumerate(request.get_data().split(b"\n"), start=1):
            if line.strip():
                rows.append(_json(line, f"line {number}"))
        return rows
    if request.mimetype != "application/json":
        raise UnreadableImport(415, "Send a JSON array (application/json) or JSON lines "
                                    "(application/x-ndjson).")
    rows = _json(request.get_data(), "the body")
    if not isinstance(rows, list):
        raise UnreadableImport(400, "The body is a JSON array of rows.")
    return rows


def _json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        # ValueError: undecodable text, invalid JSON, an integer longer than Python converts;
        # RecursionError: nesting deeper than the parser goes. The position, never the
        # text: it is student data.
        at = f" (line {exc.lineno}, column {exc.colno})" if isinstance(
            exc, json.JSONDecodeError) and where == "the body" else ""
        raise UnreadableImport(400, f"{where[0].upper()}{where[1:]} is not JSON{at}.") from None


@blp.route("/students/<string:sis_id>/guardians")
class Guardians(MethodView):
    @blp.doc(**_SECURED)
    @blp.arguments(GuardianWriteSchema)
    @blp.response(201, GuardianSchema, description="Recorded")
    @blp.alt_response(200, schema=GuardianSchema, description="Updated")
    @_errors(401, 403, 404, 409, 503)
    def post(self, args: dict[str, Any], sis_id: str):
        """Record a parent's or guardian's custody and court restrictions for the student."""
        parent = args["parent"]
        saved = find().enrolment.put_guardian(_writer(), GuardianWrite(
            sis_id=sis_id, parent_subject=parent["subject"],
            parent_display_name=parent["display_name"], parent_type=args["parent_type"],
            legal_custody=args["legal_custody"],
            access_revoked_by_court=args["access_revoked_by_court"],
            both_parents_written_agreement=args["both_parents_written_agreement"],
            verified=args["verified"]))
        return _guardian(saved), 201 if saved.created else 200


@blp.route("/students/<string:sis_id>/login")
class StudentLogin(MethodView):
    @blp.doc(**_SECURED)
    @blp.arguments(StudentLoginSchema)
    @blp.response(201, StudentLoginSchema, description="Registered")
    @blp.alt_response(200, schema=StudentLoginSchema, description="Updated")
    @_errors(401, 403, 404, 409, 503)
    def put(self, args: dict[str, Any], sis_id: str):
        """Tie the student's own login to the student (custodian of records only)."""
        login, created = find().enrolment.put_student_login(
            _writer(), sis_id, args["subject"], args["display_name"])
        return {"subject": login.subject, "display_name": login.display_name}, (
            201 if created else 200)


def _guardian(saved: GuardianSaved) -> dict[str, Any]:
    guardianship, parent = saved.guardianship, saved.parent
    return {
        "id": guardianship.id,
        "parent": {"subject": parent.subject, "display_name": parent.display_name},
        "parent_type": guardianship.parent_type.value,
        "legal_custody": guardianship.legal_custody,
        "access_revoked_by_court": guardianship.access_revoked_by_court,
        "both_parents_written_agreement": guardianship.both_parents_written_agreement,
        "verified": guardianship.verified, "verified_at": guardianship.verified_at,
    }


@blp.route("/students/<string:sis_id>/records")
class StudentRecords(MethodView):
    @blp.doc(**_SECURED)
    @blp.response(200, RecordDirectorySchema, description="Metadata only, no content; the "
                  "listing is entered in the access log")
    @_errors(401, 403, 404, 503)
    def get(self, sis_id: str):
        """The student's records as metadata, for those who keep them (docs/api.md)."""
        records = find().enrolment.record_directory(_writer(), sis_id)
        return {"sis_id": sis_id, "records": [_metadata(r) for r in records]}

    @blp.doc(**_SECURED)
    @blp.arguments(NewRecordSchema)
    @blp.response(201, RecordAddedSchema, description="Sealed and kept")
    @problems(blp, {403: "Refused under AR 5125 (the decision is in the body), or not a "
                         "record keeper"})
    @_errors(401, 404, 409, 413, 503)
    def post(self, args: dict[str, Any], sis_id: str):
        """Add a record: the engine decides (`add_record`, 5 CCR 437), the store seals it."""
        added = find().enrolment.add_record(_writer(), NewRecord(sis_id=sis_id, **args))
        add_log_fields(decision=added.decision.outcome.value, clause=added.decision.clause)
        location = url_for("records.StudentRecord", sis_id=sis_id, record_id=added.record.id)
        return ({**_metadata(added.record), "decision": added.decision.as_dict()}, 201,
                {"Location": location})


@blp.route("/students/<string:sis_id>/judicial-orders")
class JudicialOrders(MethodView):
    @blp.doc(**_SECURED)
    @blp.response(200, JudicialOrderListSchema, description="Oldest first")
    @_errors(401, 403, 404, 503)
    def get(self, sis_id: str):
        """The court orders and subpoenas served for the student's records (custodian of
        records only)."""
        orders = find().enrolment.judicial_orders(_writer(), sis_id)
        return {"sis_id": sis_id, "judicial_orders": [_judicial_order(o) for o in orders]}

    @blp.doc(**_SECURED)
    @blp.arguments(JudicialOrderWriteSchema)
    @blp.response(201, JudicialOrderSchema, description="Kept: the party it names may read "
                  "the records it covers through the engine")
    @_errors(401, 403, 404, 503)
    def post(self, args: dict[str, Any], sis_id: str):
        """Enter a court order or subpoena served for the student's records (custodian of
        records only; AR 5125(e) item 8, Ed Code 49077)."""
        records = args.pop("records")
        entered = find().enrolment.enter_judicial_order(_writer(), JudicialOrderWrite(
            sis_id=sis_id, records=frozenset(records) if records is not None else None,
            **args))
        return _judicial_order(entered), 201


@blp.route("/students/<string:sis_id>/emergencies")
class Emergencies(MethodView):
    @blp.doc(**_SECURED)
    @blp.response(200, EmergencyListSchema, description="Newest first")
    @_errors(401, 403, 404, 503)
    def get(self, sis_id: str):
        """The district's emergency determinations for the student (custodian of records
        only)."""
        found = find().enrolment.emergencies(_writer(), sis_id)
        return {"sis_id": sis_id, "emergencies": [_emergency(e) for e in found]}

    @blp.doc(**_SECURED)
    @blp.arguments(EmergencyWriteSchema)
    @blp.response(201, EmergencySchema, description="Recorded: the party's reads until it "
                  "ends are emergency disclosures")
    @_errors(401, 403, 404, 503)
    def post(self, args: dict[str, Any], sis_id: str):
        """Record the district's determination that a party's knowledge of the student's
        records is necessary in an emergency (custodian of records only; 34 CFR 99.36)."""
        return _emergency(find().enrolment.determine_emergency(
            _writer(), EmergencyWrite(sis_id=sis_id, **args))), 201


def _emergency(on_file: EmergencyOnFile) -> dict[str, Any]:
    d = on_file.determination
    return {"id": d.id, "sis_id": on_file.sis_id, "recipient_subject": on_file.recipient_subject,
            "threat": d.threat, "determined_on": d.determined_on, "ends_on": d.ends_on}


@blp.route("/judicial-orders/<uuid:order_id>")
class JudicialOrderById(MethodView):
    @blp.doc(**_SECURED)
    @blp.arguments(JudicialOrderUpdateSchema)
    @blp.response(200, JudicialOrderSchema, description="Updated")
    @problems(blp, {404: "No court order or subpoena with that id"})
    @_errors(401, 403, 503)
    def patch(self, args: dict[str, Any], order_id: uuid.UUID):
        """Record the day the parent was notified, or the day the order was quashed or
        withdrawn (custodian of records only)."""
        return _judicial_order(find().enrolment.update_judicial_order(_writer(), order_id,
                                                                      **args))


@blp.route("/requesters/<string:subject>")
class RegisteredRequesters(MethodView):
    @blp.doc(**_SECURED)
    @blp.response(200, RegisteredRequesterSchema)
    @problems(blp, {404: "No requester registered under that subject"})
    @_errors(401, 403, 503)
    def get(self, subject: str):
        """A registered requester and its agreements (custodian of records only)."""
        return _registered(find().registry.requester(_writer(), subject))

    @blp.doc(**_SECURED)
    @blp.arguments(RequesterWriteSchema)
    @blp.response(201, RegisteredRequesterSchema, description="Registered")
    @blp.alt_response(200, schema=RegisteredRequesterSchema, description="Updated")
    @_errors(401, 403, 409, 503)
    def put(self, args: dict[str, Any], subject: str):
        """Register a subject (or client id) at the district's provider in its AR 5125
        category, or update it (custodian of records only)."""
        registered = find().registry.put_requester(_writer(), RequesterWrite(
            subject=subject, **args))
        return _registered(registered), 201 if registered.created else 200


@blp.route("/requesters/<string:subject>/agreements")
class RequesterAgreements(MethodView):
    @blp.doc(**_SECURED)
    @blp.arguments(AgreementWriteSchema)
    @blp.response(201, RegisteredRequesterSchema, description="Kept")
    @problems(blp, {404: "No requester registered under that subject"})
    @_errors(401, 403, 503)
    def post(self, args: dict[str, Any], subject: str):
        """Keep a written agreement or certification the requester signed (custodian of
        records only)."""
        return _registered(find().registry.add_agreement(_writer(), AgreementWrite(
            subject=subject, **args))), 201


def _registered(registered: RegisteredRequester) -> dict[str, Any]:
    r = registered.requester
    return {
        "subject": r.subject, "display_name": r.display_name, "category": r.category.value,
        "organization_type": r.organization_type.value if r.organization_type else None,
        "volunteer": r.volunteer, "active": r.active,
        "agreements": [{"id": a.id, "kind": a.kind.value, "purpose": a.purpose,
                        "signed_on": a.signed_on, "effective_from": a.effective_from,
                        "expires_on": a.expires_on, "reference": a.reference}
                       for a in registered.agreements],
    }


def _judicial_order(on_file: JudicialOrderOnFile) -> dict[str, Any]:
    order = on_file.order
    return {
        "id": order.id, "sis_id": on_file.sis_id, "kind": order.kind.value,
        "recipient_subject": on_file.recipient_subject, "reference": order.reference,
        "served_on": order.served_on,
        "records": sorted(r.value for r in order.records) if order.records is not None
        else None,
        "court_instructs_no_notice": order.court_instructs_no_notice,
        "parent_notified_on": order.parent_notified_on, "withdrawn_on": order.withdrawn_on,
        "created_at": order.created_at,
    }


def _metadata(record: Any) -> dict[str, Any]:
    return {
        "id": record.id, "record_type": record.record_type.value,
        "category": record.category.value,
        "school_year_of_origin": record.school_year_of_origin,
        "originator": record.originator, "originated_on": record.originated_on,
        "signed_by_originator": record.signed_by_originator,
        "anecdotal_or_assessment": record.anecdotal_or_assessment,
        "media_type": record.media_type, "created_at": record.created_at,
    }


# --- Problems of this API ----------------------------------------------------------


@blp.errorhandler(NotARecordKeeper)
def not_a_record_keeper(_exc: NotARecordKeeper):
    return problem(403, "Not a record keeper", "Only the custodian of records and the "
                   "district's SIS integrations (a school official with the records:write "
                   "scope) write students' records.", kind="not-a-record-keeper")


@blp.errorhandler(CustodianOnly)
def custodian_only(exc: CustodianOnly):
    return problem(403, "Custodian of records only", f"{_sentence(exc)} (5 CCR 433).",
                   kind="custodian-only")


@blp.errorhandler(AdditionRefused)
def addition_refused(exc: AdditionRefused):
    d = exc.decision
    add_log_fields(decision=d.outcome.value, clause=d.clause)
    return problem(403, "Refused under AR 5125", d.reason, kind="access-refused",
                   decision=d.as_dict())


@blp.errorhandler(UnknownRecipient)
def unknown_recipient(exc: UnknownRecipient):
    return problem(422, "Unprocessable Entity", "The order is refused; see errors.",
                   errors={"json": {"recipient_subject": [str(exc)]}})


@blp.errorhandler(UnknownRequester)
def unknown_requester(_exc: UnknownRequester):
    return problem(404, "Not Found", "No requester registered under that subject.")


# What a custodian entered that cannot be true (a day still to come, an end before the
# start): each says what, in its own problem type.
_CANNOT_BE_TRUE = {JudicialOrderRefused: "judicial-order-refused",
                   AgreementRefused: "agreement-refused", EmergencyRefused: "emergency-refused"}


@blp.errorhandler(JudicialOrderRefused)
@blp.errorhandler(AgreementRefused)
@blp.errorhandler(EmergencyRefused)
def cannot_be_true(exc: Exception):
    return problem(422, "Unprocessable Entity", f"{_sentence(exc)}.",
                   kind=_CANNOT_BE_TRUE[type(exc)])


@blp.errorhandler(UnknownJudicialOrder)
def unknown_judicial_order(_exc: UnknownJudicialOrder):
    return problem(404, "Not Found", "No court order or subpoena with that id.")


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return text[:1].upper() + text[1:]


@blp.errorhandler(UnknownStudent)
def unknown_student(_exc: UnknownStudent):
    return problem(404, "Not Found", "No student with that SIS id; enrol the student first.")


@blp.errorhandler(RelationshipConflict)
def relationship_conflict(exc: RelationshipConflict):
    return problem(409, "Conflict", str(exc), kind="relationship-conflict")


@blp.errorhandler(IntegrityError)
def concurrent_write(_exc: IntegrityError):
    return problem(409, "Conflict", "Another write changed the same data at the same time; "
                   "nothing of this one was kept. Try again.", kind="write-conflict")


@blp.errorhandler(ImportRejected)
def import_rejected(exc: ImportRejected):
    rows = [{"row": e.row, "field": e.field, "problem": e.problem} for e in exc.errors]
    count = len({e.row for e in exc.errors})
    return problem(422, "Import refused", f"{count} row(s) refused; nothing was imported.",
                   kind="import-rejected", rows=rows)


@blp.errorhandler(InvalidStudent)
def invalid_student(exc: InvalidStudent):
    where: dict[str, dict[str, list[str]]] = {}
    for name, messages in exc.problems.items():
        where.setdefault("path" if name == "sis_id" else "json", {})[name] = messages
    return problem(422, "Unprocessable Entity", "The student is refused; see errors.",
                   errors=where)


@blp.errorhandler(RecordRefused)
def record_refused(exc: RecordRefused):
    fields = {_431_FIELDS.get(m, m): [f"{exc.citation}: required ({m})"] for m in exc.missing}
    return problem(422, "Record refused", f"{exc.citation}: {exc.reason}.",
                   kind="record-refused", errors={"json": fields})


@blp.errorhandler(TooManyRows)
def too_many_rows(exc: TooManyRows):
    return problem(413, "Content Too Large", f"An import takes {exc}; split it.",
                   kind="too-many-rows")


@blp.errorhandler(UnreadableImport)
def unreadable(exc: UnreadableImport):
    return problem(exc.status, "Unsupported Media Type" if exc.status == 415 else
                   "Bad Request", exc.detail)


@blp.errorhandler(NothingWritten)
@blp.errorhandler(OperationalError)
def nothing_written(_exc: Exception):
    return problem(503, "Service Unavailable", "The database did not take the write; nothing "
                   "was kept. Try again.", kind="not-written", headers={"Retry-After": "5"})
