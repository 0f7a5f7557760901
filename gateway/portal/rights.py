"""A parent's rights over the records themselves: see what is on file, challenge a record
or answer it in writing (Ed Code 49070), restrict directory information (Ed Code 49073);
and the custodian's queue of challenges to decide."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from gateway.portal.forms import (
    ChallengeDecisionForm,
    ChallengeForm,
    DirectoryForm,
    WrittenResponseForm,
)
from gateway.portal.web import error_page, login_required, portal_blueprint, signed_in
from gateway.records_requests.challenges import ChallengeGround
from gateway.services import find

bp = portal_blueprint(Blueprint("rights", __name__))


def _form_refused():
    return error_page(400, _("The form could not be accepted"), _(
        "Fill in every part of the form (at most 4,000 characters) and send it again."))


@bp.get("/students/<string:sis_id>/records")
@login_required
def records(sis_id: str):
    caller = signed_in()
    services = find()
    return render_template(
        "portal/records.html", account=services.portal.account(caller), sis_id=sis_id,
        records=services.challenges.records_of(caller, sis_id),
        challenges=services.challenges.challenges_of(caller, sis_id),
        grounds=[g.value for g in ChallengeGround])


@bp.post("/students/<string:sis_id>/records/<uuid:record_id>/challenge")
@login_required
def challenge(sis_id: str, record_id):
    form = ChallengeForm()
    if not form.validate_on_submit():
        return _form_refused()
    filed = find().challenges.challenge(signed_in(), sis_id, record_id, form.grounds.data,
                                        form.statement.data)
    flash(_("Your challenge was filed. The district will decide it by %(day)s.",
            day=filed.decide_by.isoformat()))
    return redirect(url_for("rights.records", sis_id=sis_id))


@bp.post("/students/<string:sis_id>/records/<uuid:record_id>/response")
@login_required
def respond(sis_id: str, record_id):
    form = WrittenResponseForm()
    if not form.validate_on_submit():
        return _form_refused()
    find().challenges.respond(signed_in(), sis_id, record_id, form.response.data)
    flash(_("Your written response was filed with the student's records."))
    return redirect(url_for("rights.records", sis_id=sis_id))


@bp.post("/students/<string:sis_id>/directory")
@login_required
def directory(sis_id: str):
    form = DirectoryForm()
    if not form.validate_on_submit():
        return _form_refused()
    restricted = find().portal.restrict_directory_information(
        signed_in(), sis_id, form.restricted.data == "yes")
    flash(_("Directory information of student %(sis_id)s will not be released.",
            sis_id=sis_id) if restricted else
          _("Directory information of student %(sis_id)s may be released.", sis_id=sis_id))
    return redirect(url_for("portal.students"))


@bp.get("/console/challenges")
@login_required
def queue():
    caller = signed_in()
    services = find()
    return render_template("portal/console_challenges.html",
                           account=services.portal.account(caller),
                           challenges=services.challenges.queue(caller))


@bp.post("/console/challenges/<uuid:challenge_id>/decide")
@login_required
def decide(challenge_id):
    form = ChallengeDecisionForm()
    if not form.validate_on_submit():
        return _form_refused()
    decided = find().challenges.decide(signed_in(), challenge_id,
                                       sustained=form.outcome.data == "sustained",
                                       note=form.note.data)
    flash(_("Decided: the challenge for student %(sis_id)s.", sis_id=decided.sis_id))
    return redirect(url_for("rights.queue"))
