"""What the engine answers: a Decision is a value, a denial included."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.StrEnum):
    PERMIT = "permit"
    DENY = "deny"
    # The regulation allows the disclosure, but a step it names has not happened yet.
    PENDING = "pending"


class Obligation(enum.StrEnum):
    """Duties a disclosure brings to the district."""

    NOTIFY_PARENT_3_DAYS_BEFORE_DISCLOSURE = "notify_parent_3_days_before_disclosure"
    NOTIFY_PARENT_WITHIN_24_HOURS = "notify_parent_within_24_hours"
    NOTIFY_PARENT_OFFER_COPY_AND_HEARING = "notify_parent_offer_copy_and_hearing"
    NOTIFY_PARENT_OF_RIGHTS_BEFORE_RELEASE = "notify_parent_of_rights_before_release"
    RECORD_EMERGENCY_BASIS = "record_emergency_basis"
    FILE_CONSENT_WITH_RECORD = "file_consent_with_record"
    NO_REDISCLOSURE = "no_redisclosure"

    @property
    def description(self) -> str:
        return _OBLIGATION_TEXT[self]


_OBLIGATION_TEXT = {
    Obligation.NOTIFY_PARENT_3_DAYS_BEFORE_DISCLOSURE: (
        "give the parent or adult student at least three days' notice of the requesting "
        "party and the records before disclosing (Ed Code 49077; 5 CCR 435)"
    ),
    Obligation.NOTIFY_PARENT_WITHIN_24_HOURS: (
        "inform the parent within 24 hours of releasing to the judge or probation officer "
        "(Ed Code 49076)"
    ),
    Obligation.NOTIFY_PARENT_OFFER_COPY_AND_HEARING: (
        "try to notify the parent or adult student at the last known address, offer a copy "
        "of what was disclosed and a hearing to challenge it (34 CFR 99.34)"
    ),
    Obligation.NOTIFY_PARENT_OF_RIGHTS_BEFORE_RELEASE: (
        "tell the parent of their rights before releasing to the immunization registry "
        "(Health and Safety Code 120440)"
    ),
    Obligation.RECORD_EMERGENCY_BASIS: (
        "record the threat that justified the disclosure and who received it "
        "(Ed Code 49076; 34 CFR 99.32)"
    ),
    Obligation.FILE_CONSENT_WITH_RECORD: "file the written consent with the record (Ed Code 49075)",
    Obligation.NO_REDISCLOSURE: (
        "tell the recipient it may not pass the information on without written consent "
        "(Ed Code 49076; 34 CFR 99.33)"
    ),
}


class Requirement(enum.StrEnum):
    """What a pending decision still waits for."""

    WRITTEN_AGREEMENT = "written_agreement"
    WRITTEN_CERTIFICATION = "written_certification"
    PARENT_NOTICE_3_DAYS = "parent_notice_3_days"

    @property
    def description(self) -> str:
        return _REQUIREMENT_TEXT[self]


_REQUIREMENT_TEXT = {
    Requirement.WRITTEN_AGREEMENT: "a written agreement with the district on file",
    Requirement.WRITTEN_CERTIFICATION: "the recipient's written certification on file",
    Requirement.PARENT_NOTICE_3_DAYS: "three days since the parent or adult student was notified",
}


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    clause: str  # id of the policy pack clause the decision rests on
    citations: tuple[str, ...]
    reason: str
    obligations: tuple[Obligation, ...] = ()
    requires: tuple[Requirement, ...] = ()
    # Ed Code 49064: does the student's access log need an entry for this request?
    log_required: bool = False

    @property
    def discloses(self) -> bool:
        """Only a permit lets anything leave; deny and pending disclose nothing."""
        return self.outcome is Outcome.PERMIT

    def as_dict(self) -> dict[str, object]:
        return {
            "decision": self.outcome.value,
            "clause": self.clause,
            "citations": list(self.citations),
            "obligations": [o.value for o in self.obligations],
            "requires": [r.value for r in self.requires],
            "log_required": self.log_required,
            "reason": self.reason,
        }
