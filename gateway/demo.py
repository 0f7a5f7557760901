"""Sample data for the embedded default: a few students, their records, and requesters
matching the development OpenID provider's clients and users (deploy/dev-idp).

Idempotent: running it again adds nothing that is already there. Run for another issuer
(the provider on another port), it moves the sample logins to that issuer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from gateway.policy.facts import (
    ConsentGiver,
    OrganizationType,
    ParentType,
    RecordType,
    RequesterCategory,
    StudentStatus,
)
from gateway.store import models
from gateway.store.uow import UnitOfWork

Cat = RequesterCategory

# (subject at the development provider, category, display name, organization type)
REQUESTERS = [
    ("sis-aeries", Cat.SCHOOL_OFFICIAL, "Aeries SIS integration", None),
    ("sis-powerschool", Cat.SCHOOL_OFFICIAL, "PowerSchool SIS integration", None),
    ("research-edpolicy-lab", Cat.RESEARCH_ORGANIZATION, "EdPolicy Research Lab",
     OrganizationType.NONPROFIT),
    ("custodian.garcia", Cat.CUSTODIAN, "Elena Garcia, custodian of records", None),
    ("teacher.nguyen", Cat.SCHOOL_OFFICIAL, "Minh Nguyen, teacher", None),
    ("parent.johnson", Cat.PARENT, "Dana Johnson", None),
    ("parent.okafor", Cat.PARENT, "Chidi Okafor", None),
    ("parent.rivera", Cat.PARENT, "Sofía Rivera", None),
]

STUDENTS = [
    ("SIS-1001", {"birth_date": date(2014, 1, 21), "grade_completed": 6}),
    ("SIS-1002", {"birth_date": date(2009, 5, 2), "grade_completed": 11}),
    ("SIS-1003", {"birth_date": date(2006, 8, 14), "grade_completed": 12,
                  "status": StudentStatus.GRADUATED, "program_completed_on": date(2024, 6, 7)}),
]

RECORDS = [
    ("SIS-1001", RecordType.COURSES_AND_MARKS,
     {"2024-25": {"English 6": "A-", "Math 6": "B+", "Science 6": "A"}}),
    ("SIS-1001", RecordType.HEALTH, {"screening": "vision and hearing passed", "year": 2024}),
    ("SIS-1001", RecordType.STANDARDIZED_TEST, {"CAASPP ELA": 2561, "CAASPP Math": 2540}),
    ("SIS-1002", RecordType.COURSES_AND_MARKS,
     {"2024-25": {"English 11": "B", "US History": "A", "Chemistry": "B+"}}),
    ("SIS-1002", RecordType.DISCIPLINARY_NOTICE, {"date": "2025-02-11", "kind": "tardiness"}),
    ("SIS-1003", RecordType.GRADUATION_DATE, {"graduated_on": "2024-06-07"}),
]


@dataclass(frozen=True)
class Seeded:
    records: list[tuple[str, str, str]]  # (SIS id, record type, record id)


# The graduate's own login (_portal_samples).
GRADUATE_LOGIN = "student.johnson"


def seed(uow: UnitOfWork, issuer: str) -> Seeded:
    _move_logins(uow, issuer)
    requesters = {}
    for subject, category, name, organization in REQUESTERS:
        requester = uow.requesters.by_subject(issuer, subject) or uow.requesters.add(
            models.Requester(issuer=issuer, subject=subject, display_name=name,
                             category=category, organization_type=organization))
        requesters[subject] = requester
    students = {}
    for sis_id, facts in STUDENTS:
        students[sis_id] = uow.students.by_sis_id(sis_id) or uow.students.add(
            models.Student(sis_id=sis_id, **facts))
    custodian = requesters["custodian.garcia"]
    maya = students["SIS-1001"]
    if not uow.guardianships.of_student(maya.id):
        now = models.utc_now()
        for subject, custody in (("parent.johnson", True), ("parent.okafor", False)):
            uow.guardianships.add(models.Guardianship(
                parent_id=requesters[subject].id, student_id=maya.id,
                parent_type=ParentType.NATURAL, legal_custody=custody,
                verified_by_id=custodian.id, verified_at=now))
        uow.agreements.add(models.Agreement(
            requester_id=requesters["research-edpolicy-lab"].id,
            kind=models.AgreementKind.WRITTEN_AGREEMENT,
            purpose="study of grade 6 literacy interventions", signed_on=date(2025, 8, 1),
            effective_from=date(2025, 8, 1), expires_on=date(2027, 6, 30),
            reference="RA-2025-014"))
        uow.consents.add(models.Consent(
            student_id=maya.id, given_by_id=requesters["parent.johnson"].id,
            giver_role=ConsentGiver.CUSTODIAL_PARENT, signed=True,
            signed_on=date(2025, 9, 15), records=frozenset({RecordType.COURSES_AND_MARKS}),
            purpose="tutoring placement", recipient="Bright Path Tutoring"))
    _portal_samples(uow, requesters, students, custodian)
    seeded = []
    for sis_id, record_type, content in RECORDS:
        student = students[sis_id]
        existing = [r for r in uow.records.of_student(student.id)
                    if r.record_type is record_type]
        record = existing[0] if existing else uow.records.add(
            student_id=student.id, record_type=record_type,
            content=json.dumps(content).encode(), media_type="application/json",
            school_year_of_origin=2024, originator="Shasta Union Elementary",
            originated_on=date(2025, 6, 6), signed_by_originator=True)
        seeded.append((sis_id, record_type.value, str(record.id)))
    uow.commit()
    return Seeded(records=seeded)


def _portal_samples(uow: UnitOfWork, requesters: dict[str, models.Requester],
                    students: dict[str, models.Student], custodian: models.Requester) -> None:
    """For the portal and console: Dana Johnson is also the parent of a graduate over 18
    (the rights have passed to the student, who signs in as student.johnson), and Sofía
    Rivera waits for the custodian to verify her as the parent of SIS-1002."""
    johnson, rivera = requesters["parent.johnson"], requesters["parent.rivera"]
    graduate, junior = students["SIS-1003"], students["SIS-1002"]
    if uow.guardianships.find(johnson.id, graduate.id) is None:
        uow.guardianships.add(models.Guardianship(
            parent_id=johnson.id, student_id=graduate.id, parent_type=ParentType.NATURAL,
            verified_by_id=custodian.id, verified_at=models.utc_now()))
    if uow.guardianships.find(rivera.id, junior.id) is None:
        uow.guardianships.add(models.Guardianship(
            parent_id=rivera.id, student_id=junior.id, parent_type=ParentType.NATURAL))
    # The graduate's own login: the rights to SIS-1003's records are now the student's.
    issuer = custodian.issuer
    if uow.requesters.by_subject(issuer, GRADUATE_LOGIN) is None:
        uow.requesters.add(models.Requester(
            issuer=issuer, subject=GRADUATE_LOGIN, display_name="Riley Johnson",
            category=Cat.STUDENT, student_id=graduate.id))


def _move_logins(uow: UnitOfWork, issuer: str) -> None:
    """If an earlier seed was for another issuer, its sample logins become this issuer's,
    with the guardianships and consents that name them. Seeding them beside the old ones
    would give SIS-1003 a second login, which the database refuses."""
    graduate = uow.students.by_sis_id("SIS-1003")
    login = uow.requesters.of_student(graduate.id) if graduate is not None else None
    if login is None or login.subject != GRADUATE_LOGIN or login.issuer == issuer:
        return
    earlier = login.issuer
    for subject in [GRADUATE_LOGIN, *(subject for subject, *_ in REQUESTERS)]:
        requester = uow.requesters.by_subject(earlier, subject)
        if requester is not None:
            requester.issuer = issuer
