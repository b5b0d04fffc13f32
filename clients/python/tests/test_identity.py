"""Keys, key formats, peer IDs and domain-separated signatures."""

from __future__ import annotations

import base64

import pytest

from conftest import key
from pex_client import base58, identity
from pex_client.errors import WireError

# RFC 8032 test 1: secret key (seed) and public key.
RFC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNATURE_EMPTY = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")

SMALL_ORDER = [bytes.fromhex(h) for h in (
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "0000000000000000000000000000000000000000000000000000000000000080",
)]


def reason_of(fn, *args) -> str:
    with pytest.raises(WireError) as info:
        fn(*args)
    return info.value.reason


def test_keypair_from_seed_matches_rfc8032() -> None:
    kp = identity.KeyPair.from_seed(RFC_SEED)
    assert kp.public_key == RFC_PUBLIC
    assert kp.secret_key == RFC_SEED + RFC_PUBLIC
    assert kp._private.sign(b"") == RFC_SIGNATURE_EMPTY


def test_key_text_formats() -> None:
    kp = key(1)
    assert kp.secret_key_base64 == base64.b64encode(kp.seed + kp.public_key).decode()
    assert kp.public_key_base64 == base64.b64encode(kp.public_key).decode()
    again = identity.KeyPair.from_secret_base64(kp.secret_key_base64 + "\n")
    assert again.public_key == kp.public_key and again.seed == kp.seed
    assert identity.public_key_from_base64(kp.public_key_base64) == kp.public_key
    assert "12D3KooW" in repr(kp)


def test_peer_id() -> None:
    kp = key(1)
    assert kp.peer_id.startswith("12D3KooW") and len(kp.peer_id) == 52
    assert base58.decode(kp.peer_id) == bytes.fromhex("002408011220") + kp.public_key
    assert identity.public_key_from_peer_id(kp.peer_id) == kp.public_key
    assert identity.peer_id_from_public_key(kp.public_key) == kp.peer_id
    assert reason_of(identity.peer_id_from_public_key, bytes(31)) == "wrong-field-length"


@pytest.mark.parametrize("text", [
    "",
    "12D3KooW0000",  # '0' is not base58
    base58.encode(bytes.fromhex("002408011220") + bytes(31)),
    base58.encode(bytes.fromhex("002508011221") + bytes(33)),
    base58.encode(bytes.fromhex("1220") + bytes(32)),  # sha2-256 peer ID: no key inside
    base58.encode(bytes.fromhex("002408001220") + bytes(32)),  # RSA key type
])
def test_invalid_peer_ids(text: str) -> None:
    assert reason_of(identity.public_key_from_peer_id, text) == "invalid-peer-id"


def test_peer_id_with_small_order_key() -> None:
    text = base58.encode(bytes.fromhex("002408011220") + SMALL_ORDER[1])
    assert reason_of(identity.public_key_from_peer_id, text) == "invalid-public-key"


def test_secret_key_errors() -> None:
    kp = key(1)
    assert reason_of(identity.KeyPair.from_secret_key, kp.secret_key[:63]) == "invalid-secret-key"
    assert reason_of(identity.KeyPair.from_secret_key, kp.seed + key(2).public_key) == "invalid-secret-key"
    assert reason_of(identity.KeyPair.from_seed, bytes(31)) == "invalid-secret-key"
    assert reason_of(identity.KeyPair.from_secret_base64, "not base64!") == "invalid-base64"
    assert reason_of(identity.KeyPair.from_secret_base64, base64.b64encode(bytes(32)).decode()) == "invalid-secret-key"


@pytest.mark.parametrize("text", ["AAA", "AA=A", "AB==", "A===", "é", "AAAA\n", "-_-_"])
def test_strict_base64(text: str) -> None:
    assert reason_of(identity.strict_b64decode, text) == "invalid-base64"


def test_strict_base64_accepts_canonical() -> None:
    assert identity.strict_b64decode("AA==") == b"\x00"
    assert identity.strict_b64decode("") == b""


def test_public_key_problems() -> None:
    assert identity.public_key_problem(key(1).public_key) is None
    assert identity.public_key_problem(RFC_PUBLIC) is None
    for point in SMALL_ORDER:
        assert identity.public_key_problem(point) in ("point of small order", "not a canonical point on the curve")
    assert identity.public_key_problem(SMALL_ORDER[1]) == "point of small order"
    assert identity.public_key_problem(bytes([0xFF] * 31 + [0x7F])) == "not a canonical point on the curve"
    # y = 2 is not the y of any curve point.
    assert identity.public_key_problem(bytes([2] + [0] * 31)) == "not a canonical point on the curve"
    assert identity.public_key_problem(bytes(31)) == "31 bytes, expected 32"
    # x = 0 with the sign bit set has no valid encoding.
    assert identity.public_key_problem(bytes([1] + [0] * 30 + [0x80])) == "not a canonical point on the curve"
    assert reason_of(identity.check_public_key, SMALL_ORDER[0]) == "invalid-public-key"
    assert reason_of(identity.public_key_from_base64, base64.b64encode(SMALL_ORDER[1]).decode()) == "invalid-public-key"


def test_sign_and_verify_with_domains() -> None:
    kp = key(1)
    signature = kp.sign(identity.DOMAIN_PEER_RECORD, b"payload")
    assert signature == kp._private.sign(b"pex/v1/peer-record\x00payload")
    identity.verify(kp.public_key, identity.DOMAIN_PEER_RECORD, b"payload", signature)
    assert reason_of(identity.verify, kp.public_key, identity.DOMAIN_AUTH, b"payload", signature) == "bad-signature"
    assert reason_of(identity.verify, kp.public_key, identity.DOMAIN_PEER_RECORD, b"payloaD", signature) == "bad-signature"
    assert reason_of(identity.verify, key(2).public_key, identity.DOMAIN_PEER_RECORD, b"payload", signature) \
        == "bad-signature"
    assert reason_of(identity.verify, kp.public_key, identity.DOMAIN_PEER_RECORD, b"payload", signature[:63]) \
        == "wrong-field-length"
    assert reason_of(identity.verify, SMALL_ORDER[1], identity.DOMAIN_PEER_RECORD, b"payload", signature) \
        == "invalid-public-key"
    assert identity.signing_message(b"d", b"m") == b"d\x00m"


def test_signature_with_small_order_r_is_refused() -> None:
    kp = key(1)
    signature = SMALL_ORDER[1] + kp.sign(identity.DOMAIN_AUTH, b"m")[32:]
    assert reason_of(identity.verify, kp.public_key, identity.DOMAIN_AUTH, b"m", signature) == "bad-signature"


def test_non_canonical_s_is_refused() -> None:
    kp = key(1)
    signature = kp.sign(identity.DOMAIN_AUTH, b"m")
    order = 2**252 + 27742317777372353535851937790883648493
    s = int.from_bytes(signature[32:], "little") + order
    forged = signature[:32] + s.to_bytes(32, "little")
    assert reason_of(identity.verify, kp.public_key, identity.DOMAIN_AUTH, b"m", forged) == "bad-signature"


def test_generate_gives_distinct_keys() -> None:
    a, b = identity.KeyPair.generate(), identity.KeyPair.generate()
    assert a.public_key != b.public_key
    assert identity.KeyPair.from_secret_base64(a.secret_key_base64).public_key == a.public_key
