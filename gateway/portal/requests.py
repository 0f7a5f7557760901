"""Requests to inspect or copy records: the parent's side and the custodian's queue."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import format_date
from flask_babel import gettext as _

from gateway.portal.forms import DenyForm, FulfilForm, RecordsRequestForm
from gateway.portal.web import error_page, login_required, portal_blueprint, signed_in
from gateway.records_requests.fees import RequestKind
from gateway.services import find

bp = portal_blueprint(Blueprint("requests", __name__))


@bp.post("/students/<string:sis_id>/requests")
@login_required
def ask(sis_id: str):
    form = RecordsRequestForm()
    if not form.validate_on_submit():
        return error_page(400, _("The form could not be accepted"), _(
            "Choose what you are asking for, keep the note under 2,000 characters, and "
            "send the request again."))
    made = find().records_requests.ask(signed_in(), sis_id, RequestKind(form.kind.data),
                                       form.note.data or "")
    flash(_("Your request was received. The district will answer it by %(due)s.",
            due=format_date(made.due_on, "long")))
    return redirect(url_for("requests.mine"))


@bp.get("/requests")
@login_required
def mine():
    caller = signed_in()
    services = find()
    return render_template("portal/requests.html", account=services.portal.account(caller),
                           requests=services.records_requests.mine(caller))


@bp.get("/requests/<uuid:request_id>/copies.pdf")
@login_required
def copies(request_id):
    made = find().records_requests.copies(signed_in(), request_id,
                                          request_tag=g.get("request_id", ""))
    return made.pdf, 200, {
        "Content-Type": "application/pdf",
        "Content-Disposition": f'attachment; filename="{made.filename}"',
        # Copies of records are the family's, not the browser cache's or a proxy's.
        "Cache-Control": "no-store"}


@bp.get("/console/requests")
@login_required
def queue():
    caller = signed_in()
    services = find()
    return render_template("portal/console_requests.html",
                           account=services.portal.account(caller),
                           requests=services.records_requests.queue(caller))


@bp.post("/console/requests/<uuid:request_id>/fulfil")
@login_required
def fulfil(request_id):
    form = FulfilForm()
    if not form.validate_on_submit():
        return error_page(400, _("The form could not be accepted"), _(
            "Keep the note under 2,000 characters and try again."))
    done = find().records_requests.fulfil(signed_in(), request_id, form.note.data or "")
    flash(_("Fulfilled: the request for student %(sis_id)s.", sis_id=done.sis_id))
    return redirect(url_for("requests.queue"))


@bp.post("/console/requests/<uuid:request_id>/deny")
@login_required
def deny(request_id):
    form = DenyForm()
    if not form.validate_on_submit():
        return error_page(400, _("The form could not be accepted"), _(
            "A denial needs its reason, which the parent will read. Write it and try again."))
    done = find().records_requests.deny(signed_in(), request_id, form.reason.data)
    flash(_("Denied: the request for student %(sis_id)s.", sis_id=done.sis_id))
    return redirect(url_for("requests.queue"))
