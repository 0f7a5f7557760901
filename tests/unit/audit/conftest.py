"""Fixtures of the audit tests: entries, content keys, a signer, a small log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.checkpoint import generate_key, verifier_key
from audit.events import Entry, EventType, Requester
from audit.log import AccessLog
from audit.sealing import new_content_key

ORIGIN = "records.example-usd.k12.ca.us/access-log"


def make_entry(seq: int, student: str | None = "stu-0001", **overrides: object) -> Entry:
    """A disclosure to law enforcement under a subpoena, or an entry about no student."""
    if student is None:
        fields: dict[str, object] = dict(
            seq=seq, time="2026-03-02T17:00:00Z", event=EventType.CHECKPOINT,
            requester=Requester("records-gateway", "system"), outcome="signed")
    else:
        fields = dict(
            seq=seq, time=f"2026-03-02T17:{seq % 60:02d}:00.250000Z", event=EventType.DISCLOSURE,
            requester=Requester("det.ramirez@pd.example.gov", "law_enforcement"),
            student_ref=student, records=[{"id": f"rec-{seq}", "type": "courses_and_marks"}],
            action="read", purpose="subpoena", stated_interest=None, decision="permit",
            clause="lawful_order", citations=["Ed Code 49077", "34 CFR 99.31(a)(9)"],
            obligations=["notify_parent_3_days_before_disclosure"], request_id=f"req-{seq}",
            policy_version="ar5125-2013", outcome="released")
    fields.update(overrides)
    return Entry(**fields)  # type: ignore[arg-type]


@dataclass
class SmallLog:
    log: AccessLog
    keys: dict[str, bytes]
    signer: Ed25519PrivateKey
    vkey: str

    def lines(self) -> list[str]:
        return list(self.log.export_lines())


@pytest.fixture()
def entry_factory() -> Callable[..., Entry]:
    return make_entry


@pytest.fixture(scope="session")
def signer() -> Ed25519PrivateKey:
    return generate_key()


@pytest.fixture(scope="session")
def vkey(signer: Ed25519PrivateKey) -> str:
    return verifier_key(ORIGIN, signer)


def build_log(n: int, signer: Ed25519PrivateKey) -> SmallLog:
    """n entries about three students, every fifth one about no student."""
    keys = {f"stu-{s:04d}": new_content_key() for s in range(3)}
    log = AccessLog(ORIGIN)
    for seq in range(n):
        if seq % 5 == 4:
            log.append(make_entry(seq, None), None)
        else:
            student = f"stu-{seq % 3:04d}"
            log.append(make_entry(seq, student), keys[student])
    return SmallLog(log, keys, signer, verifier_key(ORIGIN, signer))


@pytest.fixture()
def small_log(signer: Ed25519PrivateKey) -> SmallLog:
    return build_log(20, signer)


@pytest.fixture(scope="session")
def log_factory(signer: Ed25519PrivateKey) -> Callable[[int], SmallLog]:
    return lambda n: build_log(n, signer)
