"""Hello construction and checks, version negotiation, Auth payloads and signatures."""

from __future__ import annotations

import hashlib

import pytest

from conftest import NETWORK, NOW, key, signed
from pex.v1 import frame_pb2, record_pb2
from pex_client import framing, handshake, identity, limits
from pex_client.errors import HandshakeError, WireError


def test_build_hello() -> None:
    record = signed(1)
    frame = handshake.build_hello(record, NETWORK, bytes(32), agent="x", max_frame_size=20000)
    hello = frame.hello
    assert (hello.min_version, hello.max_version) == (1, 1)
    assert hello.network_id == NETWORK and hello.record == record and hello.nonce == bytes(32)
    assert list(hello.capabilities) == [frame_pb2.CAPABILITY_DEFLATE]
    assert hello.max_frame_size == 20000 and hello.agent == "x"
    framing.decode_frame(framing.serialize(frame))
    assert len(handshake.make_nonce()) == 32 and handshake.make_nonce() != handshake.make_nonce()


@pytest.mark.parametrize("local,remote,expected", [
    ((1, 1), (1, 1), 1),
    ((1, 3), (2, 5), 3),
    ((1, 3), (1, 2), 2),
    ((2, 4), (1, 2), 2),
])
def test_negotiate_version(local, remote, expected) -> None:
    assert handshake.negotiate_version(*local, *remote) == expected


@pytest.mark.parametrize("local,remote", [((1, 1), (2, 3)), ((2, 3), (1, 1)), ((1, 1), (1, 0)), ((0, 1), (0, 0)),
                                          ((1, 5), (4, 2))])
def test_negotiate_version_without_overlap(local, remote) -> None:
    with pytest.raises(HandshakeError) as info:
        handshake.negotiate_version(*local, *remote)
    assert info.value.code == frame_pb2.ERROR_CODE_UNSUPPORTED_VERSION


def hello(**fields) -> frame_pb2.Hello:
    base = dict(min_version=1, max_version=1, network_id=NETWORK, record=signed(1, expires_at=NOW + 60),
                nonce=bytes(32), agent="peer")
    base.update(fields)
    return frame_pb2.Hello(**base)


def test_check_hello_accepts_and_reports() -> None:
    peer = handshake.check_hello(hello(capabilities=[1, 99], max_version=7), NETWORK, NOW)
    assert peer.version == 1 and peer.record.public_key == key(1).public_key
    assert peer.capabilities == (1, 99) and peer.agent == "peer" and peer.nonce == bytes(32)
    assert peer.max_frame_size == limits.MAX_FRAME_SIZE
    assert handshake.check_hello(hello(max_frame_size=limits.MIN_FRAME_SIZE), NETWORK, NOW).max_frame_size \
        == limits.MIN_FRAME_SIZE
    # Announcements above the protocol maximum are capped.
    assert handshake.check_hello(hello(max_frame_size=2**32 - 1), NETWORK, NOW).max_frame_size == limits.MAX_FRAME_SIZE


@pytest.mark.parametrize("fields,code,reason", [
    (dict(min_version=2, max_version=2), frame_pb2.ERROR_CODE_UNSUPPORTED_VERSION, None),
    (dict(min_version=0, max_version=0), frame_pb2.ERROR_CODE_UNSUPPORTED_VERSION, None),
    (dict(network_id="other"), frame_pb2.ERROR_CODE_WRONG_NETWORK, "wrong-network"),
    (dict(network_id="Bad Id"), frame_pb2.ERROR_CODE_WRONG_NETWORK, "bad-network-id"),
    (dict(max_frame_size=limits.MIN_FRAME_SIZE - 1), frame_pb2.ERROR_CODE_PROTOCOL_VIOLATION, None),
    (dict(record=None), frame_pb2.ERROR_CODE_AUTH_FAILED, "missing-field"),
    (dict(record=signed(1, expires_at=NOW + 1)), None, None),
])
def test_check_hello_rejections(fields, code, reason) -> None:
    if code is None:
        handshake.check_hello(hello(**fields), NETWORK, NOW)
        return
    with pytest.raises(HandshakeError) as info:
        handshake.check_hello(hello(**fields), NETWORK, NOW)
    assert info.value.code == code
    assert (info.value.cause.reason if info.value.cause else None) == reason


def test_check_hello_rejects_invalid_records() -> None:
    with pytest.raises(HandshakeError) as info:
        handshake.check_hello(hello(), NETWORK, NOW + 60)
    assert info.value.code == frame_pb2.ERROR_CODE_AUTH_FAILED and info.value.cause.reason == "expired"
    good = signed(1)
    forged = record_pb2.SignedPeerRecord(record=good.record, signature=key(2).sign(identity.DOMAIN_PEER_RECORD,
                                                                                    good.record))
    with pytest.raises(HandshakeError) as info:
        handshake.check_hello(hello(record=forged), NETWORK, NOW)
    assert info.value.cause.reason == "bad-signature"


def test_auth_payload_layout() -> None:
    init_hello, resp_hello, nonce = b"initiator hello", b"responder hello", bytes(range(32))
    payload = handshake.auth_payload(handshake.ROLE_RESPONDER, init_hello, resp_hello, nonce)
    assert payload == (b"\x02" + hashlib.blake2b(init_hello, digest_size=32).digest()
                       + hashlib.blake2b(resp_hello, digest_size=32).digest() + nonce)
    assert len(payload) == 1 + 32 + 32 + 32
    assert handshake.hello_hash(b"") == hashlib.blake2b(b"", digest_size=32).digest()
    with pytest.raises(ValueError):
        handshake.auth_payload(3, init_hello, resp_hello, nonce)
    with pytest.raises(WireError) as info:
        handshake.auth_payload(1, init_hello, resp_hello, nonce[:31])
    assert info.value.reason == "wrong-field-length"


def test_sign_and_verify_auth() -> None:
    kp = key(1)
    init_hello, resp_hello, nonce = b"h1", b"h2", bytes(32)
    signature = handshake.sign_auth(kp, handshake.ROLE_INITIATOR, init_hello, resp_hello, nonce)
    assert signature == kp.sign(identity.DOMAIN_AUTH, handshake.auth_payload(1, init_hello, resp_hello, nonce))
    handshake.verify_auth(kp.public_key, handshake.ROLE_INITIATOR, init_hello, resp_hello, nonce, signature)
    # Every input is bound: role (no reflection), both Hellos, the nonce, the key.
    for args in ((kp.public_key, handshake.ROLE_RESPONDER, init_hello, resp_hello, nonce),
                 (kp.public_key, handshake.ROLE_INITIATOR, resp_hello, init_hello, nonce),
                 (kp.public_key, handshake.ROLE_INITIATOR, init_hello, b"h3", nonce),
                 (kp.public_key, handshake.ROLE_INITIATOR, init_hello, resp_hello, bytes([1] * 32)),
                 (key(2).public_key, handshake.ROLE_INITIATOR, init_hello, resp_hello, nonce)):
        with pytest.raises(WireError) as info:
            handshake.verify_auth(*args, signature)
        assert info.value.reason == "bad-signature"


def test_build_auth() -> None:
    frame = handshake.build_auth(bytes(64))
    assert framing.frame_kind(frame) == "auth" and frame.auth.signature == bytes(64)
