"""A parent's written consents: give one to a named party, see them, revoke one."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import format_date
from flask_babel import gettext as _

from gateway.policy.facts import RecordType
from gateway.portal.forms import ConsentForm
from gateway.portal.web import error_page, login_required, portal_blueprint, signed_in
from gateway.services import find

bp = portal_blueprint(Blueprint("consents", __name__))


@bp.get("/consents")
@login_required
def mine():
    caller = signed_in()
    services = find()
    standings = [s for s in services.portal.my_students(caller) if s.may_access]
    return render_template("portal/consents.html", account=services.portal.account(caller),
                           consents=services.consents.mine(caller), students=standings,
                           recipients=services.consents.recipients(),
                           record_types=[t.value for t in RecordType])


@bp.post("/consents")
@login_required
def give():
    form = ConsentForm()
    if not form.validate_on_submit():
        return error_page(400, _("The form could not be accepted"), _(
            "Choose the student and the recipient, state the purpose, type your name to sign "
            "and tick the box, then send the consent again."))
    records = frozenset(RecordType(r) for r in form.records.data) or None
    given = find().consents.give(
        signed_in(), form.student.data, recipient_id=uuid.UUID(form.recipient.data),
        purpose=form.purpose.data, records=records, signature=form.signature.data)
    flash(_("Your consent for %(recipient)s is signed and dated %(day)s.",
            recipient=given.recipient, day=given.signed_on.isoformat()))
    return redirect(url_for("consents.mine"))


@bp.post("/consents/<uuid:consent_id>/revoke")
@login_required
def revoke(consent_id):
    revoked = find().consents.revoke(signed_in(), consent_id)
    flash(_("Your consent for %(recipient)s is revoked.", recipient=revoked.recipient))
    return redirect(url_for("consents.mine"))


@bp.post("/consents/<uuid:consent_id>/copy")
@login_required
def copy_of_disclosed(consent_id):
    """A copy of what was disclosed under the consent (34 CFR 99.30(d))."""
    made = find().records_requests.ask_for_what_was_disclosed(signed_in(), consent_id)
    flash(_("Your request was received. The district will answer it by %(due)s.",
            due=format_date(made.due_on, "long")))
    return redirect(url_for("requests.mine"))
