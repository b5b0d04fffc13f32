"""The committed Python vectors are exactly what tools/make_vectors.py produces, and they check out."""

from __future__ import annotations

import json

import pytest

import make_vectors
import vector_checks
from conftest import VECTORS

PYTHON_DIR = VECTORS / "python"


@pytest.mark.parametrize("name", sorted(make_vectors.BUILDERS))
def test_committed_vectors_match_generator(name: str) -> None:
    committed = (PYTHON_DIR / name).read_text(encoding="utf-8")
    assert committed == make_vectors.render(make_vectors.BUILDERS[name]()), (
        f"{name} drifted: rerun tools/make_vectors.py and review the diff")


def _load(name: str):
    return json.loads((PYTHON_DIR / name).read_text(encoding="utf-8"))


def test_frames() -> None:
    vectors = _load("frames.json")
    vector_checks.check_frames(vectors)
    kinds = {next(iter(v["frame"]), "unknown") for v in vectors}
    # One vector per body of the oneof, plus the unknown body.
    assert kinds == {"hello", "auth", "peer_request", "peer_response", "peer_announcement", "peer_update", "ping",
                     "pong", "error", "compressed", "unknown"}


def test_frames_invalid() -> None:
    vector_checks.check_frames_invalid(_load("frames_invalid.json"))


def test_records() -> None:
    vectors = _load("records.json")
    vector_checks.check_records(vectors)
    reasons = {v["reason"] for v in vectors if v["reason"]}
    assert {"bad-signature", "wrong-network", "expired", "expiry-too-far", "too-many-addresses", "too-few-addresses",
            "bad-address", "zero-seq", "wrong-field-length", "missing-field", "field-too-long", "malformed",
            "invalid-utf8", "undialable-address", "bad-network-id", "invalid-public-key"} <= reasons


def test_auth() -> None:
    vector_checks.check_auth(_load("auth.json"))


def test_checks_catch_a_tampered_vector() -> None:
    vectors = _load("records.json")
    vectors[0]["signature_hex"] = vectors[1]["signature_hex"]
    with pytest.raises(AssertionError):
        vector_checks.check_records(vectors)
    frames = _load("frames.json")
    frames[0]["frame"]["hello"]["agent"] = "changed"
    with pytest.raises(AssertionError):
        vector_checks.check_frames(frames)
