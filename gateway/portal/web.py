"""What the portal's views share: the signed-in person, and error pages in HTML.

Errors in the portal are pages a parent can read, in their language, never problem
details or a traceback; nothing about a student is in them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from gateway.portal.reasons import in_readers_language
from gateway.portal.security import add_page_headers
from gateway.services import enrolment, find, registry
from gateway.services.access import (
    Caller,
    DisclosureNotRecorded,
    NoVerifiedRelationship,
    UnknownStudentOrRecord,
    UnregisteredRequester,
)
from gateway.services.access_log import (
    NoSuchEntry,
    NotTheCustodian,
    NotYetCheckpointed,
    UnknownStudent,
    ViewNotRecorded,
)
from gateway.services.challenges import (
    ChallengeAlreadyDecided,
    ChallengeRefused,
    UnknownChallenge,
)
from gateway.services.consents import ConsentRefused, UnknownConsent, UnknownRecipient
from gateway.services.copies_pdf import CopiesUnavailable
from gateway.services.portal import (
    AlreadyVerified,
    DirectoryChoiceRefused,
    NotACustodian,
    UnknownDuty,
    UnknownGuardianship,
)
from gateway.services.records_requests import (
    NoCopiesToDownload,
    RequestAlreadyDecided,
    RequestRefused,
    UnknownRequest,
)
from gateway.services.retention import RetentionError

log = structlog.get_logger("gateway.portal")
PERSON_KEY = "person"

F = TypeVar("F", bound=Callable[..., Any])


def signed_in() -> Caller | None:
    """Who this session is, unless the person has signed out since it began (anywhere:
    the session lives in a signed cookie, and a copy of it would otherwise outlive the
    sign-out)."""
    person = session.get(PERSON_KEY)
    if not isinstance(person, dict) or not person.get("iss") or not person.get("sub"):
        return None
    key = (person["iss"], person["sub"], person.get("at"))
    known = g.get("signed_in")
    if known is not None and known[0] == key:
        return known[1]
    caller: Caller | None = Caller(issuer=person["iss"], subject=person["sub"])
    out = find().portal.signed_out_at(caller)
    began = person.get("at")
    if out is not None and not (isinstance(began, (int, float)) and began > out.timestamp()):
        caller = None
    g.signed_in = (key, caller)
    return caller


def begin_session(caller: Caller) -> None:
    """The signed-in person, and when the session began (see signed_in)."""
    session[PERSON_KEY] = {"iss": caller.issuer, "sub": caller.subject,
                           "at": find().clock().timestamp()}


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: never an open redirect. Only
    printable characters other than a backslash: a browser drops a tab or a line break
    and reads a backslash as a slash, so "/\t/evil.example" would be "//evil.example"."""
    if (target and target.startswith("/") and not target.startswith("//")
            and all(" " < c != "\\" for c in target) and "\x7f" not in target):
        return target
    return None


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if signed_in() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def error_page(status: int, title: str, message: str):
    return render_template("portal/error.html", title=title, message=message,
                           status=status), status


def portal_blueprint(bp: Blueprint) -> Blueprint:
    """Every portal blueprint: forms checked for their CSRF token, the page headers, and
    errors as pages."""
    bp.before_request(_check_form)
    bp.after_request(add_page_headers)
    _register_error_pages(bp)
    return bp


def _check_form() -> None:
    if request.method == "POST":
        current_app.extensions["csrf"].protect()


def _register_error_pages(bp: Blueprint) -> None:
    @bp.errorhandler(CSRFError)
    def csrf_refused(_exc: CSRFError):
        return error_page(400, _("The form could not be accepted"), _(
            "The form had expired or did not come from this site, so nothing was changed. "
            "Go back, reload the page and try again."))

    @bp.errorhandler(UnregisteredRequester)
    def unregistered(_exc: UnregisteredRequester):
        return error_page(403, _("Your account is not registered"), _(
            "You signed in, but the district has not registered your account with the "
            "student records service yet. Ask the custodian of records at your school to "
            "register you and verify your relationship to your student."))

    @bp.errorhandler(NotACustodian)
    @bp.errorhandler(NotTheCustodian)
    def not_custodian(_exc: Exception):
        return error_page(403, _("For the custodian of records only"), _(
            "This page is for the district's custodian of records."))

    @bp.errorhandler(UnknownGuardianship)
    def unknown(_exc: UnknownGuardianship):
        return error_page(404, _("Not found"), _("There is no such relationship."))

    @bp.errorhandler(AlreadyVerified)
    def already(_exc: AlreadyVerified):
        return error_page(409, _("Already verified"), _(
            "Another custodian has verified this relationship already; nothing was changed."))

    @bp.errorhandler(NoVerifiedRelationship)
    def no_relationship(_exc: NoVerifiedRelationship):
        return error_page(403, _("Your relationship is not verified"), _(
            "The custodian of records has not verified your relationship to this student, "
            "so nothing can be asked or shown yet."))

    @bp.errorhandler(RequestRefused)
    def refused(exc: RequestRefused):
        return error_page(403, _("The records cannot be given to you"), _(
            "Under the district's rules the records cannot be given to you: %(reason)s "
            "(%(basis)s)", reason=in_readers_language(exc.decision.reason),
            basis="; ".join(exc.decision.citations)))

    @bp.errorhandler(ChallengeRefused)
    def challenge_refused(exc: ChallengeRefused):
        return error_page(403, _("Not for you to do"), _(
            "Under the district's rules you cannot do this for this student: %(reason)s "
            "(%(basis)s)", reason=in_readers_language(exc.decision.reason),
            basis="; ".join(exc.decision.citations)))

    @bp.errorhandler(DirectoryChoiceRefused)
    def directory_refused(exc: DirectoryChoiceRefused):
        return error_page(403, _("Not for you to do"), _(
            "You cannot change this for this student: %(reason)s",
            reason=in_readers_language(str(exc))))

    @bp.errorhandler(ChallengeAlreadyDecided)
    def challenge_decided(_exc: ChallengeAlreadyDecided):
        return error_page(409, _("Already answered"), _(
            "This challenge was decided already; nothing was changed."))

    @bp.errorhandler(NotYetCheckpointed)
    def not_yet(_exc: NotYetCheckpointed):
        return error_page(409, _("Please try again"), _(
            "The district's log has not yet signed a checkpoint that covers this entry. "
            "Try again in a minute."))

    @bp.errorhandler(ViewNotRecorded)
    def view_not_recorded(_exc: ViewNotRecorded):
        log.warning("log_view_not_recorded")
        return error_page(503, _("Please try again"), _(
            "Your reading of the log could not be recorded right now, so nothing is shown."))

    @bp.errorhandler(RetentionError)
    def retention_refused(exc: RetentionError):
        return error_page(409, _("Nothing was changed"), str(exc))

    @bp.errorhandler(ConsentRefused)
    def consent_refused(exc: ConsentRefused):
        return error_page(403, _("This consent cannot be given"), _(
            "The consent was not recorded: %(reason)s.",
            reason=in_readers_language(exc.reason)))

    @bp.errorhandler(enrolment.CustodianOnly)
    @bp.errorhandler(enrolment.NotARecordKeeper)
    def custodian_only(_exc: Exception):
        return error_page(403, _("Custodian of records only"), _(
            "Only the custodian of records does this (5 CCR 433)."))

    @bp.errorhandler(enrolment.JudicialOrderRefused)
    def order_refused(_exc: enrolment.JudicialOrderRefused):
        return error_page(409, _("Nothing was changed"), _(
            "The order cannot be as given: a day it names is still to come, or it would be "
            "withdrawn before it was served."))

    @bp.errorhandler(enrolment.EmergencyRefused)
    def emergency_refused(_exc: enrolment.EmergencyRefused):
        return error_page(409, _("Nothing was changed"), _(
            "An emergency stands from today: its last day cannot be one already past."))

    @bp.errorhandler(registry.AgreementRefused)
    def agreement_refused(_exc: registry.AgreementRefused):
        return error_page(409, _("Nothing was changed"), _(
            "The agreement's days cannot be as given: it is signed, then in force, then "
            "expires, and none of it is signed on a day still to come."))

    @bp.errorhandler(enrolment.RelationshipConflict)
    def family_here(_exc: enrolment.RelationshipConflict):
        return error_page(409, _("Nothing was changed"), _(
            "That account is a parent's or a student's: it is registered with the student, "
            "where you verify the relationship."))

    @bp.errorhandler(registry.UnknownRequester)
    @bp.errorhandler(enrolment.UnknownStudent)
    @bp.errorhandler(enrolment.UnknownRecipient)
    @bp.errorhandler(enrolment.UnknownJudicialOrder)
    @bp.errorhandler(UnknownStudentOrRecord)
    @bp.errorhandler(UnknownRequest)
    @bp.errorhandler(UnknownConsent)
    @bp.errorhandler(UnknownDuty)
    @bp.errorhandler(UnknownChallenge)
    @bp.errorhandler(UnknownStudent)
    @bp.errorhandler(NoSuchEntry)
    @bp.errorhandler(UnknownRecipient)
    def no_such(_exc: Exception):
        return error_page(404, _("Not found"), _(
            "There is no such student, record, request, consent, challenge, recipient or duty."))

    @bp.errorhandler(RequestAlreadyDecided)
    def decided(_exc: RequestAlreadyDecided):
        return error_page(409, _("Already answered"), _(
            "This request was fulfilled or denied already; nothing was changed."))

    @bp.errorhandler(NoCopiesToDownload)
    def not_ready(_exc: NoCopiesToDownload):
        return error_page(409, _("No copies to download"), _(
            "These copies are not ready: the custodian of records has not fulfilled the "
            "request, or it was a request to inspect the records in person."))

    @bp.errorhandler(DisclosureNotRecorded)
    @bp.errorhandler(CopiesUnavailable)
    def not_recorded(_exc: Exception):
        log.warning("copies_unavailable")
        return error_page(503, _("Please try again"), _(
            "The copies could not be made and recorded right now, so nothing was given out."))

    @bp.errorhandler(OperationalError)
    def database_down(_exc: OperationalError):
        log.warning("database_unavailable")
        return error_page(503, _("Please try again"), _(
            "The records service cannot reach its database right now; nothing was changed."))

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return error_page(exc.code or 500, exc.name, exc.description or "")

    @bp.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.error("unhandled_error", error=type(exc).__name__)  # no message: it may hold data
        return error_page(500, _("Something went wrong"), _(
            "The page could not be shown; nothing was changed."))
