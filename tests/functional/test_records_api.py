"""Reading records over HTTP, as SIS integrations and other requesters do.

The public AR 5125 cases drive the first test: for each case the API can express (an
`access` by a requester the store can hold, with evidence the district keeps on file),
the store is given the case's facts, the requester asks with a real token from the real
provider, and the answer must be the case's: 200 with the record, 202 with what is
still required, or a 403 problem that carries no part of the record.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date
from typing import Any

import pytest
import structlog
from sqlalchemy.exc import OperationalError

from gateway.policy.facts import (
    ConsentGiver,
    OrganizationType,
    ParentType,
    RecordType,
    RequesterCategory,
    StudentStatus,
)
from gateway.store import models
from gateway.store.access_log import OpenedEntry
from gateway.store.uow import UnitOfWork
from tests.conftest import REPOSITORY
from tests.functional.conftest import SIS_CLIENT, client_id_for

CASES = [json.loads(line) for line in
         (REPOSITORY / "tests" / "cases" / "ar5125-public.jsonl").read_text().splitlines()
         if line.strip()]
# Evidence the district holds: papers, consents, court orders and subpoenas with the
# parent's notice, its emergency determinations. De-identification is not a read's.
ON_FILE = {"written_agreement", "written_certification", "consent", "emergency_threat",
           "court_order", "subpoena", "parent_notified_on", "court_instructs_no_notice"}


def expressible(case: dict[str, Any]) -> bool:
    return case["action"] == "access" and set(case["evidence"]) <= ON_FILE


API_CASES = [c for c in CASES if expressible(c)]


def seed(uow: UnitOfWork, case: dict[str, Any], issuer: str) -> tuple[str, uuid.UUID]:
    """Put the case's world in the store: the student, the requester, papers, the record."""
    facts = dict(case["student"])
    facts["birth_date"] = date.fromisoformat(facts["birth_date"])
    facts["status"] = StudentStatus(facts.get("status", "enrolled"))
    student = uow.students.add(models.Student(sis_id=f"SIS-{case['id']}", **facts))
    who = case["requester"]
    category = RequesterCategory(who["category"])
    requester = uow.requesters.add(models.Requester(
        issuer=issuer, subject=client_id_for(category), display_name=case["id"],
        category=category, volunteer=who.get("volunteer", False),
        organization_type=(OrganizationType(who["organization_type"])
                           if "organization_type" in who else None),
        # A student's own login, tied to the student by the custodian.
        student_id=student.id if category is RequesterCategory.STUDENT else None))
    if category is RequesterCategory.PARENT:
        uow.guardianships.add(models.Guardianship(
            parent_id=requester.id, student_id=student.id,
            parent_type=ParentType(who.get("parent_type", "natural")),
            legal_custody=who.get("legal_custody", True),
            access_revoked_by_court=who.get("access_revoked_by_court", False),
            verified_by_id=requester.id, verified_at=models.utc_now()))
    evidence = case["evidence"]
    for kind in (models.AgreementKind.WRITTEN_AGREEMENT,
                 models.AgreementKind.WRITTEN_CERTIFICATION):
        if evidence.get(kind.value):
            uow.agreements.add(models.Agreement(
                requester_id=requester.id, kind=kind, purpose=case["purpose"],
                signed_on=date(2025, 8, 1), effective_from=date(2025, 8, 1),
                reference=f"{case['id']}-{kind.value}"))
    if consent := evidence.get("consent"):
        giver = uow.requesters.add(models.Requester(
            issuer=issuer, subject=f"giver-{case['id']}", display_name="giver",
            category=RequesterCategory.PARENT))
        uow.consents.add(models.Consent(
            student_id=student.id, given_by_id=giver.id,
            giver_role=ConsentGiver(consent["by"]), signed=consent["signed"],
            signed_on=date(2026, 2, 1) if consent["dated"] else None,
            records=(None if consent["records"] == "all"
                     else frozenset(RecordType(r) for r in consent["records"])),
            purpose=consent["purpose"], recipient=consent["recipient"],
            recipient_id=requester.id))
    if evidence.get("emergency_threat"):
        uow.emergencies.add(models.EmergencyDetermination(
            student_id=student.id, recipient_id=requester.id,
            threat=evidence["emergency_threat"], determined_on=date.fromisoformat(
                case["as_of"]), ends_on=date.fromisoformat(case["as_of"]),
            entered_by_id=requester.id))
    if evidence.get("court_order") or evidence.get("subpoena"):
        notified = evidence.get("parent_notified_on")
        uow.judicial_orders.add(models.JudicialOrder(
            student_id=student.id, recipient_id=requester.id,
            kind=(models.JudicialOrderKind.COURT_ORDER if evidence.get("court_order")
                  else models.JudicialOrderKind.SUBPOENA),
            reference=case["id"], served_on=date(2026, 2, 1),
            court_instructs_no_notice=evidence.get("court_instructs_no_notice", False),
            parent_notified_on=date.fromisoformat(notified) if notified else None,
            entered_by_id=requester.id))
    record = uow.records.add(
        student_id=student.id, record_type=RecordType(case["record"]["type"]),
        content=json.dumps({"case": case["id"]}).encode(), media_type="application/json",
        school_year_of_origin=2025, originator="Test School", originated_on=date(2025, 9, 2),
        signed_by_originator=True)
    uow.commit()
    return student.sis_id, record.id


def read(client, token: str, sis_id: str, record_id: uuid.UUID, **query: str):
    return client.get(f"/v1/students/{sis_id}/records/{record_id}", query_string=query,
                      headers={"Authorization": f"Bearer {token}"})


def query_of(case: dict[str, Any]) -> dict[str, str]:
    return {
        "purpose": case["purpose"],
        "legitimate_educational_interest":
            case["requester"].get("legitimate_educational_interest", ""),
    }


def test_the_api_covers_every_requester_category_the_api_serves() -> None:
    served = {c["requester"]["category"] for c in API_CASES}
    in_cases = {c["requester"]["category"] for c in CASES}
    assert served == in_cases


@pytest.mark.parametrize("case", API_CASES, ids=[c["id"] for c in API_CASES])
def test_a_read_answers_as_the_regulation_does(client, unit_of_work, gateway_idp, token_for,
                                              case: dict[str, Any]) -> None:
    with unit_of_work() as uow:
        sis_id, record_id = seed(uow, case, gateway_idp.issuer)
    category = RequesterCategory(case["requester"]["category"])

    response = read(client, token_for(category), sis_id, record_id, **query_of(case))

    expected = case["expect"]["decision"]
    body = response.get_json()
    assert response.status_code == {"permit": 200, "pending": 202, "deny": 403}[expected], body
    decision = body["decision"]
    assert decision["decision"] == expected
    for wanted in case["expect"].get("citations_include", []):
        assert set(wanted.split("|")) & set(decision["citations"]), wanted
    # Whatever the answer, the access is in the log: exactly one entry, of its kind.
    (entry,) = access_log_of(unit_of_work, sis_id)
    assert entry.logged.event == {"permit": "disclosure", "pending": "pending",
                                  "deny": "denial"}[expected]
    assert (entry.logged.decision, entry.logged.clause) == (expected, decision["clause"])
    assert entry.logged.request_id == response.headers["X-Request-Id"]
    assert [r.id for r in entry.entry.records] == [str(record_id)]
    assert entry.entry.requester.category == case["requester"]["category"]
    if expected == "permit":
        assert json.loads(base64.b64decode(body["content_base64"])) == {"case": case["id"]}
        assert body["redisclosure_notice"]
    else:
        assert "content_base64" not in body
    if expected == "deny":
        assert response.content_type == "application/problem+json"


def access_log_of(unit_of_work, sis_id: str) -> list[OpenedEntry]:
    """The student's access-log entries, opened, oldest first."""
    with unit_of_work() as uow:
        student = uow.students.by_sis_id(sis_id)
        return uow.access_log.open(uow.access_log.search(student_id=student.id))


@pytest.fixture
def teacher_case() -> dict[str, Any]:
    return next(c for c in CASES if c["id"] == "off-01")


def test_a_read_without_a_token_is_401_before_anything_else(client) -> None:
    response = client.get(f"/v1/students/S/records/{uuid.uuid4()}")  # no purpose either

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.content_type == "application/problem+json"


def test_a_forged_token_is_401(client) -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    claims = base64.urlsafe_b64encode(b'{"sub":"x"}').rstrip(b"=").decode()

    response = client.get(f"/v1/students/S/records/{uuid.uuid4()}?purpose=x",
                          headers={"Authorization": f"Bearer {header}.{claims}."})

    assert response.status_code == 401


def test_an_unregistered_requester_is_refused(client, token_for) -> None:
    response = read(client, token_for(RequesterCategory.THIRD_PARTY), "S", uuid.uuid4(),
                    purpose="review")

    assert response.status_code == 403
    assert response.get_json()["type"].endswith(":unregistered-requester")


def test_a_parent_whose_relationship_is_unverified_is_refused(
        client, unit_of_work, gateway_idp, token_for) -> None:
    case = next(c for c in CASES if c["id"] == "abs-01")
    with unit_of_work() as uow:
        sis_id, record_id = seed(uow, case, gateway_idp.issuer)
        for g in uow.guardianships.of_student(uow.students.by_sis_id(sis_id).id):
            g.verified_at = g.verified_by_id = None
        uow.commit()

    response = read(client, token_for(RequesterCategory.PARENT), sis_id, record_id,
                    purpose="review")

    assert response.status_code == 403
    assert response.get_json()["type"].endswith(":no-verified-relationship")
    # The refusal is a request for the student's records: an entry the 49064 log lists.
    [entry] = access_log_of(unit_of_work, sis_id)
    assert entry.logged.event.value == "denial" and entry.logged.log_required
    assert [r.id for r in entry.entry.records] == [str(record_id)]


def test_a_record_of_another_student_is_refused_and_the_refusal_logged(
        client, unit_of_work, gateway_idp, token_for, teacher_case) -> None:
    with unit_of_work() as uow:
        _, record_id = seed(uow, teacher_case, gateway_idp.issuer)
        other = uow.students.add(models.Student(sis_id="SIS-other",
                                                birth_date=date(2014, 1, 1)))
        uow.commit()

    response = read(client, token_for(RequesterCategory.SCHOOL_OFFICIAL), other.sis_id,
                    record_id, **query_of(teacher_case))

    assert response.status_code == 403
    assert response.get_json()["type"].endswith(":access-refused")
    [entry] = access_log_of(unit_of_work, other.sis_id)
    assert entry.logged.event.value == "denial"
    assert entry.logged.clause == "no_basis" and entry.entry.records == ()


def test_the_sis_integration_is_told_there_is_no_such_record(
        client, unit_of_work, gateway_idp, write_token_for, teacher_case) -> None:
    with unit_of_work() as uow:
        _, record_id = seed(uow, teacher_case, gateway_idp.issuer)
        uow.requesters.add(models.Requester(
            issuer=gateway_idp.issuer, subject=SIS_CLIENT, display_name="SIS",
            category=RequesterCategory.SCHOOL_OFFICIAL))
        uow.students.add(models.Student(sis_id="SIS-other", birth_date=date(2014, 1, 1)))
        uow.commit()
    token = write_token_for(SIS_CLIENT)

    for sis_id in ("SIS-other", "SIS-nobody"):
        response = read(client, token, sis_id, record_id, **query_of(teacher_case))
        assert response.status_code == 404


def _refusal(response) -> dict[str, Any]:
    """A refusal's body, without what differs from one request to the next."""
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    body.pop("request_id")
    return {"status": response.status_code, **body}


def test_a_third_party_cannot_tell_whether_a_student_exists(
        client, unit_of_work, gateway_idp, token_for) -> None:
    case = next(c for c in CASES if c["id"] == "dis-02")  # a claimed emergency: refused
    with unit_of_work() as uow:
        sis_id, record_id = seed(uow, case, gateway_idp.issuer)
    token = token_for(RequesterCategory.THIRD_PARTY)
    query = query_of(case)

    known_record = _refusal(read(client, token, sis_id, record_id, **query))
    known_student = _refusal(read(client, token, sis_id, uuid.uuid4(), **query))
    unknown_student = _refusal(read(client, token, "SIS-nobody", uuid.uuid4(), **query))

    assert unknown_student == known_student
    assert unknown_student["status"] == known_record["status"] == 403
    assert unknown_student["type"] == known_record["type"]
    assert unknown_student.keys() == known_record.keys()
    assert unknown_student["decision"].keys() == known_record["decision"].keys()
    # Both requests about the student are entries; nothing is invented for no student.
    assert [e.logged.event.value for e in access_log_of(unit_of_work, sis_id)] == [
        "denial", "denial"]
    with unit_of_work() as uow:
        assert uow.access_log.head().size == 2


def _a_child_and_another_student(unit_of_work, issuer: str) -> tuple[object, models.Student]:
    """The parent's child of case abs-01 with a record (its id), and a student who is not."""
    case = next(c for c in CASES if c["id"] == "abs-01")
    with unit_of_work() as uow:
        _, record_id = seed(uow, case, issuer)
        other = uow.students.add(models.Student(sis_id="SIS-other",
                                                birth_date=date(2014, 1, 1)))
        uow.commit()
    return record_id, other


def test_a_parent_cannot_tell_whether_another_student_exists(
        client, unit_of_work, gateway_idp, token_for) -> None:
    record_id, other = _a_child_and_another_student(unit_of_work, gateway_idp.issuer)
    token = token_for(RequesterCategory.PARENT)

    other_child = _refusal(read(client, token, other.sis_id, record_id, purpose="review"))
    nobody = _refusal(read(client, token, "SIS-nobody", record_id, purpose="review"))
    preview = client.post("/v1/decisions", json={
        "student_sis_id": "SIS-nobody", "record_id": str(record_id), "purpose": "review"},
        headers={"Authorization": f"Bearer {token}"})

    assert nobody == other_child
    assert nobody["type"].endswith(":no-verified-relationship")
    assert _refusal(preview) == nobody
    [entry] = access_log_of(unit_of_work, other.sis_id)  # the read (the preview: no student)
    assert entry.logged.event.value == "denial"


def test_an_inactive_requester_is_refused_and_the_refusal_logged(
        client, unit_of_work, gateway_idp, token_for, teacher_case) -> None:
    with unit_of_work() as uow:
        sis_id, record_id = seed(uow, teacher_case, gateway_idp.issuer)
        uow.requesters.by_subject(gateway_idp.issuer, client_id_for(
            RequesterCategory.SCHOOL_OFFICIAL)).active = False
        uow.commit()

    response = read(client, token_for(RequesterCategory.SCHOOL_OFFICIAL), sis_id, record_id,
                    **query_of(teacher_case))

    assert response.status_code == 403
    assert response.get_json()["type"].endswith(":unregistered-requester")
    [entry] = access_log_of(unit_of_work, sis_id)
    assert (entry.logged.event.value, entry.logged.clause) == ("denial", "unrecognized_request")
    assert entry.entry.purpose == teacher_case["purpose"]


def test_a_read_without_a_purpose_is_422_with_field_errors(client, token_for) -> None:
    response = read(client, token_for(RequesterCategory.SCHOOL_OFFICIAL), "S", uuid.uuid4())

    assert response.status_code == 422
    assert "purpose" in response.get_json()["errors"]["query"]


def test_when_the_disclosure_cannot_be_recorded_nothing_is_disclosed(
        client, unit_of_work, gateway_idp, token_for, teacher_case, monkeypatch) -> None:
    with unit_of_work() as uow:
        sis_id, record_id = seed(uow, teacher_case, gateway_idp.issuer)

    def failing_commit(self) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk full"))
    monkeypatch.setattr(UnitOfWork, "commit", failing_commit)
    response = read(client, token_for(RequesterCategory.SCHOOL_OFFICIAL), sis_id, record_id,
                    **query_of(teacher_case))

    assert response.status_code == 503
    assert "content_base64" not in response.get_json()
    monkeypatch.undo()
    assert access_log_of(unit_of_work, sis_id) == []


def test_when_a_denial_cannot_be_logged_the_answer_is_503(
        client, unit_of_work, gateway_idp, token_for, teacher_case, monkeypatch) -> None:
    with unit_of_work() as uow:
        sis_id, record_id = seed(uow, teacher_case, gateway_idp.issuer)

    def failing_commit(self) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk full"))
    monkeypatch.setattr(UnitOfWork, "commit", failing_commit)
    # Without the stated interest the teacher is refused; the refusal must be logged too.
    response = read(client, token_for(RequesterCategory.SCHOOL_OFFICIAL), sis_id, record_id,
                    purpose=teacher_case["purpose"])

    assert response.status_code == 503
    monkeypatch.undo()
    assert access_log_of(unit_of_work, sis_id) == []


def test_reads_leave_one_verifiable_log(client, unit_of_work, gateway_idp, token_for,
                                        teacher_case) -> None:
    with unit_of_work() as uow:
        sis_id, record_id = seed(uow, teacher_case, gateway_idp.issuer)
    token = token_for(RequesterCategory.SCHOOL_OFFICIAL)

    answers = [read(client, token, sis_id, record_id, **query_of(teacher_case)).status_code,
               read(client, token, sis_id, record_id, purpose="curiosity").status_code,
               read(client, token, sis_id, record_id, **query_of(teacher_case)).status_code]

    entries = access_log_of(unit_of_work, sis_id)
    assert answers == [200, 403, 200]
    assert [e.logged.event.value for e in entries] == ["disclosure", "denial", "disclosure"]
    with unit_of_work() as uow:
        assert uow.access_log.verify().ok


def test_a_preview_decides_without_disclosing(client, unit_of_work, gateway_idp, token_for,
                                              teacher_case) -> None:
    with unit_of_work() as uow:
        sis_id, record_id = seed(uow, teacher_case, gateway_idp.issuer)

    response = client.post("/v1/decisions", json={
        "student_sis_id": sis_id, "record_id": str(record_id), **query_of(teacher_case)},
        headers={"Authorization": f"Bearer {token_for(RequesterCategory.SCHOOL_OFFICIAL)}"})

    assert response.status_code == 200
    assert response.get_json()["decision"] == "permit"
    assert access_log_of(unit_of_work, sis_id) == []


def test_a_preview_tells_no_one_outside_the_log_exemptions_anything(
        client, unit_of_work, gateway_idp, token_for) -> None:
    # The answer would show the student's facts (here: a disability and a Penal Code 245
    # expulsion) to a party whose requests the log must list, without an entry.
    case = next(c for c in CASES if c["id"] == "law-01")
    case = {**case, "evidence": {}}
    with unit_of_work() as uow:
        sis_id, record_id = seed(uow, case, gateway_idp.issuer)

    response = client.post("/v1/decisions", json={
        "student_sis_id": sis_id, "record_id": str(record_id), **query_of(case)},
        headers={"Authorization": f"Bearer {token_for(RequesterCategory.LAW_ENFORCEMENT)}"})

    assert response.status_code == 403
    body = response.get_json()
    assert body["type"].endswith(":preview-not-answered") and "decision" not in body
    assert access_log_of(unit_of_work, sis_id) == []


def test_the_request_line_carries_no_student_data(client, unit_of_work, gateway_idp,
                                                  token_for, teacher_case) -> None:
    with unit_of_work() as uow:
        sis_id, record_id = seed(uow, teacher_case, gateway_idp.issuer)

    with structlog.testing.capture_logs() as logs:
        response = read(client, token_for(RequesterCategory.SCHOOL_OFFICIAL), sis_id,
                        record_id, **query_of(teacher_case))

    assert response.status_code == 200
    (line,) = [entry for entry in logs if entry["event"] == "request"]
    assert line["decision"] == "permit" and line["status"] == 200
    text = json.dumps(logs)
    for secret in (sis_id, teacher_case["student"]["birth_date"], "English class"):
        assert secret not in text


@pytest.mark.parametrize("field", ["purpose", "legitimate_educational_interest"])
def test_text_an_entry_cannot_hold_tells_no_one_whether_a_student_exists(
        client, unit_of_work, gateway_idp, token_for, field: str) -> None:
    # A lone surrogate (a JSON escape) cannot be written in an entry: were it looked at
    # only when the refusal is entered, a student the district holds would answer 503 and
    # one it does not a refusal. It is refused for all alike, before anything is asked.
    record_id, other = _a_child_and_another_student(unit_of_work, gateway_idp.issuer)
    token = token_for(RequesterCategory.PARENT)

    answers = []
    for sis_id in (other.sis_id, "SIS-nobody"):
        body = {"student_sis_id": sis_id, "record_id": str(record_id), "purpose": "review",
                "legitimate_educational_interest": ""}
        body[field] += "\ud800"
        response = client.post("/v1/decisions", json=body,
                               headers={"Authorization": f"Bearer {token}"})
        answers.append(_refusal(response))

    assert answers[0] == answers[1]
    assert answers[0]["status"] == 422, answers[0]
    assert access_log_of(unit_of_work, other.sis_id) == []
