"""Vectors written by the Swift implementation (Tests/Vectors/swift/*.json) check out in Python."""

from __future__ import annotations

import json

import pytest

import vector_checks
from conftest import VECTORS

SWIFT_DIR = VECTORS / "swift"

pytestmark = pytest.mark.skipif(not SWIFT_DIR.is_dir(),
                                reason=f"{SWIFT_DIR} does not exist yet (the Swift tests write it)")

CHECKS = {
    "frames.json": vector_checks.check_frames,
    "frames_invalid.json": vector_checks.check_frames_invalid,
    "records.json": vector_checks.check_records,
    "auth.json": vector_checks.check_auth,
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_swift_vectors(name: str) -> None:
    path = SWIFT_DIR / name
    if name in ("frames.json", "records.json"):
        assert path.is_file(), f"{path} is missing: the Swift side must write it"
    elif not path.is_file():
        pytest.skip(f"{path} not written by the Swift side")
    CHECKS[name](json.loads(path.read_text(encoding="utf-8")))
