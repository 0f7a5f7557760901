"""`records-gateway audit ...` on a committed database, and an auditor checking its
output with nothing but `python -m audit.verify`, the exported files and the public key."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from audit.events import EventType, RecordRef, Requester
from gateway.cli import main
from gateway.store import log_verify, migrate
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.db import make_engine, make_session_factory
from gateway.store.uow import UnitOfWork

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=timezone.utc)


@pytest.fixture
def gateway(empty_database_url: str, tmp_path: Path):
    """Run the command against a migrated database with five entries."""
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with UnitOfWork(make_session_factory(engine), KeyEncryptionKeys.generate("k")) as uow:
            for minute in range(5):
                uow.access_log.append(
                    EventType.DISCLOSURE, at=T0 + timedelta(minutes=minute),
                    student_id=uuid.uuid4(),
                    requester=Requester("Ms. Reyes [1]", "school_official"),
                    records=[RecordRef(str(uuid.uuid4()), "health")], request_id=f"r{minute}")
            uow.commit()
    finally:
        engine.dispose()
    env = {"DATABASE_URL": empty_database_url, "GATEWAY_DATA_DIR": str(tmp_path),
           "GATEWAY_ENVIRONMENT": "test", "GATEWAY_AUDIT_ORIGIN": "example-usd/access-log"}

    def run(*args: str, check: bool = True, more_env: dict[str, str] | None = None) -> Result:
        # In-process, as `records-gateway audit ...` runs it (settings from the environment).
        done = CliRunner().invoke(main, ["audit", *args], env={**env, **(more_env or {})})
        if check:
            assert done.exit_code == 0, done.output
        return done
    return run


def audit_verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audit.verify", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_an_auditor_checks_the_export_a_proof_and_a_checkpoint_offline(
        gateway, tmp_path: Path) -> None:
    (tmp_path / "vkey.txt").write_text(gateway("public-key").stdout)
    (tmp_path / "proof.json").write_text(gateway("prove", "2").stdout)
    (tmp_path / "cp.txt").write_text(gateway("checkpoint").stdout)
    (tmp_path / "entries.jsonl").write_text(gateway("export").stdout)

    proof = audit_verify("--proof", str(tmp_path / "proof.json"),
                         "--key", str(tmp_path / "vkey.txt"))
    log = audit_verify(str(tmp_path / "entries.jsonl"), "--checkpoint",
                       str(tmp_path / "cp.txt"), "--key", str(tmp_path / "vkey.txt"))

    assert proof.returncode == 0, proof.stdout + proof.stderr
    assert "entry 2 is in the log of example-usd/access-log at size 5" in proof.stdout
    assert log.returncode == 0 and "ok: 5 entries" in log.stdout, log.stdout
    assert json.loads((tmp_path / "proof.json").read_text())["tree_size"] == 5


def as_owner(url: str, *statements: str) -> None:
    """SQL as the tables' owner, with every append-only trigger of the log out of the way."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                for table in ("access_log_entries", "access_log_checkpoints"):
                    conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                for name in conn.execute(text(
                        "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                        "AND tbl_name LIKE 'access_log_%'")).scalars().all():
                    conn.execute(text(f"DROP TRIGGER {name}"))
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def delete_entry(url: str, seq: int) -> None:
    """As the tables' owner would: the trigger that refuses it out of the way first."""
    as_owner(url, f"DELETE FROM access_log_entries WHERE seq = {int(seq)}")


def test_verify_passes_then_names_the_entry_an_owner_deleted(
        gateway, empty_database_url: str) -> None:
    gateway("checkpoint")
    assert "ok: 5 entries" in gateway("verify").stdout
    assert "ok: 5 entries" in gateway("verify", "--from-checkpoint").stdout
    delete_entry(empty_database_url, 1)

    done = gateway("verify", check=False)

    assert done.exit_code == 1
    assert done.stdout.startswith("FAILED at seq 1: entry 1 is missing"), done.stdout


def test_verify_on_several_processes_names_the_same_entry(
        gateway, empty_database_url: str, monkeypatch) -> None:
    monkeypatch.setattr(log_verify, "PARALLEL_FROM", 0)  # five entries: as if a long log
    assert "ok: 5 entries" in gateway("verify", "--workers", "3").stdout
    delete_entry(empty_database_url, 3)

    done = gateway("verify", "--workers", "3", check=False)

    assert done.exit_code == 1
    assert done.stdout.startswith("FAILED at seq 3: entry 3 is missing"), done.stdout
    refused = gateway("verify", "--workers", "0", check=False)
    assert refused.exit_code == 2 and "--workers" in refused.output


def test_a_proof_of_an_entry_that_is_not_there_is_one_line(gateway) -> None:
    done = gateway("prove", "99", check=False)

    assert done.exit_code == 2
    assert done.stderr == "records-gateway: audit: there is no entry 99\n"


def test_given_only_the_verifier_key_the_log_is_verified_and_never_signed(
        gateway, tmp_path: Path) -> None:
    (tmp_path / "verifier-key").write_text(gateway("public-key").output)
    gateway("checkpoint")  # the checkpointer, which holds the signing key
    web_tier = {"GATEWAY_AUDIT_VERIFIER_KEY_FILE": str(tmp_path / "verifier-key")}

    verified = gateway("verify", more_env=web_tier)
    refused = gateway("checkpoint", more_env=web_tier, check=False)

    assert verified.exit_code == 0, verified.output
    assert refused.exit_code == 2
    assert refused.output.count("\n") == 1 and "GATEWAY_AUDIT_SIGNING_KEY_FILE" in refused.output


@pytest.mark.parametrize("content", ["", "garbage\n", "origin\n5\n\n— key c2ln\n"])
def test_verifying_against_a_file_that_is_no_checkpoint_is_bad_input(
        gateway, tmp_path: Path, content: str) -> None:
    (tmp_path / "kept.txt").write_text(content)

    done = gateway("verify", "--checkpoint", str(tmp_path / "kept.txt"), check=False)

    assert done.exit_code == 2
    assert done.stderr.startswith(f"records-gateway: audit: {tmp_path / 'kept.txt'} is not a "
                                  "checkpoint")
    assert done.stdout == ""


def test_a_kept_checkpoint_that_does_not_verify_is_tampering(gateway, tmp_path: Path) -> None:
    note = gateway("checkpoint").stdout
    origin, size, rest = note.split("\n", 2)
    (tmp_path / "kept.txt").write_text(f"{origin}\n{int(size) + 1}\n{rest}")

    done = gateway("verify", "--checkpoint", str(tmp_path / "kept.txt"), check=False)

    assert done.exit_code == 1
    assert done.stdout.startswith("FAILED"), done.stdout


def test_verifying_a_sqlite_database_that_is_not_there_makes_none(tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere" / "gateway.db"
    (tmp_path / "elsewhere").mkdir()
    env = {"DATABASE_URL": f"sqlite:///{missing}", "GATEWAY_DATA_DIR": str(tmp_path),
           "GATEWAY_ENVIRONMENT": "test", "GATEWAY_AUDIT_ORIGIN": "example-usd/access-log"}

    done = CliRunner().invoke(main, ["audit", "verify"], env=env)

    assert done.exit_code == 2
    assert done.stderr == (f"records-gateway: audit: there is no database at {missing} "
                           "(records-gateway db upgrade makes one)\n")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def append_one(url: str) -> None:
    engine = make_engine(url)
    try:
        with UnitOfWork(make_session_factory(engine), KeyEncryptionKeys.generate("k")) as uow:
            uow.access_log.append(EventType.DISCLOSURE, at=T0 + timedelta(hours=1),
                                  student_id=uuid.uuid4(),
                                  requester=Requester("Ms. Reyes [1]", "school_official"))
            uow.commit()
    finally:
        engine.dispose()


def test_the_checkpointer_keeps_what_it_signed_and_will_not_sign_once_it_is_gone(
        gateway, empty_database_url: str, tmp_path: Path) -> None:
    kept = tmp_path / "audit-last-checkpoint"
    first = gateway("checkpoint").stdout
    assert kept.read_text() == first
    append_one(empty_database_url)
    second = gateway("checkpoint").stdout
    assert "\n6\n" in second and kept.read_text() == second
    as_owner(empty_database_url, "DELETE FROM access_log_checkpoints")
    append_one(empty_database_url)

    refused = gateway("checkpoint", check=False)

    assert refused.exit_code == 1
    assert refused.stderr == (
        "records-gateway: audit: not signing: the last checkpoint this signer signed "
        "(size 6) is missing from the database: checkpoints were deleted\n")
    assert kept.read_text() == second


def test_verify_holds_the_log_to_the_checkpoint_the_checkpointer_kept(
        gateway, empty_database_url: str) -> None:
    gateway("checkpoint")
    as_owner(empty_database_url, "DELETE FROM access_log_checkpoints",
             "DELETE FROM access_log_entries WHERE seq >= 3")

    done = gateway("verify", check=False)

    assert done.exit_code == 1
    assert done.stdout.startswith("FAILED at seq 3"), done.stdout
    assert "truncated" in done.stdout


def test_a_kept_checkpoint_the_checkpointer_cannot_write_is_one_line(
        gateway, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")

    done = gateway("checkpoint", check=False, more_env={
        "GATEWAY_AUDIT_CHECKPOINT_FILE": str(blocked / "kept")})

    assert done.exit_code == 2
    assert done.stderr.startswith("records-gateway: audit: cannot keep the checkpoint in ")
    assert done.stderr.count("\n") == 1


def test_a_checkpoint_in_the_database_this_signer_did_not_sign_is_not_kept(
        gateway, empty_database_url: str, tmp_path: Path) -> None:
    note = gateway("checkpoint").stdout
    (tmp_path / "audit-last-checkpoint").unlink()
    forged = note.replace("\n5\n", "\n4\n")
    as_owner(empty_database_url,
             f"UPDATE access_log_checkpoints SET note = '{forged}' WHERE size = 5")

    gateway("checkpoint")

    assert not (tmp_path / "audit-last-checkpoint").exists()
