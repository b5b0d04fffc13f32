"""Frames: length prefix, limits, structural checks, compression."""

from __future__ import annotations

import pytest

from conftest import signed
from pex.v1 import frame_pb2, record_pb2
from pex_client import framing, limits, varint
from pex_client.errors import WireError
from pex_client.wirecheck import check_message

Frame = frame_pb2.Frame


def ping(nonce: int = 1) -> Frame:
    return Frame(ping=frame_pb2.Ping(nonce=nonce))


def hello(**fields) -> Frame:
    base = dict(min_version=1, max_version=1, network_id="pex-test", record=signed(1), nonce=bytes(32))
    base.update(fields)
    return Frame(hello=frame_pb2.Hello(**base))


def reason_of(fn, *args, **kwargs) -> str:
    with pytest.raises(WireError) as info:
        fn(*args, **kwargs)
    return info.value.reason


def record_list(n: int, size: int = 2, signature: int = 64) -> list:
    return [record_pb2.SignedPeerRecord(record=b"\x10\x01" + bytes(size - 2), signature=bytes(signature))] * n


# --- encoding --------------------------------------------------------------------------------


def test_encode_frame_prefixes_length() -> None:
    data = framing.encode_frame(ping(300))
    assert data == bytes.fromhex("05 3a03 08ac02".replace(" ", ""))
    frame, used = framing.decode_delimited(data)
    assert used == len(data) and frame.ping.nonce == 300


def test_encode_rejects_empty_and_oversized() -> None:
    assert reason_of(framing.encode_frame, Frame()) == "empty-frame"
    big = Frame(error=frame_pb2.Error(message="x" * 100))
    assert reason_of(framing.encode_frame, big, 50) == "frame-too-large"
    assert framing.encode_frame(big, len(framing.serialize(big)))


def test_decode_delimited_reports_truncation() -> None:
    data = framing.encode_frame(ping())
    assert reason_of(framing.decode_delimited, data[:-1]) == "truncated"
    assert reason_of(framing.decode_delimited, data[:1]) == "truncated"
    assert reason_of(framing.decode_delimited, b"") == "truncated"
    frame, used = framing.decode_delimited(data + b"\x01")
    assert used == len(data)


# --- FrameReader -----------------------------------------------------------------------------


def test_reader_handles_any_chunking() -> None:
    frames = [ping(i) for i in range(5)] + [hello(agent="a" * 100)]
    stream = b"".join(framing.encode_frame(f) for f in frames)
    for chunk_size in (1, 2, 3, 7, 64, len(stream)):
        reader = framing.FrameReader()
        out = []
        for i in range(0, len(stream), chunk_size):
            out += reader.feed(stream[i : i + chunk_size])
        reader.close()
        assert [framing.serialize(f) for f in out] == [framing.serialize(f) for f in frames]
        assert reader.buffered == 0


def test_reader_rejects_large_prefix_before_the_body() -> None:
    reader = framing.FrameReader(max_frame_size=1000)
    assert reader.feed_raw(varint.encode(1000)) == []
    reader = framing.FrameReader(max_frame_size=1000)
    with pytest.raises(WireError) as info:
        reader.feed_raw(varint.encode(1001))
    assert info.value.reason == "frame-too-large"
    # 2^34 announced with only the 5-byte prefix received.
    reader = framing.FrameReader()
    assert reason_of(reader.feed_raw, varint.encode(2**34)) == "frame-too-large"


@pytest.mark.parametrize("stream,reason", [
    (bytes([0x80] * 5), "bad-length-prefix"),
    (bytes([0x80] * 5 + [0x01]), "bad-length-prefix"),
    (bytes([0x81, 0x00]), "bad-length-prefix"),
    (b"\x00", "empty-frame"),
])
def test_reader_prefix_errors(stream: bytes, reason: str) -> None:
    assert reason_of(framing.FrameReader().feed_raw, stream) == reason


def test_reader_errors_are_sticky() -> None:
    reader = framing.FrameReader()
    assert reason_of(reader.feed_raw, b"\x00") == "empty-frame"
    assert reason_of(reader.push, framing.encode_frame(ping())) == "empty-frame"
    assert reason_of(reader.next_raw) == "empty-frame"
    assert reason_of(reader.close) == "empty-frame"


def test_reader_close_detects_truncation() -> None:
    reader = framing.FrameReader()
    reader.push(framing.encode_frame(ping())[:-1])
    assert reader.next_raw() is None
    with pytest.raises(WireError) as info:
        reader.close()
    assert info.value.reason == "truncated" and "needed 4 bytes, had 3" in info.value.message
    reader = framing.FrameReader()
    reader.push(b"\x80")
    assert reason_of(reader.close) == "truncated"
    framing.FrameReader().close()  # a stream ending between frames is fine


def test_reader_returns_earlier_frames_before_a_bad_one() -> None:
    reader = framing.FrameReader()
    reader.push(framing.encode_frame(ping()) + b"\x00")
    assert reader.next_raw() is not None
    assert reason_of(reader.next_raw) == "empty-frame"


# --- structural checks -----------------------------------------------------------------------


@pytest.mark.parametrize("body,reason", [
    (b"\xff\xff\xff", "malformed"),  # truncated tag
    (b"\x08\x01", "malformed"),  # hello as a varint
    (b"\x3a\x05\x08", "malformed"),  # length past the end
    (b"\x3a\x02\x09\x00", "malformed"),  # ping.nonce with wire type fixed64, truncated
    (b"\x3a\x02\x08\x01\x03", "malformed"),  # trailing start-group tag
    (b"\x07", "malformed"),  # field 0
    (b"\x3b", "malformed"),  # group wire type
    (b"\x3e", "malformed"),  # wire type 6
    (b"\xfa\xff\xff\xff\x1f\x00", "malformed"),  # field number over 2^29-1
    (b"\x0a\x04\x1a\x02\xc3\x28", "invalid-utf8"),  # hello.network_id
    (b"\x4a\x04\x12\x02\xc3\x28", "invalid-utf8"),  # error.message
    (b"\x0a\x04\x42\x02a\x00", "malformed"),  # NUL in hello.agent (protobuf-c would cut it)
    (b"\x4a\x03\x12\x01\x00", "malformed"),  # NUL in error.message
    (b"\x0a\x03\x32\x01\x80", "malformed"),  # packed capabilities with a truncated varint
    (b"\x3a\x0b\x08" + b"\xff" * 10, "malformed"),  # varint over 10 bytes
])
def test_structural_errors(body: bytes, reason: str) -> None:
    assert reason_of(framing.decode_frame, body) == reason


def test_unknown_fields_are_skipped_at_every_wire_type() -> None:
    # Ping with unknown fields of wire types 0, 1, 2 and 5 around its nonce.
    body = b"\x10\x05" + b"\x19" + bytes(8) + b"\x22\x01\x00" + b"\x2d" + bytes(4) + b"\x08\x07"
    frame = framing.decode_frame(b"\x3a" + bytes([len(body)]) + body)
    assert frame.ping.nonce == 7
    # Unknown fields survive re-serialisation (relayed frames keep a newer peer's data).
    assert b"\x22\x01\x00" in framing.serialize(frame) and b"\x10\x05" in framing.serialize(frame)


def test_packed_and_unpacked_capabilities_are_equivalent() -> None:
    packed = framing.decode_frame(b"\x0a\x26\x2a\x20" + bytes(32) + b"\x32\x02\x01\x02")
    unpacked = framing.decode_frame(b"\x0a\x26\x2a\x20" + bytes(32) + b"\x30\x01\x30\x02")
    assert list(packed.hello.capabilities) == list(unpacked.hello.capabilities) == [1, 2]


def test_unknown_body() -> None:
    frame = framing.decode_frame(bytes.fromhex("a20600"))
    assert framing.frame_kind(frame) == "unknown"
    assert framing.unknown_field_number(frame) == 100
    frame = framing.decode_frame(b"\xfd\x07" + bytes(4))  # field 127, fixed32
    assert framing.unknown_field_number(frame) == 127
    assert framing.unknown_field_number(ping()) is None
    assert framing.unknown_field_number(Frame()) is None
    assert check_message(bytes.fromhex("a20600a80601"), Frame.DESCRIPTOR, "frame") == [100, 101]


def test_body_names() -> None:
    assert framing.BODY_FIELDS[1] == "hello" and framing.BODY_FIELDS[10] == "compressed"
    assert framing.frame_kind(ping()) == "ping"


# --- limits ----------------------------------------------------------------------------------


def test_decode_frame_size_limits() -> None:
    assert reason_of(framing.decode_frame, b"") == "empty-frame"
    data = framing.serialize(Frame(error=frame_pb2.Error(message="x" * 100)))
    assert reason_of(framing.decode_frame, data, max_frame_size=len(data) - 1) == "frame-too-large"
    assert framing.decode_frame(data, max_frame_size=len(data)).error.message == "x" * 100


@pytest.mark.parametrize("nonce,ok", [(32, True), (31, False), (33, False), (0, False)])
def test_hello_nonce_length(nonce: int, ok: bool) -> None:
    data = framing.serialize(hello(nonce=bytes(nonce)))
    if ok:
        framing.decode_frame(data)
    else:
        assert reason_of(framing.decode_frame, data) == "wrong-field-length"


def test_hello_agent_and_capabilities_limits() -> None:
    framing.decode_frame(framing.serialize(hello(agent="é" * 64)))  # 128 bytes
    assert reason_of(framing.decode_frame, framing.serialize(hello(agent="é" * 64 + "a"))) == "field-too-long"
    framing.decode_frame(framing.serialize(hello(capabilities=[1] * 32)))
    assert reason_of(framing.decode_frame, framing.serialize(hello(capabilities=[1] * 33))) == "field-too-long"


def test_hello_record_shape_and_optional_record() -> None:
    frame = framing.decode_frame(framing.serialize(hello(record=None)))
    assert not frame.hello.HasField("record")
    bad = record_pb2.SignedPeerRecord(record=b"\x10\x01", signature=bytes(65))
    assert reason_of(framing.decode_frame, framing.serialize(hello(record=bad))) == "wrong-field-length"


def test_auth_signature_length() -> None:
    framing.decode_frame(framing.serialize(Frame(auth=frame_pb2.Auth(signature=bytes(64)))))
    for n in (0, 63, 65):
        assert reason_of(framing.decode_frame, framing.serialize(Frame(auth=frame_pb2.Auth(signature=bytes(n))))) \
            == "wrong-field-length"


@pytest.mark.parametrize("kind,cls", [("peer_response", frame_pb2.PeerResponse),
                                      ("peer_announcement", frame_pb2.PeerAnnouncement),
                                      ("peer_update", frame_pb2.PeerUpdate)])
def test_record_list_limits(kind: str, cls) -> None:
    def frame(records) -> bytes:
        return framing.serialize(Frame(**{kind: cls(records=records)}))

    framing.decode_frame(frame(record_list(1000)))
    assert reason_of(framing.decode_frame, frame(record_list(1001))) == "too-many-records"
    framing.decode_frame(frame(record_list(1, size=2048)))
    assert reason_of(framing.decode_frame, frame(record_list(1, size=2049))) == "field-too-long"
    assert reason_of(framing.decode_frame, frame(record_list(1, signature=63))) == "wrong-field-length"


def test_error_message_limit() -> None:
    framing.decode_frame(framing.serialize(Frame(error=frame_pb2.Error(message="ü" * 128))))
    assert reason_of(framing.decode_frame, framing.serialize(Frame(error=frame_pb2.Error(message="ü" * 128 + "!")))) \
        == "field-too-long"


# --- compression -----------------------------------------------------------------------------


def big_frame() -> Frame:
    return Frame(peer_announcement=frame_pb2.PeerAnnouncement(records=[signed(i) for i in range(1, 8)]))


def test_compression_round_trip() -> None:
    inner = framing.serialize(big_frame())
    wrapper = framing.compress_frame(inner)
    assert wrapper.compressed.codec == frame_pb2.COMPRESSION_CODEC_DEFLATE
    assert wrapper.compressed.uncompressed_size == len(inner)
    data = framing.serialize(wrapper)
    assert framing.serialize(framing.decode_frame(data)) == inner
    assert framing.frame_kind(framing.decode_frame(data, decompress=False)) == "compressed"
    assert framing.inflate(framing.deflate(b"abc"), 3) == b"abc"


def compressed(data: bytes, size: int, codec: int = 1) -> bytes:
    return framing.serialize(Frame(compressed=frame_pb2.Compressed(codec=codec, uncompressed_size=size, data=data)))


def test_compression_errors() -> None:
    inner = framing.serialize(ping())
    good = framing.deflate(inner)
    assert reason_of(framing.decode_frame, compressed(good, len(inner), codec=0)) == "unsupported-compression"
    assert reason_of(framing.decode_frame, compressed(good, len(inner), codec=2)) == "unsupported-compression"
    assert reason_of(framing.decode_frame, compressed(good, len(inner) + 1)) == "decompressed-size-mismatch"
    # The announced size is the allowance: more is too large, fewer is a mismatch.
    assert reason_of(framing.decode_frame, compressed(good, len(inner) - 1)) == "decompression-too-large"
    assert reason_of(framing.decode_frame, compressed(good, 0)) == "decompression-too-large"
    assert reason_of(framing.decode_frame, compressed(good, limits.MAX_FRAME_SIZE + 1)) == "decompression-too-large"
    assert reason_of(framing.decode_frame, compressed(b"\xff\xff", len(inner))) == "bad-compressed-data"
    assert reason_of(framing.decode_frame, compressed(good[:-1], len(inner))) == "bad-compressed-data"
    assert reason_of(framing.decode_frame, compressed(good + b"\x00", len(inner))) == "bad-compressed-data"
    assert reason_of(framing.decode_frame, compressed(framing.deflate(b""), 0)) == "empty-frame"
    assert reason_of(framing.decode_frame, compressed(framing.deflate(b"\xff"), 1)) == "malformed"
    nested = compressed(good, len(inner))
    assert reason_of(framing.decode_frame, compressed(framing.deflate(nested), len(nested))) == "nested-compression"
    # The inner frame is validated like any other.
    bad_auth = framing.serialize(Frame(auth=frame_pb2.Auth(signature=bytes(3))))
    assert reason_of(framing.decode_frame, compressed(framing.deflate(bad_auth), len(bad_auth))) == "wrong-field-length"


def test_decompression_bomb_is_capped() -> None:
    bomb = framing.deflate(bytes(1024 * 1024))
    assert len(bomb) < 2_000
    assert reason_of(framing.decode_frame, compressed(bomb, 1000)) == "decompression-too-large"
    # Inflation stops past the allowance, before a corrupt tail could be reached.
    assert reason_of(framing.decode_frame, compressed(bomb[:-4], 1000)) == "decompression-too-large"
    assert reason_of(framing.decode_frame, compressed(bomb, 5000), max_frame_size=4096) == "decompression-too-large"


def test_structural_walk_of_fixed_width_fields() -> None:
    from google.protobuf import wrappers_pb2

    assert check_message(b"\x09" + bytes(8), wrappers_pb2.DoubleValue.DESCRIPTOR, "d") == []
    assert check_message(b"\x0d" + bytes(4), wrappers_pb2.FloatValue.DESCRIPTOR, "f") == []
    for data, descriptor in ((b"\x09" + bytes(7), wrappers_pb2.DoubleValue.DESCRIPTOR),
                             (b"\x0d" + bytes(3), wrappers_pb2.FloatValue.DESCRIPTOR),
                             (b"\x08\x01", wrappers_pb2.DoubleValue.DESCRIPTOR)):
        with pytest.raises(WireError) as info:
            check_message(data, descriptor, "x")
        assert info.value.reason == "malformed"


def test_decompress_frame_checks_the_codec_itself() -> None:
    frame = Frame(compressed=frame_pb2.Compressed(codec=0, uncompressed_size=1, data=b""))
    assert reason_of(framing.decompress_frame, frame) == "unsupported-compression"
