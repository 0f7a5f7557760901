"""The portal's forms (Flask-WTF): each is checked for the session's CSRF token. The
templates write their inputs out by hand, so that every id on a page stays unique."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField
from wtforms.validators import AnyOf, InputRequired

from gateway.portal.i18n import LANGUAGES


class LanguageForm(FlaskForm):
    language = HiddenField(validators=[InputRequired(), AnyOf(list(LANGUAGES))])


class VerifyForm(FlaskForm):
    """What the custodian found in the papers (Ed Code 49061; Family Code 3025)."""

    legal_custody = HiddenField(validators=[InputRequired(), AnyOf(["yes", "no"])])
    access_revoked_by_court = BooleanField()
