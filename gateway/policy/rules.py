"""The clauses of AR 5125, one small function each.

A rule looks at the question and returns a Decision when its clause speaks to
the question, or None when it does not. ``engine.decide`` runs the rules that
can apply and keeps the most favourable answer: access is lawful if any basis
allows it, and a denial names the basis that came closest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from gateway.policy.decision import Decision, Obligation, Outcome, Requirement
from gateway.policy.facts import (
    AccessQuestion,
    Action,
    Consent,
    ConsentGiver,
    OrganizationType,
    Purpose,
    RecordType,
    Requester,
    RequesterCategory,
    Student,
    StudentStatus,
)
from gateway.policy.pack import Clause, PolicyPack

Cat = RequesterCategory
Ob = Obligation


@dataclass(frozen=True, slots=True)
class Situation:
    """The question with the facts every rule derives from it, computed once."""

    question: AccessQuestion
    requester: Requester
    record_type: RecordType
    student: Student
    purpose: str  # normalised: lower case, single spaces
    today: date
    pack: PolicyPack
    age: int | None

    @property
    def rights_passed(self) -> bool | None:
        """34 CFR 99.5: the rights pass to a student at 18 or on attending a postsecondary
        institution. None when that cannot be told (no birth date)."""
        if self.student.attends_postsecondary:
            return True
        return None if self.age is None else self.age >= 18

    @property
    def parent_holds_rights(self) -> bool | None:
        passed = self.rights_passed
        if passed is None:
            return None
        # Ed Code 56041.5: rights stay with the parent of an adult declared incompetent.
        return not passed or self.incompetent_adult

    @property
    def incompetent_adult(self) -> bool:
        return (self.student.incompetent_adult_with_disability
                and self.age is not None and self.age >= 18)

    @property
    def dependent_adult(self) -> bool:
        """AR 5125(d) item 1 (Ed Code 49076): a student *age 18 or older* who is a
        dependent child under 26 USC 152. A minor whose rights passed on attending a
        postsecondary institution is not one, whoever claims them for tax purposes."""
        return self.student.tax_dependent and self.age is not None and self.age >= 18

    @property
    def student_16_or_past_grade_10(self) -> bool:
        grade = self.student.grade_completed
        return (self.age is not None and self.age >= 16) or (grade is not None and grade >= 10)

    @property
    def volunteer_as_staff(self) -> bool:
        """A volunteer presented as a school official or the custodian. AR 5125(c) defines
        both as district officials or employees; Ed Code 49076 lets no volunteer in on that
        footing (only a SARB's trained volunteer aides, under their own item)."""
        return self.requester.volunteer and self.requester.category in (
            Cat.SCHOOL_OFFICIAL, Cat.CUSTODIAN)

    @property
    def requester_is_log_exempt(self) -> bool:
        """Ed Code 49064: the log need not list parents and students with their own access
        to the records (Ed Code 49069, 49076: a parent holding the rights or of a dependent
        adult, an adult student, a student of 16 or past the 10th grade), and school
        officials or employees with a legitimate educational interest. Anyone else who
        asks is listed, a parent without those rights too."""
        r = self.requester
        if r.category is Cat.PARENT:
            return not r.access_revoked_by_court and bool(
                self.parent_holds_rights or self.dependent_adult)
        if r.category is Cat.STUDENT:
            return bool(self.rights_passed) or self.student_16_or_past_grade_10
        if self.volunteer_as_staff:
            return False
        if r.category is Cat.CUSTODIAN:
            return self.custodian_has_interest
        return r.category is Cat.SCHOOL_OFFICIAL and r.states_an_interest

    @property
    def custodian_has_interest(self) -> bool:
        """The custodian of records is an employee (5 CCR 433) whose legitimate educational
        interest is administering the file, or another it states (AR 5125(i))."""
        return (self.purpose_is(Purpose.RECORDS_ADMINISTRATION)
                or self.requester.states_an_interest)

    @property
    def asks_for_information(self) -> bool:
        """The log lists those requesting or receiving information from the records:
        not those challenging a record or adding to it."""
        return self.question.action not in (Action.CHALLENGE, Action.ADD_RECORD)

    @property
    def directory_information_as_such(self) -> bool:
        """Directory information the district may release as such (Ed Code 49073): not
        restricted by the parent, and to a requester known not to be a private
        profit-making entity (other than an employer or the news media)."""
        return (self.record_type is RecordType.DIRECTORY_INFORMATION
                and not self.student.directory_opt_out
                and self.kind_known_for_directory is True)

    @property
    def kind_known_for_directory(self) -> bool | None:
        """Ed Code 49073 bars private profit-making entities other than employers and news
        media. True: the requester is not one; False: it is; None: the question does not
        say what kind of organization asks, and its category does not tell."""
        org = self.requester.organization_type
        if org is not None:
            return org is not OrganizationType.PRIVATE_FOR_PROFIT
        return True if self.requester.category in _NOT_PROFIT_MAKING else None

    def purpose_is(self, *purposes: Purpose) -> bool:
        return self.purpose in purposes

    # -- building decisions -------------------------------------------------

    def _clause(self, clause_id: str) -> Clause:
        return self.pack.clauses[clause_id]

    @property
    def log_exempt(self) -> bool:
        """No Ed Code 49064 entry: the exempt requesters, anyone obtaining directory
        information the district releases as such, and whoever asks for no information."""
        return (self.requester_is_log_exempt or self.directory_information_as_such
                or not self.asks_for_information)

    def permit(self, clause_id: str, reason: str, *, obligations: tuple[Obligation, ...] = (),
               log: bool | None = None, also_cite: tuple[str, ...] = ()) -> Decision:
        clause = self._clause(clause_id)
        if clause.discretionary and not clause.used:
            return self.not_used(clause)
        if not clause.reaches(self.record_type):
            return self.out_of_scope(clause)
        return Decision(
            Outcome.PERMIT, clause_id, _cite(clause.citations, also_cite), reason,
            obligations=obligations, log_required=(not self.log_exempt) if log is None else log,
        )

    def pending(self, clause_id: str, reason: str, requires: tuple[Requirement, ...], *,
                obligations: tuple[Obligation, ...] = (),
                also_cite: tuple[str, ...] = ()) -> Decision:
        clause = self._clause(clause_id)
        if clause.discretionary and not clause.used:
            return self.not_used(clause)
        if not clause.reaches(self.record_type):
            return self.out_of_scope(clause)
        return Decision(Outcome.PENDING, clause_id, _cite(clause.citations, also_cite), reason,
                        obligations=obligations, requires=requires,
                        log_required=not self.log_exempt)

    def deny(self, clause_id: str, reason: str, *, also_cite: tuple[str, ...] = ()) -> Decision:
        clause = self._clause(clause_id)
        # Ed Code 49064 lists everyone who *requests* information, so a refused request
        # from a party outside the exemptions is logged too; directory requests are not.
        return Decision(Outcome.DENY, clause_id, _cite(clause.citations, also_cite), reason,
                        log_required=not self.log_exempt)

    def not_used(self, clause: Clause) -> Decision:
        return self.deny(clause.id, f"The district does not make this discretionary "
                         f"disclosure ({clause.title.lower()}).")

    def out_of_scope(self, clause: Clause) -> Decision:
        return self.deny(clause.id, f"This basis ({clause.title.lower()}) does not reach "
                         f"the record requested ({self.record_type.value}).")

    def missing(self, clause_id: str, fact: str) -> Decision:
        return self.deny(clause_id, f"The decision needs {fact}, which was not given; "
                         "access is refused until it is known.")


Rule = Callable[[Situation], Decision | None]


def _cite(citations: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    return citations + tuple(c for c in more if c not in citations)


# -- absolute access and the rights of parents and students (AR 5125(c)-(d)) ---

def parent_access(s: Situation) -> Decision | None:
    if s.requester.access_revoked_by_court:
        return s.deny("parent_of_minor", "A court order revokes this parent's rights to the "
                      "student's records.", also_cite=("34 CFR 99.4",))
    passed = s.rights_passed
    if passed is None:
        return s.missing("parent_of_minor", "the student's birth date")
    if not passed:
        whose = "a parent" if s.requester.legal_custody else "a parent without legal custody"
        return s.permit("parent_of_minor", f"The student is under 18; {whose} has access to "
                        "all of the student's records.", log=False)
    if s.incompetent_adult:
        return s.permit("parent_of_incompetent_adult", "The adult student has a disability and "
                        "has been declared incompetent; the parent keeps access.", log=False)
    if s.student.tax_dependent and s.age is None:
        return s.missing("parent_of_dependent_adult", "the student's birth date")
    if s.dependent_adult:
        return s.permit("parent_of_dependent_adult", "The student is the parent's dependent "
                        "for tax purposes; the parent may see records relevant to that.",
                        log=False)
    if s.student.tax_dependent:
        return s.deny("adult_student", "The student attends a postsecondary institution and "
                      "alone holds the rights; the parent of a tax dependent has access only "
                      "once the student is 18.", also_cite=("Education Code 49076",))
    return s.deny("adult_student", "The rights to these records have passed to the student "
                  "(18 or older, or attending a postsecondary institution), who is not the "
                  "parent's tax dependent.")


def student_access(s: Situation) -> Decision | None:
    passed = s.rights_passed
    # Ed Code 56041.5: an adult declared incompetent holds no rights of their own; such
    # a student reads the records as one of 16 or older (AR 5125(d) item 2).
    if passed and not s.incompetent_adult:
        return s.permit("adult_student", "The student is 18 or older, or attends a "
                        "postsecondary institution, and holds the rights to the records.",
                        log=False)
    if s.student_16_or_past_grade_10:
        return s.permit("student_16_or_grade_10", "The student is 16 or older, or has "
                        "completed the 10th grade.", log=False)
    if s.age is None:
        return s.missing("student_16_or_grade_10", "the student's birth date")
    if s.student.grade_completed is None:
        return s.missing("student_16_or_grade_10", "the grade the student has completed")
    return s.deny("student_16_or_grade_10", "The student is under 16 and has not completed the "
                  "10th grade; the parents exercise the rights to the records.")


# -- officials with a legitimate educational interest (AR 5125(c)-(d), (g)) ----

_VOLUNTEER = ("A volunteer is not a school official or employee of the district and has no "
              "access on that footing.")


def school_official_access(s: Situation) -> Decision | None:
    if s.volunteer_as_staff:
        return s.deny("school_official", _VOLUNTEER)
    if not s.requester.states_an_interest:
        return s.deny("school_official", "A school official must state the legitimate "
                      "educational interest that requires the record; none was stated.")
    return s.permit("school_official", "A school official whose duties require the record, "
                    "with the legitimate educational interest stated.", log=False)


def custodian_access(s: Situation) -> Decision | None:
    if s.volunteer_as_staff:
        return s.deny("custodian_of_records", _VOLUNTEER)
    if s.custodian_has_interest:
        return s.permit("custodian_of_records", "The custodian of records administers the "
                        "student's file.", log=False)
    return s.deny("custodian_of_records", "The custodian's access is for administering the "
                  "records; this request states neither that nor another interest.")


def sarb_access(s: Situation) -> Decision | None:
    if s.requester.states_an_interest or s.purpose_is(Purpose.TRUANCY):
        # The board seats people from outside the district (probation, county welfare,
        # law enforcement...): like any party granted access they may not pass the
        # records on (AR 5125(h); Ed Code 49076).
        return s.permit("sarb", "A school attendance review board member acting for the "
                        "district, for the referral under review.",
                        obligations=(Ob.NO_REDISCLOSURE,))
    return s.deny("sarb", "A SARB member must state the interest (the referral) that "
                  "requires the record.")


def contractor_access(s: Situation) -> Decision | None:
    # A contractor is, by definition, someone with a formal written agreement: without
    # one the requester is not a contractor at all, so this is a denial, not a wait.
    if s.requester.volunteer:
        return s.deny("contractor", "Volunteers are not contractors or consultants and have "
                      "no access on that basis.")
    if not s.question.evidence.written_agreement:
        return s.deny("contractor", "No formal written agreement with the district is on "
                      "file, so the requester is not a contractor or consultant.")
    if not s.requester.states_an_interest:
        return s.deny("contractor", "A contractor must state the legitimate educational "
                      "interest that the outsourced service requires.")
    return s.permit("contractor", "A contractor under a written agreement whose outsourced "
                    "service requires the record.", obligations=(Ob.NO_REDISCLOSURE,))


# -- legally authorized parties (AR 5125(d)-(f)) ---------------------------------

# AR 5144.1: expulsion records go to any school where the student next enrolls, on its
# written request (Ed Code 48918), and another district's request about an expulsion from
# this one is honoured within five working days (Ed Code 48915.1).
_EXPULSION_TO_A_SCHOOL = ("Education Code 48918",)
_EXPULSION_TO_A_DISTRICT = (*_EXPULSION_TO_A_SCHOOL, "Education Code 48915.1")


def other_school_access(s: Situation) -> Decision | None:
    if not s.purpose_is(Purpose.ENROLLMENT_TRANSFER):
        return s.deny("other_school_enrollment", "Another school receives records only for "
                      "the student's enrollment or transfer.")
    return s.permit("other_school_enrollment", "A school where the student is enrolled or "
                    "seeks to enroll, for the enrollment or transfer.",
                    obligations=(Ob.NOTIFY_PARENT_OFFER_COPY_AND_HEARING, Ob.NO_REDISCLOSURE),
                    also_cite=_EXPULSION_TO_A_DISTRICT
                    if s.record_type is RecordType.EXPULSION_ORDER else ())


def private_school_access(s: Situation) -> Decision | None:
    if not s.purpose_is(Purpose.ENROLLMENT_TRANSFER):
        return s.deny("private_school_enrollment", "A private school receives records only "
                      "for the student's enrollment.")
    return s.permit("private_school_enrollment", "A private school where the student is "
                    "enrolled or intends to enroll.",
                    obligations=(Ob.NOTIFY_PARENT_OFFER_COPY_AND_HEARING, Ob.NO_REDISCLOSURE),
                    also_cite=_EXPULSION_TO_A_SCHOOL
                    if s.record_type is RecordType.EXPULSION_ORDER else ())


def _under_agreement(s: Situation, clause_id: str, who: str, purpose: Purpose,
                     purpose_text: str) -> Decision:
    if not s.purpose_is(purpose):
        return s.deny(clause_id, f"{who} may have records only {purpose_text}.")
    if not s.question.evidence.written_agreement:
        return s.pending(clause_id, f"{who} may have records {purpose_text} once a written "
                         "agreement with the district is on file.",
                         (Requirement.WRITTEN_AGREEMENT,), obligations=(Ob.NO_REDISCLOSURE,))
    return s.permit(clause_id, f"{who}, {purpose_text}, under a written agreement.",
                    obligations=(Ob.NO_REDISCLOSURE,))


def auditor_access(s: Situation) -> Decision | None:
    return _under_agreement(s, "audit_evaluation", "A federal, state or local official",
                            Purpose.AUDIT_EVALUATION,
                            "for an audit, evaluation or compliance activity")


def county_placing_agency_access(s: Situation) -> Decision | None:
    return _under_agreement(s, "county_placing_agency", "A county placing agency acting for "
                            "an educational agency", Purpose.AUDIT_EVALUATION,
                            "for an audit or evaluation of an education program")


def research_access(s: Situation) -> Decision | None:
    return _under_agreement(s, "research_study", "An organization conducting a study for "
                            "educational agencies", Purpose.RESEARCH, "for the study")


def _certified(s: Situation, clause_id: str, granted: str, *,
               obligations: tuple[Obligation, ...] = (Ob.NO_REDISCLOSURE,)) -> Decision:
    # The wait is for the certification only: the disclosure, once made, brings the same
    # duties (for a judge or probation officer in truancy, telling the parent within 24 hours).
    if not s.question.evidence.written_certification:
        return s.pending(clause_id, f"{granted} once the recipient's written certification "
                         "is on file.", (Requirement.WRITTEN_CERTIFICATION,),
                         obligations=obligations)
    return s.permit(clause_id, f"{granted}; the written certification is on file.",
                    obligations=obligations)


def district_attorney_access(s: Situation) -> Decision | None:
    # AR 5125(e) asks for the written certification "for these purposes" after items 9-11;
    # read over all three, which discloses nothing until the certification is on file.
    if s.purpose_is(Purpose.TRUANCY):
        return _certified(s, "district_attorney_truancy", "A district attorney may have "
                          "records for truancy mediation or a truancy petition")
    if s.purpose_is(Purpose.COMPULSORY_EDUCATION):
        return _certified(s, "district_attorney_compulsory_education", "A district "
                          "attorney's office may have records to consider action against a "
                          "parent under the compulsory education laws")
    if s.purpose_is(Purpose.CRIMINAL_INVESTIGATION):
        return _certified(s, "criminal_investigation", "A district attorney may have records "
                          "for a criminal, wardship or probation investigation")
    return s.deny("criminal_investigation", "A district attorney has access only for truancy, "
                  "compulsory education, or a criminal, wardship or probation investigation.")


def probation_officer_access(s: Situation) -> Decision | None:
    if s.purpose_is(Purpose.CRIMINAL_INVESTIGATION):
        return _certified(s, "criminal_investigation", "A probation officer may have records "
                          "for a criminal, wardship or probation investigation")
    if s.purpose_is(Purpose.TRUANCY):
        return _certified(s, "truancy_judge_or_probation", "A probation officer may have "
                          "records for truancy mediation or a truancy petition",
                          obligations=(Ob.NOTIFY_PARENT_WITHIN_24_HOURS, Ob.NO_REDISCLOSURE))
    return s.deny("criminal_investigation", "A probation officer has access only for truancy "
                  "or a criminal, wardship or probation investigation.")


def counsel_access(s: Situation) -> Decision | None:
    if not s.purpose_is(Purpose.CRIMINAL_INVESTIGATION):
        return s.deny("criminal_investigation", "Counsel of record has access only for a "
                      "criminal, wardship or probation investigation.")
    if s.age is None:
        return s.missing("criminal_investigation", "the student's birth date")
    if s.age >= 18:
        return s.deny("criminal_investigation", "This access is for counsel of record of a "
                      "minor; the student is an adult.")
    return _certified(s, "criminal_investigation", "Counsel of record for the minor may have "
                      "records for a criminal, wardship or probation investigation")


def judge_access(s: Situation) -> Decision | None:
    if not s.purpose_is(Purpose.TRUANCY):
        return s.deny("truancy_judge_or_probation", "Without a court order or subpoena, a "
                      "judge has access only for truancy mediation or a truancy petition.")
    return _certified(s, "truancy_judge_or_probation", "A judge may have records for truancy "
                      "mediation or a truancy petition",
                      obligations=(Ob.NOTIFY_PARENT_WITHIN_24_HOURS, Ob.NO_REDISCLOSURE))


def foster_family_agency_access(s: Situation) -> Decision | None:
    return s.permit("foster_family_agency", "A foster family agency with jurisdiction over "
                    "the student: grades, transcripts and the IEP.",
                    obligations=(Ob.NO_REDISCLOSURE,))


def law_enforcement_48902(s: Situation) -> Decision | None:
    student = s.student
    if not (student.disability and student.expelled_or_suspended_for_pc245):
        return None
    if not s.pack.clauses["law_enforcement_48902"].reaches(s.record_type):
        return None
    return _certified(s, "law_enforcement_48902", "Law enforcement may have the special "
                      "education and disciplinary records of a student with a disability "
                      "suspended or expelled for a Penal Code 245 act")


def peace_officer_49076_5(s: Situation) -> Decision | None:
    ev = s.question.evidence
    consented = ev.consent is not None and consent_problem(s, ev.consent) is None
    threat = bool(ev.emergency_threat.strip())
    if not (consented or threat or ev.court_order or ev.subpoena):
        return s.deny("peace_officer_49076_5", "Law enforcement needs written parental "
                      "consent, a subpoena, a court order or a recorded emergency.")
    if not s.purpose_is(Purpose.CRIMINAL_INVESTIGATION, Purpose.EMERGENCY):
        return s.deny("peace_officer_49076_5", "This access is for an investigation of "
                      "suspected criminal conduct or kidnapping.")
    # Ed Code 49076.5 limits what is given (identity and location); the basis on file
    # brings its own duties, as it would for anyone: the consent is filed and the
    # request needs no log entry, the emergency is recorded, the parent is told of a
    # subpoena or court order three days ahead.
    clause, basis = "peace_officer_49076_5", s.pack.clauses
    what = "A peace officer investigating: the student's identity and location only, "
    if consented:
        return s.permit(clause, what + "with written consent.", log=False,
                        obligations=(Ob.FILE_CONSENT_WITH_RECORD, Ob.NO_REDISCLOSURE),
                        also_cite=basis["written_consent"].citations)
    if threat:
        return s.permit(clause, what + "in an emergency; the threat is recorded.",
                        obligations=(Ob.RECORD_EMERGENCY_BASIS, Ob.NO_REDISCLOSURE),
                        also_cite=basis["emergency"].citations)
    instrument = "court order" if ev.court_order else "lawfully issued subpoena"
    if notice_given(s):
        return s.permit(clause, what + f"under a {instrument}.",
                        obligations=(Ob.NO_REDISCLOSURE,),
                        also_cite=basis["court_order_or_subpoena"].citations)
    return s.pending(clause, what + f"under a {instrument}, once the parent or adult student "
                     "has had three days' notice.", (Requirement.PARENT_NOTICE_3_DAYS,),
                     obligations=(Ob.NOTIFY_PARENT_3_DAYS_BEFORE_DISCLOSURE,
                                  Ob.NO_REDISCLOSURE),
                     also_cite=basis["court_order_or_subpoena"].citations)


# -- discretionary disclosures (AR 5125(f)-(g)) -----------------------------------

def accreditation_access(s: Situation) -> Decision | None:
    if not s.purpose_is(Purpose.ACCREDITATION):
        return s.deny("accrediting_association", "An accrediting association receives records "
                      "only for accreditation.")
    return s.permit("accrediting_association", "An accrediting association, for "
                    "accreditation.", obligations=(Ob.NO_REDISCLOSURE,))


def immunization_registry_access(s: Situation) -> Decision | None:
    if not s.purpose_is(Purpose.IMMUNIZATION_REGISTRY):
        return s.deny("immunization_registry", "A health department receives records only "
                      "for an immunization information system.")
    return s.permit("immunization_registry", "A health department's immunization "
                    "information and reminder system.",
                    obligations=(Ob.NOTIFY_PARENT_OF_RIGHTS_BEFORE_RELEASE,
                                 Ob.NO_REDISCLOSURE))


def financial_aid_access(s: Situation) -> Decision | None:
    if not s.purpose_is(Purpose.FINANCIAL_AID):
        return s.deny("financial_aid", "A financial aid agency receives records only for the "
                      "student's application for, or receipt of, financial aid.")
    return s.permit("financial_aid", "For the student's financial aid: eligibility, amount, "
                    "conditions or enforcement only.", obligations=(Ob.NO_REDISCLOSURE,))


def elections_official_access(s: Situation) -> Decision | None:
    if not s.purpose_is(Purpose.VOTER_REGISTRATION):
        return s.deny("elections_official", "County elections officials receive records only "
                      "to identify students eligible to register to vote.")
    if s.student.directory_opt_out:
        return s.deny("elections_official", "The parent restricted the release of directory "
                      "information, to which this disclosure is subject.")
    return s.permit("elections_official", "A county elections official identifying students "
                    "eligible to register to vote; no other use or transfer.",
                    obligations=(Ob.NO_REDISCLOSURE,))


# -- bases open to any requester ------------------------------------------------

def directory_information(s: Situation) -> Decision | None:
    if s.record_type is not RecordType.DIRECTORY_INFORMATION:
        return None
    if s.student.directory_opt_out:
        return s.deny("directory_information", "The parent or adult student restricted the "
                      "release of directory information.")
    kind = s.kind_known_for_directory
    if kind is None:
        # A party of unknown kind might be a private profit-making entity: fail closed.
        return s.deny("directory_information", "The decision needs the kind of organization "
                      "asking (organization_type), which was not given: directory information "
                      "is not released to private profit-making entities other than employers "
                      "and news media, so access is refused until it is known.")
    if not kind:
        return s.deny("directory_information", "Directory information is not released to "
                      "private profit-making entities other than employers and news media.")
    return s.permit("directory_information", "Directory information the district has "
                    "designated, with no restriction on file.", log=False)


# Ed Code 49073 withholds directory information from private profit-making entities other
# than employers and news media. Without an organization_type, only these categories are
# known not to be one: the parent and the student themselves, the district's own officials,
# and public bodies by what they are. Anyone else (a third party, a contractor, a research
# or accrediting organization, a financial aid agency, a private school or college, counsel,
# a foster family agency) must say what kind of organization it is.
_NOT_PROFIT_MAKING = frozenset({
    Cat.PARENT, Cat.STUDENT, Cat.SCHOOL_OFFICIAL, Cat.CUSTODIAN, Cat.SARB_MEMBER,
    Cat.GOVERNMENT_AUDITOR, Cat.COUNTY_PLACING_AGENCY, Cat.DISTRICT_ATTORNEY,
    Cat.PROBATION_OFFICER, Cat.JUDGE, Cat.LAW_ENFORCEMENT, Cat.HEALTH_DEPARTMENT,
    Cat.ELECTIONS_OFFICIAL,
})


# Ed Code 49074 names who may receive data from which no student can be identified: any
# public agency or entity, and nonprofit educational research organizations. Without an
# organization_type, these categories qualify by what they are; the courts, prosecutors,
# probation, police, SARBs and elections officials are public bodies.
_DEIDENTIFIED_RECIPIENTS = frozenset({
    Cat.RESEARCH_ORGANIZATION, Cat.GOVERNMENT_AUDITOR, Cat.COUNTY_PLACING_AGENCY,
    Cat.OTHER_SCHOOL_OFFICIAL, Cat.PRIVATE_SCHOOL_OFFICIAL, Cat.HEALTH_DEPARTMENT,
    Cat.ACCREDITING_ASSOCIATION, Cat.SCHOOL_OFFICIAL, Cat.CUSTODIAN,
    Cat.SARB_MEMBER, Cat.DISTRICT_ATTORNEY, Cat.PROBATION_OFFICER, Cat.JUDGE,
    Cat.LAW_ENFORCEMENT, Cat.ELECTIONS_OFFICIAL,
})


def deidentified_release(s: Situation) -> Decision | None:
    if not s.question.evidence.deidentified:
        return None
    org = s.requester.organization_type
    if org is None and s.requester.category not in _DEIDENTIFIED_RECIPIENTS:
        return s.deny("deidentified_release", "The decision needs the kind of organization "
                      "asking (organization_type), which was not given: de-identified data goes "
                      "only to public agencies and nonprofit educational research "
                      "organizations, so access is refused until it is known.")
    eligible = org in (OrganizationType.PUBLIC_AGENCY, OrganizationType.NONPROFIT) or (
        org is None and s.requester.category in _DEIDENTIFIED_RECIPIENTS)
    if not eligible:
        return s.deny("deidentified_release", "De-identified data goes only to public agencies "
                      "and nonprofit educational research organizations.")
    return s.permit("deidentified_release", "All personally identifiable information is removed "
                    "and the district determined the student cannot be identified.", log=False)


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def consent_problem(s: Situation, consent: Consent, *, check_purpose: bool = True,
                    disclosure: bool = True) -> str | None:
    """Why a written consent does not support this request, or None if it does.

    A consent to disclose (34 CFR 99.30) names the records, the purpose and the recipient.
    A consent to an addition after graduation or departure (5 CCR 437; ``disclosure=False``)
    discloses nothing to anyone: it names the record added, not a purpose or recipient."""
    if not consent.signed:
        return "the consent is not signed"
    if not consent.dated:
        return "the consent is not dated"
    holds = s.parent_holds_rights
    if holds is None:
        return "who holds the rights cannot be told without the student's birth date"
    by = consent.by
    if by is None:
        return "the consent does not say who gave it"
    if holds and by is ConsentGiver.ADULT_STUDENT:
        return "a parent with legal custody, not the student, consents for this student"
    if not holds and by is not ConsentGiver.ADULT_STUDENT:
        return "the rights have passed to the student, who alone may consent"
    if by is ConsentGiver.NONCUSTODIAL_PARENT:
        return ("only a parent with legal custody may consent, unless both parents told the "
                "district in writing that they agree")
    if not consent.covers(s.record_type):
        return "the consent does not cover the record requested"
    if not disclosure:
        return None
    if not consent.purpose.strip() or not consent.recipient.strip():
        return "the consent does not state its purpose and recipient"
    if check_purpose and not _same_text(consent.purpose, s.purpose):
        return "the request's purpose is not the purpose consented to"
    return None


def written_consent(s: Situation) -> Decision | None:
    consent = s.question.evidence.consent
    if consent is None:
        return None
    problem = consent_problem(s, consent)
    if problem:
        return s.deny("written_consent", f"The written consent does not allow this: {problem}.")
    return s.permit("written_consent", "A signed and dated written consent covers this record, "
                    "purpose and recipient.",
                    obligations=(Ob.FILE_CONSENT_WITH_RECORD, Ob.NO_REDISCLOSURE), log=False)


def with_consent_on_file(s: Situation, d: Decision) -> Decision:
    """A disclosure another basis permits, to a party that also brings a written consent
    covering it: Ed Code 49064 does not log parties who provide written parental consent,
    and the consent is filed with the record instead (Ed Code 49075; AR 5125(i)-(j))."""
    if d.outcome is not Outcome.PERMIT or not d.log_required:
        return d
    by_consent = written_consent(s)
    if by_consent is None or by_consent.outcome is not Outcome.PERMIT:
        return d
    return replace(
        d, log_required=False, citations=_cite(d.citations, by_consent.citations),
        obligations=d.obligations + tuple(
            o for o in by_consent.obligations if o not in d.obligations))


def notice_given(s: Situation) -> bool:
    """Ed Code 49077: the parent or adult student was told of the court order or subpoena
    at least three days before the disclosure, or the court instructs otherwise."""
    notified = s.question.evidence.parent_notified_on
    return s.question.evidence.court_instructs_no_notice or (
        notified is not None and (s.today - notified).days >= 3)


def court_order_or_subpoena(s: Situation) -> Decision | None:
    ev = s.question.evidence
    if not (ev.court_order or ev.subpoena):
        return None
    instrument = "court order" if ev.court_order else "lawfully issued subpoena"
    if ev.court_instructs_no_notice:
        return s.permit("court_order_or_subpoena", f"A {instrument}; the court instructs that "
                        "the parent not be notified.")
    if notice_given(s):
        return s.permit("court_order_or_subpoena", f"A {instrument}; the parent was notified at "
                        "least three days before the disclosure.")
    return s.pending("court_order_or_subpoena", f"A {instrument}: the parent or adult student "
                     "must have at least three days' notice before the disclosure.",
                     (Requirement.PARENT_NOTICE_3_DAYS,),
                     obligations=(Ob.NOTIFY_PARENT_3_DAYS_BEFORE_DISCLOSURE,))


def emergency(s: Situation) -> Decision | None:
    threat = s.question.evidence.emergency_threat.strip()
    if not threat and not s.purpose_is(Purpose.EMERGENCY):
        return None
    if not threat:
        return s.deny("emergency", "An emergency disclosure needs the threat to health or "
                      "safety described and recorded; none was given.")
    return s.permit("emergency", "The health or safety of the student or others is at stake; "
                    "the threat is recorded.",
                    obligations=(Ob.RECORD_EMERGENCY_BASIS, Ob.NO_REDISCLOSURE))


# -- the access log, challenges and additions (AR 5125(i)-(j)) ----------------------

# A parent refused because a court revoked the rights, or because they passed to the student.
_REVOKED, _PASSED = ("34 CFR 99.4",), ("34 CFR 99.5",)


def access_log_readers(s: Situation) -> Decision | None:
    c = s.requester.category
    if c is Cat.PARENT:
        if s.requester.access_revoked_by_court:
            return s.deny("access_log_readers", "A court order revokes this parent's rights.",
                          also_cite=_REVOKED)
        holds = s.parent_holds_rights
        if holds is None:
            return s.missing("access_log_readers", "the student's birth date")
        if s.student.tax_dependent and s.age is None:
            return s.missing("access_log_readers", "the student's birth date")
        if holds or s.dependent_adult:
            return s.permit("access_log_readers", "A parent may read the student's access log.",
                            log=False)
        return s.deny("access_log_readers", "The rights have passed to the adult student.",
                      also_cite=_PASSED)
    if c is Cat.STUDENT:
        if s.rights_passed or s.student_16_or_past_grade_10:
            return s.permit("access_log_readers", "An adult student, or a student 16 or older "
                            "or past the 10th grade, may read the access log.", log=False)
        if s.age is None:
            return s.missing("access_log_readers", "the student's birth date")
        if s.student.grade_completed is None:
            return s.missing("access_log_readers", "the grade the student has completed")
        return s.deny("access_log_readers", "A student under 16 who has not completed the "
                      "10th grade may not read the access log.")
    if c is Cat.CUSTODIAN and not s.volunteer_as_staff:
        return s.permit("access_log_readers", "The custodian of records keeps the access log.",
                        log=False)
    if c is Cat.GOVERNMENT_AUDITOR:
        return _as_log_reading(s, auditor_access(s))
    return s.deny("access_log_readers", "The access log is open only to parents, eligible "
                  "students, the custodian of records and certain state or federal officials.")


def _as_log_reading(s: Situation, d: Decision) -> Decision:
    # State and federal officials read the log on their audit basis; cite both.
    return replace(d, citations=d.citations + s.pack.clauses["access_log_readers"].citations)


def challenge(s: Situation) -> Decision | None:
    c = s.requester.category
    if c is Cat.PARENT:
        if s.requester.access_revoked_by_court:
            return s.deny("challenge", "A court order revokes this parent's rights.",
                          also_cite=_REVOKED)
        holds = s.parent_holds_rights
        if holds is None:
            return s.missing("challenge", "the student's birth date")
        if not holds:
            return s.deny("challenge", "The rights have passed to the adult student, who alone "
                          "may challenge the record.", also_cite=_PASSED)
        if not s.requester.legal_custody:
            return s.deny("challenge", "Only a parent with legal custody may challenge a "
                          "record or file a written response.")
        return s.permit("challenge", "A parent with legal custody may challenge the record or "
                        "file a written response.", log=False)
    if c is Cat.STUDENT:
        passed = s.rights_passed
        if passed is None:
            return s.missing("challenge", "the student's birth date")
        if passed and not s.incompetent_adult:
            return s.permit("challenge", "An adult student may challenge the record or file a "
                            "written response.", log=False)
        return s.deny("challenge", "Only the parent with legal custody may challenge the "
                      "record of this student.")
    return s.deny("challenge", "Only a parent with legal custody or an adult student may "
                  "challenge a record.")


def add_record(s: Situation) -> Decision | None:
    c = s.requester.category
    if s.volunteer_as_staff or not (
            c is Cat.CUSTODIAN or (c is Cat.SCHOOL_OFFICIAL and s.requester.states_an_interest)):
        return s.deny("record_keeping", "Only the custodian of records, or a school official "
                      "with a stated legitimate educational interest, adds to a student's "
                      "records.")
    if s.student.status is StudentStatus.ENROLLED:
        return s.permit("record_keeping", "A school official adds to the record of an enrolled "
                        "student.", log=False)
    if s.question.evidence.routine_update:
        return s.permit("no_additions_after_departure", "Routine updating is allowed after "
                        "graduation or permanent departure.", log=False)
    consent = s.question.evidence.consent
    problem = None if consent is None else consent_problem(s, consent, disclosure=False)
    if consent is not None and problem is None:
        return s.permit("no_additions_after_departure", "The parent or adult student consented "
                        "in writing to the addition.", obligations=(Ob.FILE_CONSENT_WITH_RECORD,),
                        log=False)
    # Name what is wrong with a consent given (a fact missing from it or about the student).
    why = f" The written consent does not allow it: {problem}." if problem else ""
    return s.deny("no_additions_after_departure", "After graduation or permanent departure only "
                  "routine updating may be added without the prior consent of the parent or "
                  "adult student." + why)


# Rules for `access`, by requester category. Rules open to everyone run after these.
ACCESS_RULES: dict[RequesterCategory, tuple[Rule, ...]] = {
    Cat.PARENT: (parent_access,),
    Cat.STUDENT: (student_access,),
    Cat.SCHOOL_OFFICIAL: (school_official_access,),
    Cat.CUSTODIAN: (custodian_access,),
    Cat.SARB_MEMBER: (sarb_access,),
    Cat.OTHER_SCHOOL_OFFICIAL: (other_school_access,),
    Cat.PRIVATE_SCHOOL_OFFICIAL: (private_school_access,),
    Cat.GOVERNMENT_AUDITOR: (auditor_access,),
    Cat.COUNTY_PLACING_AGENCY: (county_placing_agency_access,),
    Cat.DISTRICT_ATTORNEY: (district_attorney_access,),
    Cat.PROBATION_OFFICER: (probation_officer_access,),
    Cat.COUNSEL_FOR_MINOR: (counsel_access,),
    Cat.JUDGE: (judge_access,),
    Cat.FOSTER_FAMILY_AGENCY: (foster_family_agency_access,),
    Cat.LAW_ENFORCEMENT: (law_enforcement_48902, peace_officer_49076_5),
    Cat.ACCREDITING_ASSOCIATION: (accreditation_access,),
    Cat.RESEARCH_ORGANIZATION: (research_access,),
    Cat.HEALTH_DEPARTMENT: (immunization_registry_access,),
    Cat.CONTRACTOR: (contractor_access,),
    Cat.FINANCIAL_AID_AGENCY: (financial_aid_access,),
    Cat.ELECTIONS_OFFICIAL: (elections_official_access,),
    Cat.THIRD_PARTY: (),
}
assert set(ACCESS_RULES) == set(RequesterCategory), "every category has its access rules"

OPEN_ACCESS_RULES: tuple[Rule, ...] = (
    directory_information, deidentified_release, written_consent, court_order_or_subpoena,
    emergency,
)
