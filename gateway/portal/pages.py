"""The parents' pages: the welcome page, the annual notice of rights, their students."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for

from gateway.portal import i18n
from gateway.portal.forms import LanguageForm
from gateway.portal.web import local_path, login_required, portal_blueprint, signed_in
from gateway.services import find
from gateway.services.access import AccessError

bp = portal_blueprint(Blueprint("portal", __name__, static_folder="static",
                               static_url_path="/portal/static", template_folder="templates"))


@bp.get("/")
def home():
    caller = signed_in()
    account = find().portal.account(caller) if caller else None
    return render_template("portal/home.html", account=account)


@bp.get("/notice")
def notice():
    """The annual notice of rights (Ed Code 49063; 34 CFR 99.7)."""
    caller = signed_in()
    account = find().portal.account(caller) if caller else None
    return render_template("portal/notice.html", account=account)


@bp.get("/students")
@login_required
def students():
    caller = signed_in()
    portal = find().portal
    account = portal.account(caller)
    return render_template("portal/students.html", account=account,
                           standings=portal.my_students(caller))


@bp.post("/language")
def language():
    """The person's own choice of language, kept for the session (over the browser's)."""
    form = LanguageForm()
    if form.validate_on_submit():
        session[i18n.SESSION_KEY] = form.language.data
        caller = signed_in()
        if caller is not None:
            try:  # kept on the account too, for the next sign-in
                find().portal.remember_language(caller, form.language.data)
            except AccessError:  # signed in but not registered: the session keeps it
                pass
    return redirect(local_path(request.form.get("next")) or url_for("portal.home"))
