"""The SIS write API over HTTP: an SIS integration and the custodian of records enrol
students, import them, record parents and add records; everyone else is refused.

Real tokens from the real development provider; every test runs on SQLite and
PostgreSQL (the ``app`` fixture), each in a transaction rolled back afterwards.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from audit.events import EntryError, EventType
from gateway.policy.facts import RequesterCategory
from gateway.store import models
from gateway.store.access_log import AccessLogRepository
from gateway.store.uow import UnitOfWork
from tests.functional.conftest import SIS_CLIENT, client_id_for

Cat = RequesterCategory
MAYA = {"birth_date": "2014-01-21", "grade_completed": 6}
TRANSCRIPT = {"2025-26": {"English 7": "A-", "Math 7": "B+"}}


@dataclass
class Requester:
    """Someone calling the API with a real token."""

    client: FlaskClient
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def enrols(self, sis_id: str, **fields: Any):
        return self.client.put(f"/v1/students/{sis_id}", json=fields, headers=self.headers)

    def imports(self, rows: Any, *, as_lines: bool = False, dry_run: bool = False):
        query = {"dry_run": "true"} if dry_run else {}
        if as_lines:
            body = "\n".join(json.dumps(r) for r in rows) if isinstance(rows, list) else rows
            return self.client.post("/v1/imports/students", data=body, query_string=query,
                                    content_type="application/x-ndjson", headers=self.headers)
        return self.client.post("/v1/imports/students", json=rows, query_string=query,
                                headers=self.headers)

    def records_guardian(self, sis_id: str, **body: Any):
        return self.client.post(f"/v1/students/{sis_id}/guardians", json=body,
                                headers=self.headers)

    def adds_record(self, sis_id: str, content: Any = TRANSCRIPT, **fields: Any):
        body = {"record_type": "courses_and_marks", "school_year_of_origin": 2025,
                "originator": "Shasta Union Elementary", "originated_on": "2026-01-30",
                "signed_by_originator": True, "media_type": "application/json",
                "content_base64": base64.b64encode(json.dumps(content).encode()).decode(),
                "legitimate_educational_interest": "keeps the student's transcript",
                **fields}
        return self.client.post(f"/v1/students/{sis_id}/records", json=body,
                                headers=self.headers)

    def lists_records(self, sis_id: str):
        return self.client.get(f"/v1/students/{sis_id}/records", headers=self.headers)

    def reads(self, sis_id: str, record_id: str, **query: str):
        return self.client.get(f"/v1/students/{sis_id}/records/{record_id}",
                               query_string=query, headers=self.headers)


@pytest.fixture
def register(unit_of_work: Callable[[], UnitOfWork], gateway_idp) -> Callable[..., None]:
    """The custodian registers a requester with the gateway, by subject and category."""
    def add(subject: str, category: RequesterCategory) -> None:
        with unit_of_work() as uow:
            uow.requesters.add(models.Requester(issuer=gateway_idp.issuer, subject=subject,
                                                display_name=subject, category=category))
            uow.commit()
    return add


@pytest.fixture
def sis(client, register, write_token_for) -> Requester:
    """The district's SIS integration: a school official whose token may write."""
    register(SIS_CLIENT, Cat.SCHOOL_OFFICIAL)
    return Requester(client, write_token_for(SIS_CLIENT))


@pytest.fixture
def custodian(client, register, token_for) -> Requester:
    """The custodian of records, with an ordinary (read-scope) token."""
    register(client_id_for(Cat.CUSTODIAN), Cat.CUSTODIAN)
    return Requester(client, token_for(Cat.CUSTODIAN))


@pytest.fixture
def teacher(client, register, token_for) -> Requester:
    register(client_id_for(Cat.SCHOOL_OFFICIAL), Cat.SCHOOL_OFFICIAL)
    return Requester(client, token_for(Cat.SCHOOL_OFFICIAL))


@pytest.fixture
def parent(client, token_for) -> Requester:
    """A parent, not yet registered: the SIS names them when it records the relationship."""
    return Requester(client, token_for(Cat.PARENT))


def is_problem(response, status: int, kind: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    if kind is not None:
        assert body["type"].endswith(f":{kind}"), body
    return body


def students_in_store(unit_of_work, *sis_ids: str) -> list[str]:
    with unit_of_work() as uow:
        return [s for s in sis_ids if uow.students.by_sis_id(s) is not None]


# --- enrolment ------------------------------------------------------------------------


def test_an_sis_enrols_a_student_and_the_same_put_again_changes_nothing(sis) -> None:
    first = sis.enrols("SIS-2001", **MAYA)
    again = sis.enrols("SIS-2001", **MAYA)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert first.get_json()["birth_date"] == "2014-01-21"
    assert first.get_json()["status"] == "enrolled"


def test_a_partial_update_keeps_the_fields_it_leaves_out(sis) -> None:
    sis.enrols("SIS-2001", **MAYA)

    response = sis.enrols("SIS-2001", grade_completed=7)

    assert response.status_code == 200
    assert response.get_json()["grade_completed"] == 7
    assert response.get_json()["birth_date"] == "2014-01-21"


def test_a_student_with_bad_fields_is_422_naming_each_field_and_not_enrolled(
        sis, unit_of_work) -> None:
    response = sis.enrols("SIS-2002", birth_date="2014-13-01", grade_completed=20,
                          status="expelled", name="not a field")

    errors = is_problem(response, 422)["errors"]["json"]
    assert {"birth_date", "grade_completed", "status", "name"} <= set(errors)
    assert students_in_store(unit_of_work, "SIS-2002") == []


def test_an_sis_id_the_store_refuses_is_422(sis) -> None:
    response = sis.enrols("x" * 65, **MAYA)

    body = is_problem(response, 422)
    assert body["errors"] == {"path": {"sis_id": ["at most 64 characters"]}}


def test_text_no_database_can_hold_is_a_field_error_not_a_server_error(sis, teacher) -> None:
    # Found by schemathesis: PostgreSQL refuses NUL, neither database a lone surrogate.
    sis.enrols("SIS-2001", **MAYA)
    guardian = parent_of_maya()
    guardian["parent"]["display_name"] = "Dana\x00"

    assert is_problem(sis.enrols("SIS\x00"), 422)["errors"] == {
        "path": {"sis_id": ["no control characters"]}}
    is_problem(sis.lists_records("SIS\x00"), 404)
    # A teacher is not told that no student has that id: refused, as about any student.
    is_problem(teacher.reads("SIS\x00", str(uuid.uuid4()), purpose="review"), 403,
               "access-refused")
    assert is_problem(sis.imports([{"sis_id": "\ud800"}]), 422)["rows"][0]["field"] == "sis_id"
    assert "display_name" in is_problem(sis.records_guardian("SIS-2001", **guardian),
                                        422)["errors"]["json"]["parent"]
    assert "originator" in is_problem(sis.adds_record("SIS-2001", originator="Ms\x07"),
                                      422)["errors"]["json"]


def test_a_path_byte_that_is_not_utf8_is_422_not_a_student(sis, unit_of_work) -> None:
    # The server decodes %ff as U+FFFD: every such id would collapse into one student.
    response = sis.client.put("/v1/students/%ff", json=MAYA, headers=sis.headers)

    assert is_problem(response, 422)["errors"] == {
        "path": {"sis_id": ["valid UTF-8 text is required"]}}
    assert students_in_store(unit_of_work, "\ufffd") == []


@pytest.mark.parametrize("birth_date", ["2999-01-01", "1899-12-31"])
def test_a_birth_date_no_student_can_have_is_422(sis, birth_date: str) -> None:
    errors = is_problem(sis.enrols("SIS-2004", birth_date=birth_date), 422)["errors"]

    assert errors == {"json": {"birth_date": [
        "a birth date between 1900-01-01 and today is required"]}}


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, "1" * 5000,
                                  '{"birth_date": "2014-01-21", "grade_completed": '
                                  + "9" * 5000 + "}"])
@pytest.mark.parametrize("path", ["/v1/students/SIS-2005", "/v1/imports/students",
                                  "/v1/decisions"])
def test_json_python_cannot_read_safely_is_a_400(sis, path: str, body: str) -> None:
    # Nesting past the recursion limit, an integer past the 4,300 digits Python converts.
    method = sis.client.put if path.startswith("/v1/students/") else sis.client.post
    response = method(path, data=body, content_type="application/json", headers=sis.headers)

    assert is_problem(response, 400)["title"] == "Bad Request"


# --- imports ----------------------------------------------------------------------------


def rows(count: int) -> list[dict[str, Any]]:
    return [{"sis_id": f"SIS-{3000 + n}", "birth_date": "2012-09-01", "grade_completed": 8,
             "status": "enrolled"} for n in range(count)]


def test_an_import_of_500_students_with_one_bad_row_names_it_and_imports_nothing(
        sis, unit_of_work) -> None:
    students = rows(500)
    students[249]["birth_date"] = "01/09/2012"

    response = sis.imports(students)

    body = is_problem(response, 422, "import-rejected")
    assert body["rows"] == [{"row": 250, "field": "birth_date",
                             "problem": "a date (YYYY-MM-DD) is required"}]
    assert "01/09/2012" not in response.get_data(as_text=True)  # never the value
    assert students_in_store(unit_of_work, "SIS-3000", "SIS-3499") == []


def test_an_import_creates_then_updates_all_its_students(sis, unit_of_work) -> None:
    created = sis.imports(rows(500))
    updated = sis.imports(rows(500))

    assert created.status_code == 200, created.get_json()
    assert created.get_json() == {"created": 500, "updated": 0, "dry_run": False}
    assert updated.get_json() == {"created": 0, "updated": 500, "dry_run": False}
    assert students_in_store(unit_of_work, "SIS-3000", "SIS-3499") == ["SIS-3000", "SIS-3499"]


def test_an_import_reads_json_lines(sis, unit_of_work) -> None:
    response = sis.imports(rows(3), as_lines=True)

    assert response.status_code == 200
    assert response.get_json()["created"] == 3


def test_a_json_lines_import_with_a_broken_line_names_the_line(sis, unit_of_work) -> None:
    body = json.dumps(rows(1)[0]) + '\n{"sis_id": "SIS-9",\n'

    response = sis.imports(body, as_lines=True)

    assert is_problem(response, 400)["detail"] == "Line 2 is not JSON."
    assert students_in_store(unit_of_work, "SIS-3000") == []


def test_a_dry_run_checks_every_row_and_writes_nothing(sis, unit_of_work) -> None:
    response = sis.imports(rows(5), dry_run=True)

    assert response.get_json() == {"created": 5, "updated": 0, "dry_run": True}
    assert students_in_store(unit_of_work, "SIS-3000") == []


def test_rows_that_are_not_students_and_bodies_that_are_not_arrays_are_refused(sis) -> None:
    duplicate = sis.imports([{"sis_id": "A"}, "a string", {"sis_id": "A", "surname": 1}])
    not_an_array = sis.imports({"sis_id": "A"})
    not_json = sis.client.post("/v1/imports/students", data="sis_id,birth_date\n",
                               content_type="text/csv", headers=sis.headers)

    problems = is_problem(duplicate, 422)["rows"]
    assert {(p["row"], p["field"]) for p in problems} == {
        (2, "*"), (3, "sis_id"), (3, "column 2")}
    is_problem(not_an_array, 400)
    is_problem(not_json, 415)


# --- who may write ------------------------------------------------------------------------


def test_the_custodian_of_records_writes_without_the_sis_scope(custodian) -> None:
    assert custodian.enrols("SIS-2001", **MAYA).status_code == 201
    assert custodian.adds_record("SIS-2001").status_code == 201


def test_a_teacher_reads_but_does_not_write(teacher, sis) -> None:
    sis.enrols("SIS-2001", **MAYA)

    for response in (teacher.enrols("SIS-2001", **MAYA), teacher.imports(rows(1)),
                     teacher.adds_record("SIS-2001"), teacher.lists_records("SIS-2001"),
                     teacher.records_guardian("SIS-2001", parent={"subject": "p",
                                              "display_name": "P"}, parent_type="natural",
                                              legal_custody=True)):
        is_problem(response, 403, "not-a-record-keeper")


def test_the_write_scope_does_not_make_a_parent_a_record_keeper(
        client, register, write_token_for, unit_of_work) -> None:
    register(client_id_for(Cat.PARENT), Cat.PARENT)
    parent = Requester(client, write_token_for(client_id_for(Cat.PARENT)))

    is_problem(parent.enrols("SIS-2001", **MAYA), 403, "not-a-record-keeper")
    assert students_in_store(unit_of_work, "SIS-2001") == []


def test_an_unregistered_client_and_a_missing_token_are_refused(client, write_token_for) -> None:
    stranger = Requester(client, write_token_for(client_id_for(Cat.THIRD_PARTY)))

    is_problem(stranger.enrols("SIS-2001", **MAYA), 403, "unregistered-requester")
    anonymous = client.put("/v1/students/SIS-2001", json={"grade_completed": "not read"})
    assert is_problem(anonymous, 401)
    assert "errors" not in anonymous.get_json()  # nothing about the body before the token


def test_a_token_without_the_apis_scope_opens_nothing(client, custodian, gateway_idp) -> None:
    # The custodian's own client, but a token asked for no scope (as for sign-in alone).
    token = requests.post(f"{gateway_idp.issuer}/token", timeout=10,
                          auth=(client_id_for(Cat.CUSTODIAN), "s3cret"),
                          data={"grant_type": "client_credentials"}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    for response in (client.get("/v1/access-log/entries", headers=headers),
                     client.put("/v1/requesters/someone", headers=headers,
                                json={"display_name": "X", "category": "third_party"})):
        assert is_problem(response, 403, "insufficient-scope")
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


# --- records ------------------------------------------------------------------------------


def test_the_sis_adds_a_transcript_and_a_teacher_reads_it(sis, teacher) -> None:
    sis.enrols("SIS-2001", **MAYA)

    added = sis.adds_record("SIS-2001")

    assert added.status_code == 201, added.get_json()
    record = added.get_json()
    assert record["category"] == "mandatory_permanent"
    assert record["decision"]["decision"] == "permit"
    assert record["decision"]["clause"] == "record_keeping"
    assert added.headers["Location"].endswith(f"/v1/students/SIS-2001/records/{record['id']}")
    read = teacher.reads("SIS-2001", record["id"], purpose="educational_interest",
                         legitimate_educational_interest="teaches English 7")
    assert read.status_code == 200, read.get_json()
    assert json.loads(base64.b64decode(read.get_json()["content_base64"])) == TRANSCRIPT
    assert read.headers["Cache-Control"] == "no-store"  # no cache keeps a student's record
    assert sis.lists_records("SIS-2001").headers["Cache-Control"] == "no-store"


def test_an_addition_is_in_the_access_log_and_a_refused_one_is_not(sis, unit_of_work) -> None:
    sis.enrols("SIS-2001", **MAYA)
    sis.enrols("SIS-2003", birth_date="2006-08-14", grade_completed=12, status="graduated")

    record_id = sis.adds_record("SIS-2001").get_json()["id"]
    sis.adds_record("SIS-2003")  # refused: after graduation

    with unit_of_work() as uow:
        logged = {sis_id: uow.access_log.search(student_id=uow.students.by_sis_id(sis_id).id,
                                                event=EventType.RECORD_ADDED)
                  for sis_id in ("SIS-2001", "SIS-2003")}
        (entry,) = uow.access_log.open(logged["SIS-2001"])
    assert logged["SIS-2003"] == []
    assert entry.logged.clause == "record_keeping" and entry.logged.decision == "permit"
    assert entry.entry is not None
    assert [r.id for r in entry.entry.records] == [record_id]
    assert entry.entry.requester.category == "school_official"


def test_the_record_directory_lists_metadata_only(sis, custodian) -> None:
    sis.enrols("SIS-2001", **MAYA)
    record_id = sis.adds_record("SIS-2001").get_json()["id"]

    for keeper in (sis, custodian):
        response = keeper.lists_records("SIS-2001")
        assert response.status_code == 200
        (listed,) = response.get_json()["records"]
        assert listed["id"] == record_id
        assert listed["record_type"] == "courses_and_marks"
        assert listed["school_year_of_origin"] == 2025
        assert listed["originated_on"] == "2026-01-30"
        assert "content_base64" not in listed and "English" not in response.get_data(
            as_text=True)


def _entries_about(unit_of_work, sis_id: str) -> list:
    with unit_of_work() as uow:
        student = uow.students.by_sis_id(sis_id)
        return uow.access_log.open(uow.access_log.search(student_id=student.id))


def test_opening_the_record_directory_is_an_entry(sis, custodian, unit_of_work) -> None:
    sis.enrols("SIS-2001", **MAYA)
    record_id = sis.adds_record("SIS-2001").get_json()["id"]

    for keeper in (sis, custodian):
        assert keeper.lists_records("SIS-2001").status_code == 200

    listings = [e for e in _entries_about(unit_of_work, "SIS-2001")
                if e.logged.event.value == "disclosure"]
    assert [e.entry.requester.category for e in listings] == ["school_official", "custodian"]
    for listing in listings:
        assert [r.id for r in listing.entry.records] == [record_id]
        assert listing.logged.stored.clear["outcome"] == "listed"
        # Record keepers: entries, but not lines of the student's Ed Code 49064 log.
        assert not listing.logged.log_required


def test_a_refused_directory_request_is_an_entry_and_tells_nothing(
        teacher, sis, unit_of_work) -> None:
    sis.enrols("SIS-2001", **MAYA)
    sis.adds_record("SIS-2001")

    known = is_problem(teacher.lists_records("SIS-2001"), 403, "not-a-record-keeper")
    with unit_of_work() as uow:
        size = uow.access_log.head().size
    unknown = is_problem(teacher.lists_records("SIS-2999"), 403, "not-a-record-keeper")

    known.pop("request_id"), unknown.pop("request_id")
    assert unknown == known
    refusal = _entries_about(unit_of_work, "SIS-2001")[-1]
    assert refusal.logged.event.value == "denial"
    assert refusal.logged.requester_category == "school_official"
    assert refusal.logged.log_required  # a request for information, no interest stated
    with unit_of_work() as uow:
        assert uow.access_log.head().size == size  # nothing about a student not held


def test_after_graduation_only_routine_updating_is_added(sis) -> None:
    sis.enrols("SIS-2003", birth_date="2006-08-14", grade_completed=12, status="graduated")

    refused = sis.adds_record("SIS-2003")
    routine = sis.adds_record("SIS-2003", routine_update=True)

    decision = is_problem(refused, 403, "access-refused")["decision"]
    assert decision["decision"] == "deny"
    assert "5 CCR 437" in decision["citations"]
    assert routine.status_code == 201
    assert routine.get_json()["decision"]["clause"] == "no_additions_after_departure"
    assert len(sis.lists_records("SIS-2003").get_json()["records"]) == 1  # the routine one


def test_an_sis_that_states_no_interest_is_refused_by_the_engine(sis) -> None:
    sis.enrols("SIS-2001", **MAYA)

    refused = sis.adds_record("SIS-2001", legitimate_educational_interest="")

    assert is_problem(refused, 403, "access-refused")["decision"]["clause"] == "record_keeping"
    assert sis.lists_records("SIS-2001").get_json()["records"] == []


def test_an_anecdotal_record_must_be_dated_and_signed_by_its_originator(sis) -> None:
    sis.enrols("SIS-2001", **MAYA)

    unsigned = sis.adds_record("SIS-2001", record_type="behavioral_report",
                               originated_on=None, signed_by_originator=False)

    body = is_problem(unsigned, 422, "record-refused")
    assert "5 CCR 431" in body["detail"]
    assert set(body["errors"]["json"]) == {"originated_on", "signed_by_originator"}
    assert sis.lists_records("SIS-2001").get_json()["records"] == []


def test_a_record_with_bad_fields_is_422_naming_them(sis) -> None:
    sis.enrols("SIS-2001", **MAYA)

    response = sis.adds_record("SIS-2001", content_base64="not base64!", record_type="diary",
                               school_year_of_origin=1800, media_type="json")

    errors = is_problem(response, 422)["errors"]["json"]
    assert {"content_base64", "record_type", "school_year_of_origin", "media_type"} <= set(
        errors)


def test_an_unknown_student_is_404_for_every_write(sis) -> None:
    guardian = {"parent": {"subject": "p", "display_name": "P"}, "parent_type": "natural",
                "legal_custody": True}
    for response in (sis.adds_record("SIS-404"), sis.lists_records("SIS-404"),
                     sis.records_guardian("SIS-404", **guardian)):
        is_problem(response, 404)


def test_when_the_write_cannot_be_committed_nothing_is_kept(sis, unit_of_work,
                                                              monkeypatch) -> None:
    def failing_commit(self) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk full"))
    monkeypatch.setattr(UnitOfWork, "commit", failing_commit)

    response = sis.imports(rows(3))

    is_problem(response, 503, "not-written")
    monkeypatch.undo()
    assert students_in_store(unit_of_work, "SIS-3000") == []


def test_a_record_whose_log_entry_cannot_be_written_is_not_kept(sis, monkeypatch) -> None:
    sis.enrols("SIS-2001", **MAYA)

    def failing_append(self, *args: Any, **kwargs: Any) -> None:
        raise EntryError("cannot canonicalize")
    monkeypatch.setattr(AccessLogRepository, "append", failing_append)
    response = sis.adds_record("SIS-2001")
    monkeypatch.undo()

    is_problem(response, 503, "not-written")
    assert sis.lists_records("SIS-2001").get_json()["records"] == []


# --- parents and guardians -------------------------------------------------------------------


def parent_of_maya(**changes: Any) -> dict[str, Any]:
    return {"parent": {"subject": client_id_for(Cat.PARENT), "display_name": "Dana Johnson"},
            "parent_type": "natural", "legal_custody": True, **changes}


def test_a_parent_the_sis_names_reads_only_once_the_custodian_verified(
        sis, custodian, parent) -> None:
    sis.enrols("SIS-2001", **MAYA)
    record_id = sis.adds_record("SIS-2001").get_json()["id"]

    named = sis.records_guardian("SIS-2001", **parent_of_maya())
    before = parent.reads("SIS-2001", record_id, purpose="review")
    verified = custodian.records_guardian("SIS-2001", **parent_of_maya(verified=True))
    after = parent.reads("SIS-2001", record_id, purpose="review")

    assert named.status_code == 201
    assert named.get_json()["verified"] is False
    is_problem(before, 403, "no-verified-relationship")
    assert verified.status_code == 200
    assert verified.get_json()["verified"] is True
    assert after.status_code == 200, after.get_json()


def test_only_the_custodian_verifies_a_relationship(sis) -> None:
    sis.enrols("SIS-2001", **MAYA)

    response = sis.records_guardian("SIS-2001", **parent_of_maya(verified=True))

    is_problem(response, 403, "custodian-only")


def test_a_court_restriction_applies_at_once_and_lifting_it_needs_the_custodian(
        sis, custodian, parent, unit_of_work) -> None:
    sis.enrols("SIS-2001", **MAYA)
    record_id = sis.adds_record("SIS-2001").get_json()["id"]
    sis.records_guardian("SIS-2001", **parent_of_maya())
    custodian.records_guardian("SIS-2001", **parent_of_maya(verified=True))

    restricted = sis.records_guardian("SIS-2001", **parent_of_maya(access_revoked_by_court=True))
    refused = parent.reads("SIS-2001", record_id, purpose="review")
    lifted = sis.records_guardian("SIS-2001", **parent_of_maya())

    assert restricted.get_json()["verified"] is True  # narrowing keeps the verification
    assert is_problem(refused, 403, "access-refused")["decision"]["decision"] == "deny"
    assert lifted.get_json()["verified"] is False  # widening waits for the custodian
    is_problem(parent.reads("SIS-2001", record_id, purpose="review"), 403,
               "no-verified-relationship")


def test_a_subject_registered_as_something_else_is_not_made_a_parent(sis, teacher) -> None:
    sis.enrols("SIS-2001", **MAYA)
    body = parent_of_maya()
    body["parent"]["subject"] = client_id_for(Cat.SCHOOL_OFFICIAL)

    is_problem(sis.records_guardian("SIS-2001", **body), 409, "relationship-conflict")


def test_the_write_api_is_in_the_openapi_document(client) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]

    assert {"/v1/students/{sis_id}", "/v1/imports/students", "/v1/students/{sis_id}/guardians",
            "/v1/students/{sis_id}/records"} <= set(paths)
    refused = paths["/v1/students/{sis_id}/records"]["post"]["responses"]["403"]
    assert list(refused["content"]) == ["application/problem+json"]



# --- a student's own login ------------------------------------------------------------


def test_the_custodian_ties_an_adult_students_login_who_then_reads_their_records(
        sis, custodian, client, token_for) -> None:
    assert sis.enrols("SIS-2101", birth_date="2006-03-01", grade_completed=11).status_code == 201
    record_id = sis.adds_record("SIS-2101").get_json()["id"]
    student = Requester(client, token_for(Cat.STUDENT))
    is_problem(student.reads("SIS-2101", record_id, purpose="my transcript"), 403)

    login = {"subject": client_id_for(Cat.STUDENT), "display_name": "Riley Johnson"}
    put = client.put("/v1/students/SIS-2101/login", json=login, headers=custodian.headers)
    again = client.put("/v1/students/SIS-2101/login", json=login, headers=custodian.headers)

    assert (put.status_code, again.status_code) == (201, 200)
    read = student.reads("SIS-2101", record_id, purpose="my transcript")
    assert read.status_code == 200, read.get_json()
    assert read.get_json()["decision"]["clause"] == "adult_student"


def test_only_the_custodian_ties_a_students_login_and_only_to_one_student(
        sis, custodian, client) -> None:
    for sis_id in ("SIS-2102", "SIS-2103"):
        assert sis.enrols(sis_id, **MAYA).status_code == 201
    login = {"subject": "student-login-2102", "display_name": "Sam"}

    is_problem(client.put("/v1/students/SIS-2102/login", json=login, headers=sis.headers),
               403, "custodian-only")
    assert is_problem(client.put("/v1/students/SIS-2102/login", json={
        **login, "subject": "student-login\n"}, headers=custodian.headers), 422)["errors"] == {
        "json": {"subject": ["one line of text is required"]}}
    assert client.put("/v1/students/SIS-2102/login", json=login,
                      headers=custodian.headers).status_code == 201
    assert is_problem(client.put("/v1/students/SIS-2103/login", json=login,
                                 headers=custodian.headers), 409)["detail"] == (
        "That subject is registered with the gateway, but not as this student.")
    assert is_problem(client.put("/v1/students/SIS-2102/login", json={
        "subject": "another-login", "display_name": "Sam"}, headers=custodian.headers),
        409)["detail"] == "The student has another login already."
    is_problem(client.put("/v1/students/SIS-9999/login", json=login,
                          headers=custodian.headers), 404)


# --- court orders and subpoenas (AR 5125(e) item 8; Ed Code 49077) ----------------------

ATTORNEY = client_id_for(Cat.THIRD_PARTY)  # a law office the district registered


@pytest.fixture
def attorney(client, register, token_for) -> Requester:
    register(ATTORNEY, Cat.THIRD_PARTY)
    return Requester(client, token_for(Cat.THIRD_PARTY))


def enters_order(custodian: Requester, sis_id: str, **fields: Any):
    body = {"kind": "subpoena", "recipient_subject": ATTORNEY,
            "reference": "Shasta County Superior Court, case 26-CV-0142",
            "served_on": "2026-02-26", "records": ["courses_and_marks"], **fields}
    return custodian.client.post(f"/v1/students/{sis_id}/judicial-orders", json=body,
                                 headers=custodian.headers)


def test_a_subpoenaed_record_is_disclosed_three_days_after_the_parent_is_told(
        sis, custodian, attorney, unit_of_work) -> None:
    sis.enrols("SIS-2201", **MAYA)
    record_id = sis.adds_record("SIS-2201").get_json()["id"]
    assert attorney.reads("SIS-2201", record_id, purpose="litigation").status_code == 403

    entered = enters_order(custodian, "SIS-2201")
    assert entered.status_code == 201, entered.get_json()
    order = entered.get_json()
    waiting = attorney.reads("SIS-2201", record_id, purpose="litigation")

    assert waiting.status_code == 202, waiting.get_json()
    assert waiting.get_json()["decision"]["requires"] == ["parent_notice_3_days"]
    assert waiting.get_json()["duties"] == ["notify_parent_3_days_before_disclosure"]
    told = custodian.client.patch(f"/v1/judicial-orders/{order['id']}",
                                  json={"parent_notified_on": "2026-02-27"},
                                  headers=custodian.headers)
    assert told.get_json()["parent_notified_on"] == "2026-02-27"
    read = attorney.reads("SIS-2201", record_id, purpose="litigation")
    assert read.status_code == 200, read.get_json()
    assert json.loads(base64.b64decode(read.get_json()["content_base64"])) == TRANSCRIPT
    with unit_of_work() as uow:
        student_id = uow.students.by_sis_id("SIS-2201").id
        logged = uow.access_log.search(student_id=student_id, event=EventType.DISCLOSURE)
    assert [e.clause for e in logged] == ["court_order_or_subpoena"]


def test_a_disclosure_waiting_for_a_certification_sets_no_duty_due_on_disclosure(
        sis, client, register, token_for) -> None:
    # Pending decisions name the duties the disclosure will bring (the parent told within
    # 24 hours of a release to a judge); nothing is released yet, so no task is due.
    register(client_id_for(Cat.JUDGE), Cat.JUDGE)
    judge = Requester(client, token_for(Cat.JUDGE))
    sis.enrols("SIS-2204", **MAYA)
    record_id = sis.adds_record("SIS-2204").get_json()["id"]

    waiting = judge.reads("SIS-2204", record_id, purpose="truancy")

    assert waiting.status_code == 202, waiting.get_json()
    assert waiting.get_json()["decision"]["requires"] == ["written_certification"]
    assert "notify_parent_within_24_hours" in waiting.get_json()["decision"]["obligations"]
    assert waiting.get_json()["duties"] == []


def test_what_a_court_order_does_not_reach_stays_refused(sis, custodian, attorney) -> None:
    sis.enrols("SIS-2202", **MAYA)
    record_id = sis.adds_record("SIS-2202").get_json()["id"]

    enters_order(custodian, "SIS-2202", kind="court_order", records=["health"],
                 court_instructs_no_notice=True)
    assert attorney.reads("SIS-2202", record_id, purpose="litigation").status_code == 403
    order = enters_order(custodian, "SIS-2202", kind="court_order", records=None,
                         court_instructs_no_notice=True).get_json()
    assert attorney.reads("SIS-2202", record_id, purpose="litigation").status_code == 200
    custodian.client.patch(f"/v1/judicial-orders/{order['id']}",
                           json={"withdrawn_on": "2026-03-01"}, headers=custodian.headers)

    assert attorney.reads("SIS-2202", record_id, purpose="litigation").status_code == 403
    listed = custodian.client.get("/v1/students/SIS-2202/judicial-orders",
                                  headers=custodian.headers).get_json()["judicial_orders"]
    assert [(o["records"], o["withdrawn_on"]) for o in listed] == [
        (["health"], None), (None, "2026-03-01")]


def test_only_the_custodian_enters_an_order_and_only_one_that_can_be_true(
        sis, custodian, attorney) -> None:
    sis.enrols("SIS-2203", **MAYA)

    is_problem(enters_order(sis, "SIS-2203"), 403, "custodian-only")
    assert is_problem(enters_order(custodian, "SIS-2203", recipient_subject="nobody"),
                      422)["errors"] == {"json": {"recipient_subject": [
                          "the party named is not registered with the gateway; "
                          "register it first"]}}
    is_problem(enters_order(custodian, "SIS-2203", served_on="2026-03-09"), 422,
               "judicial-order-refused")
    is_problem(enters_order(custodian, "SIS-9999"), 404)
    order = enters_order(custodian, "SIS-2203").get_json()
    patch = custodian.client.patch
    is_problem(patch(f"/v1/judicial-orders/{order['id']}", json={},
                     headers=custodian.headers), 422)
    is_problem(patch(f"/v1/judicial-orders/{order['id']}", json={"withdrawn_on": "2026-02-01"},
                     headers=custodian.headers), 422, "judicial-order-refused")
    is_problem(patch(f"/v1/judicial-orders/{uuid.uuid4()}", json={"withdrawn_on": "2026-03-01"},
                     headers=custodian.headers), 404)
    is_problem(sis.client.get("/v1/students/SIS-2203/judicial-orders", headers=sis.headers),
               403, "custodian-only")


# --- the register of requesters and their papers ------------------------------------------


def registers(custodian: Requester, subject: str, **fields: Any):
    return custodian.client.put(f"/v1/requesters/{subject}", json=fields,
                                headers=custodian.headers)


def test_the_custodian_registers_a_teacher_who_then_reads(sis, custodian, client,
                                                          token_for) -> None:
    sis.enrols("SIS-2301", **MAYA)
    record_id = sis.adds_record("SIS-2301").get_json()["id"]
    teacher = Requester(client, token_for(Cat.SCHOOL_OFFICIAL))
    assert teacher.reads("SIS-2301", record_id, purpose="educational_interest",
                         legitimate_educational_interest="teaches math").status_code == 403

    put = registers(custodian, client_id_for(Cat.SCHOOL_OFFICIAL), display_name="Ms. Reyes",
                    category="school_official")
    again = registers(custodian, client_id_for(Cat.SCHOOL_OFFICIAL), display_name="Ms. Reyes",
                      category="school_official")

    assert (put.status_code, again.status_code) == (201, 200)
    assert teacher.reads("SIS-2301", record_id, purpose="educational_interest",
                         legitimate_educational_interest="teaches math").status_code == 200
    registers(custodian, client_id_for(Cat.SCHOOL_OFFICIAL), display_name="Ms. Reyes",
              category="school_official", active=False)
    assert teacher.reads("SIS-2301", record_id, purpose="educational_interest",
                         legitimate_educational_interest="teaches math").status_code == 403


def test_an_audit_waits_for_its_written_agreement_on_file(sis, custodian, client,
                                                          token_for) -> None:
    sis.enrols("SIS-2302", **MAYA)
    record_id = sis.adds_record("SIS-2302").get_json()["id"]
    auditor = Requester(client, token_for(Cat.GOVERNMENT_AUDITOR))
    subject = client_id_for(Cat.GOVERNMENT_AUDITOR)
    registers(custodian, subject, display_name="State Controller's audit",
              category="government_auditor", organization_type="public_agency")
    waiting = auditor.reads("SIS-2302", record_id, purpose="audit_evaluation")
    assert waiting.status_code == 202
    assert waiting.get_json()["decision"]["requires"] == ["written_agreement"]

    kept = custodian.client.post(f"/v1/requesters/{subject}/agreements", json={
        "kind": "written_agreement", "purpose": "audit of the state program",
        "signed_on": "2026-02-02", "effective_from": "2026-02-02",
        "expires_on": "2026-06-30", "reference": "DA-2026-004"}, headers=custodian.headers)

    assert kept.status_code == 201
    assert [a["reference"] for a in kept.get_json()["agreements"]] == ["DA-2026-004"]
    assert auditor.reads("SIS-2302", record_id, purpose="audit_evaluation").status_code == 200
    shown = custodian.client.get(f"/v1/requesters/{subject}", headers=custodian.headers)
    assert shown.get_json()["organization_type"] == "public_agency"


def test_only_the_custodian_registers_and_never_a_parent_here(sis, custodian) -> None:
    sis.enrols("SIS-2303", **MAYA)
    sis.records_guardian("SIS-2303", **parent_of_maya())
    subject = parent_of_maya()["parent"]["subject"]

    is_problem(registers(sis, "someone", display_name="X", category="third_party"), 403,
               "custodian-only")
    # Who asks comes first: only the custodian learns what the register refuses.
    is_problem(registers(sis, "someone", display_name="X", category="parent"), 403,
               "custodian-only")
    is_problem(registers(custodian, "someone", display_name="X", category="parent"), 409)
    is_problem(registers(custodian, subject, display_name="X", category="third_party"), 409)
    is_problem(custodian.client.get("/v1/requesters/nobody", headers=custodian.headers), 404)
    registers(custodian, "lab", display_name="Lab", category="research_organization")
    is_problem(custodian.client.post("/v1/requesters/lab/agreements", json={
        "kind": "written_agreement", "purpose": "a study", "signed_on": "2026-02-02",
        "effective_from": "2026-01-02", "reference": "R-1"}, headers=custodian.headers),
        422, "agreement-refused")


# --- emergencies (AR 5125(f), discretionary item 1; 34 CFR 99.36) -----------------------


def test_an_emergency_is_the_districts_determination_not_the_requesters_word(
        sis, custodian, attorney) -> None:
    sis.enrols("SIS-2401", **MAYA)
    record_id = sis.adds_record("SIS-2401", record_type="health").get_json()["id"]
    claimed = attorney.reads("SIS-2401", record_id, purpose="emergency",
                             emergency_threat="anything at all")
    assert claimed.status_code == 403  # a requester cannot declare an emergency

    determined = custodian.client.post("/v1/students/SIS-2401/emergencies", json={
        "recipient_subject": ATTORNEY, "threat": "student collapsed; paramedics need the "
        "allergy history", "ends_on": "2026-03-02"}, headers=custodian.headers)
    read = attorney.reads("SIS-2401", record_id, purpose="emergency")

    assert determined.status_code == 201, determined.get_json()
    assert read.status_code == 200, read.get_json()
    assert read.get_json()["decision"]["clause"] == "emergency"
    assert "record_emergency_basis" in read.get_json()["decision"]["obligations"]
    listed = custodian.client.get("/v1/students/SIS-2401/emergencies",
                                  headers=custodian.headers).get_json()["emergencies"]
    assert [(e["recipient_subject"], e["determined_on"]) for e in listed] == [
        (ATTORNEY, "2026-03-02")]


def test_only_the_custodian_determines_an_emergency_and_only_from_today(
        sis, custodian, attorney) -> None:
    sis.enrols("SIS-2402", **MAYA)
    body = {"recipient_subject": ATTORNEY, "threat": "a threat", "ends_on": "2026-03-02"}

    is_problem(sis.client.post("/v1/students/SIS-2402/emergencies", json=body,
                               headers=sis.headers), 403, "custodian-only")
    is_problem(custodian.client.post("/v1/students/SIS-2402/emergencies",
                                     json={**body, "ends_on": "2026-03-01"},
                                     headers=custodian.headers), 422, "emergency-refused")


def test_a_volunteer_registered_as_custodian_keeps_no_file(
        client, sis, unit_of_work, gateway_idp, token_for) -> None:
    # The engine gives a volunteer no access as a custodian (AR 5125(c)): the directory,
    # a disclosure the family's log would have to list, and being told which students
    # the district holds are not theirs either.
    with unit_of_work() as uow:
        uow.requesters.add(models.Requester(
            issuer=gateway_idp.issuer, subject=client_id_for(Cat.CUSTODIAN),
            display_name="volunteer", category=Cat.CUSTODIAN, volunteer=True))
        uow.commit()
    volunteer = Requester(client, token_for(Cat.CUSTODIAN))
    sis.enrols("SIS-2001", **MAYA)
    record_id = sis.adds_record("SIS-2001").get_json()["id"]

    known = is_problem(volunteer.lists_records("SIS-2001"), 403, "not-a-record-keeper")
    unknown = is_problem(volunteer.lists_records("SIS-2999"), 403, "not-a-record-keeper")
    known.pop("request_id"), unknown.pop("request_id")
    assert known == unknown
    read_known = volunteer.reads("SIS-2001", str(uuid.uuid4()), purpose="review")
    read_unknown = volunteer.reads("SIS-2999", str(uuid.uuid4()), purpose="review")
    assert read_known.status_code == read_unknown.status_code == 403
    assert read_known.get_json()["decision"] == read_unknown.get_json()["decision"]
    assert volunteer.reads("SIS-2001", record_id, purpose="review").status_code == 403
    assert all(e.logged.event.value != "disclosure" or e.logged.log_required
               for e in _entries_about(unit_of_work, "SIS-2001"))
    # Nor the custodian's other work: the whole access log, verifying a relationship.
    is_problem(client.get("/v1/access-log/entries", headers=volunteer.headers), 403,
               "custodian-only")
