"""Reading student records: every read is an AR 5125 decision, every disclosure recorded."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from flask import g
from flask.views import MethodView

from gateway.api.auth import current_caller
from gateway.api.documenting import problems
from gateway.api.parsing import Blueprint
from gateway.logs import add_log_fields
from gateway.policy.decision import Decision, Outcome
from gateway.services import find
from gateway.services.access import RecordAccess, RecordRequest
from gateway.services.base import Refused
from schemas.records import (
    AccessArgsSchema,
    DecisionRequestSchema,
    DecisionSchema,
    DisclosedRecordSchema,
    PendingSchema,
)

blp = Blueprint("records", __name__, url_prefix="/v1",
                description="Student records, read under AR 5125")

REDISCLOSURE_NOTICE = ("This information may not be disclosed to any other party without the "
                       "written consent of the parent or adult student, unless state or federal "
                       "law allows it (Ed Code 49076; 34 CFR 99.33).")


@blp.before_request
def authenticate() -> None:
    # Before any argument is parsed: an unauthenticated caller learns nothing, not even
    # which of its parameters were wrong.
    g.caller = current_caller()


def _request(caller_args: dict[str, Any], sis_id: str, record_id: uuid.UUID) -> RecordRequest:
    return RecordRequest(
        caller=g.caller, student_sis_id=sis_id, record_id=record_id,
        purpose=caller_args["purpose"],
        legitimate_educational_interest=caller_args["legitimate_educational_interest"],
        request_id=g.request_id)


def _log(decision: Decision) -> None:
    add_log_fields(decision=decision.outcome.value, clause=decision.clause)


@blp.route("/students/<string:sis_id>/records/<uuid:record_id>")
class StudentRecord(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @blp.arguments(AccessArgsSchema, location="query")
    @blp.response(200, DisclosedRecordSchema, description="Disclosed and recorded")
    @blp.alt_response(202, schema=PendingSchema,
                      description="Allowed once a step is done; nothing disclosed")
    @problems(blp, {
        401: "No valid access token",
        403: "Refused under AR 5125 (the decision is in the body), an unregistered requester, "
             "or a parent whose relationship is not verified; to anyone but the custodian "
             "and the SIS integrations, also a record or student that is not there",
        404: "No such record of that student (said only to the custodian, the SIS "
             "integrations and the student's verified family)",
        410: "The record was destroyed under the retention schedule",
        503: "The disclosure could not be recorded, so nothing was disclosed; or the OpenID "
             "provider cannot be reached"})
    def get(self, args: dict[str, Any], sis_id: str, record_id: uuid.UUID):
        """Read a record: the engine decides; a permit is disclosed and recorded together."""
        access = find().record_access.read(_request(args, sis_id, record_id))
        _log(access.decision)
        if access.decision.outcome is Outcome.DENY:
            raise Refused(access.decision)
        if access.decision.outcome is Outcome.PENDING:
            return {"decision": access.decision.as_dict(), "duties": list(access.duties)}, 202
        return present(access)


def present(access: RecordAccess) -> dict[str, Any]:
    if access.content is None:  # a permit always carries the content it disclosed
        raise RuntimeError("a disclosure without content")
    return {
        "record_id": access.record_id, "record_type": access.record_type.value,
        "media_type": access.media_type,
        "content_base64": base64.b64encode(access.content).decode("ascii"),
        "decision": access.decision.as_dict(), "duties": list(access.duties),
        "redisclosure_notice": REDISCLOSURE_NOTICE,
    }


@blp.route("/decisions")
class DecisionPreview(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @blp.arguments(DecisionRequestSchema)
    @blp.response(200, DecisionSchema, description="The decision; nothing is disclosed")
    @problems(blp, {
        401: "No valid access token",
        403: "An unregistered requester, a parent whose relationship is not verified, or "
             "a request the access log must list (read the record instead)",
        404: "No such record of that student (said only to the custodian, the SIS "
             "integrations and the student's verified family)",
        503: "The database or the OpenID provider cannot be reached"})
    def post(self, args: dict[str, Any]):
        """Preview the decision a read would get, without disclosing anything (for
        requests the access log need not list: district staff, the family). The engine's
        answer is not logged; a refusal before it is asked (an unverified relationship, a
        withdrawn registration, no such record) is, as for a read."""
        decision = find().record_access.preview(
            _request(args, args["student_sis_id"], args["record_id"]))
        _log(decision)
        return decision.as_dict()
