"""The handshake: Hello, version negotiation and Auth (proof of key possession).

Each side sends Hello first. Once a side has both Hellos it sends Auth, an Ed25519 signature
(domain ``pex/v1/auth``) over::

    role || BLAKE2b-256(initiator Hello frame) || BLAKE2b-256(responder Hello frame) || other nonce

``role`` is 0x01 for the side that opened the TCP connection (initiator), 0x02 for the other; the
Hello frames are the serialised Frames exactly as sent (no length prefix). Binding both Hellos
and the peer's fresh nonce stops replay and relaying of the proof; the role byte stops
reflecting a side's own Auth back at it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

from pex.v1 import frame_pb2, record_pb2

from . import identity, limits
from .errors import HandshakeError, WireError
from .records import VerifiedRecord, check_network_id, verify_signed_record

ROLE_INITIATOR = 0x01
ROLE_RESPONDER = 0x02

DEFAULT_AGENT = "pex-python/0.1"


def make_nonce() -> bytes:
    """32 fresh random bytes for Hello.nonce."""
    return os.urandom(limits.NONCE_LENGTH)


def build_hello(record: record_pb2.SignedPeerRecord, network_id: str, nonce: bytes, *,
                capabilities: Iterable[int] = (frame_pb2.CAPABILITY_DEFLATE,),
                max_frame_size: int = 0, agent: str = DEFAULT_AGENT,
                min_version: int = limits.PROTOCOL_VERSION,
                max_version: int = limits.PROTOCOL_VERSION) -> frame_pb2.Frame:
    """A Frame carrying this node's Hello."""
    frame = frame_pb2.Frame()
    hello = frame.hello
    hello.min_version = min_version
    hello.max_version = max_version
    hello.network_id = network_id
    hello.record.CopyFrom(record)
    hello.nonce = nonce
    hello.capabilities.extend(capabilities)
    hello.max_frame_size = max_frame_size
    hello.agent = agent
    return frame


def build_auth(signature: bytes) -> frame_pb2.Frame:
    """A Frame carrying an Auth signature."""
    frame = frame_pb2.Frame()
    frame.auth.signature = signature
    return frame


def negotiate_version(local_min: int, local_max: int, remote_min: int, remote_max: int) -> int:
    """The highest version both ranges contain.

    Raises :class:`HandshakeError` (``ERROR_CODE_UNSUPPORTED_VERSION``) when there is none,
    including when the remote range is empty or inverted.
    """
    version = min(local_max, remote_max)
    if remote_min > remote_max or version < max(local_min, remote_min) or version == 0:
        raise HandshakeError(
            frame_pb2.ERROR_CODE_UNSUPPORTED_VERSION,
            f"no common protocol version: local {local_min}-{local_max}, remote {remote_min}-{remote_max}",
        )
    return version


def hello_hash(hello_frame_bytes: bytes) -> bytes:
    """BLAKE2b-256 of a serialised Hello frame."""
    return hashlib.blake2b(hello_frame_bytes, digest_size=32).digest()


def auth_payload(role: int, initiator_hello: bytes, responder_hello: bytes, other_nonce: bytes) -> bytes:
    """The bytes an Auth signs (before domain separation), for the signer playing ``role``."""
    if role not in (ROLE_INITIATOR, ROLE_RESPONDER):
        raise ValueError(f"invalid role {role}")
    if len(other_nonce) != limits.NONCE_LENGTH:
        raise WireError("wrong-field-length", f"nonce is {len(other_nonce)} bytes, expected {limits.NONCE_LENGTH}")
    return bytes([role]) + hello_hash(initiator_hello) + hello_hash(responder_hello) + other_nonce


def sign_auth(keypair: identity.KeyPair, role: int, initiator_hello: bytes, responder_hello: bytes,
              other_nonce: bytes) -> bytes:
    """This side's Auth signature; ``other_nonce`` is the nonce from the peer's Hello."""
    return keypair.sign(identity.DOMAIN_AUTH, auth_payload(role, initiator_hello, responder_hello, other_nonce))


def verify_auth(public_key: bytes, role: int, initiator_hello: bytes, responder_hello: bytes,
                own_nonce: bytes, signature: bytes) -> None:
    """Check the peer's Auth: ``role`` is the peer's role, ``own_nonce`` the nonce this side sent.

    Raises :class:`WireError` (``bad-signature``, ``invalid-public-key``, ``wrong-field-length``).
    """
    identity.verify(public_key, identity.DOMAIN_AUTH,
                    auth_payload(role, initiator_hello, responder_hello, own_nonce), signature)


@dataclass(frozen=True)
class PeerHello:
    """What a valid Hello established about the peer."""

    version: int
    record: VerifiedRecord
    nonce: bytes
    capabilities: tuple[int, ...]
    #: Largest frame the peer accepts (its announcement, defaulted and capped).
    max_frame_size: int
    agent: str


def check_hello(hello: frame_pb2.Hello, network_id: str, now: int, *,
                min_version: int = limits.PROTOCOL_VERSION,
                max_version: int = limits.PROTOCOL_VERSION) -> PeerHello:
    """Validate a received Hello (already decoded by :mod:`pex_client.framing`).

    Checks, in order: version overlap (``UNSUPPORTED_VERSION``), network id (``WRONG_NETWORK``),
    max frame size (``PROTOCOL_VIOLATION`` if non-zero and below 16 KiB), the record
    (``AUTH_FAILED``, with the record's :class:`WireError` as ``cause``). Raises
    :class:`HandshakeError`.
    """
    version = negotiate_version(min_version, max_version, hello.min_version, hello.max_version)
    try:
        check_network_id(hello.network_id)
    except WireError as exc:
        raise HandshakeError(frame_pb2.ERROR_CODE_WRONG_NETWORK, exc.message, exc) from None
    if hello.network_id != network_id:
        error = WireError("wrong-network", f'network id "{hello.network_id}", expected "{network_id}"')
        raise HandshakeError(frame_pb2.ERROR_CODE_WRONG_NETWORK, error.message, error)
    if hello.max_frame_size != 0 and hello.max_frame_size < limits.MIN_FRAME_SIZE:
        raise HandshakeError(frame_pb2.ERROR_CODE_PROTOCOL_VIOLATION,
                             f"max_frame_size {hello.max_frame_size} is below {limits.MIN_FRAME_SIZE}")
    if not hello.HasField("record"):
        error = WireError("missing-field", "missing hello.record")
        raise HandshakeError(frame_pb2.ERROR_CODE_AUTH_FAILED, error.message, error)
    try:
        record = verify_signed_record(hello.record, network_id, now)
    except WireError as exc:
        raise HandshakeError(frame_pb2.ERROR_CODE_AUTH_FAILED, f"invalid Hello record: {exc.message}", exc) from None
    peer_max = hello.max_frame_size or limits.MAX_FRAME_SIZE
    return PeerHello(
        version=version,
        record=record,
        nonce=bytes(hello.nonce),
        capabilities=tuple(hello.capabilities),
        max_frame_size=min(peer_max, limits.MAX_FRAME_SIZE),
        agent=hello.agent,
    )
