"""`audit verify` on several processes: the same report as on one, tampering included.

A long log is split into seq ranges; other processes read all but the first and hand
back their leaf hashes only when every entry in their range checked out. These tests
lower the length from which that happens, so that a log of 30 entries takes the path.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
import rfc8785
import sqlalchemy as sa

from audit.checkpoint import generate_key
from audit.events import EventType, RecordRef, Requester
from gateway.store import log_verify, migrate
from gateway.store.access_log import LogSigner
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.db import make_engine, make_session_factory
from gateway.store.uow import UnitOfWork

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=timezone.utc)
SIZE = 30  # three ranges of ten with workers=3: [0, 10) here, [10, 20) and [20, 30) not
KEK = f"test-kek-1:{base64.b64encode(os.urandom(32)).decode()}"
TABLES = ("access_log_entries", "access_log_head")
FORK_CHECK = log_verify._fork_is_safe


@pytest.fixture
def database(empty_database_url: str) -> Iterator[tuple[sa.Engine, Callable[[], UnitOfWork],
                                                      LogSigner]]:
    """A committed log of SIZE entries about three students, with a checkpoint at 12."""
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    keys = KeyEncryptionKeys.parse(KEK)
    sessions = make_session_factory(engine)
    signer = LogSigner("example/log", "example-log", generate_key())
    students = [uuid.uuid4() for _ in range(3)]
    with UnitOfWork(sessions, keys) as uow:
        for n in range(SIZE):
            uow.access_log.append(
                EventType.DISCLOSURE, at=T0 + timedelta(seconds=n), student_id=students[n % 3],
                requester=Requester(f"Ms. Reyes [{uuid.UUID(int=1)}]", "school_official"),
                records=[RecordRef(str(uuid.uuid4()), "health")], action="access",
                purpose="educational_interest", request_id=f"req-{n}", outcome="disclosed")
            if n == 11:
                uow.access_log.checkpoint(signer, T0)
        uow.commit()
    try:
        yield engine, (lambda: UnitOfWork(sessions, keys)), signer
    finally:
        engine.dispose()


@pytest.fixture
def vouched(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each range read elsewhere came back vouched for, in order."""
    monkeypatch.setattr(log_verify, "PARALLEL_FROM", 0)
    # The suite leaves idle threads behind (the development provider's output pump, test
    # HTTP servers), blocked in reads and holding no lock a forked reader would take;
    # `audit verify` itself runs on one thread. (The check is tested below.)
    monkeypatch.setattr(log_verify, "_fork_is_safe", lambda: True)
    results: list[bool] = []
    result = log_verify._result

    def recorded(child):
        got = result(child)
        results.append(got is not None)
        return got

    monkeypatch.setattr(log_verify, "_result", recorded)
    return results


def verify(unit_of_work: Callable[[], UnitOfWork], signer: LogSigner, workers: int):
    with unit_of_work() as uow:
        uow.read_snapshot()
        return uow.access_log.verify(signer.verifier_key, workers=workers)


def tamper(engine: sa.Engine, statement: str, **params: object) -> None:
    """As the tables' owner, triggers out of the way (the database is the test's own)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in TABLES:
                conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for name in conn.execute(sa.text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name LIKE 'access_log_%'")).scalars().all():
                conn.execute(sa.text(f"DROP TRIGGER {name}"))
        conn.execute(sa.text(statement), params)


def changed_leaf(engine: sa.Engine, seq: int) -> bytes:
    with engine.connect() as conn:
        leaf = conn.execute(sa.text("SELECT leaf FROM access_log_entries WHERE seq = :seq"),
                            {"seq": seq}).scalar_one()
    obj = orjson.loads(bytes(leaf))
    obj["outcome"] = "withheld"
    return rfc8785.dumps(obj)


def test_three_processes_report_what_one_does(database, vouched) -> None:
    _, unit_of_work, signer = database

    alone = verify(unit_of_work, signer, workers=1)
    shared = verify(unit_of_work, signer, workers=3)

    assert vouched == [True, True]  # both other ranges were read elsewhere
    assert shared.ok and alone.ok, shared.summary()
    assert (shared.size, shared.root, shared.checkpoint) == (SIZE, alone.root,
                                                            alone.checkpoint)


@pytest.mark.parametrize("seq", [25, 20, 19, 10, 9])
def test_a_changed_entry_in_any_range_is_named_as_on_one_process(database, vouched,
                                                                 seq: int) -> None:
    engine, unit_of_work, signer = database
    tamper(engine, "UPDATE access_log_entries SET leaf = :leaf WHERE seq = :seq",
           leaf=changed_leaf(engine, seq), seq=seq)

    alone = verify(unit_of_work, signer, workers=1)
    shared = verify(unit_of_work, signer, workers=3)

    assert not shared.ok and shared.first_bad_seq == seq, shared.summary()
    assert (shared.first_bad_seq, shared.problem) == (alone.first_bad_seq, alone.problem)


def test_a_deleted_entry_in_another_range_is_named(database, vouched) -> None:
    engine, unit_of_work, signer = database
    tamper(engine, "DELETE FROM access_log_entries WHERE seq = 14")

    report = verify(unit_of_work, signer, workers=3)

    assert vouched[0] is False  # its range was read again here
    assert not report.ok and report.first_bad_seq == 14, report.summary()
    assert "missing" in report.problem


def test_a_changed_search_column_in_another_range_is_named(database, vouched) -> None:
    engine, unit_of_work, signer = database
    tamper(engine, "UPDATE access_log_entries SET requester_category = 'custodian' "
                   "WHERE seq = 27")

    report = verify(unit_of_work, signer, workers=3)

    assert vouched == [True, False]
    assert not report.ok and report.first_bad_seq == 27, report.summary()
    assert "requester_category" in report.problem


def test_a_log_too_short_to_share_is_read_in_one_process(database, vouched,
                                                         monkeypatch) -> None:
    _, unit_of_work, signer = database
    monkeypatch.setattr(log_verify, "PARALLEL_FROM", SIZE + 1)

    report = verify(unit_of_work, signer, workers=3)

    assert report.ok and vouched == []


def test_a_process_with_other_threads_running_reads_on_its_own(database, vouched,
                                                               monkeypatch) -> None:
    _, unit_of_work, signer = database
    monkeypatch.setattr(log_verify, "_fork_is_safe", FORK_CHECK)  # the real one
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        report = verify(unit_of_work, signer, workers=3)
    finally:
        stop.set()
        other.join()

    assert report.ok and report.size == SIZE and vouched == []


def _rechain_from(engine: sa.Engine, first: int) -> None:
    """Rewrite entry ``first`` and every entry after it so that the chain, and the tree
    head over the whole log, are consistent again: only a signed checkpoint covering
    ``first`` can tell."""
    with engine.connect() as conn:
        leaves = [bytes(leaf) for leaf in conn.execute(sa.text(
            "SELECT leaf FROM access_log_entries ORDER BY seq")).scalars()]
    prev = None
    for seq, leaf in enumerate(leaves):
        if seq >= first:
            obj = orjson.loads(leaf)
            obj["prev_hash"] = prev
            if seq == first:
                obj["outcome"] = "withheld"
            leaves[seq] = rfc8785.dumps(obj)
            tamper(engine, "UPDATE access_log_entries SET leaf = :leaf WHERE seq = :seq",
                   leaf=leaves[seq], seq=seq)
        digest = log_verify._sha(b"\x00" + leaves[seq]).digest()
        prev = log_verify._b64(digest)
    tree = log_verify._Tree()
    tree.extend([log_verify._sha(b"\x00" + leaf).digest() for leaf in leaves])
    tamper(engine, "UPDATE access_log_head SET root = :root, edge = :edge, "
                   "last_leaf_hash = :last WHERE id = 1", root=tree.root(),
           edge=tree.edge_bytes(), last=log_verify._sha(b"\x00" + leaves[-1]).digest())


def test_a_rewrite_a_checkpoint_in_another_range_covers_is_caught(database, vouched) -> None:
    engine, unit_of_work, signer = database
    _rechain_from(engine, 11)  # the checkpoint at 12, inside [10, 20), signed entry 11

    alone = verify(unit_of_work, signer, workers=1)
    shared = verify(unit_of_work, signer, workers=3)

    assert vouched == [True, True]  # each range is consistent in itself
    assert not alone.ok, alone.summary()
    assert not shared.ok and shared.first_bad_seq == alone.first_bad_seq, shared.summary()


def test_an_entry_past_the_head_is_caught_on_several_processes(database, vouched) -> None:
    engine, unit_of_work, signer = database
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM access_log_entries WHERE seq = 29")
                           ).mappings().one()
    values = dict(row)
    values["seq"] = 30
    tamper(engine, f"INSERT INTO access_log_entries ({', '.join(values)}) "
                   f"VALUES ({', '.join(':' + k for k in values)})", **values)

    report = verify(unit_of_work, signer, workers=3)

    assert not report.ok and report.first_bad_seq in (29, 30), report.summary()


def _die(*_args):
    import os
    os._exit(3)


def test_a_reader_that_dies_leaves_its_range_to_be_read_here(database, vouched,
                                                            monkeypatch) -> None:
    engine, unit_of_work, signer = database
    monkeypatch.setattr(log_verify, "_read_range", _die)
    tamper(engine, "UPDATE access_log_entries SET leaf = :leaf WHERE seq = :seq",
           leaf=changed_leaf(engine, 23), seq=23)

    report = verify(unit_of_work, signer, workers=3)

    assert vouched[0] is False
    assert not report.ok and report.first_bad_seq == 23, report.summary()
    assert log_verify._FORKED_KEYS is None


def test_a_fork_that_fails_reads_the_log_here_and_keeps_no_keys(database, vouched,
                                                                monkeypatch) -> None:
    _, unit_of_work, signer = database

    def no_fork(*_args, **_kwargs):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(log_verify.ProcessPoolExecutor, "submit", no_fork)

    report = verify(unit_of_work, signer, workers=3)

    assert report.ok and report.size == SIZE and vouched == [], report.summary()
    assert log_verify._FORKED_KEYS is None  # the key-encryption keys are not kept


# `records-gateway audit verify --workers 3` on the test's log, taken as long: each range
# read elsewhere is long enough to be shared, and the verifier waits (as on a long log)
# before taking each range back, saying so on standard output.
LONG_VERIFY = """
import sys, time
from gateway.cli import run
from gateway.store import log_verify

log_verify.PARALLEL_FROM = 0
taken = log_verify._result

def slowly(child):
    print("waiting", flush=True)
    time.sleep(60)
    return taken(child)

log_verify._result = slowly
sys.argv = ["records-gateway", "audit", "verify", "--workers", "3"]
run()
"""


def start_long_verify(database, tmp_path: Path) -> tuple[subprocess.Popen[str], list[int]]:
    """The command in a process group of its own (as a terminal runs it), and its forked
    readers, once it waits for them."""
    engine, _, signer = database
    (tmp_path / "vkey.txt").write_text(signer.verifier_key + "\n")
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "GATEWAY_KEK": KEK, "GATEWAY_DATA_DIR": str(tmp_path),
           "GATEWAY_AUDIT_VERIFIER_KEY_FILE": str(tmp_path / "vkey.txt"),
           "GATEWAY_ENVIRONMENT": "test"}
    env.pop("GATEWAY_DEBUG", None)
    command = subprocess.Popen(
        [sys.executable, "-c", LONG_VERIFY], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if (line := command.stdout.readline()) != "waiting\n":
        command.kill()
        pytest.fail(f"the verification did not start: {line} {command.communicate(timeout=30)}")
    readers = [int(pid) for pid in Path(f"/proc/{command.pid}/task/{command.pid}/children")
               .read_text().split()]
    time.sleep(1)  # the readers are done with their ten entries each, and wait for more
    return command, readers


def running(pids: list[int]) -> list[int]:
    """Those still running (not ended, nor ended and waiting to be reaped)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state not in ("Z", "X"):
            alive.append(pid)
    return alive


def still_running_after(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return running(pids)


def kill_all(command: subprocess.Popen[str], readers: list[int]) -> None:
    if command.poll() is None:
        command.kill()
        command.wait(timeout=30)
    for pid in running(readers):
        os.kill(pid, signal.SIGKILL)
    command.stdout.close()
    command.stderr.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_during_a_long_verification_is_one_line_and_leaves_no_reader(
        database, tmp_path: Path) -> None:
    command, readers = start_long_verify(database, tmp_path)
    try:
        os.killpg(command.pid, signal.SIGINT)  # Ctrl-C: to the whole process group
        _, err = command.communicate(timeout=30)
        left = still_running_after(readers, 10)
    finally:
        kill_all(command, readers)

    assert len(readers) == 2
    assert command.returncode == 130
    assert err.strip() == "records-gateway: interrupted"  # and no reader's traceback
    assert left == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_verification_killed_leaves_no_reader_waiting_forever(database,
                                                                tmp_path: Path) -> None:
    command, readers = start_long_verify(database, tmp_path)
    try:
        command.terminate()  # `kill PID`, or timeout(1) in a cron job: the command alone
        command.wait(timeout=30)
        left = still_running_after(readers, 10)
    finally:
        kill_all(command, readers)

    assert len(readers) == 2
    assert command.returncode == -signal.SIGTERM
    assert left == []
