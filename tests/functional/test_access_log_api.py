"""The access log over HTTP, with real tokens from the real provider: the custodian's
search, exports, integrity status and proofs, and a student's Ed Code 49064 log.

The world: one student with a health record; an SIS integration (a school official)
reads it with its interest stated (a disclosure the 49064 log need not list), a third
party is refused (a request the log must list), and the student's verified parent, the
custodian, and an unrelated third party ask to read the log.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pytest
import structlog
from sqlalchemy.exc import OperationalError

from audit.checkpoint import encode_signer_key, generate_key, parse_and_verify, verifier_key
from audit.verify import verify_log, verify_proof_bundle
from gateway.audit_signing import SigningKeyError, audit_keys, log_signer
from gateway.policy.facts import ParentType, RecordType, RequesterCategory
from gateway.services.access import Caller
from gateway.services.access_log import NoSuchEntry, NotYetCheckpointed, Reader
from gateway.settings import load_settings
from gateway.store import models
from gateway.store.access_log import LogSigner
from gateway.store.uow import UnitOfWork
from tests.functional.conftest import CASE_DAY_NOON, SIS_CLIENT, client_id_for

Cat = RequesterCategory
SIS_ID = "SIS-LOG-1"
INTEREST = "teaches the student's English class"


@dataclass(frozen=True)
class World:
    student_id: uuid.UUID
    record_id: uuid.UUID
    ids: dict[RequesterCategory, uuid.UUID]


@pytest.fixture
def world(client, unit_of_work, gateway_idp, token_for) -> World:
    with unit_of_work() as uow:
        student = uow.students.add(models.Student(sis_id=SIS_ID, birth_date=date(2014, 1, 21),
                                                  grade_completed=6))
        ids = {}
        for category in (Cat.CUSTODIAN, Cat.PARENT, Cat.SCHOOL_OFFICIAL, Cat.THIRD_PARTY):
            ids[category] = uow.requesters.add(models.Requester(
                issuer=gateway_idp.issuer, subject=client_id_for(category),
                display_name=f"The {category.value}", category=category)).id
        uow.guardianships.add(models.Guardianship(
            parent_id=ids[Cat.PARENT], student_id=student.id, parent_type=ParentType.NATURAL,
            legal_custody=True, verified_by_id=ids[Cat.CUSTODIAN],
            verified_at=models.utc_now()))
        record = uow.records.add(
            student_id=student.id, record_type=RecordType.HEALTH, content=b"{}",
            media_type="application/json", school_year_of_origin=2025,
            originator="Test School", originated_on=date(2025, 9, 2),
            signed_by_originator=True)
        uow.commit()
    path = f"/v1/students/{SIS_ID}/records/{record.id}"
    assert get(client, token_for(Cat.SCHOOL_OFFICIAL), path, purpose="educational_interest",
               legitimate_educational_interest=INTEREST).status_code == 200
    assert get(client, token_for(Cat.THIRD_PARTY), path,
               purpose="curiosity").status_code == 403
    return World(student.id, record.id, ids)


def get(client, token: str, path: str, **query):
    return client.get(path, query_string=query, headers={"Authorization": f"Bearer {token}"})


def entries(unit_of_work, **where) -> list:
    with unit_of_work() as uow:
        return uow.access_log.search(**where, limit=1000)


def checkpoint(app, unit_of_work) -> str:
    """Sign a checkpoint with the gateway's own key; its verifier key."""
    signer = log_signer(app.extensions["gateway"].settings)
    with unit_of_work() as uow:
        uow.access_log.checkpoint(signer, CASE_DAY_NOON)
        uow.commit()
    return signer.verifier_key


# --- The custodian's search ---------------------------------------------------------


def test_the_custodian_searches_by_student_and_sees_entries_opened(
        client, world, token_for, unit_of_work) -> None:
    response = get(client, token_for(Cat.CUSTODIAN), "/v1/access-log/entries", student=SIS_ID)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [e["event"] for e in body["entries"]] == ["disclosure", "denial"]
    read, refused = body["entries"]
    assert read["requester"] == f"The school_official [{world.ids[Cat.SCHOOL_OFFICIAL]}]"
    assert read["requester_id"] == str(world.ids[Cat.SCHOOL_OFFICIAL])
    assert read["records"] == [{"id": str(world.record_id), "type": "health"}]
    assert read["stated_interest"] == INTEREST and read["sis_id"] == SIS_ID
    assert (read["log_required"], refused["log_required"]) == (False, True)
    assert not read["content_destroyed"] and body["next_after"] is None
    # The search is itself an entry, about the student it searched for.
    view = entries(unit_of_work, event="access_log_view")[-1]
    assert view.student_id == world.student_id
    assert view.requester_id == world.ids[Cat.CUSTODIAN]
    assert view.request_id == response.headers["X-Request-Id"]


def test_a_search_across_students_is_an_entry_about_no_student(
        client, world, token_for, unit_of_work) -> None:
    response = get(client, token_for(Cat.CUSTODIAN), "/v1/access-log/entries")

    assert response.status_code == 200
    (view,) = entries(unit_of_work, event="access_log_view")
    assert view.student_id is None and view.stored.identifying is not None
    assert view.requester_id == world.ids[Cat.CUSTODIAN]


@pytest.mark.parametrize(("query", "events"), [
    ({"decision": "deny"}, ["denial"]),
    ({"event": "disclosure"}, ["disclosure"]),
    ({"clause": "no_basis"}, ["denial"]),
    ({"since": (CASE_DAY_NOON + timedelta(seconds=1)).isoformat()}, []),
    ({"until": (CASE_DAY_NOON + timedelta(seconds=1)).isoformat()}, ["disclosure", "denial"]),
    ({"since": "2026-03-02T20:00:00"}, ["disclosure", "denial"]),  # no offset: UTC
])
def test_search_filters(client, world, token_for, query, events) -> None:
    response = get(client, token_for(Cat.CUSTODIAN), "/v1/access-log/entries",
                   student=SIS_ID, **query)

    assert response.status_code == 200, response.get_json()
    assert [e["event"] for e in response.get_json()["entries"]] == events


def test_search_by_requester(client, world, token_for) -> None:
    response = get(client, token_for(Cat.CUSTODIAN), "/v1/access-log/entries",
                   requester=str(world.ids[Cat.THIRD_PARTY]))

    assert [(e["event"], e["requester_id"]) for e in response.get_json()["entries"]] == [
        ("denial", str(world.ids[Cat.THIRD_PARTY]))]


def test_search_pages_by_seq(client, world, token_for) -> None:
    token = token_for(Cat.CUSTODIAN)
    first = get(client, token, "/v1/access-log/entries", student=SIS_ID, limit=1).get_json()
    second = get(client, token, "/v1/access-log/entries", student=SIS_ID, limit=1,
                 after=first["next_after"]).get_json()
    newest = get(client, token, "/v1/access-log/entries", student=SIS_ID, limit=1,
                 newest_first="true").get_json()

    assert [e["event"] for e in first["entries"] + second["entries"]] == [
        "disclosure", "denial"]
    assert first["next_after"] == first["entries"][0]["seq"]
    # The search entries of this student came after: the newest is one of them.
    assert newest["entries"][0]["event"] == "access_log_view"


@pytest.mark.parametrize("query", [
    {"limit": "0"}, {"limit": "100000"}, {"after": "-1"}, {"after": "x"},
    {"after": str(2**64)},
    {"event": "bogus"}, {"decision": "maybe"}, {"requester": "not-a-uuid"},
    {"since": "yesterday"}, {"since": "2026-03-03T00:00:00Z", "until": "2026-03-02T00:00:00Z"},
    {"newest_first": "perhaps"}, {"clause": "x" * 101},
])
def test_bad_search_input_is_a_422_problem(client, world, token_for, query) -> None:
    response = get(client, token_for(Cat.CUSTODIAN), "/v1/access-log/entries", **query)

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.get_json()["errors"]["query"]


def test_an_unknown_student_is_404(client, world, token_for) -> None:
    response = get(client, token_for(Cat.CUSTODIAN), "/v1/access-log/entries",
                   student="SIS-NOBODY")

    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


# --- Exports --------------------------------------------------------------------------


def test_csv_export(client, world, token_for) -> None:
    response = get(client, token_for(Cat.CUSTODIAN), "/v1/access-log/export",
                   student=SIS_ID, format="csv")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    # The export's own entry is the last it holds.
    assert [r["event"] for r in rows] == ["disclosure", "denial", "access_log_view"]
    assert rows[0]["records"] == f"health:{world.record_id}"
    assert rows[1]["requester"] == f"The third_party [{world.ids[Cat.THIRD_PARTY]}]"


def test_json_lines_export_with_filters(client, world, token_for) -> None:
    response = get(client, token_for(Cat.CUSTODIAN), "/v1/access-log/export",
                   decision="deny")

    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [(e["event"], e["sis_id"]) for e in lines] == [("denial", SIS_ID)]


def test_the_verifiable_export_verifies_offline(client, app, world, token_for,
                                                unit_of_work) -> None:
    vkey = checkpoint(app, unit_of_work)

    response = get(client, token_for(Cat.CUSTODIAN), "/v1/access-log/export/verifiable")

    assert response.status_code == 200
    lines = response.get_data().splitlines()
    with unit_of_work() as uow:
        note = uow.access_log.latest_checkpoint().note
    report = verify_log(lines, parse_and_verify(note, vkey))
    assert report.ok, report.problem
    assert report.size == len(entries(unit_of_work))  # up to its own entry


# --- Integrity and proofs ---------------------------------------------------------


def test_integrity_status(client, app, world, token_for, unit_of_work) -> None:
    token = token_for(Cat.CUSTODIAN)
    before = get(client, token, "/v1/access-log/integrity").get_json()
    checkpoint(app, unit_of_work)

    after = get(client, token, "/v1/access-log/integrity").get_json()

    assert before["checkpoint"] is None and before["verification"] is None
    assert before["size"] == 2
    assert after["checkpoint"]["size"] == 3 and after["size"] == 3
    assert after["checkpoint"]["note"].startswith(app.extensions["gateway"].settings
                                                  .audit_origin)
    assert after["verification"]["ok"] is True and after["verification"]["size"] == 3


def test_an_inclusion_proof(client, app, world, token_for, unit_of_work) -> None:
    token = token_for(Cat.CUSTODIAN)
    assert get(client, token, "/v1/access-log/entries/1/proof").status_code == 409
    vkey = checkpoint(app, unit_of_work)

    response = get(client, token, "/v1/access-log/entries/1/proof")

    assert response.status_code == 200
    report = verify_proof_bundle(response.get_json(), vkey)
    assert report.ok and report.entry_seq == 1
    for missing in (999, 2**64):
        assert get(client, token, f"/v1/access-log/entries/{missing}/proof").status_code == 404


def test_a_web_tier_given_only_the_verifier_key_checks_and_proves_but_signs_nothing(
        client, app, world, token_for, unit_of_work, gateway_idp, tmp_path) -> None:
    # The checkpointer holds the private key; the web process reads none.
    private = generate_key()
    checkpointer = LogSigner("district-log", "district-log", private)
    (tmp_path / "verifier-key").write_text(checkpointer.verifier_key + "\n")
    services = app.extensions["gateway"]
    app.extensions["gateway"] = replace(services, audit_keys=audit_keys(replace(
        services.settings, audit_verifier_key_file=tmp_path / "verifier-key")))
    web = app.extensions["gateway"]
    parent = Reader(Caller(gateway_idp.issuer, client_id_for(Cat.PARENT)))
    token = token_for(Cat.CUSTODIAN)

    assert web.audit_keys.signer is None
    with pytest.raises(NotYetCheckpointed):  # no checkpoint yet, and it cannot sign one
        web.access_log.student_log_proof(parent, SIS_ID, 1, purpose="review")
    with unit_of_work() as uow:
        uow.access_log.checkpoint(checkpointer, CASE_DAY_NOON)
        uow.commit()
    integrity = get(client, token, "/v1/access-log/integrity").get_json()
    # Entry 1, the third party's refused request, is in the student's Ed Code 49064 log.
    _decision, bundle = web.access_log.student_log_proof(parent, SIS_ID, 1, purpose="review")

    assert integrity["verification"]["ok"] is True
    assert verify_proof_bundle(bundle, checkpointer.verifier_key).ok


def test_a_parent_proves_only_entries_their_log_shows(app, world, gateway_idp) -> None:
    # Entry 0 is a teacher's read, which the 49064 log need not list: the parent's page
    # does not show it, and neither does a proof.
    parent = Reader(Caller(gateway_idp.issuer, client_id_for(Cat.PARENT)))

    with pytest.raises(NoSuchEntry):
        app.extensions["gateway"].access_log.student_log_proof(parent, SIS_ID, 0,
                                                               purpose="review")


def test_a_verifier_key_that_is_not_the_signing_keys_stops_the_gateway(tmp_path) -> None:
    ours, other = generate_key(), generate_key()
    (tmp_path / "signing-key").write_text(encode_signer_key("district-log", ours))
    (tmp_path / "verifier-key").write_text(verifier_key("district-log", other))
    (tmp_path / "not-a-key").write_text("PRIVATE+KEY+district-log+0000+AAAA")
    settings = load_settings(environ={}, overrides={
        "data_dir": tmp_path, "audit_signing_key_file": tmp_path / "signing-key",
        "audit_verifier_key_file": tmp_path / "verifier-key"})

    with pytest.raises(SigningKeyError, match="not the verifier key of the signing key"):
        audit_keys(settings)
    with pytest.raises(SigningKeyError, match="not-a-key: not a verifier key") as refused:
        audit_keys(replace(settings, audit_verifier_key_file=tmp_path / "not-a-key"))
    assert "AAAA" not in str(refused.value)


# --- Refusals -----------------------------------------------------------------------


@pytest.mark.parametrize("category", [Cat.PARENT, Cat.SCHOOL_OFFICIAL, Cat.THIRD_PARTY])
@pytest.mark.parametrize("path", ["/v1/access-log/entries", "/v1/access-log/export",
                                  "/v1/access-log/export/verifiable",
                                  "/v1/access-log/integrity",
                                  "/v1/access-log/entries/0/proof"])
def test_only_the_custodian_reads_the_whole_log(client, world, token_for, unit_of_work,
                                                category, path) -> None:
    before = len(entries(unit_of_work))

    response = get(client, token_for(category), path)

    assert response.status_code == 403
    assert response.get_json()["type"].endswith(":custodian-only")
    assert len(entries(unit_of_work)) == before


def test_an_unregistered_caller_is_refused(client, token_for) -> None:
    response = get(client, token_for(Cat.JUDGE), "/v1/access-log/entries")

    assert response.status_code == 403
    assert response.get_json()["type"].endswith(":unregistered-requester")


def test_without_a_token_nothing_is_read(client) -> None:
    assert client.get("/v1/access-log/entries?limit=0").status_code == 401


def test_when_the_search_cannot_be_logged_nothing_is_returned(
        client, world, token_for, unit_of_work, monkeypatch) -> None:
    def failing_commit(self) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk full"))
    monkeypatch.setattr(UnitOfWork, "commit", failing_commit)

    response = get(client, token_for(Cat.CUSTODIAN), "/v1/access-log/entries")

    assert response.status_code == 503
    assert "entries" not in response.get_json()


# --- A student's access log (Ed Code 49064) ---------------------------------------------


def test_a_verified_parent_reads_the_log_the_law_requires(client, world, token_for,
                                                          unit_of_work) -> None:
    response = get(client, token_for(Cat.PARENT), f"/v1/students/{SIS_ID}/access-log")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["decision"]["decision"] == "permit"
    assert "Education Code 49064" in body["decision"]["citations"]
    # The third party's request is listed; the official's read with an interest is not
    # (Ed Code 49064 exempts it).
    (line,) = body["entries"]
    assert line["event"] == "denial"
    # Who was refused, not in their own words: anyone registered can be refused, with
    # any text, as often as they like (the custodian's view keeps the words).
    assert line["purpose"] is None and line["stated_interest"] is None
    assert line["requester"] == f"The third_party [{world.ids[Cat.THIRD_PARTY]}]"
    assert line["records"] == [{"id": str(world.record_id), "type": "health"}]
    assert line["time"] == "2026-03-02T20:00:00Z"
    # The reading is itself an entry, about the student, by the parent.
    view = entries(unit_of_work, student_id=world.student_id)[-1]
    assert view.event == "access_log_view" and view.decision == "permit"
    assert view.requester_id == world.ids[Cat.PARENT]
    assert view.request_id == response.headers["X-Request-Id"]


def test_a_third_party_is_refused_with_the_decision(client, world, token_for,
                                                    unit_of_work) -> None:
    response = get(client, token_for(Cat.THIRD_PARTY), f"/v1/students/{SIS_ID}/access-log")

    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["decision"]["decision"] == "deny"
    assert body["decision"]["clause"] == "access_log_readers"
    assert body["decision"]["citations"] and body["detail"] == body["decision"]["reason"]
    assert "entries" not in body
    refusal = entries(unit_of_work, student_id=world.student_id)[-1]
    assert (refusal.event, refusal.requester_id) == ("denial", world.ids[Cat.THIRD_PARTY])


def test_the_custodian_reads_a_students_log(client, world, token_for) -> None:
    response = get(client, token_for(Cat.CUSTODIAN), f"/v1/students/{SIS_ID}/access-log",
                   limit=1)

    assert response.status_code == 200
    [line] = response.get_json()["entries"]
    assert (line["event"], line["purpose"]) == ("denial", "curiosity")


def test_an_auditor_waits_for_the_written_agreement(client, world, token_for, gateway_idp,
                                                    unit_of_work) -> None:
    with unit_of_work() as uow:
        auditor = uow.requesters.add(models.Requester(
            issuer=gateway_idp.issuer, subject=client_id_for(Cat.GOVERNMENT_AUDITOR),
            display_name="State auditor", category=Cat.GOVERNMENT_AUDITOR))
        uow.commit()
    token, path = token_for(Cat.GOVERNMENT_AUDITOR), f"/v1/students/{SIS_ID}/access-log"

    pending = get(client, token, path, purpose="audit_evaluation")
    with unit_of_work() as uow:
        uow.agreements.add(models.Agreement(
            requester_id=auditor.id, kind=models.AgreementKind.WRITTEN_AGREEMENT,
            purpose="audit_evaluation", signed_on=date(2025, 8, 1),
            effective_from=date(2025, 8, 1), reference="audit-2026"))
        uow.commit()
    permitted = get(client, token, path, purpose="audit_evaluation")

    assert pending.status_code == 202 and "entries" not in pending.get_json()
    assert pending.get_json()["decision"]["requires"] == ["written_agreement"]
    assert permitted.status_code == 200
    assert "Education Code 49064" in permitted.get_json()["decision"]["citations"]
    events = [e.event for e in entries(unit_of_work, student_id=world.student_id)][-2:]
    assert events == ["pending", "access_log_view"]


def test_an_unverified_parent_is_refused(client, world, token_for, unit_of_work) -> None:
    with unit_of_work() as uow:
        for g in uow.guardianships.of_student(world.student_id):
            g.verified_at = g.verified_by_id = None
        uow.commit()

    response = get(client, token_for(Cat.PARENT), f"/v1/students/{SIS_ID}/access-log")

    assert response.status_code == 403
    assert response.get_json()["type"].endswith(":no-verified-relationship")
    # A request for the student's log is a request for information: its refusal an entry.
    refusal = entries(unit_of_work, student_id=world.student_id)[-1]
    assert (refusal.event, refusal.requester_id) == ("denial", world.ids[Cat.PARENT])
    assert refusal.log_required


def test_an_inactive_requester_is_refused_and_the_refusal_logged(
        client, world, token_for, unit_of_work, gateway_idp) -> None:
    with unit_of_work() as uow:
        uow.requesters.get(world.ids[Cat.THIRD_PARTY]).active = False
        uow.commit()

    before = entries(unit_of_work, student_id=world.student_id)
    response = get(client, token_for(Cat.THIRD_PARTY), f"/v1/students/{SIS_ID}/access-log")

    assert response.status_code == 403
    assert response.get_json()["type"].endswith(":unregistered-requester")
    [refusal] = entries(unit_of_work, student_id=world.student_id)[len(before):]
    assert (refusal.event, refusal.requester_id) == ("denial", world.ids[Cat.THIRD_PARTY])


def _without_request_id(response) -> dict:
    body = response.get_json()
    body.pop("request_id")
    return {"status": response.status_code, "content_type": response.content_type, **body}


@pytest.mark.parametrize("category", [Cat.THIRD_PARTY, Cat.SCHOOL_OFFICIAL, Cat.PARENT])
def test_an_unknown_student_is_answered_as_a_refusal_is(client, world, token_for,
                                                        unit_of_work, category) -> None:
    if category is Cat.PARENT:  # another parent's child, then: a refusal all the same
        with unit_of_work() as uow:
            for g in uow.guardianships.of_student(world.student_id):
                g.verified_at = g.verified_by_id = None
            uow.commit()
    token = token_for(category)

    known = get(client, token, f"/v1/students/{SIS_ID}/access-log")
    size = len(entries(unit_of_work))
    unknown = get(client, token, "/v1/students/SIS-NOBODY/access-log")

    assert known.status_code == 403
    assert _without_request_id(unknown) == _without_request_id(known)
    assert len(entries(unit_of_work)) == size  # nothing about a student who is not there


def test_the_custodian_and_the_sis_integration_are_told_of_an_unknown_student(
        client, world, token_for, write_token_for, unit_of_work, gateway_idp) -> None:
    with unit_of_work() as uow:
        uow.requesters.add(models.Requester(
            issuer=gateway_idp.issuer, subject=SIS_CLIENT, display_name="SIS",
            category=Cat.SCHOOL_OFFICIAL))
        uow.commit()

    for token in (token_for(Cat.CUSTODIAN), write_token_for(SIS_CLIENT)):
        response = get(client, token, "/v1/students/SIS-NOBODY/access-log")
        assert response.status_code == 404
        assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("query", [{"limit": "0"}, {"after": "z"}, {"purpose": ""}])
def test_bad_log_input_is_a_422_problem(client, world, token_for, query) -> None:
    response = get(client, token_for(Cat.PARENT), f"/v1/students/{SIS_ID}/access-log",
                   **query)

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_when_the_reading_cannot_be_logged_the_log_is_not_shown(
        client, world, token_for, unit_of_work, monkeypatch) -> None:
    before = len(entries(unit_of_work))

    def failing_commit(self) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk full"))
    monkeypatch.setattr(UnitOfWork, "commit", failing_commit)
    response = get(client, token_for(Cat.PARENT), f"/v1/students/{SIS_ID}/access-log")

    assert response.status_code == 503
    assert "entries" not in response.get_json()
    monkeypatch.undo()
    assert len(entries(unit_of_work)) == before


def test_reading_the_log_writes_no_student_data_to_the_request_log(
        client, world, token_for) -> None:
    with structlog.testing.capture_logs() as logs:
        assert get(client, token_for(Cat.CUSTODIAN), "/v1/access-log/entries",
                   student=SIS_ID).status_code == 200
        assert get(client, token_for(Cat.PARENT),
                   f"/v1/students/{SIS_ID}/access-log").status_code == 200

    text = json.dumps(logs)
    for secret in (SIS_ID, "curiosity", INTEREST, str(world.record_id)):
        assert secret not in text
