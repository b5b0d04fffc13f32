"""varint, base58, errors."""

from __future__ import annotations

import pytest

from pex_client import base58, varint
from pex_client.errors import HandshakeError, MultiaddrError, WireError


@pytest.mark.parametrize("value,encoded", [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"),
                                           (2**64 - 1, "ffffffffffffffffff01")])
def test_varint_round_trip(value: int, encoded: str) -> None:
    assert varint.encode(value).hex() == encoded
    assert varint.read(bytes.fromhex(encoded)) == (value, len(encoded) // 2)


def test_varint_encode_range() -> None:
    with pytest.raises(ValueError):
        varint.encode(-1)
    with pytest.raises(ValueError):
        varint.encode(2**64)


def test_varint_read_offset_end_and_incomplete() -> None:
    data = bytes.fromhex("ff ac02 80")
    assert varint.read(data, 1) == (300, 2)
    assert varint.read(data, 1, end=2) is None
    assert varint.read(data, 3) is None
    assert varint.read(b"") is None


def test_varint_rejects_bad_encodings() -> None:
    with pytest.raises(varint.VarintError, match="non-minimal"):
        varint.read(bytes.fromhex("8100"))
    assert varint.read(bytes.fromhex("8100"), minimal=False) == (1, 2)
    with pytest.raises(varint.VarintError, match="too long"):
        varint.read(bytes([0x80] * 10 + [0x01]))
    with pytest.raises(varint.VarintError, match="64 bits"):
        varint.read(bytes([0xFF] * 9 + [0x02]))
    with pytest.raises(varint.VarintError, match="too long"):
        varint.read(bytes([0x80] * 3), max_bytes=3)
    with pytest.raises(varint.VarintError, match="too long"):
        varint.read(bytes([0x80] * 3 + [0x01]), max_bytes=3)


@pytest.mark.parametrize("data,text", [(b"", ""), (b"\x00", "1"), (b"\x00\x00\x01", "112"), (b"hello world", "StV1DL6CwTryKyV")])
def test_base58_round_trip(data: bytes, text: str) -> None:
    assert base58.encode(data) == text
    assert base58.decode(text) == data


def test_base58_rejects_bad_characters() -> None:
    for bad in ("0", "O", "I", "l", "abc+", "é"):
        with pytest.raises(ValueError):
            base58.decode(bad)


def test_wire_error() -> None:
    error = WireError("expired", "record expired")
    assert error.reason == "expired" and error.message == "record expired"
    assert str(error) == "expired: record expired"
    assert error == WireError("expired", "record expired") and hash(error) == hash(WireError("expired", "record expired"))
    assert error != WireError("expired", "other") and error != "expired"
    assert WireError("zero-seq").message == "zero-seq"
    with pytest.raises(ValueError):
        WireError("no-such-reason")


def test_other_errors() -> None:
    error = MultiaddrError("truncated", "short")
    assert error.kind == "truncated" and "short" in str(error)
    with pytest.raises(ValueError):
        MultiaddrError("nope", "x")
    cause = WireError("bad-signature")
    handshake_error = HandshakeError(4, "auth failed", cause)
    assert handshake_error.code == 4 and handshake_error.cause is cause and str(handshake_error) == "auth failed"
