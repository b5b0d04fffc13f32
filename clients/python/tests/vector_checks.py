"""Checks of golden vector files (format: Tests/Vectors/README.md), shared by the tests of the
Python-produced and the Swift-produced vectors."""

from __future__ import annotations

from google.protobuf import json_format

from pex.v1 import frame_pb2, record_pb2
from pex_client import framing, handshake, identity, multiaddr, records, varint
from pex_client.errors import WireError


def check_frames(vectors: list[dict]) -> None:
    """Decode every frame, compare it to its proto3 JSON form, re-serialise and compare bytes."""
    assert vectors, "no frame vectors"
    names = set()
    for v in vectors:
        name = v["name"]
        assert name not in names, f"duplicate vector name {name}"
        names.add(name)
        data = bytes.fromhex(v["frame_hex"])
        delimited = bytes.fromhex(v["delimited_hex"])
        assert delimited == varint.encode(len(data)) + data, name
        frame, consumed = framing.decode_delimited(delimited, decompress=False)
        assert consumed == len(delimited), name
        assert json_format.MessageToDict(frame, preserving_proto_field_name=True) == v["frame"], name
        assert framing.serialize(frame) == data, name
        if "unknown_field" in v:
            assert framing.frame_kind(frame) == "unknown", name
            assert framing.unknown_field_number(frame) == v["unknown_field"], name
            continue
        rebuilt = json_format.ParseDict(v["frame"], frame_pb2.Frame())
        assert framing.serialize(rebuilt) == data, name
        if framing.frame_kind(frame) == "compressed":
            inner = framing.decode_frame(data)
            assert framing.frame_kind(inner) != "compressed", name
            assert len(framing.serialize(inner)) == frame.compressed.uncompressed_size, name


def frame_stream_error(stream: bytes) -> str | None:
    """The reason a byte stream of frames is rejected, or None if every frame is accepted."""
    reader = framing.FrameReader()
    try:
        reader.feed(stream)
        reader.close()
    except WireError as exc:
        return exc.reason
    return None


def check_frames_invalid(vectors: list[dict]) -> None:
    assert vectors, "no invalid frame vectors"
    for v in vectors:
        assert frame_stream_error(bytes.fromhex(v["stream_hex"])) == v["reason"], v["name"]


def check_keys(v: dict) -> identity.KeyPair:
    """The key fields of a vector agree with each other; returns the key pair."""
    kp = identity.KeyPair.from_seed(bytes.fromhex(v["seed_hex"]))
    assert kp.public_key_base64 == v["public_key_b64"]
    assert kp.secret_key_base64 == v["secret_key_b64"]
    assert kp.peer_id == v["peer_id"]
    assert identity.KeyPair.from_secret_base64(v["secret_key_b64"]).public_key == kp.public_key
    assert identity.public_key_from_peer_id(v["peer_id"]) == kp.public_key
    assert identity.public_key_from_base64(v["public_key_b64"]) == kp.public_key
    return kp


def check_records(vectors: list[dict]) -> None:
    """Every record verifies (or fails with the given reason) and its fields match."""
    assert vectors, "no record vectors"
    assert any(v["valid"] for v in vectors) and any(not v["valid"] for v in vectors)
    for v in vectors:
        name = v["name"]
        kp = check_keys(v)
        signed_bytes = bytes.fromhex(v["signed_hex"])
        signed = record_pb2.SignedPeerRecord.FromString(signed_bytes)
        assert signed.record.hex() == v["record_hex"], name
        assert signed.signature.hex() == v["signature_hex"], name
        assert signed.SerializeToString(deterministic=True) == signed_bytes, name
        assert v["valid"] == (v["reason"] is None), name
        try:
            verified = records.verify_signed_record(signed, v["network"], v["now"])
            reason = None
        except WireError as exc:
            reason = exc.reason
        assert reason == v["reason"], f"{name}: got {reason}, expected {v['reason']}"
        fields = v["record"]
        if fields is not None:
            record = records.decode_record(signed.record)
            assert identity.b64encode(record.public_key) == fields["public_key_b64"], name
            assert record.seq == fields["seq"], name
            assert record.network_id == fields["network_id"], name
            assert record.expires_at == fields["expires_at"], name
            assert [bytes(a).hex() for a in record.addresses] == v["addresses_hex"], name
            assert len(fields["addresses"]) == len(v["addresses_hex"]), name
            for text, hex_ in zip(fields["addresses"], v["addresses_hex"]):
                if text is not None:
                    assert multiaddr.to_bytes(text).hex() == hex_, name
                    assert multiaddr.to_text(bytes.fromhex(hex_)) == text, name
        if reason is None:
            assert fields is not None, name
            assert verified.public_key == kp.public_key, name
            assert verified.peer_id == v["peer_id"], name
            assert verified.multiaddrs == fields["addresses"], name
            # Ed25519 is deterministic: the same key signs the same bytes identically.
            assert kp.sign(identity.DOMAIN_PEER_RECORD, signed.record) == signed.signature, name


def check_auth(v: dict) -> None:
    """A handshake transcript: Hellos, hashes, payloads and signatures are all consistent."""
    sides = {name: v[name] for name in ("initiator", "responder")}
    hellos = {name: bytes.fromhex(side["hello_frame_hex"]) for name, side in sides.items()}
    nonces = {name: bytes.fromhex(side["nonce_hex"]) for name, side in sides.items()}
    for name, side in sides.items():
        other = "responder" if name == "initiator" else "initiator"
        kp = check_keys(side)
        role = handshake.ROLE_INITIATOR if name == "initiator" else handshake.ROLE_RESPONDER
        assert side["role"] == role
        assert bytes.fromhex(side["hello_delimited_hex"]) == framing.delimit(hellos[name])
        frame = framing.decode_frame(hellos[name])
        assert framing.frame_kind(frame) == "hello"
        assert frame.hello.nonce == nonces[name]
        # The other side accepts this Hello, and it carries this side's key.
        peer = handshake.check_hello(frame.hello, v["network_id"], v["now"])
        assert peer.version == v["negotiated_version"]
        assert peer.record.public_key == kp.public_key
        assert handshake.hello_hash(hellos[name]).hex() == side["hello_hash_hex"]
        payload = handshake.auth_payload(role, hellos["initiator"], hellos["responder"], nonces[other])
        assert payload.hex() == side["auth_payload_hex"]
        assert identity.signing_message(identity.DOMAIN_AUTH, payload).hex() == side["signed_message_hex"]
        signature = bytes.fromhex(side["signature_hex"])
        handshake.verify_auth(kp.public_key, role, hellos["initiator"], hellos["responder"], nonces[other], signature)
        assert handshake.sign_auth(kp, role, hellos["initiator"], hellos["responder"], nonces[other]) == signature
        auth = framing.decode_frame(bytes.fromhex(side["auth_frame_hex"]))
        assert auth.auth.signature == signature
        assert bytes.fromhex(side["auth_delimited_hex"]) == framing.delimit(bytes.fromhex(side["auth_frame_hex"]))
