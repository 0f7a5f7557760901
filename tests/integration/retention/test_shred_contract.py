"""One record shredded (``RecordRepository.shred``) and a batch shredded by a retention
run (``RetentionRepository.shred_batch``) end in the same state (both backends)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from gateway.policy.facts import RecordType
from gateway.store.errors import RecordDestroyed
from gateway.store.uow import UnitOfWork
from tests.integration.retention.conftest import District

AT = datetime(2025, 7, 1, 17, 0, tzinfo=timezone.utc)


def _state(unit_of_work: Callable[[], UnitOfWork], record_id) -> tuple[object, ...]:
    with unit_of_work() as uow:
        r = uow.records.get(record_id)
        with pytest.raises(RecordDestroyed):
            uow.records.read(record_id)
        return (r.ciphertext, r.nonce, r.wrapped_key, r.kek_id, r.destroyed_at,
                r.record_type, r.student_id, r.school_year_of_origin)


def test_one_by_one_and_in_a_batch_leave_the_same_tombstone(
        unit_of_work: Callable[[], UnitOfWork], district: District) -> None:
    student = district.enrol()
    one, batched = (district.file(student, RecordType.HEALTH) for _ in range(2))
    with unit_of_work() as uow:
        uow.records.shred(one.id, AT)
        assert uow.retention.shred_batch([batched.id], AT) == 1
        uow.commit()
    by_one, by_batch = _state(unit_of_work, one.id), _state(unit_of_work, batched.id)
    assert by_one[:5] == by_batch[:5] == (None, None, None, None, AT)
    assert by_one[5:] == by_batch[5:]

    # Again, later: nothing changes, the first destruction's time stays.
    with unit_of_work() as uow:
        uow.records.shred(one.id, AT + timedelta(days=1))
        assert uow.retention.shred_batch([batched.id], AT + timedelta(days=1)) == 0
        uow.commit()
    assert _state(unit_of_work, one.id) == by_one
    assert _state(unit_of_work, batched.id) == by_batch
