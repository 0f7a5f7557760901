"""The custodian's review of the access log: search and filter, export, integrity.

Every search and export here is itself an entry of the log (the service writes it).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import Blueprint, Response, g, render_template, request, stream_with_context
from flask_babel import gettext as _
from wtforms import DateField, Form, IntegerField, SelectField, StringField
from wtforms.validators import AnyOf, Length, NumberRange, Optional

from audit.events import EventType
from gateway.policy.decision import Outcome
from gateway.portal.web import error_page, login_required, portal_blueprint, signed_in
from gateway.services import find
from gateway.services.access_log import LogFilter, Reader

bp = portal_blueprint(Blueprint("console_log", __name__, url_prefix="/console/log"))
EVENTS = [""] + [e.value for e in EventType]
DECISIONS = [""] + [o.value for o in Outcome]


class LogSearchForm(Form):
    """The query string of the search (a GET form: nothing changes, no CSRF token)."""

    sis_id = StringField(validators=[Optional(), Length(max=64)])
    event = SelectField(choices=EVENTS, validators=[Optional(), AnyOf(EVENTS)],
                        validate_choice=False)
    decision = SelectField(choices=DECISIONS, validators=[Optional(), AnyOf(DECISIONS)],
                           validate_choice=False)
    clause = StringField(validators=[Optional(), Length(max=100)])
    since = DateField(validators=[Optional()])
    until = DateField(validators=[Optional()])
    after = IntegerField(validators=[Optional(), NumberRange(min=0, max=2**62)])


def _search() -> tuple[LogSearchForm, LogFilter] | None:
    form = LogSearchForm(request.args)
    if not form.validate():
        return None
    zone = find().settings.zone

    def start_of(day: date | None) -> datetime | None:  # the district's days
        return datetime.combine(day, time(), zone) if day else None

    last_day = form.until.data
    return form, LogFilter(
        student_sis_id=(form.sis_id.data or "").strip() or None,
        event=form.event.data or None, decision=form.decision.data or None,
        clause=(form.clause.data or "").strip() or None, since=start_of(form.since.data),
        # "until" is the last day shown; the filter's bound is exclusive.
        until=start_of(last_day + timedelta(days=1)) if last_day else None)


def _refused():
    return error_page(400, _("The search could not be understood"), _(
        "Dates are written YYYY-MM-DD; the event and decision come from their lists."))


def _reader() -> Reader:
    return Reader(signed_in(), g.get("request_id", ""))


@bp.get("/")
@login_required
def search():
    parsed = _search()
    if parsed is None:
        return _refused()
    form, where = parsed
    services = find()
    page = services.access_log.search(_reader(), where, after=form.after.data, limit=100,
                                      newest_first=True)
    integrity = services.access_log.integrity(_reader())
    return render_template("portal/console_log.html",
                           account=services.portal.account(signed_in()), form=form,
                           entries=[e.as_dict() for e in page.entries],
                           next_after=page.next_after, integrity=integrity,
                           events=EVENTS, decisions=DECISIONS,
                           query=request.args.to_dict())


@bp.get("/export.csv")
@login_required
def export():
    parsed = _search()
    if parsed is None:
        return _refused()
    lines = find().access_log.export(_reader(), parsed[1], "csv")
    return Response(stream_with_context(lines), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="access-log.csv"',
        "Cache-Control": "no-store"})
