"""A student's access log (Ed Code 49064) for the parent: who asked for or received the
student's records, and a proof of any entry to check against the signed log."""

from __future__ import annotations

import json
import re

from flask import Blueprint, g, render_template

from gateway.policy.decision import Outcome
from gateway.portal.web import login_required, portal_blueprint, signed_in
from gateway.services import find
from gateway.services.access_log import Reader
from gateway.services.records_requests import RequestRefused

bp = portal_blueprint(Blueprint("student_log", __name__))
PURPOSE = "a parent reviews the student's access log (Ed Code 49064)"
_ID_SUFFIX = re.compile(r" \[[0-9a-f-]{36}\]\Z")


def _reader() -> Reader:
    return Reader(signed_in(), g.get("request_id", ""))


@bp.get("/students/<string:sis_id>/access-log")
@login_required
def show(sis_id: str):
    services = find()
    log = services.access_log.student_log(_reader(), sis_id, purpose=PURPOSE,
                                          with_own_disclosures=True, limit=500)
    if log.decision.outcome is not Outcome.PERMIT:
        raise RequestRefused(log.decision)
    entries = [e.as_dict() for e in (log.page.entries if log.page else ())]
    for entry in entries:
        entry["requester_name"] = _ID_SUFFIX.sub("", entry["requester"] or "")
    return render_template("portal/student_log.html",
                           account=services.portal.account(signed_in()), sis_id=sis_id,
                           entries=list(reversed(entries)), more=log.page and log.page.next_after)


@bp.get("/students/<string:sis_id>/access-log/<int:seq>/proof.json")
@login_required
def proof(sis_id: str, seq: int):
    decision, bundle = find().access_log.student_log_proof(_reader(), sis_id, seq,
                                                           purpose=PURPOSE)
    if bundle is None:
        raise RequestRefused(decision)
    return json.dumps(bundle, indent=2, sort_keys=True), 200, {
        "Content-Type": "application/json",
        "Content-Disposition": f'attachment; filename="access-log-{sis_id}-{seq}-proof.json"',
        "Cache-Control": "no-store"}
