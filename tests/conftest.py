"""Fixtures shared by every layer of the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.policy.engine import PolicyEngine
from gateway.policy.pack import PolicyPack, load_pack

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_PACK = REPOSITORY / "config" / "policy" / "ar5125-2013.toml"


@pytest.fixture(scope="session")
def pack() -> PolicyPack:
    return load_pack(DEFAULT_PACK)


@pytest.fixture(scope="session")
def engine(pack: PolicyPack) -> PolicyEngine:
    return PolicyEngine(pack)
