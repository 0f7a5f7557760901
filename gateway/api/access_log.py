"""The access log over HTTP: the custodian's API, and a student's Ed Code 49064 log.

The custodian of records (and nobody else) searches, exports, checks and proves the
whole log; a student's own log is decided by the AR 5125 engine (``view_access_log``).
Every reading is itself entered in the log before anything of it is returned
(``gateway.services.access_log``).
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Response, g, stream_with_context
from flask.views import MethodView

from gateway.api.auth import current_caller
from gateway.api.documenting import problems
from gateway.api.parsing import Blueprint
from gateway.api.records import Refused
from gateway.logs import add_log_fields
from gateway.policy.decision import Outcome
from gateway.problems import problem
from gateway.services import find
from gateway.services.access_log import (
    LogFilter,
    NoSuchEntry,
    NotTheCustodian,
    NotYetCheckpointed,
    Reader,
    UnknownStudent,
    ViewNotRecorded,
)
from schemas.access_log import (
    IntegritySchema,
    LogExportArgsSchema,
    LogPageSchema,
    LogSearchArgsSchema,
    ProofBundleSchema,
    StudentLogArgsSchema,
    StudentLogSchema,
)
from schemas.records import PendingSchema

blp = Blueprint("access_log", __name__, url_prefix="/v1",
                description="The access log: the custodian's reading of it, and a student's "
                            "Ed Code 49064 log")

JSON_LINES = "application/x-ndjson"
_SECURED = {"security": [{"bearer": []}]}
_PROBLEMS = {
    401: "No valid access token",
    403: "Not the custodian of records, or not registered with the gateway",
    404: "No student with that SIS id",
    503: "The reading could not be entered in the log, so nothing of it was returned",
}


def _errors(*codes: int) -> Any:
    return problems(blp, {code: _PROBLEMS[code] for code in codes})


@blp.before_request
def authenticate() -> None:
    # Before any argument is parsed: an unauthenticated caller learns nothing.
    g.caller = current_caller()


def _reader() -> Reader:
    return Reader(caller=g.caller, request_id=g.get("request_id") or "")


def _filter(args: dict[str, Any]) -> LogFilter:
    return LogFilter(student_sis_id=args["student"], requester_id=args["requester"],
                     since=args["since"], until=args["until"], clause=args["clause"],
                     decision=args["decision"], event=args["event"])


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _stream(lines: Any, mimetype: str, filename: str) -> Response:
    return Response(stream_with_context(lines), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@blp.route("/access-log/entries")
class Entries(MethodView):
    @blp.doc(**_SECURED)
    @blp.arguments(LogSearchArgsSchema, location="query")
    @blp.response(200, LogPageSchema, description="A page of entries, oldest first (or "
                  "newest first); the search is entered in the log")
    @_errors(401, 403, 404, 503)
    def get(self, args: dict[str, Any]):
        """Search the access log (custodian of records only)."""
        page = find().access_log.search(_reader(), _filter(args), after=args["after"],
                                        limit=args["limit"],
                                        newest_first=args["newest_first"])
        return {"entries": [e.as_dict() for e in page.entries],
                "next_after": page.next_after}


@blp.route("/access-log/export")
class Export(MethodView):
    @blp.doc(**_SECURED, responses={"200": {
        "description": "The entries the filters find, opened, streamed: CSV with a header "
                       "row, or one JSON object a line",
        "content": {"text/csv": {"schema": {"type": "string"}},
                    JSON_LINES: {"schema": {"type": "string"}}}}})
    @blp.arguments(LogExportArgsSchema, location="query")
    @_errors(401, 403, 404, 503)
    def get(self, args: dict[str, Any]):
        """Export entries as CSV or JSON lines (custodian of records only)."""
        render = args["format"]
        lines = find().access_log.export(_reader(), _filter(args), render)
        if render == "csv":
            return _stream(lines, "text/csv", "access-log.csv")
        return _stream(lines, JSON_LINES, "access-log.jsonl")


@blp.route("/access-log/export/verifiable")
class VerifiableExport(MethodView):
    @blp.doc(**_SECURED, responses={"200": {
        "description": "Every stored entry (sealed parts sealed), one a line: "
                       "`python -m audit.verify FILE --checkpoint CP --key KEY`",
        "content": {JSON_LINES: {"schema": {"type": "string"}}}}})
    @_errors(401, 403, 503)
    def get(self):
        """The verifiable export, for auditors (custodian of records only)."""
        return _stream(find().access_log.verifiable_export(_reader()), JSON_LINES,
                       "access-log-entries.jsonl")


@blp.route("/access-log/integrity")
class Integrity(MethodView):
    @blp.doc(**_SECURED)
    @blp.response(200, IntegritySchema, description="Tree head, latest checkpoint, and the "
                  "log verified from it")
    @_errors(401, 403, 503)
    def get(self):
        """The log's integrity status (custodian of records only)."""
        status = find().access_log.integrity(_reader())
        cp = status.checkpoint
        return {
            "size": status.head.size, "root": _b64(status.head.root),
            "checkpoint": None if cp is None else {
                "size": cp.size, "root": _b64(cp.root), "note": cp.note,
                "key_name": cp.key_name, "created_at": cp.created_at},
            "verification": status.verification,
        }


@blp.route("/access-log/entries/<int:seq>/proof")
class Proof(MethodView):
    @blp.doc(**_SECURED)
    @blp.response(200, ProofBundleSchema, description="The entry and its inclusion proof "
                  "against the latest signed checkpoint")
    @problems(blp, {404: "No entry at that seq",
                    409: "No signed checkpoint covers the entry yet"})
    @_errors(401, 403, 503)
    def get(self, seq: int):
        """An entry's inclusion proof bundle (custodian of records only)."""
        return find().access_log.proof(_reader(), seq)


@blp.route("/students/<string:sis_id>/access-log")
class StudentAccessLog(MethodView):
    @blp.doc(**_SECURED)
    @blp.arguments(StudentLogArgsSchema, location="query")
    @blp.response(200, StudentLogSchema, description="The entries Ed Code 49064 requires: "
                  "who requested or received information, which records, the interest or "
                  "purpose stated, and when")
    @blp.alt_response(202, schema=PendingSchema,
                      description="Allowed once a step is done; nothing returned")
    @problems(blp, {403: "Refused under AR 5125 (the decision is in the body), an "
                         "unregistered requester, or a parent whose relationship is not "
                         "verified; an unknown student is answered the same way",
                    404: "No student with that SIS id (the custodian and the SIS "
                         "integrations only)"})
    @_errors(401, 503)
    def get(self, args: dict[str, Any], sis_id: str):
        """A student's access log (Ed Code 49064), for those the engine lets read it."""
        answer = find().access_log.student_log(_reader(), sis_id, purpose=args["purpose"],
                                               after=args["after"], limit=args["limit"])
        decision = answer.decision
        add_log_fields(decision=decision.outcome.value, clause=decision.clause)
        if decision.outcome is Outcome.DENY:
            raise Refused(decision)
        if decision.outcome is Outcome.PENDING:
            return {"decision": decision.as_dict(), "duties": []}, 202
        page = answer.page
        assert page is not None  # a permit carries its page
        return {"sis_id": sis_id, "decision": decision.as_dict(),
                "entries": [e.as_dict() for e in page.entries],
                "next_after": page.next_after}


# --- Problems of this API ----------------------------------------------------------


@blp.errorhandler(NotTheCustodian)
def not_the_custodian(_exc: NotTheCustodian):
    return problem(403, "Custodian of records only", "Only the custodian of records reads the "
                   "whole access log (Ed Code 49064; 5 CCR 433).", kind="custodian-only")


@blp.errorhandler(UnknownStudent)
def unknown_student(_exc: UnknownStudent):
    return problem(404, "Not Found", "No student with that SIS id.")


@blp.errorhandler(NoSuchEntry)
def no_such_entry(_exc: NoSuchEntry):
    return problem(404, "Not Found", "The access log has no entry at that seq.")


@blp.errorhandler(NotYetCheckpointed)
def not_yet_checkpointed(_exc: NotYetCheckpointed):
    return problem(409, "Conflict", "No signed checkpoint covers the entry yet; try again "
                   "after the next checkpoint.", kind="not-yet-checkpointed",
                   headers={"Retry-After": "5"})


@blp.errorhandler(ViewNotRecorded)
def view_not_recorded(_exc: ViewNotRecorded):
    return problem(503, "Service Unavailable", "The reading could not be entered in the "
                   "access log, so nothing of the log was returned; try again.",
                   kind="not-recorded", headers={"Retry-After": "5"})

