"""The custodian of records' console: parents awaiting verification and verifying one;
the duties decisions brought, and marking one done; retention plans and holds."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from gateway.portal.forms import HoldForm, PlanReviewForm, ReleaseHoldForm, VerifyForm
from gateway.portal.web import error_page, login_required, portal_blueprint, signed_in
from gateway.retention.schedule import HoldKind
from gateway.services import find

bp = portal_blueprint(Blueprint("console", __name__, url_prefix="/console"))


@bp.get("/")
@login_required
def queue():
    caller = signed_in()
    portal = find().portal
    account = portal.account(caller)
    return render_template("portal/console.html", account=account,
                           awaiting=portal.awaiting_verification(caller))


@bp.post("/guardianships/<uuid:guardianship_id>/verify")
@login_required
def verify(guardianship_id):
    form = VerifyForm()
    if not form.validate_on_submit():
        return error_page(400, _("The form could not be accepted"), _(
            "Say whether the parent has legal custody, then verify again."))
    verified = find().portal.verify(
        signed_in(), guardianship_id, legal_custody=form.legal_custody.data == "yes",
        access_revoked_by_court=form.access_revoked_by_court.data)
    flash(_("Verified: %(parent)s, parent of student %(sis_id)s.",
            parent=verified.parent_name, sis_id=verified.sis_id))
    return redirect(url_for("console.queue"))


@bp.get("/duties")
@login_required
def duties():
    caller = signed_in()
    portal = find().portal
    return render_template("portal/console_duties.html", account=portal.account(caller),
                           duties=portal.duties(caller))


@bp.post("/duties/<uuid:task_id>/done")
@login_required
def duty_done(task_id):  # the form's CSRF token is checked before any portal POST
    find().portal.mark_done(signed_in(), task_id)
    flash(_("Marked done."))
    return redirect(url_for("console.duties"))


@bp.get("/retention")
@login_required
def retention():
    caller = signed_in()
    services = find()
    console = services.retention_console
    return render_template("portal/console_retention.html",
                           account=services.portal.account(caller),
                           plans=console.plans(caller), holds=console.holds(caller),
                           hold_kinds=[k.value for k in HoldKind])


@bp.post("/retention/plans/<uuid:plan_id>/review")
@login_required
def review_plan(plan_id):
    form = PlanReviewForm()
    if not form.validate_on_submit():
        return _refused()
    result = find().retention_console.review(signed_in(), plan_id,
                                             approve=form.decision.data == "approve",
                                             note=form.note.data or "")
    flash(_("Recorded: %(count)s records %(decision)s.", count=result.items,
            decision=_("approved for destruction") if form.decision.data == "approve"
            else _("kept")))
    return redirect(url_for("console.retention"))


@bp.post("/retention/holds")
@login_required
def place_hold():
    form = HoldForm()
    if not form.validate_on_submit():
        return _refused()
    find().retention_console.place_hold(signed_in(), kind=form.kind.data,
                                        sis_id=form.sis_id.data, owner=form.owner.data,
                                        reason=form.reason.data)
    flash(_("The records of student %(sis_id)s are held.", sis_id=form.sis_id.data))
    return redirect(url_for("console.retention"))


@bp.post("/retention/holds/<uuid:hold_id>/release")
@login_required
def release_hold(hold_id):
    form = ReleaseHoldForm()
    if not form.validate_on_submit():
        return _refused()
    find().retention_console.release_hold(signed_in(), hold_id, form.reason.data)
    flash(_("The hold is released."))
    return redirect(url_for("console.retention"))


def _refused():
    return error_page(400, _("The form could not be accepted"), _(
        "Fill in every part of the form (at most 2,000 characters) and send it again."))
