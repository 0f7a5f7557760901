"""The access log in the database: appends, searches, checkpoints, proofs, destruction.

On SQLite and PostgreSQL alike (the store fixtures), each test in a rolled-back
transaction whose commits are savepoints.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Connection, event, text

from audit.checkpoint import generate_key, parse_and_verify
from audit.events import EventType, RecordRef, Requester
from audit.merkle import verify_consistency
from audit.verify import verify_proof_bundle
from gateway.policy.decision import Decision, Obligation, Outcome
from gateway.store.access_log import AccessLogError, LogSigner
from gateway.store.uow import UnitOfWork

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=timezone.utc)
ORIGIN = "records.example-usd.k12.ca.us/access-log"
PERMIT = Decision(Outcome.PERMIT, "school_official", ("Ed Code 49076(a)(1)(A)",),
                  "a school official with a legitimate educational interest",
                  obligations=(Obligation.NOTIFY_PARENT_WITHIN_24_HOURS,), log_required=True)
DENY = Decision(Outcome.DENY, "no_basis", ("34 CFR 99.30",), "no basis to disclose")


@pytest.fixture
def signer() -> LogSigner:
    return LogSigner(ORIGIN, ORIGIN, generate_key())


def teacher(n: int = 1) -> Requester:
    return Requester(f"Ms. Reyes {n} [{uuid.UUID(int=n)}]", "school_official")


def disclose(uow: UnitOfWork, student_id: uuid.UUID, minute: int = 0, *,
             decision: Decision = PERMIT, requester: Requester | None = None,
             record_type: str = "health"):
    return uow.access_log.append(
        EventType.DISCLOSURE if decision.outcome is Outcome.PERMIT else EventType.DENIAL,
        at=T0 + timedelta(minutes=minute), student_id=student_id,
        requester=requester or teacher(), records=[RecordRef(str(uuid.uuid4()), record_type)],
        action="access", purpose="educational_interest", stated_interest="plans reading group",
        decision=decision, request_id=f"req-{minute}", policy_version="ar5125-2013",
        outcome="disclosed")


def test_appends_take_the_next_seq_and_commit_with_the_transaction(
        unit_of_work: Callable[[], UnitOfWork]) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    with unit_of_work() as uow:
        first = disclose(uow, alice, 0)
        second = disclose(uow, bob, 1)
        uow.commit()
    with unit_of_work() as uow:
        disclose(uow, alice, 2)  # never committed
    with unit_of_work() as uow:
        assert (first.seq, second.seq) == (0, 1)
        assert uow.access_log.head().size == 2
        assert [e.seq for e in uow.access_log.search()] == [0, 1]
        third = disclose(uow, alice, 3)
        uow.commit()
    assert third.seq == 2 and third.prev_hash is not None


def test_the_decision_fills_decision_clause_citations_and_obligations(
        unit_of_work: Callable[[], UnitOfWork]) -> None:
    with unit_of_work() as uow:
        stored = disclose(uow, uuid.uuid4())
        uow.commit()
    clear = stored.to_json()
    assert (clear["decision"], clear["clause"], clear["citations"], clear["obligations"]) == (
        "permit", "school_official", ["Ed Code 49076(a)(1)(A)"],
        ["notify_parent_within_24_hours"])
    assert clear["log_required"] is True  # Ed Code 49064: the student's log lists it
    assert "sealed" in clear and "Reyes" not in stored.leaf().decode()


def test_search_by_student_category_time_clause_decision_and_event(
        unit_of_work: Callable[[], UnitOfWork]) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    police = Requester("Det. Ramirez [x]", "law_enforcement")
    with unit_of_work() as uow:
        disclose(uow, alice, 0)
        disclose(uow, bob, 10, decision=DENY, requester=police)
        disclose(uow, alice, 20, requester=police)
        uow.commit()
    with unit_of_work() as uow:
        log = uow.access_log
        assert [e.seq for e in log.search(student_id=alice)] == [0, 2]
        assert [e.seq for e in log.search(requester_category="law_enforcement")] == [1, 2]
        assert [e.seq for e in log.search(since=T0 + timedelta(minutes=5),
                                          until=T0 + timedelta(minutes=20))] == [1]
        assert [e.seq for e in log.search(clause="no_basis")] == [1]
        assert [e.seq for e in log.search(decision="permit", student_id=alice)] == [0, 2]
        assert [e.seq for e in log.search(event=EventType.DENIAL)] == [1]
        assert [e.seq for e in log.search(newest_first=True, limit=2)] == [2, 1]
        assert [e.seq for e in log.search(after_seq=0, limit=1)] == [1]
        assert [e.seq for e in log.search(requester_id=uuid.UUID(int=1))] == [0]
        assert [e.log_required for e in log.search()] == [True, False, True]
        (opened,) = log.open(log.search(student_id=bob))
    assert opened.entry is not None
    # "[x]" is no requester id: the column stays empty rather than guessing.
    assert opened.logged.requester_id is None
    assert opened.entry.requester == police
    assert opened.entry.student_ref == str(bob)
    assert opened.entry.stated_interest == "plans reading group"


def test_a_checkpoint_is_signed_once_per_size_and_proves_entries(
        unit_of_work: Callable[[], UnitOfWork], signer: LogSigner) -> None:
    with unit_of_work() as uow:
        for minute in range(5):
            disclose(uow, uuid.uuid4(), minute)
        first = uow.access_log.checkpoint(signer, T0)
        again = uow.access_log.checkpoint(signer, T0 + timedelta(minutes=1))
        uow.commit()
    assert again == first  # nothing new: the same checkpoint, nothing signed
    cp = parse_and_verify(first.note, signer.verifier_key, origin=ORIGIN)
    assert (cp.size, cp.root_hash) == (5, first.root)
    with unit_of_work() as uow:
        for minute in range(5, 12):
            disclose(uow, uuid.uuid4(), minute)
        second = uow.access_log.checkpoint(signer, T0)
        bundle = uow.access_log.proof_bundle(3)
        proof = uow.access_log.consistency_proof(5, 12)
        uow.commit()
    assert second.size == 12
    report = verify_proof_bundle(bundle, signer.verifier_key)
    assert report.ok and report.entry_seq == 3 and report.size == 12
    # One 32-byte hash per level of the tree: a tree of 12 has 4.
    assert [len(base64.b64decode(h)) for h in bundle["proof"]] == [32] * 4
    verify_consistency(5, 12, proof, first.root, second.root)


def test_a_proof_looks_nodes_up_by_key_not_by_reading_them_all(
        unit_of_work: Callable[[], UnitOfWork], signer: LogSigner,
        connection: Connection) -> None:
    # The stored tree has two nodes an entry; reading them all for each proof made a
    # proof on a long SQLite log take a tenth of a second and more.
    looked_up: list[tuple[str, object]] = []

    def node_queries(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if "FROM access_log_nodes" in statement:
            looked_up.append((statement, parameters))

    with unit_of_work() as uow:
        for minute in range(9):
            disclose(uow, uuid.uuid4(), minute)
        uow.access_log.checkpoint(signer, T0)
        event.listen(connection, "before_cursor_execute", node_queries)
        try:
            uow.access_log.proof_bundle(3)
        finally:
            event.remove(connection, "before_cursor_execute", node_queries)
        uow.commit()
    assert looked_up
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL's planner picks by the table's size; it searches the key
    for statement, parameters in looked_up:
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                          parameters).all()
        assert all("SCAN access_log_nodes" not in str(step) for step in plan), plan


def test_a_proof_needs_a_checkpoint_that_covers_the_entry(
        unit_of_work: Callable[[], UnitOfWork], signer: LogSigner) -> None:
    with unit_of_work() as uow:
        disclose(uow, uuid.uuid4())
        with pytest.raises(AccessLogError, match="no checkpoint covers entry 0"):
            uow.access_log.proof_bundle(0)
        with pytest.raises(AccessLogError, match="no entry 7"):
            uow.access_log.get(7)


def test_destroying_a_students_key_keeps_the_log_verifiable_and_its_content_shut(
        unit_of_work: Callable[[], UnitOfWork], signer: LogSigner) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    with unit_of_work() as uow:
        disclose(uow, alice, 0)
        disclose(uow, bob, 1)
        disclose(uow, alice, 2)
        before = uow.access_log.checkpoint(signer, T0)
        bundle = uow.access_log.proof_bundle(0)
        uow.commit()

    with unit_of_work() as uow:
        assert uow.access_log.destroy_student_key(alice, T0 + timedelta(days=1)) is True
        assert uow.access_log.destroy_student_key(alice, T0 + timedelta(days=2)) is False
        disclose(uow, alice, 5)  # after destruction: sealed under a key nobody keeps
        uow.commit()

    with unit_of_work() as uow:
        report = uow.access_log.verify(signer.verifier_key)
        opened = uow.access_log.open(uow.access_log.search(student_id=alice))
        bobs = uow.access_log.open(uow.access_log.search(student_id=bob))
        assert uow.access_log.content_key_destroyed(alice)
    assert report.ok, report.summary()
    assert report.size == 5 and report.checkpoint is not None
    assert [(o.logged.seq, o.logged.event.value, o.content_destroyed) for o in opened] == [
        (0, "disclosure", True), (2, "disclosure", True), (3, "key_destroyed", True),
        (4, "disclosure", True)]
    assert [o.entry.student_ref for o in bobs] == [str(bob)]
    # A proof handed out before the destruction still verifies.
    assert verify_proof_bundle(bundle, signer.verifier_key).ok
    assert before.size == 3


def test_a_student_with_no_key_yet_is_marked_so_none_is_ever_made(
        unit_of_work: Callable[[], UnitOfWork]) -> None:
    carol = uuid.uuid4()
    with unit_of_work() as uow:
        assert uow.access_log.destroy_student_key(carol, T0) is True
        disclose(uow, carol, 1)
        uow.commit()
    with unit_of_work() as uow:
        assert all(o.content_destroyed
                   for o in uow.access_log.open(uow.access_log.search(student_id=carol)))


def test_an_entry_naming_records_must_name_their_student(
        unit_of_work: Callable[[], UnitOfWork]) -> None:
    from audit.events import EntryError

    with unit_of_work() as uow, pytest.raises(EntryError):
        uow.access_log.append(EventType.DISCLOSURE, at=T0,
                              records=[RecordRef("r-1", "health")])


def test_the_export_is_what_the_offline_verifier_checks(
        unit_of_work: Callable[[], UnitOfWork], signer: LogSigner) -> None:
    from audit.verify import verify_log

    with unit_of_work() as uow:
        for minute in range(9):
            disclose(uow, uuid.uuid4(), minute)
        cp = uow.access_log.checkpoint(signer, T0)
        lines = list(uow.access_log.export_lines(batch=4))
        uow.commit()
    report = verify_log(lines, parse_and_verify(cp.note, signer.verifier_key))
    assert report.ok and report.size == 9 and report.root == cp.root


# --- The database refuses to rewrite the log -------------------------------------------


@pytest.mark.parametrize("statement", [
    "UPDATE access_log_entries SET decision = 'deny'",
    "DELETE FROM access_log_entries",
    "UPDATE access_log_nodes SET hash = hash",
    "DELETE FROM access_log_nodes",
    "UPDATE access_log_checkpoints SET note = 'forged'",
    "DELETE FROM access_log_checkpoints",
    "UPDATE access_log_head SET size = 0",
    "DELETE FROM access_log_head",
])
def test_triggers_refuse_to_rewrite_the_log(
        statement: str, unit_of_work: Callable[[], UnitOfWork], signer: LogSigner,
        connection: Connection) -> None:
    with unit_of_work() as uow:
        disclose(uow, uuid.uuid4())
        uow.access_log.checkpoint(signer, T0)
        uow.commit()
    with connection.begin_nested() as attempt:
        with pytest.raises(Exception, match="append-only|only moves forward"):
            connection.execute(text(statement))
        attempt.rollback()


def test_a_destroyed_key_stays_destroyed(unit_of_work: Callable[[], UnitOfWork],
                                         connection: Connection) -> None:
    alice = uuid.uuid4()
    with unit_of_work() as uow:
        disclose(uow, alice)
        uow.access_log.destroy_student_key(alice, T0)
        uow.commit()
    revive = ("UPDATE access_log_content_keys SET destroyed_at = NULL, kek_id = 'k', "
              "wrapped_key = wrapped_key")
    for statement in (revive, "DELETE FROM access_log_content_keys"):
        with connection.begin_nested() as attempt:
            with pytest.raises(Exception, match="destroyed"):
                connection.execute(text(statement))
            attempt.rollback()


def test_the_service_role_cannot_rewrite_the_log(
        unit_of_work: Callable[[], UnitOfWork], connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        pytest.skip("roles are PostgreSQL's; SQLite has its triggers")
    with unit_of_work() as uow:
        disclose(uow, uuid.uuid4())
        uow.commit()
    with connection.begin_nested() as as_service:
        # Without the triggers, as an owner could: the role alone must still refuse.
        for table in ("access_log_entries", "access_log_nodes", "access_log_checkpoints"):
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        connection.execute(text("SET LOCAL ROLE records_gateway_service"))
        assert connection.execute(text("SELECT count(*) FROM access_log_entries")).scalar() == 1
        for statement in ("UPDATE access_log_entries SET decision = 'deny'",
                          "DELETE FROM access_log_entries",
                          "TRUNCATE access_log_entries",
                          "DELETE FROM access_log_nodes",
                          "TRUNCATE access_log_checkpoints"):
            with connection.begin_nested() as attempt:
                with pytest.raises(Exception, match="permission denied"):
                    connection.execute(text(statement))
                attempt.rollback()
        as_service.rollback()


def test_the_service_role_can_append(unit_of_work: Callable[[], UnitOfWork],
                                     connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    with connection.begin_nested() as as_service:
        connection.execute(text("SET LOCAL ROLE records_gateway_service"))
        with unit_of_work() as uow:
            disclose(uow, uuid.uuid4())
            disclose(uow, uuid.uuid4())
            uow.commit()
        with unit_of_work() as uow:
            assert uow.access_log.verify().ok
        as_service.rollback()


def test_rotating_the_kek_rewraps_content_keys_so_the_old_one_can_retire(
        session_factory, keys) -> None:
    import os

    from gateway.store.rotation import rotate_data_keys

    alice, bob = uuid.uuid4(), uuid.uuid4()
    with UnitOfWork(session_factory, keys) as uow:
        disclose(uow, alice, 0)
        disclose(uow, bob, 1)
        uow.access_log.destroy_student_key(bob, T0)
        uow.commit()
    rotated = keys.with_active("test-kek-2", os.urandom(32))

    report = rotate_data_keys(session_factory, rotated)

    assert report.finished and report.remaining == {"test-kek-2": 1}
    with UnitOfWork(session_factory, rotated.retire(keys.active_id)) as uow:
        (opened,) = uow.access_log.open(uow.access_log.search(student_id=alice))
    assert opened.entry is not None and opened.entry.student_ref == str(alice)
