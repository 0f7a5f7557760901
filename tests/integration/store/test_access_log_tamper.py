"""Tampering with the stored log as its owner could, and `verify` naming the first bad entry.

The owner of the tables can switch the triggers off (PostgreSQL: ALTER TABLE ... DISABLE
TRIGGER; SQLite: DROP TRIGGER), so each test does that first, inside the test's
rolled-back transaction, and then rewrites the log with plain SQL.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import orjson
import pytest
import rfc8785
from sqlalchemy import Connection, text

from audit.checkpoint import generate_key
from audit.events import EventType, RecordRef, Requester
from audit.merkle import leaf_hash
from gateway.store.access_log import CheckpointRefused, LogSigner, _Edge
from gateway.store.uow import UnitOfWork

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=timezone.utc)
ORIGIN = "records.example-usd.k12.ca.us/access-log"
TABLES = ("access_log_entries", "access_log_nodes", "access_log_checkpoints",
          "access_log_head")
SIZE = 8


@pytest.fixture
def signer() -> LogSigner:
    return LogSigner(ORIGIN, ORIGIN, generate_key())


@pytest.fixture
def log(unit_of_work: Callable[[], UnitOfWork], signer: LogSigner) -> list[bytes]:
    """Eight entries about two students, the last checkpoint at 8; their leaves."""
    students = [uuid.uuid4(), uuid.uuid4()]
    with unit_of_work() as uow:
        for seq in range(SIZE):
            uow.access_log.append(
                EventType.DISCLOSURE, at=T0 + timedelta(minutes=seq),
                student_id=students[seq % 2],
                requester=Requester(f"Ms. Reyes [{uuid.UUID(int=1)}]", "school_official"),
                records=[RecordRef(str(uuid.uuid4()), "health")], action="access",
                purpose="educational_interest", decision=None, request_id=f"req-{seq}",
                outcome="disclosed")
            if seq == 3:
                uow.access_log.checkpoint(signer, T0)
        uow.access_log.checkpoint(signer, T0)
        uow.commit()
    with unit_of_work() as uow:
        return [line.rstrip(b"\n") for line in uow.access_log.export_lines()]


@pytest.fixture
def owner(connection: Connection) -> Callable[[str, dict[str, object] | None], None]:
    """Run SQL as the tables' owner, with the append-only triggers out of the way."""
    if connection.dialect.name == "postgresql":
        for table in TABLES:
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        names = connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name LIKE 'access_log_%'")).scalars().all()
        for name in names:
            connection.execute(text(f"DROP TRIGGER {name}"))

    def run(statement: str, params: dict[str, object] | None = None) -> None:
        connection.execute(text(statement), params or {})
    return run


def verify(unit_of_work: Callable[[], UnitOfWork], signer: LogSigner, **options: object):
    with unit_of_work() as uow:
        return uow.access_log.verify(signer.verifier_key, **options)


def edited(leaf: bytes, **changes: object) -> bytes:
    obj = orjson.loads(leaf)
    obj.update(changes)
    return rfc8785.dumps(obj)


def test_an_untouched_log_verifies(log, unit_of_work, signer) -> None:
    report = verify(unit_of_work, signer)
    assert report.ok, report.summary()
    assert report.size == SIZE and report.checkpoint.size == SIZE
    assert verify(unit_of_work, signer, from_checkpoint=True).ok


def test_a_changed_entry_is_named(log, unit_of_work, signer, owner) -> None:
    owner("UPDATE access_log_entries SET leaf = :leaf WHERE seq = 3",
          {"leaf": edited(log[3], outcome="withheld")})

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == 3, report.summary()
    assert "changed" in report.problem


def test_a_deleted_entry_is_named(log, unit_of_work, signer, owner) -> None:
    owner("DELETE FROM access_log_entries WHERE seq = 5")

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == 5, report.summary()
    assert "missing" in report.problem


def test_reordered_entries_are_named(log, unit_of_work, signer, owner) -> None:
    owner("UPDATE access_log_entries SET leaf = :leaf WHERE seq = 2", {"leaf": log[4]})
    owner("UPDATE access_log_entries SET leaf = :leaf WHERE seq = 4", {"leaf": log[2]})

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == 2, report.summary()


def test_an_inserted_entry_is_named(log, unit_of_work, signer, owner) -> None:
    # Make room at seq 6 and slip in a forged entry that links to entry 5.
    for seq in range(SIZE - 1, 5, -1):
        owner("UPDATE access_log_entries SET seq = :new WHERE seq = :old",
              {"new": seq + 1, "old": seq})
    prev = base64.b64encode(leaf_hash(log[5])).decode()
    forged = edited(log[6], prev_hash=prev, request_id="req-forged")
    owner("INSERT INTO access_log_entries (seq, leaf, time, event, requester_category, "
          "decision, clause, student_id, request_id) SELECT 6, :leaf, time, event, "
          "requester_category, decision, clause, student_id, 'req-forged' "
          "FROM access_log_entries WHERE seq = 7", {"leaf": forged})

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == 6, report.summary()
    assert "inserted" in report.problem


def test_an_entry_added_past_the_tree_head_is_named(log, unit_of_work, signer, owner,
                                                   connection) -> None:
    # A well-formed entry, linked to entry 7, written without moving the head.
    head = connection.execute(text(
        "SELECT size, root, last_leaf_hash, edge FROM access_log_head")).one()
    with unit_of_work() as uow:
        uow.access_log.append(EventType.DISCLOSURE, at=T0, student_id=uuid.uuid4(),
                              requester=Requester("Mr. Forger", "school_official"))
        uow.commit()
    owner("UPDATE access_log_head SET size = :size, root = :root, "
          "last_leaf_hash = :last_leaf_hash, edge = :edge", head._asdict())

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == SIZE, report.summary()
    assert "added behind the log's back" in report.problem


def test_a_truncated_log_is_caught_against_its_checkpoint(log, unit_of_work, signer,
                                                          owner) -> None:
    owner("DELETE FROM access_log_entries WHERE seq >= 6")

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == 6, report.summary()
    assert "truncated" in report.problem


def test_truncation_with_the_checkpoints_gone_is_caught_by_one_kept_elsewhere(
        log, unit_of_work, signer, owner) -> None:
    with unit_of_work() as uow:
        kept = uow.access_log.latest_checkpoint().note  # e.g. by an auditor or a witness
    owner("DELETE FROM access_log_entries WHERE seq >= 6")
    owner("DELETE FROM access_log_checkpoints")
    owner("DELETE FROM access_log_nodes WHERE 1 = 1")

    report = verify(unit_of_work, signer, checkpoint_note=kept)

    assert not report.ok and report.first_bad_seq == 6, report.summary()
    assert "truncated" in report.problem


def test_a_changed_search_column_is_named(log, unit_of_work, signer, owner) -> None:
    owner("UPDATE access_log_entries SET requester_category = 'custodian' WHERE seq = 4")

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == 4, report.summary()
    assert "requester_category" in report.problem


def test_a_forged_checkpoint_is_refused(log, unit_of_work, signer, owner) -> None:
    with unit_of_work() as uow:
        note = uow.access_log.latest_checkpoint().note
    owner("UPDATE access_log_checkpoints SET note = :note WHERE size = 8",
          {"note": note.replace("\n8\n", "\n9\n")})

    report = verify(unit_of_work, signer)

    assert not report.ok and "does not verify" in report.problem


def test_verify_from_the_checkpoint_finds_tampering_after_it(log, unit_of_work, signer,
                                                             owner) -> None:
    owner("DELETE FROM access_log_checkpoints WHERE size = 8")
    owner("UPDATE access_log_entries SET leaf = :leaf WHERE seq = 6",
          {"leaf": edited(log[6], outcome="withheld")})

    report = verify(unit_of_work, signer, from_checkpoint=True)

    assert not report.ok and report.first_bad_seq == 6, report.summary()


def _uuid_param(connection: Connection, value: uuid.UUID) -> str:
    # The driver's own spelling of a uuid column: SQLite keeps hex text.
    return value.hex if connection.dialect.name == "sqlite" else str(value)


def test_a_changed_requester_id_is_named(log, unit_of_work, signer, owner,
                                         connection) -> None:
    # Sealed: verify opens the entry with the student's content key to compare.
    owner("UPDATE access_log_entries SET requester_id = :id WHERE seq = 5",
          {"id": _uuid_param(connection, uuid.UUID(int=2))})

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == 5, report.summary()
    assert "requester_id" in report.problem


def test_an_entry_moved_to_another_student_is_named(log, unit_of_work, signer, owner,
                                                     connection) -> None:
    with unit_of_work() as uow:
        other = uow.access_log.get(1).student_id
    owner("UPDATE access_log_entries SET student_id = :id WHERE seq = 2",
          {"id": _uuid_param(connection, other)})

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == 2, report.summary()
    assert "student_id" in report.problem


def test_the_requester_id_of_an_entry_about_no_student_is_checked(
        log, unit_of_work, signer, owner, connection) -> None:
    custodian = uuid.uuid4()
    with unit_of_work() as uow:
        uow.access_log.append(EventType.ACCESS_LOG_VIEW, at=T0,
                              requester=Requester(f"Custodian [{custodian}]", "custodian"),
                              action="view_access_log", outcome="searched")
        uow.commit()
        assert uow.access_log.get(SIZE).requester_id == custodian
    assert verify(unit_of_work, signer).ok
    owner("UPDATE access_log_entries SET requester_id = NULL WHERE seq = :seq",
          {"seq": SIZE})

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == SIZE, report.summary()
    assert "requester_id" in report.problem


def test_a_sealed_entry_with_its_student_id_cleared_is_named(log, unit_of_work, signer,
                                                            owner) -> None:
    # No student to open it with: the verifier must not skip it as if its key were gone.
    owner("UPDATE access_log_entries SET student_id = NULL WHERE seq = 3")

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == 3, report.summary()
    assert "student_id" in report.problem


def test_the_first_of_two_changed_columns_in_one_page_is_named(log, unit_of_work, signer,
                                                               owner, connection) -> None:
    # Sealed parts are checked a page at a time, and pages of 3 split these two apart.
    with unit_of_work() as uow:
        other = uow.access_log.get(1).student_id
    owner("UPDATE access_log_entries SET requester_id = :id WHERE seq = 6",
          {"id": _uuid_param(connection, uuid.UUID(int=2))})
    owner("UPDATE access_log_entries SET student_id = :id WHERE seq = 4",
          {"id": _uuid_param(connection, other)})

    report = verify(unit_of_work, signer, batch=3)

    assert not report.ok and report.first_bad_seq == 4, report.summary()
    assert "student_id" in report.problem


def test_sealed_entries_after_one_about_no_student_are_still_checked(
        log, unit_of_work, signer, owner, connection) -> None:
    # A page is checked in runs of sealed entries; the clear one splits this page in two.
    with unit_of_work() as uow:
        student = uow.access_log.get(0).student_id
        uow.access_log.append(EventType.ACCESS_LOG_VIEW, at=T0,
                              requester=Requester(f"Custodian [{uuid.uuid4()}]", "custodian"),
                              action="view_access_log", outcome="searched")
        for n in range(3):
            uow.access_log.append(
                EventType.DISCLOSURE, at=T0 + timedelta(hours=1, minutes=n), student_id=student,
                requester=Requester(f"Ms. Reyes [{uuid.UUID(int=1)}]", "school_official"),
                records=[RecordRef(str(uuid.uuid4()), "health")], action="access",
                purpose="educational_interest", request_id=f"late-{n}", outcome="disclosed")
        uow.commit()
    assert verify(unit_of_work, signer).ok
    owner("UPDATE access_log_entries SET requester_id = :id WHERE seq = :seq",
          {"id": _uuid_param(connection, uuid.UUID(int=2)), "seq": SIZE + 2})

    report = verify(unit_of_work, signer)

    assert not report.ok and report.first_bad_seq == SIZE + 2, report.summary()
    assert "requester_id" in report.problem


# -- The signer signs only trees that extend what it signed ------------------------------


def rewritten(owner, leaves: list[bytes]) -> None:
    """The owner's rewrite done right: each entry chained to the one before, and tree
    nodes and head agreeing with them again."""
    edge, nodes, prev = _Edge([]), [], None
    for seq, leaf in enumerate(leaves):
        if seq:
            leaf = leaves[seq] = edited(leaf, prev_hash=base64.b64encode(prev).decode())
        digest = prev = leaf_hash(leaf)
        completed = [(0, seq, digest)]
        edge.push(0, digest, completed, seq)
        nodes += completed
        owner("UPDATE access_log_entries SET leaf = :leaf WHERE seq = :seq",
              {"leaf": leaf, "seq": seq})
    owner("DELETE FROM access_log_nodes WHERE 1 = 1")
    for level, index, digest in nodes:
        owner('INSERT INTO access_log_nodes (level, "index", hash) VALUES (:l, :i, :h)',
              {"l": level, "i": index, "h": digest})
    owner("UPDATE access_log_head SET root = :root, last_leaf_hash = :last, edge = :edge "
          "WHERE id = 1", {"root": edge.root(), "last": leaf_hash(leaves[-1]),
                           "edge": edge.encode()})


def one_more_entry(unit_of_work: Callable[[], UnitOfWork]) -> None:
    with unit_of_work() as uow:
        uow.access_log.append(EventType.DISCLOSURE, at=T0 + timedelta(hours=1),
                              student_id=uuid.uuid4(), outcome="disclosed",
                              requester=Requester(f"Ms. Reyes [{uuid.UUID(int=1)}]",
                                                  "school_official"))
        uow.commit()


def checkpoint(unit_of_work: Callable[[], UnitOfWork], signer: LogSigner,
               kept_note: str | None = None) -> str:
    with unit_of_work() as uow:
        signed = uow.access_log.checkpoint(signer, T0 + timedelta(hours=2), kept_note=kept_note)
        uow.commit()
    return signed.note


def test_the_signer_signs_a_log_that_grew_from_its_last_checkpoint(log, unit_of_work,
                                                                   signer) -> None:
    with unit_of_work() as uow:
        kept = uow.access_log.latest_checkpoint().note
    one_more_entry(unit_of_work)

    note = checkpoint(unit_of_work, signer, kept_note=kept)

    assert f"\n{SIZE + 1}\n" in note
    assert verify(unit_of_work, signer, checkpoint_note=note).ok


def test_the_signer_will_not_sign_over_entries_rewritten_under_its_checkpoint(
        log, unit_of_work, signer, owner) -> None:
    rewritten(owner, [edited(log[2], outcome="withheld") if seq == 2 else leaf
                      for seq, leaf in enumerate(log)])
    one_more_entry(unit_of_work)

    with pytest.raises(CheckpointRefused, match="does not extend the latest checkpoint in "
                       "the database .size 8.: entries it covers were changed"):
        checkpoint(unit_of_work, signer)


def test_with_the_checkpoints_deleted_too_the_kept_one_still_refuses_the_rewrite(
        log, unit_of_work, signer, owner) -> None:
    with unit_of_work() as uow:
        kept = uow.access_log.latest_checkpoint().note
    rewritten(owner, [edited(log[2], outcome="withheld") if seq == 2 else leaf
                      for seq, leaf in enumerate(log)])
    owner("DELETE FROM access_log_checkpoints")
    one_more_entry(unit_of_work)

    with pytest.raises(CheckpointRefused, match="does not extend the last checkpoint this "
                       "signer signed"):
        checkpoint(unit_of_work, signer, kept_note=kept)
    # Without what it kept, the signer would have signed the rewritten log, and the
    # rewrite would verify against that checkpoint:
    assert verify(unit_of_work, signer, checkpoint_note=checkpoint(unit_of_work, signer)).ok


def test_the_signer_will_not_sign_a_log_shorter_than_its_last_checkpoint(
        log, unit_of_work, signer, owner) -> None:
    with unit_of_work() as uow:
        kept = uow.access_log.latest_checkpoint().note
    owner("DELETE FROM access_log_entries WHERE seq >= 5")
    owner("DELETE FROM access_log_checkpoints WHERE size = 8")
    rewritten(owner, log[:5])
    owner("UPDATE access_log_head SET size = 5 WHERE id = 1")
    one_more_entry(unit_of_work)

    with pytest.raises(CheckpointRefused, match="the log has 6 entries, fewer than the 8 the "
                       "last checkpoint this signer signed covers: entries were removed"):
        checkpoint(unit_of_work, signer, kept_note=kept)


def test_the_signer_will_not_sign_once_its_checkpoint_is_gone_from_the_database(
        log, unit_of_work, signer, owner) -> None:
    with unit_of_work() as uow:
        kept = uow.access_log.latest_checkpoint().note
    owner("DELETE FROM access_log_checkpoints WHERE size = 8")
    one_more_entry(unit_of_work)

    with pytest.raises(CheckpointRefused, match=r"\(size 8\) is missing from the database"):
        checkpoint(unit_of_work, signer, kept_note=kept)


def test_a_kept_checkpoint_of_another_signer_is_refused(log, unit_of_work, signer) -> None:
    other = LogSigner(ORIGIN, ORIGIN, generate_key())
    with unit_of_work() as uow:
        kept = uow.access_log.latest_checkpoint().note
    one_more_entry(unit_of_work)

    with pytest.raises(CheckpointRefused, match="not one this signer signed"):
        checkpoint(unit_of_work, other, kept_note=kept)
