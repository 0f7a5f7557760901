"""`records-gateway retention ...` on a real database, and a run killed mid-way (both backends)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.app import key_encryption_keys
from gateway.cli import main
from gateway.policy.facts import RecordType, RequesterCategory
from gateway.settings import load_settings
from gateway.store import migrate
from gateway.store.db import make_engine, make_session_factory
from gateway.store.models import PlanStatus, Requester
from gateway.store.uow import UnitOfWork
from tests.integration.retention.conftest import District, Leaver

REPOSITORY = Path(__file__).resolve().parents[3]


@dataclass
class Gateway:
    """A migrated database with committed data, and the command pointed at it."""

    env: dict[str, str]
    district: District
    custodian: Requester

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["retention", *args], env=self.env)

    def leaver(self) -> Leaver:
        student = self.district.enrol(left_district_on=date(2023, 5, 1),
                                      withdrawn_on=date(2023, 5, 1))
        return Leaver(student, self.district.file(student, RecordType.HEALTH),
                      self.district.file(student, RecordType.LEGAL_NAME),
                      self.district.file(student, RecordType.ROUTINE_DISCIPLINE))


@pytest.fixture
def gateway(empty_database_url: str, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    migrate.upgrade(empty_database_url)
    env = {"DATABASE_URL": empty_database_url, "GATEWAY_DATA_DIR": str(tmp_path),
           "GATEWAY_LOG_FORMAT": "json"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    engine = make_engine(empty_database_url)
    sessions = make_session_factory(engine)
    keys = key_encryption_keys(settings)
    district = District(lambda: UnitOfWork(sessions, keys))
    try:
        yield Gateway(env, district, district.register(RequesterCategory.CUSTODIAN))
    finally:
        engine.dispose()


def plan_id_of(result: Result) -> uuid.UUID:
    assert result.exit_code == 0, result.output + result.stderr
    return uuid.UUID(json.loads(result.stdout)["id"])


def test_plan_as_json_csv_and_table(gateway: Gateway) -> None:
    leaver = gateway.leaver()

    as_json = gateway("plan", "--format", "json")
    assert as_json.exit_code == 0, (as_json.stderr, as_json.exception)
    data = json.loads(as_json.stdout)
    assert data["status"] == "draft" and data["summary"]["eligible"] == 2
    by_record = {item["record_id"]: item for item in data["items"]}
    assert by_record[str(leaver.health.id)]["rule"] == "interim_third_school_year"
    assert by_record[str(leaver.health.id)]["eligible_from"] == "2024-07-01"
    assert "5 CCR 437" in by_record[str(leaver.discipline.id)]["citations"]
    assert "retention.plan" in as_json.stderr  # structured logs go to standard error

    as_csv = gateway("plan", "--format", "csv", "--as-of", "2024-01-01")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["record_type"] for r in rows] == ["routine_discipline"]  # interim: not yet

    table = gateway("plan")
    assert table.exit_code == 0
    assert f"record_id={leaver.health.id}" in table.stdout and "(2 items)" in table.stdout


def test_approve_run_and_the_records_are_gone(gateway: Gateway) -> None:
    leaver = gateway.leaver()
    plan_id = plan_id_of(gateway("plan", "--format", "json"))
    refused = gateway("run", str(plan_id))
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (f"records-gateway: plan {plan_id} is draft: only an "
                                      "approved plan is run")

    approved = gateway("approve", str(plan_id), "--items", str(leaver.health.id),
                       "--custodian", gateway.custodian.subject, "--note", "reviewed")
    assert approved.exit_code == 0, approved.stderr
    assert approved.stdout.strip().endswith("the plan is partly_approved")
    rejected = gateway("reject", str(plan_id), "--custodian", str(gateway.custodian.id))
    assert "1 item(s) rejected" in rejected.stdout

    ran = gateway("run", "--all-approved")
    assert ran.exit_code == 0, ran.stderr
    assert f"plan {plan_id}: 1 destroyed" in ran.stdout
    assert '"event": "retention.run.batch"' in ran.stderr
    assert gateway.district.record(leaver.health.id).destroyed
    assert not gateway.district.record(leaver.discipline.id).destroyed

    shown = json.loads(gateway("show", str(plan_id), "--format", "json").stdout)
    assert shown["status"] == PlanStatus.DONE
    assert {i["record_id"]: i["outcome"] for i in shown["items"]} == {
        str(leaver.health.id): "destroyed", str(leaver.discipline.id): None}
    assert gateway("run", str(plan_id)).stdout.strip() == f"plan {plan_id}: already done"


def test_holds_from_the_command(gateway: Gateway) -> None:
    leaver = gateway.leaver()
    placed = gateway("hold", "add", "--kind", "open_copy_request", "--student",
                     leaver.student.sis_id, "--owner", "Registrar", "--reason",
                     "parent asked for copies", "--custodian", gateway.custodian.subject)
    assert placed.exit_code == 0, placed.stderr
    hold_id = placed.stdout.split()[1]
    listed = list(csv.DictReader(io.StringIO(gateway("hold", "list", "--format",
                                                     "csv").stdout)))
    assert [(h["id"], h["kind"]) for h in listed] == [(hold_id, "open_copy_request")]
    data = json.loads(gateway("plan", "--format", "json").stdout)
    assert {i["kind"] for i in data["items"]} == {"held"}
    assert "open_copy_request" in data["items"][0]["held_by"]

    released = gateway("hold", "release", hold_id, "--reason", "copies sent",
                       "--custodian", gateway.custodian.subject)
    assert released.exit_code == 0
    assert gateway("hold", "list").stdout.startswith("count       0")
    listed = json.loads(gateway("hold", "list", "--all", "--format", "json").stdout)
    assert listed["count"] == 1 and listed["holds"][0]["id"] == hold_id
    assert len(list(csv.DictReader(io.StringIO(
        gateway("hold", "list", "--all", "--format", "csv").stdout)))) == 1


@pytest.mark.parametrize("args, message", [
    (["approve", "not-a-uuid", "--custodian", "x"], "'not-a-uuid' is not a valid UUID"),
    (["approve", str(uuid.UUID(int=7)), "--custodian", "nobody"],
     "'nobody' is not a registered, active custodian of records"),
    (["plan", "--as-of", "2999-01-01"], "a plan cannot be made as of 2999-01-01"),
    (["plan", "--as-of", "yesterday"], "'yesterday' does not match the format"),
    (["run"], "give a plan id or --all-approved (not both)"),
    (["hold", "add", "--kind", "whim", "--student", "S", "--owner", "o", "--reason", "r",
      "--custodian", "c"], "'whim' is not one of"),
    (["hold", "release", str(uuid.UUID(int=9)), "--reason", "r", "--custodian", "c"],
     "is not a registered, active custodian"),
])
def test_bad_input_is_one_line_and_a_non_zero_exit(gateway: Gateway, args: list[str],
                                                   message: str) -> None:
    result = gateway(*args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1]


def test_an_unmigrated_database_is_one_line(empty_database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": empty_database_url, "GATEWAY_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["retention", "hold", "list"], env=env)
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("is it migrated? (records-gateway db upgrade)")


CRASHING_RUN = textwrap.dedent("""
    import os, signal, sys, uuid
    from gateway.cli_retention import _service
    done = 0
    def progress(n):
        global done
        done += n
        if done >= int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)  # the machine goes down mid-run
    with _service() as service:
        service._batch = 2
        service.run(uuid.UUID(sys.argv[1]), started_by="cron", progress=progress)
""")


def test_a_run_killed_mid_way_is_finished_by_the_next(gateway: Gateway) -> None:
    leavers = [gateway.leaver() for _ in range(4)]  # 8 eligible records, 4 batches of 2
    plan_id = plan_id_of(gateway("plan", "--format", "json"))
    assert gateway("approve", str(plan_id), "--custodian", gateway.custodian.subject
                   ).exit_code == 0

    killed = subprocess.run([sys.executable, "-c", CRASHING_RUN, str(plan_id), "4"],
                            env={**os.environ, **gateway.env}, cwd=REPOSITORY,
                            capture_output=True, timeout=120)
    assert killed.returncode == -9, killed.stderr.decode()

    records = [r for leaver in leavers for r in (leaver.health, leaver.discipline)]
    rows = [gateway.district.record(r.id) for r in records]
    assert sum(r.destroyed for r in rows) == 4  # two batches committed, no more
    for record, row in zip(records, rows, strict=True):
        if not row.destroyed:
            assert gateway.district.content(record.id)  # whole, still opens

    rerun = gateway("run", str(plan_id))  # the lock of the dead run does not stop it

    assert rerun.exit_code == 0, rerun.stderr
    assert f"plan {plan_id}: 4 destroyed" in rerun.stdout
    assert all(gateway.district.record(r.id).destroyed for r in records)
    shown = json.loads(gateway("show", str(plan_id), "--format", "json").stdout)
    assert shown["status"] == "done"
    assert {i["outcome"] for i in shown["items"]} == {"destroyed"}
