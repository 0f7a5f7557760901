"""The portal's forms (Flask-WTF): each is checked for the session's CSRF token. The
templates write their inputs out by hand, so that every id on a page stays unique."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import UUID, AnyOf, InputRequired, Length, Optional

from gateway.policy.facts import OrganizationType, RecordType
from gateway.portal.i18n import LANGUAGES
from gateway.records_requests.challenges import ChallengeGround
from gateway.records_requests.fees import RequestKind
from gateway.retention.schedule import HoldKind
from gateway.services.registry import REGISTERED_HERE
from gateway.store.models import AgreementKind, JudicialOrderKind


class LanguageForm(FlaskForm):
    language = HiddenField(validators=[InputRequired(), AnyOf(list(LANGUAGES))])


class VerifyForm(FlaskForm):
    """What the custodian found in the papers (Ed Code 49061; Family Code 3025)."""

    legal_custody = HiddenField(validators=[InputRequired(), AnyOf(["yes", "no"])])
    access_revoked_by_court = BooleanField()


class RecordsRequestForm(FlaskForm):
    """A parent's request to inspect or copy records (Ed Code 49069)."""

    kind = HiddenField(validators=[InputRequired(), AnyOf([k.value for k in RequestKind])])
    note = TextAreaField(validators=[Optional(), Length(max=2000)])


class FulfilForm(FlaskForm):
    note = TextAreaField(validators=[Optional(), Length(max=2000)])


class DenyForm(FlaskForm):
    reason = TextAreaField(validators=[InputRequired(), Length(min=3, max=2000)])


class ConsentForm(FlaskForm):
    """A written consent to release records to a named party (34 CFR 99.30)."""

    student = HiddenField(validators=[InputRequired(), Length(max=64)])
    recipient = HiddenField(validators=[InputRequired(), UUID()])
    purpose = TextAreaField(validators=[InputRequired(), Length(min=3, max=1000)])
    records = SelectMultipleField(choices=[t.value for t in RecordType],
                                  validate_choice=True)
    signature = StringField(validators=[InputRequired(), Length(max=200)])
    i_sign = BooleanField(validators=[InputRequired()])


class ChallengeForm(FlaskForm):
    """Ed Code 49070(a): the grounds, and the parent's statement."""

    grounds = SelectMultipleField(choices=[g.value for g in ChallengeGround],
                                  validate_choice=True, validators=[InputRequired()])
    statement = TextAreaField(validators=[InputRequired(), Length(min=3, max=4000)])


class WrittenResponseForm(FlaskForm):
    response = TextAreaField(validators=[InputRequired(), Length(min=3, max=4000)])


class DirectoryForm(FlaskForm):
    restricted = HiddenField(validators=[InputRequired(), AnyOf(["yes", "no"])])


class ChallengeDecisionForm(FlaskForm):
    outcome = HiddenField(validators=[InputRequired(), AnyOf(["sustained", "denied"])])
    note = TextAreaField(validators=[InputRequired(), Length(min=3, max=4000)])


class PlanReviewForm(FlaskForm):
    decision = HiddenField(validators=[InputRequired(), AnyOf(["approve", "reject"])])
    note = TextAreaField(validators=[Optional(), Length(max=2000)])


class HoldForm(FlaskForm):
    """A hold stops destruction of a student's records (5 CCR 437)."""

    kind = HiddenField(validators=[InputRequired(), AnyOf([k.value for k in HoldKind])])
    sis_id = StringField(validators=[InputRequired(), Length(max=64)])
    owner = StringField(validators=[InputRequired(), Length(max=200)])
    reason = TextAreaField(validators=[InputRequired(), Length(min=3, max=2000)])


class ReleaseHoldForm(FlaskForm):
    reason = TextAreaField(validators=[InputRequired(), Length(min=3, max=2000)])


class JudicialOrderForm(FlaskForm):
    """A court order or subpoena served for a student's records (Ed Code 49077)."""

    kind = HiddenField(validators=[InputRequired(),
                                   AnyOf([k.value for k in JudicialOrderKind])])
    sis_id = StringField(validators=[InputRequired(), Length(max=64)])
    recipient = StringField(validators=[InputRequired(), Length(max=255)])
    reference = StringField(validators=[InputRequired(), Length(min=3, max=200)])
    served_on = DateField(validators=[InputRequired()])
    records = SelectMultipleField(choices=[t.value for t in RecordType],
                                  validate_choice=True)  # none chosen: every record
    court_instructs_no_notice = BooleanField()
    parent_notified_on = DateField(validators=[Optional()])


class OrderDayForm(FlaskForm):
    """The day the parent was told of an order, or the day it was quashed or withdrawn."""

    day = DateField(validators=[InputRequired()])


class RequesterForm(FlaskForm):
    """Register a subject at the district's provider in its AR 5125 category."""

    subject = StringField(validators=[InputRequired(), Length(max=255)])
    display_name = StringField(validators=[InputRequired(), Length(max=200)])
    category = HiddenField(validators=[InputRequired(),
                                       AnyOf([c.value for c in REGISTERED_HERE])])
    organization_type = HiddenField(validators=[
        Optional(), AnyOf(["", *(o.value for o in OrganizationType)])])
    volunteer = BooleanField()


class ActiveForm(FlaskForm):
    subject = HiddenField(validators=[InputRequired(), Length(max=255)])
    active = HiddenField(validators=[InputRequired(), AnyOf(["yes", "no"])])


class AgreementForm(FlaskForm):
    """A written agreement or certification the requester signed."""

    subject = HiddenField(validators=[InputRequired(), Length(max=255)])
    kind = HiddenField(validators=[InputRequired(), AnyOf([k.value for k in AgreementKind])])
    purpose = TextAreaField(validators=[InputRequired(), Length(min=3, max=2000)])
    reference = StringField(validators=[InputRequired(), Length(max=200)])
    signed_on = DateField(validators=[InputRequired()])
    effective_from = DateField(validators=[InputRequired()])
    expires_on = DateField(validators=[Optional()])


class EmergencyForm(FlaskForm):
    """The district's determination of an emergency (34 CFR 99.36)."""

    sis_id = StringField(validators=[InputRequired(), Length(max=64)])
    recipient = StringField(validators=[InputRequired(), Length(max=255)])
    threat = TextAreaField(validators=[InputRequired(), Length(min=3, max=2000)])
    ends_on = DateField(validators=[InputRequired()])
