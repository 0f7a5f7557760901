"""The facts of an access question, in the words of AR 5125.

Frozen values only: the engine reads them, never changes them. A fact the
caller gave in a form the regulation does not know (an unknown requester
category, record type, action...) is kept in ``AccessQuestion.unrecognized``
so that the engine can deny and say why, instead of guessing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date


class RequesterCategory(enum.StrEnum):
    PARENT = "parent"
    STUDENT = "student"
    SCHOOL_OFFICIAL = "school_official"
    CUSTODIAN = "custodian"
    SARB_MEMBER = "sarb_member"
    OTHER_SCHOOL_OFFICIAL = "other_school_official"
    PRIVATE_SCHOOL_OFFICIAL = "private_school_official"
    GOVERNMENT_AUDITOR = "government_auditor"
    COUNTY_PLACING_AGENCY = "county_placing_agency"
    DISTRICT_ATTORNEY = "district_attorney"
    PROBATION_OFFICER = "probation_officer"
    COUNSEL_FOR_MINOR = "counsel_for_minor"
    JUDGE = "judge"
    FOSTER_FAMILY_AGENCY = "foster_family_agency"
    LAW_ENFORCEMENT = "law_enforcement"
    ACCREDITING_ASSOCIATION = "accrediting_association"
    RESEARCH_ORGANIZATION = "research_organization"
    HEALTH_DEPARTMENT = "health_department"
    CONTRACTOR = "contractor"
    FINANCIAL_AID_AGENCY = "financial_aid_agency"
    ELECTIONS_OFFICIAL = "elections_official"
    THIRD_PARTY = "third_party"


class ParentType(enum.StrEnum):
    """Who counts as a parent/guardian (Ed Code 49061, 56050, 56055)."""

    NATURAL = "natural"
    ADOPTIVE = "adoptive"
    GUARDIAN = "guardian"
    SURROGATE = "surrogate"
    FOSTER = "foster"


class OrganizationType(enum.StrEnum):
    PUBLIC_AGENCY = "public_agency"
    NONPROFIT = "nonprofit"
    NEWS_MEDIA = "news_media"
    EMPLOYER = "employer"
    PRIVATE_FOR_PROFIT = "private_for_profit"
    INDIVIDUAL = "individual"


class RecordCategory(enum.StrEnum):
    """5 CCR 430: the three classes of student records, and what is not one."""

    MANDATORY_PERMANENT = "mandatory_permanent"
    MANDATORY_INTERIM = "mandatory_interim"
    PERMITTED = "permitted"
    NOT_A_STUDENT_RECORD = "not_a_student_record"


class RecordType(enum.StrEnum):
    # Mandatory permanent (5 CCR 432; AR 5125(j)-(k))
    LEGAL_NAME = "legal_name"
    BIRTH_VERIFICATION = "birth_verification"
    SEX = "sex"
    PARENT_NAME_ADDRESS = "parent_name_address"
    RESIDENCE_VERIFICATION = "residence_verification"
    ENROLLMENT_DATES = "enrollment_dates"
    COURSES_AND_MARKS = "courses_and_marks"
    IMMUNIZATION = "immunization"
    GRADUATION_DATE = "graduation_date"
    # Mandatory interim (5 CCR 432; AR 5125(k)-(l))
    EXPULSION_ORDER = "expulsion_order"
    ACCESS_LOG = "access_log"
    HEALTH = "health"
    SPECIAL_EDUCATION = "special_education"
    IEP = "iep"
    LANGUAGE_TRAINING = "language_training"
    PROGRESS_NOTICE = "progress_notice"
    DIRECTORY_RESTRICTIONS = "directory_restrictions"
    REJOINDER = "rejoinder"
    PROGRAM_AUTHORIZATION = "program_authorization"
    STANDARDIZED_TEST = "standardized_test"
    INDEPENDENT_STUDY_FINDING = "independent_study_finding"
    # Permitted (5 CCR 432; AR 5125(l)-(m))
    COUNSELOR_TEACHER_RATING = "counselor_teacher_rating"
    STANDARDIZED_TEST_OLD = "standardized_test_old"
    ROUTINE_DISCIPLINE = "routine_discipline"
    BEHAVIORAL_REPORT = "behavioral_report"
    DISCIPLINARY_NOTICE = "disciplinary_notice"
    SUPPLEMENTARY_ATTENDANCE = "supplementary_attendance"
    # Not a student record (Ed Code 49061; AR 5125(a))
    DIRECTORY_INFORMATION = "directory_information"

    @property
    def category(self) -> RecordCategory:
        return RECORD_CATEGORIES[self]


def _of(category: RecordCategory, *types: RecordType) -> dict[RecordType, RecordCategory]:
    return dict.fromkeys(types, category)


RT = RecordType
RECORD_CATEGORIES: dict[RecordType, RecordCategory] = {
    **_of(RecordCategory.MANDATORY_PERMANENT, RT.LEGAL_NAME, RT.BIRTH_VERIFICATION, RT.SEX,
          RT.PARENT_NAME_ADDRESS, RT.RESIDENCE_VERIFICATION, RT.ENROLLMENT_DATES,
          RT.COURSES_AND_MARKS, RT.IMMUNIZATION, RT.GRADUATION_DATE),
    **_of(RecordCategory.MANDATORY_INTERIM, RT.EXPULSION_ORDER, RT.ACCESS_LOG, RT.HEALTH,
          RT.SPECIAL_EDUCATION, RT.IEP, RT.LANGUAGE_TRAINING, RT.PROGRESS_NOTICE,
          RT.DIRECTORY_RESTRICTIONS, RT.REJOINDER, RT.PROGRAM_AUTHORIZATION,
          RT.STANDARDIZED_TEST, RT.INDEPENDENT_STUDY_FINDING),
    **_of(RecordCategory.PERMITTED, RT.COUNSELOR_TEACHER_RATING, RT.STANDARDIZED_TEST_OLD,
          RT.ROUTINE_DISCIPLINE, RT.BEHAVIORAL_REPORT, RT.DISCIPLINARY_NOTICE,
          RT.SUPPLEMENTARY_ATTENDANCE),
    RT.DIRECTORY_INFORMATION: RecordCategory.NOT_A_STUDENT_RECORD,
}
assert set(RECORD_CATEGORIES) == set(RecordType), "every record type has a category"


class Action(enum.StrEnum):
    ACCESS = "access"
    VIEW_ACCESS_LOG = "view_access_log"
    CHALLENGE = "challenge"
    ADD_RECORD = "add_record"


class StudentStatus(enum.StrEnum):
    ENROLLED = "enrolled"
    WITHDRAWN = "withdrawn"
    GRADUATED = "graduated"


class Purpose(enum.StrEnum):
    """Purposes the regulation attaches meaning to; any other purpose is free text."""

    EDUCATIONAL_INTEREST = "educational_interest"
    ENROLLMENT_TRANSFER = "enrollment_transfer"
    AUDIT_EVALUATION = "audit_evaluation"
    TRUANCY = "truancy"
    COMPULSORY_EDUCATION = "compulsory_education"
    CRIMINAL_INVESTIGATION = "criminal_investigation"
    EMERGENCY = "emergency"
    ACCREDITATION = "accreditation"
    RESEARCH = "research"
    IMMUNIZATION_REGISTRY = "immunization_registry"
    FINANCIAL_AID = "financial_aid"
    VOTER_REGISTRATION = "voter_registration"
    RECORDS_ADMINISTRATION = "records_administration"


class ConsentGiver(enum.StrEnum):
    CUSTODIAL_PARENT = "custodial_parent"
    NONCUSTODIAL_PARENT = "noncustodial_parent"
    BOTH_PARENTS = "both_parents"  # both parents told the district in writing they agree
    ADULT_STUDENT = "adult_student"


@dataclass(frozen=True, slots=True)
class Requester:
    category: RequesterCategory
    legal_custody: bool = True
    access_revoked_by_court: bool = False
    parent_type: ParentType | None = None
    legitimate_educational_interest: str = ""
    volunteer: bool = False
    organization_type: OrganizationType | None = None

    @property
    def states_an_interest(self) -> bool:
        return bool(self.legitimate_educational_interest.strip())


@dataclass(frozen=True, slots=True)
class Student:
    birth_date: date | None = None
    grade_completed: int | None = None
    attends_postsecondary: bool = False
    tax_dependent: bool = False
    incompetent_adult_with_disability: bool = False
    disability: bool = False
    expelled_or_suspended_for_pc245: bool = False
    directory_opt_out: bool = False
    status: StudentStatus = StudentStatus.ENROLLED

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None or self.birth_date > day:
            return None  # unknown, or not yet born on that day: no age to count
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True, slots=True)
class Consent:
    """A written consent (34 CFR 99.30; Ed Code 49075) as the district holds it."""

    signed: bool = False
    dated: bool = False
    by: ConsentGiver | None = None
    records: frozenset[RecordType] | None = None  # None: every record ("all")
    purpose: str = ""
    recipient: str = ""

    def covers(self, record_type: RecordType) -> bool:
        return self.records is None or record_type in self.records


@dataclass(frozen=True, slots=True)
class Evidence:
    consent: Consent | None = None
    court_order: bool = False
    subpoena: bool = False
    court_instructs_no_notice: bool = False
    parent_notified_on: date | None = None
    written_agreement: bool = False
    written_certification: bool = False
    emergency_threat: str = ""
    routine_update: bool = False
    deidentified: bool = False


@dataclass(frozen=True, slots=True)
class AccessQuestion:
    """May this requester take this action on this record, for this purpose?"""

    requester: Requester | None
    student: Student
    action: Action | None
    record_type: RecordType | None
    purpose: str = ""
    evidence: Evidence = field(default_factory=Evidence)
    # Facts given in a form the regulation does not know, as "what: value".
    unrecognized: tuple[str, ...] = ()
