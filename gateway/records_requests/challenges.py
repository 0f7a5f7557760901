"""Challenging a record (Ed Code 49070; AR 5125.3): the grounds the law gives and the
time the district has to answer. Pure."""

from __future__ import annotations

import enum
from datetime import date, timedelta

DAYS_TO_DECIDE = 30  # Ed Code 49070(b): the Superintendent meets and decides within 30 days


class ChallengeGround(enum.StrEnum):
    """Ed Code 49070(a): why a record should be corrected or removed."""

    INACCURATE = "inaccurate"
    UNSUBSTANTIATED_CONCLUSION = "unsubstantiated_conclusion"
    OUTSIDE_COMPETENCE = "outside_competence"
    NOT_PERSONAL_OBSERVATION = "not_personal_observation"
    MISLEADING = "misleading"
    VIOLATES_PRIVACY = "violates_privacy"


class ChallengeStatus(enum.StrEnum):
    OPEN = "open"
    SUSTAINED = "sustained"  # the record is to be corrected or removed
    DENIED = "denied"  # the parent may appeal to the board and file a written response


def decide_by(filed_on: date) -> date:
    return filed_on + timedelta(days=DAYS_TO_DECIDE)
