"""Shared fixtures; also makes the package importable when pytest runs without pytest.ini."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT, ROOT / "tools"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from pex_client import identity, records  # noqa: E402

NOW = 1_700_000_000
NETWORK = "pex-test"
REPO = ROOT.parent.parent
VECTORS = REPO / "Tests" / "Vectors"


def key(i: int) -> identity.KeyPair:
    return identity.KeyPair.from_seed(bytes([i] * 32))


def signed(i: int, seq: int = 1, addresses=("/ip4/192.0.2.1/tcp/4001",), network: str = NETWORK,
           expires_at: int = NOW + 3600):
    return records.make_signed_record(key(i), seq, addresses, network, expires_at)


class FakeClock:
    """A settable clock for tests of expiry."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
