"""Two workers reading then writing at once, as concurrent audited reads do."""

from __future__ import annotations

import threading

from sqlalchemy import text

from gateway.store.db import make_engine


def test_concurrent_read_then_write_transactions_all_commit(empty_database_url: str) -> None:
    # Each transaction reads, then writes (the facts, then the disclosure): on SQLite a
    # deferred BEGIN made the second writer fail at once with "database is locked".
    setup = make_engine(empty_database_url)
    try:
        with setup.begin() as conn:
            conn.execute(text("CREATE TABLE reads (worker INTEGER, seen INTEGER)"))
    finally:
        setup.dispose()
    per_worker, errors = 100, []

    def worker(number: int) -> None:
        engine = make_engine(empty_database_url)
        try:
            for _ in range(per_worker):
                with engine.begin() as conn:
                    seen = conn.execute(text("SELECT count(*) FROM reads")).scalar_one()
                    conn.execute(text("INSERT INTO reads VALUES (:w, :s)"),
                                 {"w": number, "s": seen})
        except Exception as exc:  # noqa: BLE001 - reported below, with its kind
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    check = make_engine(empty_database_url)
    try:
        with check.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM reads")).scalar_one() == 2 * per_worker
    finally:
        check.dispose()
