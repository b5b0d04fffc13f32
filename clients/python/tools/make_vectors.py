#!/usr/bin/env python3
"""Writes the Python-produced golden vectors to Tests/Vectors/python/ (format: Tests/Vectors/README.md).

Everything is deterministic: fixed seeds (``bytes([i] * 32)``), fixed nonces and clock, Ed25519
signatures (deterministic by construction) and raw deflate at level 9 of the system zlib.
Run from anywhere: ``clients/python/.venv/bin/python clients/python/tools/make_vectors.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from google.protobuf import json_format  # noqa: E402

from pex.v1 import frame_pb2, record_pb2  # noqa: E402
from pex_client import framing, handshake, identity, limits, multiaddr, records, varint  # noqa: E402

OUT_DIR = HERE.parents[2] / "Tests" / "Vectors" / "python"

#: The clock all record vectors are validated at (2023-11-14T22:13:20Z).
NOW = 1_700_000_000
NETWORK = "pex-test"
EXPIRES = NOW + 24 * 3600
U64_MAX = limits.UINT64_MAX
U32_MAX = limits.UINT32_MAX


def key(i: int) -> identity.KeyPair:
    return identity.KeyPair.from_seed(bytes([i] * 32))


def signed_record(i: int, seq: int = 1, addresses: tuple[str, ...] = ("/ip4/192.0.2.1/tcp/4001",),
                  network: str = NETWORK, expires_at: int = EXPIRES) -> record_pb2.SignedPeerRecord:
    kp = key(i)
    binary = [multiaddr.to_bytes(a) for a in addresses]
    return records.sign_record_bytes(kp, records.encode_record(kp.public_key, seq, binary, network, expires_at))


def to_dict(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


# --- frames.json ---------------------------------------------------------------------------


def _frame_vector(name: str, description: str, frame: frame_pb2.Frame, raw: bytes | None = None,
                  unknown_field: int | None = None) -> dict:
    data = raw if raw is not None else framing.serialize(frame)
    vector = {
        "name": name,
        "description": description,
        "frame_hex": data.hex(),
        "delimited_hex": (varint.encode(len(data)) + data).hex(),
        "frame": to_dict(frame),
    }
    if unknown_field is not None:
        vector["unknown_field"] = unknown_field
    return vector


def _frame(**bodies) -> frame_pb2.Frame:
    return frame_pb2.Frame(**bodies)


def peer_response_3() -> frame_pb2.Frame:
    return _frame(peer_response=frame_pb2.PeerResponse(
        request_id=42,
        records=[
            signed_record(1, 1, ("/ip4/192.0.2.1/tcp/4001",)),
            signed_record(2, 7, ("/ip6/2001:db8::1/tcp/4001", "/dns4/node2.example.org/tcp/4001")),
            signed_record(3, 3, ("/ip4/198.51.100.3/udp/4001/quic-v1",)),
        ],
        next=frame_pb2.SyncCursor(epoch=1, position=3),
        more=True,
        full=True,
    ))


def build_frames() -> list[dict]:
    vectors = []
    add = vectors.append

    hello = frame_pb2.Hello(
        min_version=1, max_version=3, network_id=NETWORK,
        record=signed_record(1, 5, ("/ip4/192.0.2.1/tcp/4001", "/dns/node1.example.org/tcp/4001")),
        nonce=bytes(range(32)),
        capabilities=[frame_pb2.CAPABILITY_DEFLATE, frame_pb2.CAPABILITY_DELTA_SYNC, 99],
        max_frame_size=65536, agent="pex-python/0.1 (vectors)",
    )
    add(_frame_vector("hello_all_fields", "Hello with every field set; capabilities include the unknown value 99",
                      _frame(hello=hello)))
    add(_frame_vector("hello_minimal", "Hello with only the fields a v1 node must send",
                      _frame(hello=frame_pb2.Hello(min_version=1, max_version=1, network_id=NETWORK,
                                                   record=signed_record(2), nonce=bytes([0xAB] * 32)))))
    add(_frame_vector("hello_max_values", "Hello with uint32 fields at their maximum",
                      _frame(hello=frame_pb2.Hello(min_version=U32_MAX, max_version=U32_MAX, network_id=NETWORK,
                                                   record=signed_record(3), nonce=bytes([0xFF] * 32),
                                                   max_frame_size=U32_MAX))))
    auth_sig = key(1).sign(identity.DOMAIN_AUTH, b"vector")
    add(_frame_vector("auth", "Auth with a 64-byte signature", _frame(auth=frame_pb2.Auth(signature=auth_sig))))
    add(_frame_vector("peer_request_all_fields", "PeerRequest with max_peers and a since cursor",
                      _frame(peer_request=frame_pb2.PeerRequest(
                          request_id=42, max_peers=100, since=frame_pb2.SyncCursor(epoch=7, position=12345)))))
    add(_frame_vector("peer_request_defaults", "PeerRequest with every field at its default: an empty message body",
                      _frame(peer_request=frame_pb2.PeerRequest())))
    add(_frame_vector("peer_request_max_values", "PeerRequest with uint64 fields at 2^64-1",
                      _frame(peer_request=frame_pb2.PeerRequest(
                          request_id=U64_MAX, max_peers=1000,
                          since=frame_pb2.SyncCursor(epoch=U64_MAX, position=U64_MAX)))))
    add(_frame_vector("peer_request_zero_cursor", "PeerRequest whose since cursor is present but all zero",
                      _frame(peer_request=frame_pb2.PeerRequest(request_id=1, since=frame_pb2.SyncCursor()))))
    add(_frame_vector("peer_response_3_records", "PeerResponse with 3 records, a next cursor, more and full",
                      peer_response_3()))
    add(_frame_vector("peer_response_empty", "PeerResponse with no record (empty table)",
                      _frame(peer_response=frame_pb2.PeerResponse(request_id=7, full=True))))
    add(_frame_vector("peer_announcement", "PeerAnnouncement with 2 records",
                      _frame(peer_announcement=frame_pb2.PeerAnnouncement(records=[
                          signed_record(4, 1, ("/ip4/203.0.113.4/tcp/4001",)),
                          signed_record(5, 2, ("/dns6/node5.example.org/tcp/4001",
                                               "/ip6/2001:db8:0:1::5/udp/4001/quic-v1")),
                      ]))))
    add(_frame_vector("peer_update", "PeerUpdate with 1 record superseding seq 1",
                      _frame(peer_update=frame_pb2.PeerUpdate(records=[
                          signed_record(4, 2, ("/ip4/203.0.113.44/tcp/4002",))]))))
    add(_frame_vector("ping", "Ping", _frame(ping=frame_pb2.Ping(nonce=0x0123456789ABCDEF))))
    add(_frame_vector("ping_zero", "Ping with nonce 0: an empty message body", _frame(ping=frame_pb2.Ping())))
    add(_frame_vector("ping_max", "Ping with nonce 2^64-1", _frame(ping=frame_pb2.Ping(nonce=U64_MAX))))
    add(_frame_vector("pong", "Pong", _frame(pong=frame_pb2.Pong(nonce=0x0123456789ABCDEF))))
    add(_frame_vector("pong_max", "Pong with nonce 2^64-1", _frame(pong=frame_pb2.Pong(nonce=U64_MAX))))
    errors = [
        ("error_protocol_violation", frame_pb2.ERROR_CODE_PROTOCOL_VIOLATION, "expected hello, got ping", True),
        ("error_wrong_network", frame_pb2.ERROR_CODE_WRONG_NETWORK, 'network id "a", expected "b"', True),
        ("error_rate_limited", frame_pb2.ERROR_CODE_RATE_LIMITED, "slow down", False),
        ("error_shutting_down", frame_pb2.ERROR_CODE_SHUTTING_DOWN, "", True),
        ("error_internal_utf8", frame_pb2.ERROR_CODE_INTERNAL, "arrêt — ünïcødé ✓", False),
        ("error_unknown_code", 99, "code from a newer version", True),
    ]
    for name, code, message, closing in errors:
        add(_frame_vector(name, f"Error code {code}, closing={closing}",
                          _frame(error=frame_pb2.Error(code=code, message=message, closing=closing))))
    add(_frame_vector("error_max_message", "Error whose message is exactly 256 bytes",
                      _frame(error=frame_pb2.Error(code=frame_pb2.ERROR_CODE_MALFORMED_FRAME, message="m" * 256,
                                                   closing=True))))
    inner = framing.serialize(peer_response_3())
    add(_frame_vector("compressed_peer_response",
                      "Compressed (raw deflate, zlib wbits=-15) of the frame of peer_response_3_records",
                      framing.compress_frame(inner)))
    add(_frame_vector("unknown_body_field_100",
                      "Frame whose only field is number 100 (an empty message): a body from a newer version",
                      frame_pb2.Frame.FromString(bytes.fromhex("a20600")), raw=bytes.fromhex("a20600"),
                      unknown_field=100))
    return vectors


# --- frames_invalid.json -------------------------------------------------------------------


def _invalid(name: str, description: str, stream: bytes, reason: str) -> dict:
    return {"name": name, "description": description, "stream_hex": stream.hex(), "reason": reason}


def _delimited(frame_bytes: bytes) -> bytes:
    return varint.encode(len(frame_bytes)) + frame_bytes


def _compressed(data: bytes, size: int, codec: int = frame_pb2.COMPRESSION_CODEC_DEFLATE) -> bytes:
    return framing.serialize(_frame(compressed=frame_pb2.Compressed(codec=codec, uncompressed_size=size, data=data)))


def build_frames_invalid() -> list[dict]:
    out = []
    add = out.append
    max_size = limits.MAX_FRAME_SIZE
    add(_invalid("prefix_over_limit", "length prefix announces 256 KiB + 1 (no body needed to reject)",
                 varint.encode(max_size + 1), "frame-too-large"))
    add(_invalid("prefix_six_bytes", "length prefix of 6 bytes", bytes([0x80] * 5 + [0x01]), "bad-length-prefix"))
    add(_invalid("prefix_non_minimal", "length 1 encoded on 2 bytes (81 00)", bytes([0x81, 0x00, 0x38, 0x00]),
                 "bad-length-prefix"))
    add(_invalid("empty_frame", "length prefix 0", b"\x00", "empty-frame"))
    add(_invalid("truncated_body", "prefix announces 10 bytes, stream ends after 3", bytes([10, 0x3A, 0x02, 0x08]),
                 "truncated"))
    add(_invalid("truncated_prefix", "stream ends inside the length prefix", bytes([0x80]), "truncated"))
    add(_invalid("garbage_body", "body is not protobuf (truncated varint tag)", _delimited(b"\xff\xff\xff"),
                 "malformed"))
    add(_invalid("body_wrong_wire_type", "Frame.hello (field 1) sent as a varint", _delimited(b"\x08\x01"),
                 "malformed"))
    add(_invalid("submessage_overrun", "Ping body length runs past the end of the frame", _delimited(b"\x3a\x05\x08"),
                 "malformed"))

    def hello_body(**fields) -> bytes:
        base = dict(min_version=1, max_version=1, network_id=NETWORK, record=signed_record(1), nonce=bytes(32))
        base.update(fields)
        return frame_pb2.Hello(**base).SerializeToString(deterministic=True)

    def hello(**fields) -> bytes:
        body = hello_body(**fields)
        return b"\x0a" + varint.encode(len(body)) + body

    add(_invalid("hello_nonce_31", "Hello nonce of 31 bytes", _delimited(hello(nonce=bytes(31))), "wrong-field-length"))
    add(_invalid("hello_agent_129", "Hello agent of 129 bytes", _delimited(hello(agent="a" * 129)), "field-too-long"))
    add(_invalid("hello_33_capabilities", "Hello listing 33 capabilities",
                 _delimited(hello(capabilities=[1] * 33)), "field-too-long"))
    # Hello.agent (field 8) holding the invalid UTF-8 sequence C3 28, appended to a valid Hello.
    add(_invalid("hello_agent_invalid_utf8", "Hello agent is not UTF-8 (bytes c3 28)",
                 _delimited(b"\x0a" + varint.encode(len(hello_body()) + 4) + hello_body() + b"\x42\x02\xc3\x28"),
                 "invalid-utf8"))
    add(_invalid("hello_record_signature_63", "Hello record signature of 63 bytes",
                 _delimited(hello(record=record_pb2.SignedPeerRecord(record=signed_record(1).record,
                                                                     signature=bytes(63)))),
                 "wrong-field-length"))
    add(_invalid("auth_signature_63", "Auth signature of 63 bytes",
                 _delimited(framing.serialize(_frame(auth=frame_pb2.Auth(signature=bytes(63))))), "wrong-field-length"))
    add(_invalid("auth_signature_empty", "Auth without signature",
                 _delimited(framing.serialize(_frame(auth=frame_pb2.Auth()))), "wrong-field-length"))
    tiny = record_pb2.SignedPeerRecord(record=b"\x10\x01", signature=bytes(64))
    add(_invalid("announcement_1001_records", "PeerAnnouncement with 1001 records",
                 _delimited(framing.serialize(_frame(peer_announcement=frame_pb2.PeerAnnouncement(
                     records=[tiny] * 1001)))), "too-many-records"))
    add(_invalid("update_record_2049_bytes", "PeerUpdate whose record bytes are 2049 long",
                 _delimited(framing.serialize(_frame(peer_update=frame_pb2.PeerUpdate(records=[
                     record_pb2.SignedPeerRecord(record=bytes(2049), signature=bytes(64))])))), "field-too-long"))
    add(_invalid("response_record_signature_65", "PeerResponse record with a 65-byte signature",
                 _delimited(framing.serialize(_frame(peer_response=frame_pb2.PeerResponse(request_id=1, records=[
                     record_pb2.SignedPeerRecord(record=b"\x10\x01", signature=bytes(65))])))),
                 "wrong-field-length"))
    add(_invalid("error_message_257", "Error message of 257 bytes",
                 _delimited(framing.serialize(_frame(error=frame_pb2.Error(code=1, message="m" * 257)))),
                 "field-too-long"))
    ping = framing.serialize(_frame(ping=frame_pb2.Ping(nonce=1)))
    add(_invalid("compressed_codec_unspecified", "Compressed with codec 0",
                 _delimited(_compressed(framing.deflate(ping), len(ping), codec=0)), "unsupported-compression"))
    add(_invalid("compressed_codec_unknown", "Compressed with codec 7",
                 _delimited(_compressed(framing.deflate(ping), len(ping), codec=7)), "unsupported-compression"))
    add(_invalid("compressed_size_mismatch", "Compressed announcing one byte more than it inflates to",
                 _delimited(_compressed(framing.deflate(ping), len(ping) + 1)), "decompressed-size-mismatch"))
    add(_invalid("compressed_size_understated", "Compressed announcing one byte less than it inflates to",
                 _delimited(_compressed(framing.deflate(ping), len(ping) - 1)), "decompression-too-large"))
    add(_invalid("compressed_announces_too_much", "Compressed announcing 256 KiB + 1 inflated bytes",
                 _delimited(_compressed(framing.deflate(ping), max_size + 1)), "decompression-too-large"))
    add(_invalid("compressed_corrupt", "Compressed whose data is not a deflate stream",
                 _delimited(_compressed(b"\xff\xff\xff\xff", len(ping))), "bad-compressed-data"))
    add(_invalid("compressed_incomplete", "Compressed whose deflate stream is cut short",
                 _delimited(_compressed(framing.deflate(ping * 50)[:-3], len(ping) * 50)), "bad-compressed-data"))
    nested = _compressed(framing.deflate(ping), len(ping))
    add(_invalid("compressed_nested", "Compressed frame inside a Compressed frame",
                 _delimited(_compressed(framing.deflate(nested), len(nested))), "nested-compression"))
    return out


# --- records.json --------------------------------------------------------------------------


def _record_vector(name: str, seed: int, signed: record_pb2.SignedPeerRecord, reason: str | None, *,
                   now: int = NOW, network: str = NETWORK, description: str = "") -> dict:
    kp = key(seed)
    parsed: dict | None
    try:
        record = records.decode_record(signed.record) if signed.record else None
    except Exception:  # noqa: BLE001 - undecodable records are vectors too
        record = None
    if record is not None:
        texts = []
        for address in record.addresses:
            try:
                texts.append(multiaddr.to_text(address))
            except multiaddr.MultiaddrError:
                texts.append(None)
        parsed = {
            "public_key_b64": identity.b64encode(record.public_key),
            "seq": record.seq,
            "addresses": texts,
            "network_id": record.network_id,
            "expires_at": record.expires_at,
        }
        addresses_hex = [bytes(a).hex() for a in record.addresses]
    else:
        parsed, addresses_hex = None, None
    return {
        "name": name,
        "description": description,
        "seed_hex": kp.seed.hex(),
        "public_key_b64": kp.public_key_base64,
        "secret_key_b64": kp.secret_key_base64,
        "peer_id": kp.peer_id,
        "record": parsed,
        "addresses_hex": addresses_hex,
        "record_hex": signed.record.hex(),
        "signature_hex": signed.signature.hex(),
        "signed_hex": signed.SerializeToString(deterministic=True).hex(),
        "now": now,
        "network": network,
        "valid": reason is None,
        "reason": reason,
    }


def _raw_signed(seed: int, record_bytes: bytes) -> record_pb2.SignedPeerRecord:
    return records.sign_record_bytes(key(seed), record_bytes)


def _record_bytes(seed: int, seq: int = 1, addresses: list[bytes] | None = None, network: str = NETWORK,
                  expires_at: int = EXPIRES, public_key: bytes | None = None) -> bytes:
    if addresses is None:
        addresses = [multiaddr.to_bytes("/ip4/192.0.2.1/tcp/4001")]
    return records.encode_record(public_key if public_key is not None else key(seed).public_key, seq, addresses,
                                 network, expires_at)


def build_records() -> list[dict]:
    out = []
    add = out.append
    max_life = limits.MAX_RECORD_LIFETIME_SECONDS
    ten = tuple(f"/ip4/192.0.2.{i}/tcp/{4000 + i}" for i in range(1, 11))

    # Valid records.
    add(_record_vector("valid_ip4_tcp", 1, signed_record(1), None, description="one /ip4/tcp address"))
    add(_record_vector("valid_all_protocols", 2, signed_record(2, 7, (
        "/ip4/198.51.100.7/tcp/4001",
        "/ip6/2001:db8::7/tcp/4001",
        "/dns/node2.example.org/tcp/443",
        "/dns4/node2.example.org/tcp/4001",
        "/dns6/node2.example.org/tcp/4001",
        "/ip4/198.51.100.7/udp/4001/quic-v1",
        f"/ip4/198.51.100.7/tcp/4001/p2p/{key(2).peer_id}",
    )), None, description="every supported protocol, including a /p2p suffix"))
    add(_record_vector("valid_ten_addresses", 3, signed_record(3, 2, ten), None, description="10 addresses (the maximum)"))
    add(_record_vector("valid_max_seq", 4, signed_record(4, U64_MAX), None, description="seq 2^64-1"))
    add(_record_vector("valid_expiry_at_limit", 5, signed_record(5, expires_at=NOW + max_life), None,
                       description="expires exactly 30 days after now"))
    add(_record_vector("valid_expiry_next_second", 6, signed_record(6, expires_at=NOW + 1), None,
                       description="expires one second after now"))
    long_net = "a.b_c-0123456789" + "z" * 48
    add(_record_vector("valid_network_id_64", 7, signed_record(7, network=long_net), None, network=long_net,
                       description="64-character network id using every allowed character class"))
    add(_record_vector("valid_ip6_compressed", 8, signed_record(8, 1, ("/ip6/::1/tcp/4001", "/ip6/2001:db8:0:0:1::1/tcp/1")),
                       None, description="IPv6 text in RFC 5952 form (compression of the longest zero run)"))

    # One invalid record per reason.
    good = signed_record(1)
    flipped = bytearray(good.signature)
    flipped[0] ^= 0x01
    add(_record_vector("bad_signature_flipped_bit", 1,
                       record_pb2.SignedPeerRecord(record=good.record, signature=bytes(flipped)), "bad-signature"))
    add(_record_vector("bad_signature_other_key", 1, record_pb2.SignedPeerRecord(
        record=good.record, signature=key(2).sign(identity.DOMAIN_PEER_RECORD, good.record)), "bad-signature",
        description="signed by seed 2's key"))
    add(_record_vector("bad_signature_wrong_domain", 1, record_pb2.SignedPeerRecord(
        record=good.record, signature=key(1).sign(identity.DOMAIN_AUTH, good.record)), "bad-signature",
        description="signed with the auth domain instead of the peer-record domain"))
    add(_record_vector("wrong_network", 1, signed_record(1, network="other-net"), "wrong-network",
                       description='record for "other-net", expected "pex-test"'))
    add(_record_vector("bad_network_id", 1, signed_record(1, network="Pex Test"), "bad-network-id",
                       description="record network id has characters outside [a-z0-9._-]"))
    add(_record_vector("expired_at_now", 1, signed_record(1, expires_at=NOW), "expired",
                       description="expires_at == now is already expired"))
    add(_record_vector("expired_past", 1, signed_record(1, expires_at=NOW - 3600), "expired"))
    add(_record_vector("expiry_too_far", 1, signed_record(1, expires_at=NOW + max_life + 1), "expiry-too-far",
                       description="expires 30 days and one second after now"))
    add(_record_vector("too_many_addresses", 1, signed_record(1, 1, ten + ("/ip4/192.0.2.11/tcp/4011",)),
                       "too-many-addresses", description="11 addresses"))
    add(_record_vector("too_few_addresses", 1, _raw_signed(1, _record_bytes(1, addresses=[])), "too-few-addresses",
                       description="no address"))
    add(_record_vector("bad_address_garbage", 1, _raw_signed(1, _record_bytes(1, addresses=[
        bytes.fromhex("deadbeef")])), "bad-address", description="address bytes are not a multiaddr"))
    add(_record_vector("bad_address_truncated_ip4", 1, _raw_signed(1, _record_bytes(1, addresses=[
        bytes.fromhex("04c00002")])), "bad-address", description="ip4 with 3 of its 4 bytes"))
    add(_record_vector("bad_address_second_of_two", 1, _raw_signed(1, _record_bytes(1, addresses=[
        multiaddr.to_bytes("/ip4/192.0.2.1/tcp/4001"), b""])), "bad-address",
        description="second address is empty"))
    long_dns = bytes([0x35]) + varint.encode(253) + (("a" * 63 + ".") * 3 + "a" * 61).encode() + bytes.fromhex("06 0fa1")
    add(_record_vector("address_too_long", 1, _raw_signed(1, _record_bytes(1, addresses=[long_dns])),
                       "field-too-long", description="a 259-byte address (limit 256), rejected while decoding the record"))
    add(_record_vector("bad_address_draft_quic", 1, _raw_signed(1, _record_bytes(1, addresses=[
        bytes.fromhex("04c0000201" + "9102" + "0fa1" + "cc03")])), "bad-address",
        description="udp followed by 0x01cc, the draft quic code (quic-v1 is 0x01cd)"))
    add(_record_vector("bad_address_dns_underscore", 1, _raw_signed(1, _record_bytes(1, addresses=[
        bytes([0x35, 11]) + b"a_b.example" + bytes.fromhex("060fa1")])), "bad-address",
        description="DNS name with an underscore"))
    add(_record_vector("bad_address_dns_numeric_tld", 1, _raw_signed(1, _record_bytes(1, addresses=[
        bytes([0x35, 11]) + b"example.123" + bytes.fromhex("060fa1")])), "bad-address",
        description="DNS name whose last label is all digits"))
    add(_record_vector("undialable_p2p_other_key", 1, signed_record(1, 1, (
        f"/ip4/192.0.2.1/tcp/4001/p2p/{key(2).peer_id}",)), "undialable-address",
        description="/p2p suffix names another key than the record's"))
    add(_record_vector("undialable_no_transport", 1, signed_record(1, 1, ("/ip4/192.0.2.1",)), "undialable-address",
                       description="an IP address without a transport port"))
    add(_record_vector("zero_seq", 1, signed_record(1, seq=0), "zero-seq"))
    add(_record_vector("wrong_field_length_key_31", 1, _raw_signed(1, _record_bytes(
        1, public_key=key(1).public_key[:31])), "wrong-field-length", description="31-byte public key"))
    add(_record_vector("wrong_field_length_signature_63", 1, record_pb2.SignedPeerRecord(
        record=good.record, signature=good.signature[:63]), "wrong-field-length", description="63-byte signature"))
    add(_record_vector("missing_record", 1, record_pb2.SignedPeerRecord(signature=good.signature), "missing-field",
                       description="SignedPeerRecord.record is empty"))
    big = [multiaddr.to_bytes(f"/dns/{'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 50}{i}/tcp/4001") for i in range(10)]
    add(_record_vector("record_too_large", 1, _raw_signed(1, _record_bytes(1, addresses=big)), "field-too-long",
                       description="record bytes longer than 2048"))
    add(_record_vector("malformed_record", 1, _raw_signed(1, bytes.fromhex("ffffff")), "malformed",
                       description="record bytes are not protobuf"))
    bad_utf8 = _record_bytes(1, network="") + b"\x22\x02\xc3\x28"
    add(_record_vector("invalid_utf8_network_id", 1, _raw_signed(1, bad_utf8), "invalid-utf8",
                       description="network_id bytes c3 28 are not UTF-8"))
    small_order = bytes([1] + [0] * 31)
    add(_record_vector("invalid_public_key_small_order", 1, _raw_signed(1, _record_bytes(1, public_key=small_order)),
                       "invalid-public-key", description="public key is the identity point (small order)"))
    add(_record_vector("invalid_public_key_not_on_curve", 1, _raw_signed(1, _record_bytes(
        1, public_key=bytes([0xFF] * 31 + [0x7F]))), "invalid-public-key",
        description="public key is a non-canonical encoding (y >= p)"))
    return out


# --- auth.json -----------------------------------------------------------------------------


def build_auth() -> dict:
    sides = {}
    hellos = {}
    for role_name, seed, nonce, addr in (("initiator", 0x11, bytes(range(32)), "/ip4/192.0.2.17/tcp/4001"),
                                         ("responder", 0x22, bytes(range(32, 64)), "/ip4/192.0.2.34/tcp/4001")):
        record = signed_record(seed, 1, (addr,))
        frame = handshake.build_hello(record, NETWORK, nonce, agent=f"pex-vectors/{role_name}")
        hellos[role_name] = (key(seed), nonce, framing.serialize(frame))
    init_hello, resp_hello = hellos["initiator"][2], hellos["responder"][2]
    for role_name, role, other in (("initiator", handshake.ROLE_INITIATOR, "responder"),
                                   ("responder", handshake.ROLE_RESPONDER, "initiator")):
        kp, nonce, hello_bytes = hellos[role_name]
        other_nonce = hellos[other][1]
        payload = handshake.auth_payload(role, init_hello, resp_hello, other_nonce)
        signature = handshake.sign_auth(kp, role, init_hello, resp_hello, other_nonce)
        auth_frame = framing.serialize(handshake.build_auth(signature))
        sides[role_name] = {
            "seed_hex": kp.seed.hex(),
            "public_key_b64": kp.public_key_base64,
            "secret_key_b64": kp.secret_key_base64,
            "peer_id": kp.peer_id,
            "role": role,
            "nonce_hex": nonce.hex(),
            "hello_frame_hex": hello_bytes.hex(),
            "hello_delimited_hex": framing.delimit(hello_bytes).hex(),
            "hello_hash_hex": handshake.hello_hash(hello_bytes).hex(),
            "auth_payload_hex": payload.hex(),
            "signed_message_hex": identity.signing_message(identity.DOMAIN_AUTH, payload).hex(),
            "signature_hex": signature.hex(),
            "auth_frame_hex": auth_frame.hex(),
            "auth_delimited_hex": framing.delimit(auth_frame).hex(),
        }
    return {
        "description": "Complete v1 handshake between two fixed keys; both sides validate records at now",
        "network_id": NETWORK,
        "now": NOW,
        "negotiated_version": 1,
        "initiator": sides["initiator"],
        "responder": sides["responder"],
    }


BUILDERS = {
    "frames.json": build_frames,
    "frames_invalid.json": build_frames_invalid,
    "records.json": build_records,
    "auth.json": build_auth,
}


def render(value) -> str:
    """The committed text of a vector file."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, build in BUILDERS.items():
        (OUT_DIR / name).write_text(render(build()), encoding="utf-8")
        print(f"wrote {OUT_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
