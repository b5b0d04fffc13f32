"""Signed peer records: creation and full verification.

A PeerRecord is signed over its serialised bytes, and those exact bytes travel in
``SignedPeerRecord.record``: a verifier never re-serialises, so every implementation checks the
signature over the bytes it received.

Verification order (the first failing step names the error; it is the order of the Swift
implementation, ``SignedPeerRecord.parse`` then ``UnverifiedPeerRecord.verify``):

1. signed record — ``record`` non-empty (``missing-field``), at most 2048 bytes
   (``field-too-long``), signature 64 bytes (``wrong-field-length``);
2. record decoding (:func:`parse_record`) — wire format (``malformed``), key 32 bytes
   (``wrong-field-length``), 1 to 10 addresses (``too-few-addresses``, ``too-many-addresses``),
   each at most 256 bytes (``field-too-long``), network id UTF-8 without NUL (``invalid-utf8``,
   ``malformed``) and 1–64 characters of ``[a-z0-9._-]`` (``bad-network-id``);
3. network id equal to the expected one (``wrong-network``);
4. each address in turn: a valid multiaddr (``bad-address``) that can be dialled, with a
   ``/p2p`` suffix, if any, naming the record's own key (``undialable-address``);
5. key — an acceptable Ed25519 point (``invalid-public-key``);
6. signature (``bad-signature``);
7. seq ≥ 1 (``zero-seq``);
8. expiry — ``expires_at > now`` (``expired``) and ``expires_at ≤ now + 30 days``
   (``expiry-too-far``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from pex.v1 import record_pb2

from . import identity, limits, multiaddr
from .errors import MultiaddrError, WireError
from .wirecheck import check_message, check_string

SignedPeerRecord = record_pb2.SignedPeerRecord
PeerRecord = record_pb2.PeerRecord

_NETWORK_ID = re.compile(r"[a-z0-9._-]{1,64}")


def check_network_id(network_id: str) -> None:
    """Raise ``bad-network-id`` unless ``network_id`` is 1–64 characters of ``[a-z0-9._-]``."""
    if not _NETWORK_ID.fullmatch(network_id):
        raise WireError("bad-network-id", f'invalid network id "{network_id}"')


@dataclass(frozen=True)
class VerifiedRecord:
    """A peer record whose structure, network, addresses, signature and expiry were checked."""

    public_key: bytes
    seq: int
    #: Binary multiaddrs, as signed.
    addresses: tuple[bytes, ...]
    network_id: str
    expires_at: int
    #: The signed record as received, to relay unchanged.
    signed: SignedPeerRecord

    @property
    def peer_id(self) -> str:
        return identity.peer_id_from_public_key(self.public_key)

    @property
    def multiaddrs(self) -> list[str]:
        """The addresses in text form."""
        return [multiaddr.to_text(a) for a in self.addresses]


def encode_record(public_key: bytes, seq: int, addresses: Iterable[bytes], network_id: str, expires_at: int) -> bytes:
    """Serialise a PeerRecord exactly as it will be signed (no validation)."""
    record = PeerRecord(public_key=public_key, seq=seq, addresses=list(addresses),
                        network_id=network_id, expires_at=expires_at)
    return record.SerializeToString(deterministic=True)


def sign_record_bytes(keypair: identity.KeyPair, record_bytes: bytes) -> SignedPeerRecord:
    """Sign already serialised PeerRecord bytes (no validation)."""
    return SignedPeerRecord(record=record_bytes, signature=keypair.sign(identity.DOMAIN_PEER_RECORD, record_bytes))


def _address_bytes(address: str | bytes) -> bytes:
    return multiaddr.to_bytes(address) if isinstance(address, str) else bytes(address)


def make_signed_record(keypair: identity.KeyPair, seq: int, addresses: Iterable[str | bytes],
                       network_id: str, expires_at: int) -> SignedPeerRecord:
    """Create and sign this node's record.

    ``addresses`` are text or binary multiaddrs. The result is checked as a verifier would check
    it (at a clock just before ``expires_at``, so any future expiry is accepted here), so a record
    this returns is never rejected for its content. Raises :class:`WireError` or
    :class:`~pex_client.errors.MultiaddrError` for a bad text address.
    """
    binary = [_address_bytes(a) for a in addresses]
    signed = sign_record_bytes(keypair, encode_record(keypair.public_key, seq, binary, network_id, expires_at))
    # Lifetime is the verifier's concern (it depends on its clock); content is checked here.
    verify_signed_record(signed, network_id, max(expires_at - 1, 0))
    return signed


def decode_record(record_bytes: bytes) -> PeerRecord:
    """Parse PeerRecord bytes without checking field values; raises ``malformed`` or ``invalid-utf8``."""
    check_message(record_bytes, PeerRecord.DESCRIPTOR, "record")
    try:
        return PeerRecord.FromString(record_bytes)
    except DecodeError as exc:  # pragma: no cover - the structural walk rejects these first
        raise WireError("malformed", f"malformed record: {exc}") from None


def _raw_record_class():
    """A twin of PeerRecord whose ``network_id`` is ``bytes``.

    The protobuf runtime refuses to parse a string field that is not UTF-8, but the key and
    address checks come before the UTF-8 check (as in the Swift codec), so the record is parsed
    with the network id as raw bytes first.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    file_proto = descriptor_pb2.FileDescriptorProto(name="pex_client/raw_record.proto", package="pex_client.raw",
                                                    syntax="proto3")
    PeerRecord.DESCRIPTOR.CopyToProto(file_proto.message_type.add())
    for field in file_proto.message_type[0].field:
        if field.name == "network_id":
            field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    descriptor = pool.FindMessageTypeByName("pex_client.raw.PeerRecord")
    if hasattr(message_factory, "GetMessageClass"):  # pragma: no cover - protobuf >= 4.22
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


_RawPeerRecord = _raw_record_class()


def parse_record(record_bytes: bytes) -> PeerRecord:
    """Decode PeerRecord bytes and check every field that needs neither key math nor a clock.

    Checks, in this order: wire format (``malformed``), key of 32 bytes (``wrong-field-length``),
    1 to 10 addresses (``too-few-addresses``, ``too-many-addresses``) of at most 256 bytes each
    (``field-too-long``), network id UTF-8 without NUL (``invalid-utf8``, ``malformed``) and well
    formed (``bad-network-id``). Addresses are not parsed here.
    """
    check_message(record_bytes, PeerRecord.DESCRIPTOR, "PeerRecord", check_strings=False)
    raw = _RawPeerRecord.FromString(record_bytes)
    if len(raw.public_key) != limits.PUBLIC_KEY_LENGTH:
        raise WireError("wrong-field-length",
                        f"PeerRecord.public_key is {len(raw.public_key)} bytes, expected {limits.PUBLIC_KEY_LENGTH}")
    count = len(raw.addresses)
    if count < limits.MIN_ADDRESSES_PER_RECORD:
        raise WireError("too-few-addresses", "record has no address")
    if count > limits.MAX_ADDRESSES_PER_RECORD:
        raise WireError("too-many-addresses", f"record has {count} addresses, limit {limits.MAX_ADDRESSES_PER_RECORD}")
    for address in raw.addresses:
        if len(address) > limits.MAX_ADDRESS_LENGTH:
            raise WireError("field-too-long",
                            f"PeerRecord.addresses is {len(address)} long, limit {limits.MAX_ADDRESS_LENGTH}")
    check_string(raw.network_id, "PeerRecord.network_id")
    record = PeerRecord(public_key=raw.public_key, seq=raw.seq, addresses=raw.addresses,
                        network_id=raw.network_id.decode("utf-8"), expires_at=raw.expires_at)
    check_network_id(record.network_id)
    return record


def verify_signed_record(signed: SignedPeerRecord, network_id: str, now: int) -> VerifiedRecord:
    """Fully verify ``signed`` for network ``network_id`` at unix time ``now``.

    Returns the :class:`VerifiedRecord`; raises :class:`WireError` for the first failing check in
    the order of the module docstring. The verifier's own ``network_id`` is checked beforehand
    (``bad-network-id``): it is configuration, not part of the record.
    """
    check_network_id(network_id)
    # 1. signed record
    if not signed.record:
        raise WireError("missing-field", "missing SignedPeerRecord.record")
    if len(signed.record) > limits.MAX_RECORD_SIZE:
        raise WireError("field-too-long",
                        f"SignedPeerRecord.record is {len(signed.record)} long, limit {limits.MAX_RECORD_SIZE}")
    if len(signed.signature) != limits.SIGNATURE_LENGTH:
        raise WireError("wrong-field-length",
                        f"SignedPeerRecord.signature is {len(signed.signature)} bytes, "
                        f"expected {limits.SIGNATURE_LENGTH}")
    # 2. record decoding
    record = parse_record(signed.record)
    # 3. network
    if record.network_id != network_id:
        raise WireError("wrong-network", f'network id "{record.network_id}", expected "{network_id}"')
    # 4. addresses
    own_peer_id: str | None = None
    for index, address in enumerate(record.addresses):
        try:
            problem = multiaddr.undialable_reason(address)
            peer = multiaddr.peer_id_suffix(address)
        except MultiaddrError as exc:
            raise WireError("bad-address", f"address {index}: {exc.message}") from None
        if problem is None and peer is not None:
            if own_peer_id is None:
                own_peer_id = identity.peer_id_from_public_key(record.public_key)
            if peer != own_peer_id:
                problem = "/p2p names another key"
        if problem is not None:
            raise WireError("undialable-address", f"address {index} is not dialable: {problem}")
    # 5. key and 6. signature (identity.verify checks the key first)
    identity.verify(record.public_key, identity.DOMAIN_PEER_RECORD, signed.record, signed.signature)
    # 7. seq
    if record.seq == 0:
        raise WireError("zero-seq", "record seq is 0")
    # 8. expiry
    if record.expires_at <= now:
        raise WireError("expired", f"record expired at {record.expires_at} (now {now})")
    if record.expires_at > now + limits.MAX_RECORD_LIFETIME_SECONDS:
        raise WireError("expiry-too-far", f"record expiry {record.expires_at} is too far after now ({now})")
    return VerifiedRecord(
        public_key=bytes(record.public_key),
        seq=record.seq,
        addresses=tuple(bytes(a) for a in record.addresses),
        network_id=record.network_id,
        expires_at=record.expires_at,
        signed=signed,
    )
