"""Rotating the key-encryption key: re-wrap every data key under the active KEK.

Content is never decrypted or rewritten, only the 40-byte wrapped keys. Work is done in
batches, each committed on its own, so a run that stops (or is stopped) loses at most
one batch and the next run goes on from what is left. Once ``data_keys_by_kek`` no
longer lists an old KEK, it can be retired.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.store.access_log import AccessLogRepository
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.repositories import RecordRepository


@dataclass(frozen=True, slots=True)
class RotationReport:
    active_kek_id: str
    rewrapped: int  # data keys now under the active KEK
    batches: int  # transactions committed
    remaining: dict[str, int]  # live records and log content keys per KEK after the run

    @property
    def finished(self) -> bool:
        """True when no KEK but the active one still wraps data keys."""
        return set(self.remaining) <= {self.active_kek_id}


def rotate_data_keys(session_factory: Callable[[], Session], keys: KeyEncryptionKeys, *,
                     batch_size: int = 500, max_batches: int | None = None) -> RotationReport:
    """Re-wrap data keys under ``keys.active_id``, ``batch_size`` per transaction.

    ``keys`` must still hold the old KEKs. Rows locked by another transaction
    (PostgreSQL) are skipped and left for the next run.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    after: uuid.UUID | None = None
    rewrapped = batches = 0
    while max_batches is None or batches < max_batches:
        with session_factory() as session, session.begin():
            done, after = RecordRepository(session, keys).rewrap_batch(after, batch_size)
        if after is None:
            break
        rewrapped += done
        batches += 1
    # The access log's per-student content keys are wrapped by the same KEKs (issue 4).
    after = None
    while max_batches is None or batches < max_batches:
        with session_factory() as session, session.begin():
            done, after = AccessLogRepository(session, keys).rewrap_content_keys(
                after, batch_size)
        if after is None:
            break
        rewrapped += done
        batches += 1
    with session_factory() as session, session.begin():
        remaining = RecordRepository(session, keys).data_keys_by_kek()
        for kek_id, count in AccessLogRepository(session, keys).content_keys_by_kek().items():
            remaining[kek_id] = remaining.get(kek_id, 0) + count
    return RotationReport(active_kek_id=keys.active_id, rewrapped=rewrapped, batches=batches,
                          remaining=remaining)
