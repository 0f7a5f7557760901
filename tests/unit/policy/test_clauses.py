"""Truth table for the clauses of AR 5125, including those the public cases don't show."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from gateway.policy.decision import Decision, Obligation, Outcome, Requirement
from gateway.policy.engine import PolicyEngine
from gateway.policy.wire import question_from_wire

AS_OF = date(2026, 3, 2)
CHILD = {"birth_date": "2014-01-21", "grade_completed": 6}  # 12 years old on AS_OF
FIFTEEN = {"birth_date": "2011-01-21", "grade_completed": 9}
SIXTEEN = {"birth_date": "2010-01-21", "grade_completed": 10}
ADULT = {"birth_date": "2007-01-21", "grade_completed": 12, "status": "graduated"}


def ask(engine: PolicyEngine, requester: dict[str, Any], record: str = "courses_and_marks", *,
        student: dict[str, Any] = CHILD, action: str = "access", purpose: str = "review",
        evidence: dict[str, Any] | None = None, on: date = AS_OF) -> Decision:
    question = question_from_wire({
        "requester": requester, "student": student, "action": action,
        "record": {"type": record}, "purpose": purpose, "evidence": evidence or {},
    })
    return engine.decide(question, on)


P, D, W = Outcome.PERMIT, Outcome.DENY, Outcome.PENDING
PARENT = {"category": "parent"}
TEACHER = {"category": "school_official", "legitimate_educational_interest": "teaches math"}
CONSENT = {"signed": True, "dated": True, "by": "custodial_parent", "records": "all",
           "purpose": "tutoring", "recipient": "Bright Path"}

# (id, requester, keyword arguments of ask, outcome, clause)
TABLE: list[tuple[str, dict[str, Any], dict[str, Any], Outcome, str]] = [
    # Rights pass to the student at 18 (on the birthday itself) or on postsecondary attendance.
    ("parent-day-before-18th", PARENT,
     {"student": {"birth_date": "2008-03-03", "grade_completed": 12}}, P, "parent_of_minor"),
    ("parent-on-18th-birthday", PARENT,
     {"student": {"birth_date": "2008-03-02", "grade_completed": 12}}, D, "adult_student"),
    ("parent-of-minor-in-college", PARENT,
     {"student": {**FIFTEEN, "attends_postsecondary": True}}, D, "adult_student"),
    ("parent-of-college-minor-tax-dependent", PARENT,
     {"student": {**FIFTEEN, "attends_postsecondary": True, "tax_dependent": True}},
     D, "adult_student"),  # AR 5125(d) item 1: dependents "age 18 or older" only
    ("minor-in-college-reads-own", {"category": "student"},
     {"student": {**FIFTEEN, "attends_postsecondary": True}}, P, "adult_student"),
    ("leap-day-birthday-not-yet-18", PARENT,
     {"student": {"birth_date": "2008-02-29"}, "on": date(2026, 2, 28)}, P, "parent_of_minor"),
    ("leap-day-birthday-18-on-march-1", PARENT,
     {"student": {"birth_date": "2008-02-29"}, "on": date(2026, 3, 1)}, D, "adult_student"),
    ("guardian-of-minor", {"category": "parent", "parent_type": "guardian"}, {}, P,
     "parent_of_minor"),
    ("incompetent-flag-on-a-minor-changes-nothing", PARENT,
     {"student": {**CHILD, "incompetent_adult_with_disability": True}}, P, "parent_of_minor"),
    ("parent-without-birth-date", PARENT, {"student": {"grade_completed": 6}}, D,
     "parent_of_minor"),
    # Students 16 or older or past the 10th grade.
    ("student-turns-16-today", {"category": "student"},
     {"student": {"birth_date": "2010-03-02", "grade_completed": 9}}, P,
     "student_16_or_grade_10"),
    ("student-15-in-grade-9", {"category": "student"}, {"student": FIFTEEN}, D,
     "student_16_or_grade_10"),
    # Officials.
    ("custodian-without-purpose", {"category": "custodian"}, {"purpose": "curiosity"}, D,
     "custodian_of_records"),
    ("sarb-without-interest", {"category": "sarb_member"}, {"purpose": "review"}, D, "sarb"),
    ("contractor-without-agreement-is-no-contractor",
     {"category": "contractor", "legitimate_educational_interest": "transport"}, {}, D,
     "contractor"),
    ("contractor-without-interest", {"category": "contractor"},
     {"evidence": {"written_agreement": True}}, D, "contractor"),
    # Legally authorized parties.
    ("correctional-school-for-transfer", {"category": "other_school_official"},
     {"purpose": "enrollment_transfer", "student": FIFTEEN}, P, "other_school_enrollment"),
    ("county-placing-agency-audit", {"category": "county_placing_agency"},
     {"purpose": "audit_evaluation", "evidence": {"written_agreement": True}}, P,
     "county_placing_agency"),
    ("county-placing-agency-no-agreement", {"category": "county_placing_agency"},
     {"purpose": "audit_evaluation"}, W, "county_placing_agency"),
    ("auditor-wrong-purpose", {"category": "government_auditor"},
     {"purpose": "curiosity", "evidence": {"written_agreement": True}}, D, "audit_evaluation"),
    ("da-truancy-without-certification", {"category": "district_attorney"},
     {"purpose": "truancy", "student": FIFTEEN}, W, "district_attorney_truancy"),
    ("da-compulsory-education-certified", {"category": "district_attorney"},
     {"purpose": "compulsory_education", "evidence": {"written_certification": True}}, P,
     "district_attorney_compulsory_education"),
    ("da-criminal-without-certification", {"category": "district_attorney"},
     {"purpose": "criminal_investigation"}, W, "criminal_investigation"),
    ("counsel-for-minor-certified", {"category": "counsel_for_minor"},
     {"purpose": "criminal_investigation", "evidence": {"written_certification": True}}, P,
     "criminal_investigation"),
    ("counsel-for-adult-student", {"category": "counsel_for_minor"},
     {"purpose": "criminal_investigation", "student": ADULT,
      "evidence": {"written_certification": True}}, D, "criminal_investigation"),
    ("probation-truancy-uncertified", {"category": "probation_officer"},
     {"purpose": "truancy"}, W, "truancy_judge_or_probation"),
    ("foster-agency-reads-iep", {"category": "foster_family_agency"}, {"record": "iep"}, P,
     "foster_family_agency"),
    ("foster-agency-special-ed-beyond-iep", {"category": "foster_family_agency"},
     {"record": "special_education"}, D, "foster_family_agency"),
    ("police-48902-uncertified", {"category": "law_enforcement"},
     {"record": "expulsion_order", "purpose": "criminal_investigation",
      "student": {**FIFTEEN, "disability": True, "expelled_or_suspended_for_pc245": True}},
     W, "law_enforcement_48902"),
    ("police-48902-needs-the-disability", {"category": "law_enforcement"},
     {"record": "expulsion_order", "purpose": "criminal_investigation",
      "student": {**FIFTEEN, "expelled_or_suspended_for_pc245": True},
      "evidence": {"written_certification": True}}, D, "peace_officer_49076_5"),
    ("peace-officer-emergency-identity", {"category": "law_enforcement"},
     {"record": "legal_name", "purpose": "criminal_investigation",
      "evidence": {"emergency_threat": "missing child, possible abduction"}}, P,
     "peace_officer_49076_5"),
    ("peace-officer-consent-identity-only", {"category": "law_enforcement"},
     {"record": "health", "purpose": "criminal_investigation",
      "evidence": {"consent": {**CONSENT, "records": ["legal_name"],
                               "purpose": "criminal_investigation"}}}, D,
     "peace_officer_49076_5"),
    # Court orders and subpoenas: at least three days' notice.
    ("subpoena-notice-exactly-three-days", {"category": "third_party"},
     {"evidence": {"subpoena": True, "parent_notified_on": "2026-02-27"}}, P,
     "court_order_or_subpoena"),
    ("subpoena-notice-two-days", {"category": "third_party"},
     {"evidence": {"subpoena": True, "parent_notified_on": "2026-02-28"}}, W,
     "court_order_or_subpoena"),
    ("subpoena-notice-dated-in-future", {"category": "third_party"},
     {"evidence": {"subpoena": True, "parent_notified_on": "2026-03-09"}}, W,
     "court_order_or_subpoena"),
    ("court-order-overrides-directory-opt-out", {"category": "third_party"},
     {"record": "directory_information", "student": {**CHILD, "directory_opt_out": True},
      "evidence": {"court_order": True, "court_instructs_no_notice": True}}, P,
     "court_order_or_subpoena"),
    ("judge-with-a-court-order", {"category": "judge"},
     {"purpose": "custody dispute", "evidence": {"court_order": True,
                                                  "parent_notified_on": "2026-02-20"}},
     P, "court_order_or_subpoena"),
    # Discretionary disclosures.
    ("parent-in-emergency-revoked-but-threat", {**PARENT, "access_revoked_by_court": True},
     {"purpose": "emergency", "record": "health",
      "evidence": {"emergency_threat": "student collapsed; paramedics need allergies"}},
     P, "emergency"),
    ("accreditor-other-purpose", {"category": "accrediting_association"},
     {"purpose": "marketing"}, D, "accrediting_association"),
    ("private-school-for-study", {"category": "private_school_official"},
     {"purpose": "research"}, D, "private_school_enrollment"),
    ("health-department-name-for-registry", {"category": "health_department"},
     {"record": "legal_name", "purpose": "immunization_registry"}, P, "immunization_registry"),
    ("elections-official-after-opt-out", {"category": "elections_official"},
     {"record": "legal_name", "purpose": "voter_registration",
      "student": {**SIXTEEN, "directory_opt_out": True}}, D, "elections_official"),
    ("elections-official-grades", {"category": "elections_official"},
     {"purpose": "voter_registration"}, D, "elections_official"),
    ("financial-aid-other-purpose", {"category": "financial_aid_agency"},
     {"purpose": "marketing"}, D, "financial_aid"),
    # Consent.
    ("consent-of-both-parents-agreement", {"category": "third_party"},
     {"purpose": "tutoring", "evidence": {"consent": {**CONSENT, "by": "both_parents"}}},
     P, "written_consent"),
    ("consent-by-minor-student", {"category": "third_party"},
     {"purpose": "tutoring", "evidence": {"consent": {**CONSENT, "by": "adult_student"}}},
     D, "written_consent"),
    ("parent-consents-after-rights-passed", {"category": "third_party"},
     {"purpose": "tutoring", "student": ADULT, "evidence": {"consent": CONSENT}}, D,
     "written_consent"),
    ("parent-consents-for-incompetent-adult", {"category": "third_party"},
     {"purpose": "tutoring", "evidence": {"consent": CONSENT},
      "student": {**ADULT, "incompetent_adult_with_disability": True}}, P, "written_consent"),
    ("consent-for-another-purpose", {"category": "third_party"},
     {"purpose": "marketing", "evidence": {"consent": CONSENT}}, D, "written_consent"),
    ("consent-unsigned", {"category": "third_party"},
     {"purpose": "tutoring", "evidence": {"consent": {**CONSENT, "signed": False}}}, D,
     "written_consent"),
    ("consent-names-no-recipient", {"category": "third_party"},
     {"purpose": "tutoring", "evidence": {"consent": {**CONSENT, "recipient": " "}}}, D,
     "written_consent"),
    # Directory information and de-identified release.
    ("directory-to-employer", {"category": "third_party", "organization_type": "employer"},
     {"record": "directory_information", "purpose": "hiring"}, P, "directory_information"),
    ("directory-to-for-profit-vendor",
     {"category": "third_party", "organization_type": "private_for_profit"},
     {"record": "directory_information", "purpose": "marketing"}, D, "directory_information"),
    # Ed Code 49073: a party that does not say what kind it is might be a for-profit.
    ("directory-to-party-of-unknown-kind", {"category": "third_party"},
     {"record": "directory_information", "purpose": "mailing list"}, D,
     "directory_information"),
    ("directory-to-individual", {"category": "third_party", "organization_type": "individual"},
     {"record": "directory_information", "purpose": "team roster"}, P,
     "directory_information"),
    ("deidentified-to-for-profit",
     {"category": "third_party", "organization_type": "private_for_profit"},
     {"record": "standardized_test", "evidence": {"deidentified": True}}, D,
     "deidentified_release"),
    ("deidentified-to-public-agency",
     {"category": "third_party", "organization_type": "public_agency"},
     {"record": "standardized_test", "evidence": {"deidentified": True}}, P,
     "deidentified_release"),
    # Who may read the access log.
    ("log-read-by-16-year-old", {"category": "student"},
     {"action": "view_access_log", "record": "access_log", "student": SIXTEEN}, P,
     "access_log_readers"),
    ("log-read-by-15-year-old", {"category": "student"},
     {"action": "view_access_log", "record": "access_log", "student": FIFTEEN}, D,
     "access_log_readers"),
    ("log-read-by-parent-of-adult", PARENT,
     {"action": "view_access_log", "record": "access_log", "student": ADULT}, D,
     "access_log_readers"),
    ("log-read-by-parent-of-dependent-adult", PARENT,
     {"action": "view_access_log", "record": "access_log",
      "student": {**ADULT, "tax_dependent": True}}, P, "access_log_readers"),
    ("log-read-by-revoked-parent", {**PARENT, "access_revoked_by_court": True},
     {"action": "view_access_log", "record": "access_log"}, D, "access_log_readers"),
    ("log-asked-as-a-record-by-teacher", TEACHER, {"record": "access_log"}, D,
     "access_log_readers"),
    ("log-read-by-state-auditor", {"category": "government_auditor"},
     {"action": "view_access_log", "record": "access_log", "purpose": "audit_evaluation",
      "evidence": {"written_agreement": True}}, P, "audit_evaluation"),
    # Who may challenge a record.
    ("adult-student-challenges", {"category": "student"},
     {"action": "challenge", "student": ADULT}, P, "challenge"),
    ("sixteen-year-old-challenges", {"category": "student"},
     {"action": "challenge", "student": SIXTEEN}, D, "challenge"),
    ("parent-of-adult-challenges", PARENT, {"action": "challenge", "student": ADULT}, D,
     "challenge"),
    ("parent-of-incompetent-adult-challenges", PARENT,
     {"action": "challenge", "student": {**ADULT, "incompetent_adult_with_disability": True}},
     P, "challenge"),
    ("teacher-challenges", TEACHER, {"action": "challenge"}, D, "challenge"),
    # Additions to the record (5 CCR 437).
    ("teacher-adds-while-enrolled", TEACHER, {"action": "add_record", "record": "progress_notice"},
     P, "record_keeping"),
    ("routine-update-after-graduation", TEACHER,
     {"action": "add_record", "student": ADULT, "evidence": {"routine_update": True}}, P,
     "no_additions_after_departure"),
    ("addition-after-withdrawal-with-consent", TEACHER,
     {"action": "add_record", "record": "behavioral_report",
      "student": {**FIFTEEN, "status": "withdrawn"},
      "evidence": {"consent": {**CONSENT, "records": ["behavioral_report"]}}}, P,
     "no_additions_after_departure"),
    ("parent-adds-a-record", PARENT, {"action": "add_record"}, D, "record_keeping"),
    ("teacher-without-interest-adds", {"category": "school_official"},
     {"action": "add_record"}, D, "record_keeping"),
]


@pytest.mark.parametrize(("requester", "kwargs", "outcome", "clause"),
                         [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_clause(engine: PolicyEngine, requester: dict[str, Any], kwargs: dict[str, Any],
                outcome: Outcome, clause: str) -> None:
    decision = ask(engine, requester, **kwargs)

    assert (decision.outcome, decision.clause) == (outcome, clause), decision.reason


def test_subpoena_notice_is_a_duty_while_pending(engine: PolicyEngine) -> None:
    d = ask(engine, {"category": "third_party"}, evidence={"subpoena": True})

    assert d.requires == (Requirement.PARENT_NOTICE_3_DAYS,)
    assert Obligation.NOTIFY_PARENT_3_DAYS_BEFORE_DISCLOSURE in d.obligations


def test_judge_release_brings_the_24_hour_notice(engine: PolicyEngine) -> None:
    d = ask(engine, {"category": "judge"}, purpose="truancy",
            evidence={"written_certification": True})

    assert d.outcome is P
    assert Obligation.NOTIFY_PARENT_WITHIN_24_HOURS in d.obligations


@pytest.mark.parametrize(("requester", "logged"), [
    (PARENT, False), ({"category": "student"}, False), (TEACHER, False),
    ({**TEACHER, "category": "custodian"}, False), ({**TEACHER, "category": "sarb_member"}, True),
    ({"category": "contractor", "legitimate_educational_interest": "x"}, True),
])
def test_access_log_exemptions_follow_ed_code_49064(engine, requester, logged) -> None:
    d = ask(engine, requester, student=SIXTEEN, evidence={"written_agreement": True})

    assert d.outcome is P
    assert d.log_required is logged


POLICE = {"category": "law_enforcement"}
IDENTITY = {"record": "residence_verification", "purpose": "criminal_investigation"}


@pytest.mark.parametrize("evidence", [{"subpoena": True}, {"court_order": True},
                                      {"subpoena": True, "parent_notified_on": "2026-02-28"}])
def test_peace_officer_under_a_judicial_order_waits_for_the_parents_notice(
        engine: PolicyEngine, evidence: dict[str, Any]) -> None:
    # Ed Code 49076.5 says what police receive; Ed Code 49077 still asks for the notice.
    d = ask(engine, POLICE, **IDENTITY, evidence=evidence)

    assert (d.outcome, d.clause) == (W, "peace_officer_49076_5")
    assert d.requires == (Requirement.PARENT_NOTICE_3_DAYS,)
    assert Obligation.NOTIFY_PARENT_3_DAYS_BEFORE_DISCLOSURE in d.obligations
    assert {"Education Code 49076.5", "Education Code 49077"} <= set(d.citations)


@pytest.mark.parametrize("evidence", [
    {"subpoena": True, "parent_notified_on": "2026-02-27"},
    {"court_order": True, "court_instructs_no_notice": True}])
def test_peace_officer_under_a_judicial_order_once_notice_is_given(
        engine: PolicyEngine, evidence: dict[str, Any]) -> None:
    d = ask(engine, POLICE, **IDENTITY, evidence=evidence)

    assert (d.outcome, d.clause, d.log_required) == (P, "peace_officer_49076_5", True)


def test_peace_officer_in_an_emergency_records_the_threat(engine: PolicyEngine) -> None:
    d = ask(engine, POLICE, **IDENTITY, evidence={"emergency_threat": "suspected abduction"})

    assert (d.outcome, d.log_required) == (P, True)
    assert Obligation.RECORD_EMERGENCY_BASIS in d.obligations
    assert "34 CFR 99.36" in d.citations


def test_peace_officer_with_consent_files_it_and_needs_no_log_entry(
        engine: PolicyEngine) -> None:
    consent = {**CONSENT, "records": ["residence_verification"],
               "purpose": "criminal_investigation"}
    d = ask(engine, POLICE, **IDENTITY, evidence={"consent": consent})

    assert (d.outcome, d.log_required) == (P, False)
    assert Obligation.FILE_CONSENT_WITH_RECORD in d.obligations
    assert "Education Code 49075" in d.citations


@pytest.mark.parametrize(("requester", "purpose", "evidence"), [
    ({"category": "elections_official"}, "voter_registration", {}),
    (POLICE, "criminal_investigation", {"emergency_threat": "suspected abduction"})])
def test_directory_information_needs_no_log_entry_whoever_obtains_it(
        engine: PolicyEngine, requester: dict[str, Any], purpose: str,
        evidence: dict[str, Any]) -> None:
    d = ask(engine, requester, "directory_information", student=SIXTEEN, purpose=purpose,
            evidence=evidence)

    assert (d.outcome, d.log_required) == (P, False)


@pytest.mark.parametrize(("requester", "kwargs"), [
    ({"category": "third_party"}, {"purpose": "tutoring"}),
    (POLICE, {"record": "legal_name", "purpose": "criminal_investigation"}),
    ({"category": "custodian"}, {"action": "add_record", "record": "behavioral_report",
                                 "purpose": "tutoring",
                                 "student": {**ADULT, "birth_date": "2008-06-01"}}),
])
def test_a_consent_that_does_not_say_who_gave_it_allows_nothing(
        engine: PolicyEngine, requester: dict[str, Any], kwargs: dict[str, Any]) -> None:
    # Only a parent with legal custody (or the adult student) may consent: a giver
    # nobody can name might be the one who may not.
    consent = {k: v for k, v in CONSENT.items() if k != "by"}
    consent["purpose"] = kwargs["purpose"]
    d = ask(engine, requester, evidence={"consent": consent}, **kwargs)

    assert d.outcome is D
    assert ask(engine, requester, evidence={"consent": {**consent, "by": "custodial_parent"}},
               **kwargs).outcome is P


def test_refused_outside_request_is_still_logged(engine: PolicyEngine) -> None:
    d = ask(engine, {"category": "law_enforcement"}, purpose="criminal_investigation")

    assert d.outcome is D
    assert d.log_required is True


@pytest.mark.parametrize(("requester", "record", "evidence"), [
    ({"category": "third_party"}, "directory_information", {}),
    ({"category": "third_party"}, "standardized_test", {"deidentified": True}),
])
def test_a_party_of_unknown_kind_is_refused_naming_the_missing_fact(
        engine: PolicyEngine, requester: dict[str, Any], record: str,
        evidence: dict[str, Any]) -> None:
    d = ask(engine, requester, record, purpose="mailing list", evidence=evidence)

    assert (d.outcome, d.log_required) == (D, True)
    assert "organization_type" in d.reason
    assert ask(engine, {**requester, "organization_type": "nonprofit"}, record,
               purpose="mailing list", evidence=evidence).outcome is P


def test_a_refused_addition_names_what_the_consent_lacks(engine: PolicyEngine) -> None:
    consent = {"signed": True, "dated": True, "by": "custodial_parent", "records": "all"}
    d = ask(engine, {"category": "custodian"}, "behavioral_report", action="add_record",
            student={"grade_completed": 6, "status": "withdrawn"},
            evidence={"consent": consent})

    assert d.outcome is D
    assert "birth date" in d.reason


def test_directory_request_needs_no_log_entry(engine: PolicyEngine) -> None:
    d = ask(engine, {"category": "third_party", "organization_type": "news_media"},
            "directory_information")

    assert (d.outcome, d.log_required) == (P, False)


@pytest.mark.parametrize("wire", [
    {"requester": {"category": "wizard"}},
    {"action": "peek"},
    {"record": {"type": "horoscope"}},
    {"student": {**CHILD, "status": "on_sabbatical"}},
    {"requester": {"category": "parent", "parent_type": "godparent"}},
    {"requester": {"category": "parent", "nickname": "Mom"}},
    {"evidence": {"bribe": True}},
    {"requester": None},
])
def test_unrecognized_facts_deny(engine: PolicyEngine, wire: dict[str, Any]) -> None:
    question = {"requester": PARENT, "student": CHILD, "action": "access",
                "record": {"type": "courses_and_marks"}, "purpose": "review", **wire}

    d = engine.decide(question_from_wire(question), AS_OF)

    assert (d.outcome, d.clause) == (D, "unrecognized_request")
