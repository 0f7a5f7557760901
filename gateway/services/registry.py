"""The register of requesters: who the gateway knows, in which AR 5125 category, and the
written agreements and certifications they have on file (custodian of records only).

Every read names its requester by the subject (or client id) of its token; a subject
nobody registered is refused. Parents and students are registered where someone checks
their tie to a student (``/guardians``, ``/login``); everyone else (school officials,
other schools, agencies, researchers, contractors, third parties) is registered here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gateway.policy.facts import OrganizationType, RequesterCategory
from gateway.services.base import DistrictService
from gateway.services.enrolment import (
    EnrolmentError,
    RelationshipConflict,
    Writer,
    commit_write,
    custodian_of_records,
)
from gateway.store import models
from gateway.store.uow import UnitOfWork

# Registered with the student they belong to, where the custodian verifies the tie.
FAMILY = frozenset({RequesterCategory.PARENT, RequesterCategory.STUDENT})
REGISTERED_HERE = tuple(c for c in RequesterCategory if c not in FAMILY)


class UnknownRequester(EnrolmentError):
    """No requester registered under that subject."""


class AgreementRefused(EnrolmentError):
    """The agreement's dates cannot be true (e.g. in force before it was signed)."""


@dataclass(frozen=True, slots=True)
class RequesterWrite:
    subject: str
    display_name: str
    category: RequesterCategory
    organization_type: OrganizationType | None = None
    volunteer: bool = False
    active: bool = True


@dataclass(frozen=True, slots=True)
class AgreementWrite:
    subject: str
    kind: models.AgreementKind
    purpose: str
    signed_on: date
    effective_from: date
    reference: str
    expires_on: date | None = None  # the last day in force; none: until withdrawn


@dataclass(frozen=True, slots=True)
class RegisteredRequester:
    requester: models.Requester
    agreements: tuple[models.Agreement, ...]
    created: bool = False


class RequesterRegistry(DistrictService):
    def put_requester(self, writer: Writer, write: RequesterWrite) -> RegisteredRequester:
        """Register the subject in its category, or update it; ``active=False`` stops its
        reads without forgetting who it was (the access log names it)."""
        with self._uow() as uow:
            custodian_of_records(uow, writer, "registers requesters")
            if write.category in FAMILY:
                raise RelationshipConflict("Parents and students are registered with their "
                                           "student: through /guardians and /login.")
            requester = uow.requesters.by_subject(writer.caller.issuer, write.subject)
            created = requester is None
            if requester is None:
                requester = uow.requesters.add(models.Requester(
                    issuer=writer.caller.issuer, subject=write.subject,
                    display_name=write.display_name, category=write.category))
            else:
                _not_family(requester)
            requester.display_name, requester.category = write.display_name, write.category
            requester.organization_type = write.organization_type
            requester.volunteer, requester.active = write.volunteer, write.active
            registered = _registered(uow, requester, created)
            commit_write(uow)
        return registered

    def requester(self, writer: Writer, subject: str) -> RegisteredRequester:
        with self._uow() as uow:
            uow.read_snapshot()
            custodian_of_records(uow, writer, "reads the register of requesters")
            return _registered(uow, _by_subject(uow, writer, subject))

    def register(self, writer: Writer) -> list[RegisteredRequester]:
        """Everyone registered but parents and students, active or not, by name."""
        with self._uow() as uow:
            uow.read_snapshot()
            custodian_of_records(uow, writer, "reads the register of requesters")
            return [_registered(uow, r) for r in uow.requesters.outside_family()]

    def set_active(self, writer: Writer, subject: str, active: bool) -> RegisteredRequester:
        """Stop a requester's reads (or let them resume); it stays in the register and the
        log."""
        with self._uow() as uow:
            custodian_of_records(uow, writer, "registers requesters")
            requester = _by_subject(uow, writer, subject)
            _not_family(requester)
            requester.active = active
            registered = _registered(uow, requester)
            commit_write(uow)
        return registered

    def parties(self, writer: Writer) -> list[models.Requester]:
        """The active parties outside the family and the custodian's office, by name:
        those a court order or subpoena may name."""
        with self._uow() as uow:
            uow.read_snapshot()
            custodian_of_records(uow, writer, "reads the register of requesters")
            return uow.requesters.organizations()

    def add_agreement(self, writer: Writer, write: AgreementWrite) -> RegisteredRequester:
        """Keep a written agreement or certification the requester signed (the papers some
        disclosures wait for: audits, research, county placing agencies, contractors,
        Ed Code 49076 certifications)."""
        if write.effective_from < write.signed_on:
            raise AgreementRefused("an agreement is not in force before it is signed")
        if write.expires_on is not None and write.expires_on < write.effective_from:
            raise AgreementRefused("an agreement does not expire before it is in force")
        if write.signed_on > self._today():
            raise AgreementRefused("an agreement is not signed on a day still to come")
        with self._uow() as uow:
            custodian_of_records(uow, writer, "keeps agreements and certifications")
            requester = _by_subject(uow, writer, write.subject)
            uow.agreements.add(models.Agreement(
                requester_id=requester.id, kind=write.kind, purpose=write.purpose,
                signed_on=write.signed_on, effective_from=write.effective_from,
                expires_on=write.expires_on, reference=write.reference))
            registered = _registered(uow, requester)
            commit_write(uow)
        return registered


def _not_family(requester: models.Requester) -> None:
    if requester.category in FAMILY:
        raise RelationshipConflict("That subject is registered as a parent or student; its "
                                   "tie to the student decides what it reads.")


def _by_subject(uow: UnitOfWork, writer: Writer, subject: str) -> models.Requester:
    requester = uow.requesters.by_subject(writer.caller.issuer, subject)
    if requester is None:
        raise UnknownRequester("no requester registered under that subject")
    return requester


def _registered(uow: UnitOfWork, requester: models.Requester,
                created: bool = False) -> RegisteredRequester:
    return RegisteredRequester(requester, tuple(uow.agreements.of_requester(requester.id)),
                               created)
