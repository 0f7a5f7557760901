"""The custodian of records' console: parents awaiting verification and verifying one;
the duties decisions brought, and marking one done; retention plans and holds; court
orders and subpoenas served for students' records; the register of requesters and their
agreements."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import format_date
from flask_babel import gettext as _

from gateway.policy.facts import OrganizationType, RecordType, RequesterCategory
from gateway.portal.forms import (
    ActiveForm,
    AgreementForm,
    EmergencyForm,
    HoldForm,
    JudicialOrderForm,
    OrderDayForm,
    PlanReviewForm,
    ReleaseHoldForm,
    RequesterForm,
    VerifyForm,
)
from gateway.portal.web import error_page, login_required, portal_blueprint, signed_in
from gateway.retention.schedule import HoldKind
from gateway.services import find
from gateway.services.enrolment import EmergencyWrite, JudicialOrderWrite, Writer
from gateway.services.registry import REGISTERED_HERE, AgreementWrite, RequesterWrite
from gateway.store.models import AgreementKind, JudicialOrderKind

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


@bp.get("/judicial-orders")
@login_required
def judicial_orders():
    caller, services = signed_in(), find()
    writer = Writer(caller=caller)
    return render_template("portal/console_orders.html",
                           account=services.portal.account(caller),
                           orders=services.enrolment.judicial_orders_in_force(writer),
                           parties=services.registry.parties(writer),
                           record_types=[t.value for t in RecordType])


@bp.post("/judicial-orders")
@login_required
def enter_judicial_order():
    form = JudicialOrderForm()
    if not form.validate_on_submit():
        return _refused()
    entered = find().enrolment.enter_judicial_order(Writer(caller=signed_in()), JudicialOrderWrite(
        sis_id=form.sis_id.data.strip(), kind=JudicialOrderKind(form.kind.data),
        recipient_subject=form.recipient.data, reference=form.reference.data.strip(),
        served_on=form.served_on.data,
        records=frozenset(map(RecordType, form.records.data)) or None,
        court_instructs_no_notice=form.court_instructs_no_notice.data,
        parent_notified_on=form.parent_notified_on.data))
    flash(_("Entered: the order for the records of student %(sis_id)s, naming %(party)s.",
            sis_id=entered.sis_id, party=entered.recipient_name))
    return redirect(url_for("console.judicial_orders"))


@bp.post("/judicial-orders/<uuid:order_id>/notice")
@login_required
def judicial_order_notice(order_id):
    return _order_day(order_id, "parent_notified_on", _("Recorded: the parent was notified."))


@bp.post("/judicial-orders/<uuid:order_id>/withdrawn")
@login_required
def judicial_order_withdrawn(order_id):
    return _order_day(order_id, "withdrawn_on", _("Recorded: the order is quashed or "
                                                  "withdrawn."))


def _order_day(order_id, field: str, done: str):
    form = OrderDayForm()
    if not form.validate_on_submit():
        return _refused()
    find().enrolment.update_judicial_order(Writer(caller=signed_in()), order_id,
                                           **{field: form.day.data})
    flash(done)
    return redirect(url_for("console.judicial_orders"))


@bp.get("/emergencies")
@login_required
def emergencies():
    caller, services = signed_in(), find()
    writer = Writer(caller=caller)
    return render_template("portal/console_emergencies.html",
                           account=services.portal.account(caller),
                           standing=services.enrolment.emergencies_standing(writer),
                           parties=services.registry.parties(writer),
                           today=services.today())


@bp.post("/emergencies")
@login_required
def determine_emergency():
    form = EmergencyForm()
    if not form.validate_on_submit():
        return _refused()
    determined = find().enrolment.determine_emergency(Writer(caller=signed_in()), EmergencyWrite(
        sis_id=form.sis_id.data.strip(), recipient_subject=form.recipient.data,
        threat=form.threat.data.strip(), ends_on=form.ends_on.data))
    flash(_("Recorded: %(party)s may read the records of student %(sis_id)s until the end of "
            "%(day)s.", party=determined.recipient_name, sis_id=determined.sis_id,
            day=format_date(determined.determination.ends_on, "long")))
    return redirect(url_for("console.emergencies"))


@bp.get("/requesters")
@login_required
def requesters():
    caller, services = signed_in(), find()
    return render_template("portal/console_requesters.html",
                           account=services.portal.account(caller),
                           register=services.registry.register(Writer(caller=caller)),
                           categories=[c.value for c in REGISTERED_HERE],
                           organization_types=[o.value for o in OrganizationType],
                           agreement_kinds=[k.value for k in AgreementKind])


@bp.post("/requesters")
@login_required
def register_requester():
    form = RequesterForm()
    if not form.validate_on_submit():
        return _refused()
    registered = find().registry.put_requester(Writer(caller=signed_in()), RequesterWrite(
        subject=form.subject.data.strip(), display_name=form.display_name.data.strip(),
        category=RequesterCategory(form.category.data),
        organization_type=OrganizationType(form.organization_type.data)
        if form.organization_type.data else None, volunteer=form.volunteer.data))
    flash(_("Registered: %(name)s.", name=registered.requester.display_name))
    return redirect(url_for("console.requesters"))


@bp.post("/requesters/active")
@login_required
def requester_active():
    form = ActiveForm()
    if not form.validate_on_submit():
        return _refused()
    registered = find().registry.set_active(Writer(caller=signed_in()), form.subject.data,
                                            form.active.data == "yes")
    flash(_("%(name)s may read again.", name=registered.requester.display_name)
          if registered.requester.active
          else _("%(name)s reads nothing from now on.", name=registered.requester.display_name))
    return redirect(url_for("console.requesters"))


@bp.post("/requesters/agreements")
@login_required
def add_agreement():
    form = AgreementForm()
    if not form.validate_on_submit():
        return _refused()
    registered = find().registry.add_agreement(Writer(caller=signed_in()), AgreementWrite(
        subject=form.subject.data, kind=AgreementKind(form.kind.data),
        purpose=form.purpose.data.strip(), signed_on=form.signed_on.data,
        effective_from=form.effective_from.data, expires_on=form.expires_on.data,
        reference=form.reference.data.strip()))
    flash(_("Kept: the paper %(reference)s of %(name)s.", reference=form.reference.data.strip(),
            name=registered.requester.display_name))
    return redirect(url_for("console.requesters"))


def _refused():
    return error_page(400, _("The form could not be accepted"), _(
        "Fill in every part of the form (at most 2,000 characters) and send it again."))
