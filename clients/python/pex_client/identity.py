"""Ed25519 identities: key pairs, key text formats, libp2p peer IDs, domain-separated signatures.

Key text formats are those of the original Go project: a private key is standard padded base64
of the 64-byte secret key (seed ‖ public key); a public key is base64 of its 32 bytes. A peer ID
is base58btc of the identity multihash of the libp2p protobuf-encoded key
(``00 24 08 01 12 20 ‖ key``), so it reads ``12D3KooW…``.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import base58, limits
from .errors import WireError

#: Domain of peer record signatures.
DOMAIN_PEER_RECORD = b"pex/v1/peer-record"
#: Domain of handshake Auth signatures.
DOMAIN_AUTH = b"pex/v1/auth"
#: Multihash identity header + libp2p PublicKey protobuf header (KeyType Ed25519, 32-byte data).
PEER_ID_PREFIX = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])

SEED_LENGTH = 32
SECRET_KEY_LENGTH = 64

# Curve constants of edwards25519 (RFC 8032), for the checks OpenSSL does not make.
_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def signing_message(domain: bytes, message: bytes) -> bytes:
    """The bytes actually signed: ``domain || 0x00 || message``."""
    return domain + b"\x00" + message


def _decode_point(encoded: bytes) -> tuple[int, int, int, int] | None:
    """Decode a canonical point encoding to extended coordinates, or None if invalid."""
    y = int.from_bytes(encoded, "little") & ((1 << 255) - 1)
    sign = encoded[31] >> 7
    if y >= _P:
        return None
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x2 = u * pow(v, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if x == 0 and sign == 1:
        return None
    if x & 1 != sign:
        x = _P - x
    return x, y, 1, x * y % _P


def _double(point: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x1, y1, z1, _ = point
    a = x1 * x1 % _P
    b = y1 * y1 % _P
    c = 2 * z1 * z1 % _P
    h = (a + b) % _P
    e = (h - (x1 + y1) * (x1 + y1)) % _P
    g = (a - b) % _P
    f = (c + g) % _P
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _has_small_order(point: tuple[int, int, int, int]) -> bool:
    for _ in range(3):
        point = _double(point)
    x, y, z, _ = point
    return x % _P == 0 and (y - z) % _P == 0


def public_key_problem(public_key: bytes) -> str | None:
    """Why ``public_key`` is not an acceptable Ed25519 key, or ``None`` if it is.

    Rejects wrong lengths, non-canonical encodings, points off the curve and points of small
    order, as libsodium's verifier does, so both implementations accept the same keys.
    """
    if len(public_key) != limits.PUBLIC_KEY_LENGTH:
        return f"{len(public_key)} bytes, expected {limits.PUBLIC_KEY_LENGTH}"
    point = _decode_point(public_key)
    if point is None:
        return "not a canonical point on the curve"
    if _has_small_order(point):
        return "point of small order"
    return None


def check_public_key(public_key: bytes) -> None:
    """Raise ``invalid-public-key`` unless ``public_key`` is an acceptable Ed25519 key."""
    problem = public_key_problem(public_key)
    if problem is not None:
        raise WireError("invalid-public-key", f"invalid public key: {problem}")


def verify(public_key: bytes, domain: bytes, message: bytes, signature: bytes) -> None:
    """Check an Ed25519 signature over ``domain || 0x00 || message``.

    Raises ``invalid-public-key`` for an unacceptable key, ``wrong-field-length`` for a signature
    that is not 64 bytes and ``bad-signature`` when it does not verify.
    """
    check_public_key(public_key)
    if len(signature) != limits.SIGNATURE_LENGTH:
        raise WireError("wrong-field-length",
                        f"signature is {len(signature)} bytes, expected {limits.SIGNATURE_LENGTH}")
    r_point = _decode_point(signature[:32])
    # libsodium refuses signatures whose R is of small order; match it.
    if r_point is not None and _has_small_order(r_point):
        raise WireError("bad-signature", "signature does not verify")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, signing_message(domain, message))
    except InvalidSignature:
        raise WireError("bad-signature", "signature does not verify") from None


def strict_b64decode(text: str) -> bytes:
    """Decode standard padded base64, accepting only the canonical encoding; raises ``invalid-base64``."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise WireError("invalid-base64", "invalid base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise WireError("invalid-base64", "invalid base64")
    return data


def b64encode(data: bytes) -> str:
    """Standard padded base64 text of ``data``."""
    return base64.b64encode(data).decode("ascii")


def peer_id_from_public_key(public_key: bytes) -> str:
    """The libp2p peer ID (``12D3KooW…``) of a 32-byte Ed25519 public key."""
    if len(public_key) != limits.PUBLIC_KEY_LENGTH:
        raise WireError("wrong-field-length",
                        f"public key is {len(public_key)} bytes, expected {limits.PUBLIC_KEY_LENGTH}")
    return base58.encode(PEER_ID_PREFIX + public_key)


def public_key_from_peer_id(peer_id: str) -> bytes:
    """The Ed25519 key embedded in a libp2p peer ID.

    Raises ``invalid-peer-id`` for text that is not base58btc of an identity multihash of an
    Ed25519 key, and ``invalid-public-key`` when the embedded key is not acceptable.
    """
    try:
        raw = base58.decode(peer_id)
    except ValueError:
        raise WireError("invalid-peer-id", "invalid peer ID: not base58btc") from None
    if len(raw) != len(PEER_ID_PREFIX) + limits.PUBLIC_KEY_LENGTH or not raw.startswith(PEER_ID_PREFIX):
        raise WireError("invalid-peer-id", "invalid peer ID: not an identity multihash of an Ed25519 key")
    key = raw[len(PEER_ID_PREFIX):]
    check_public_key(key)
    return key


def public_key_from_base64(text: str) -> bytes:
    """Decode a base64 public key; raises ``invalid-base64`` or ``invalid-public-key``."""
    key = strict_b64decode(text)
    check_public_key(key)
    return key


class KeyPair:
    """An Ed25519 key pair; signs with domain separation."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_LENGTH:
            raise WireError("invalid-secret-key", f"invalid secret key: seed is {len(seed)} bytes, expected {SEED_LENGTH}")
        self._private = Ed25519PrivateKey.from_private_bytes(bytes(seed))
        self.seed = bytes(seed)
        self.public_key = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        """Key pair of a 32-byte seed (deterministic)."""
        return cls(seed)

    @classmethod
    def generate(cls) -> KeyPair:
        """A fresh random key pair."""
        return cls(os.urandom(SEED_LENGTH))

    @classmethod
    def from_secret_key(cls, secret_key: bytes) -> KeyPair:
        """Key pair of a 64-byte secret key (seed ‖ public key); the halves must match."""
        if len(secret_key) != SECRET_KEY_LENGTH:
            raise WireError("invalid-secret-key",
                            f"invalid secret key: {len(secret_key)} bytes, expected {SECRET_KEY_LENGTH}")
        pair = cls(secret_key[:SEED_LENGTH])
        if pair.public_key != secret_key[SEED_LENGTH:]:
            raise WireError("invalid-secret-key", "invalid secret key: public half does not match the seed")
        return pair

    @classmethod
    def from_secret_base64(cls, text: str) -> KeyPair:
        """Key pair of a base64 secret key in the original Go project's format."""
        return cls.from_secret_key(strict_b64decode(text.strip()))

    @property
    def secret_key(self) -> bytes:
        """The 64-byte secret key: seed ‖ public key."""
        return self.seed + self.public_key

    @property
    def secret_key_base64(self) -> str:
        return b64encode(self.secret_key)

    @property
    def public_key_base64(self) -> str:
        return b64encode(self.public_key)

    @property
    def peer_id(self) -> str:
        return peer_id_from_public_key(self.public_key)

    def sign(self, domain: bytes, message: bytes) -> bytes:
        """Ed25519 signature over ``domain || 0x00 || message``."""
        return self._private.sign(signing_message(domain, message))

    def __repr__(self) -> str:
        return f"KeyPair(peer_id={self.peer_id!r})"
