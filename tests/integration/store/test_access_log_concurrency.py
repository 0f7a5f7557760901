"""Many writers, one log: processes appending at once leave one valid tree, no gaps.

Processes, as gunicorn workers and CLI runs are, on a committed database of each
backend (PostgreSQL: the head row's lock; SQLite: its one writer at a time).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys

from audit.checkpoint import generate_key
from gateway.store import migrate
from gateway.store.access_log import LogSigner
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.db import make_engine, make_session_factory
from gateway.store.uow import UnitOfWork

WRITERS, EACH = 4, 25
WRITER = """
import sys, uuid
from datetime import datetime, timezone
from audit.events import EventType, RecordRef, Requester
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.db import make_engine, make_session_factory
from gateway.store.uow import UnitOfWork

url, kek, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
engine = make_engine(url)
sessions = make_session_factory(engine)
keys = KeyEncryptionKeys.parse(kek)
students = [uuid.uuid4() for _ in range(3)]
for n in range(count):
    with UnitOfWork(sessions, keys) as uow:
        uow.access_log.append(
            EventType.DISCLOSURE, at=datetime.now(timezone.utc), student_id=students[n % 3],
            requester=Requester(f"writer {name}", "school_official"),
            records=[RecordRef(str(uuid.uuid4()), "health")], request_id=f"{name}-{n}")
        uow.commit()
engine.dispose()
"""


def test_processes_appending_at_once_leave_one_valid_tree(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    kek = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, empty_database_url, kek,
                                 f"w{i}", str(EACH)], stderr=subprocess.PIPE)
               for i in range(WRITERS)]
    try:
        results = [(w.wait(timeout=120), w.stderr.read().decode()[-2000:]) for w in writers]
    finally:
        for w in writers:
            w.kill()
            w.stderr.close()
    assert [code for code, _ in results] == [0] * WRITERS, results

    signer = LogSigner("example/log", "example-log", generate_key())
    engine = make_engine(empty_database_url)
    try:
        with UnitOfWork(make_session_factory(engine), KeyEncryptionKeys.parse(kek)) as uow:
            seqs = [e.seq for e in uow.access_log.search(limit=WRITERS * EACH + 1)]
            request_ids = {e.request_id for e in uow.access_log.search(limit=1000)}
            uow.access_log.checkpoint(signer, uow.access_log.search(limit=1)[0].time)
            report = uow.access_log.verify(signer.verifier_key)
            opened = uow.access_log.open(uow.access_log.search(limit=1000))
            uow.commit()
    finally:
        engine.dispose()
    assert seqs == list(range(WRITERS * EACH))
    assert request_ids == {f"w{i}-{n}" for i in range(WRITERS) for n in range(EACH)}
    assert report.ok and report.size == WRITERS * EACH, report.summary()
    assert all(o.entry is not None for o in opened)
