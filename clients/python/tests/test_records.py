"""Peer record creation, verification order and the peer table."""

from __future__ import annotations

import pytest

from conftest import NETWORK, NOW, FakeClock, key, signed
from pex.v1 import record_pb2
from pex_client import identity, limits, multiaddr, records
from pex_client.errors import MultiaddrError, WireError
from pex_client.table import PeerTable

ADDR = "/ip4/192.0.2.1/tcp/4001"


def raw(seed: int = 1, seq: int = 1, addresses=None, network: str = NETWORK, expires_at: int = NOW + 60,
        public_key: bytes | None = None) -> record_pb2.SignedPeerRecord:
    binary = [multiaddr.to_bytes(ADDR)] if addresses is None else addresses
    data = records.encode_record(key(seed).public_key if public_key is None else public_key, seq, binary, network,
                                 expires_at)
    return records.sign_record_bytes(key(seed), data)


def reason(signed_record, network: str = NETWORK, now: int = NOW) -> str | None:
    try:
        records.verify_signed_record(signed_record, network, now)
    except WireError as exc:
        return exc.reason
    return None


def test_make_and_verify() -> None:
    s = records.make_signed_record(key(1), 3, [ADDR, multiaddr.to_bytes("/dns/a.example/tcp/1")], NETWORK, NOW + 60)
    verified = records.verify_signed_record(s, NETWORK, NOW)
    assert verified.public_key == key(1).public_key and verified.seq == 3
    assert verified.multiaddrs == [ADDR, "/dns/a.example/tcp/1"]
    assert verified.network_id == NETWORK and verified.expires_at == NOW + 60
    assert verified.peer_id == key(1).peer_id and verified.signed is s
    # The signature covers the exact record bytes under the peer-record domain.
    identity.verify(key(1).public_key, identity.DOMAIN_PEER_RECORD, s.record, s.signature)
    decoded = records.decode_record(s.record)
    assert decoded.seq == 3 and decoded.SerializeToString() == s.record


def test_make_signed_record_refuses_bad_content() -> None:
    with pytest.raises(WireError) as info:
        records.make_signed_record(key(1), 0, [ADDR], NETWORK, NOW + 60)
    assert info.value.reason == "zero-seq"
    with pytest.raises(WireError) as info:
        records.make_signed_record(key(1), 1, [], NETWORK, NOW + 60)
    assert info.value.reason == "too-few-addresses"
    with pytest.raises(WireError) as info:
        records.make_signed_record(key(1), 1, [ADDR], "Bad", NOW + 60)
    assert info.value.reason == "bad-network-id"
    with pytest.raises(MultiaddrError):
        records.make_signed_record(key(1), 1, ["/ip4/1.2.3"], NETWORK, NOW + 60)
    with pytest.raises(WireError) as info:
        records.make_signed_record(key(1), 1, ["/ip4/192.0.2.1"], NETWORK, NOW + 60)
    assert info.value.reason == "undialable-address"


@pytest.mark.parametrize("network", ["a", "pex-test", "a.b_c-9", "z" * 64])
def test_network_id_ok(network: str) -> None:
    records.check_network_id(network)


@pytest.mark.parametrize("network", ["", "z" * 65, "Pex", "pex test", "pex/test", "pèx", "pex\n"])
def test_network_id_bad(network: str) -> None:
    with pytest.raises(WireError) as info:
        records.check_network_id(network)
    assert info.value.reason == "bad-network-id"


def test_expected_network_must_be_valid() -> None:
    assert reason(raw(), network="Bad") == "bad-network-id"


def test_expiry_boundaries() -> None:
    assert reason(raw(expires_at=NOW + 1)) is None
    assert reason(raw(expires_at=NOW)) == "expired"
    assert reason(raw(expires_at=0)) == "expired"
    assert reason(raw(expires_at=NOW + limits.MAX_RECORD_LIFETIME_SECONDS)) is None
    assert reason(raw(expires_at=NOW + limits.MAX_RECORD_LIFETIME_SECONDS + 1)) == "expiry-too-far"
    assert reason(raw(expires_at=limits.UINT64_MAX)) == "expiry-too-far"


def test_address_count_boundaries() -> None:
    many = [multiaddr.to_bytes(f"/ip4/192.0.2.{i}/tcp/1") for i in range(11)]
    assert reason(raw(addresses=many[:10])) is None
    assert reason(raw(addresses=many)) == "too-many-addresses"
    assert reason(raw(addresses=[])) == "too-few-addresses"


def test_address_errors_name_the_index() -> None:
    with pytest.raises(WireError) as info:
        records.verify_signed_record(raw(addresses=[multiaddr.to_bytes(ADDR), b"\x05"]), NETWORK, NOW)
    assert info.value.reason == "bad-address" and info.value.message.startswith("address 1:")
    with pytest.raises(WireError) as info:
        records.verify_signed_record(raw(addresses=[multiaddr.to_bytes("/ip4/192.0.2.1/tcp/0")]), NETWORK, NOW)
    assert info.value.reason == "undialable-address" and "address 0" in info.value.message


def test_structure_errors() -> None:
    good = raw()
    assert reason(record_pb2.SignedPeerRecord(signature=good.signature)) == "missing-field"
    assert reason(record_pb2.SignedPeerRecord(record=good.record, signature=good.signature + b"\x00")) \
        == "wrong-field-length"
    assert reason(record_pb2.SignedPeerRecord(record=good.record)) == "wrong-field-length"
    assert reason(records.sign_record_bytes(key(1), bytes(2049))) == "field-too-long"
    assert reason(records.sign_record_bytes(key(1), b"\x0a\x05")) == "malformed"
    assert reason(raw(public_key=bytes(33))) == "wrong-field-length"
    assert reason(raw(public_key=b"")) == "wrong-field-length"
    assert reason(raw(seq=0)) == "zero-seq"
    with pytest.raises(WireError) as info:
        records.decode_record(b"\x22\x01\xff")
    assert info.value.reason == "invalid-utf8"


def test_verification_order() -> None:
    """When several checks fail, the earliest step in the documented order is reported."""
    good = raw()
    unsigned = bytes(64)
    # Signed-record checks come before decoding: a wrong signature length beats a malformed record.
    assert reason(record_pb2.SignedPeerRecord(record=b"\xff", signature=bytes(3))) == "wrong-field-length"
    # Decoding: key length, then address count, then address length, then the network id.
    assert reason(raw(public_key=bytes(31), addresses=[])) == "wrong-field-length"
    assert reason(raw(addresses=[], network="Bad Net")) == "too-few-addresses"
    assert reason(raw(addresses=[bytes(257)], network="Bad Net")) == "field-too-long"
    bad_utf8 = records.encode_record(key(1).public_key, 1, [bytes(257)], "", NOW + 60) + b"\x22\x02\xc3\x28"
    assert reason(records.sign_record_bytes(key(1), bad_utf8)) == "field-too-long"
    # The decoded network id is checked for syntax before it is compared.
    assert reason(raw(network="Other")) == "bad-network-id"
    # The network beats the addresses.
    assert reason(raw(network="other", addresses=[b"\x05"])) == "wrong-network"
    # Addresses are checked one by one: an undialable first address beats a garbage second one.
    tcp0 = multiaddr.to_bytes("/ip4/192.0.2.1/tcp/0")
    assert reason(raw(addresses=[tcp0, b"\x05"])) == "undialable-address"
    assert reason(raw(addresses=[b"\x05", tcp0])) == "bad-address"
    # Addresses beat the key and the signature.
    bad = raw(addresses=[b"\x05"], public_key=bytes([1] + [0] * 31))
    assert reason(record_pb2.SignedPeerRecord(record=bad.record, signature=unsigned)) == "bad-address"
    # The key beats the signature, the signature beats the seq, the seq beats the expiry.
    small_order = raw(public_key=bytes([1] + [0] * 31), seq=0, expires_at=NOW)
    assert reason(record_pb2.SignedPeerRecord(record=small_order.record, signature=unsigned)) == "invalid-public-key"
    zero_expired = raw(seq=0, expires_at=NOW)
    assert reason(record_pb2.SignedPeerRecord(record=zero_expired.record, signature=unsigned)) == "bad-signature"
    assert reason(zero_expired) == "zero-seq"
    assert reason(raw(expires_at=NOW)) == "expired"
    assert reason(good) is None


def test_address_too_long_is_rejected_while_decoding() -> None:
    with pytest.raises(WireError) as info:
        records.verify_signed_record(raw(addresses=[multiaddr.to_bytes(ADDR), bytes(257)]), NETWORK, NOW)
    assert info.value.reason == "field-too-long"
    assert info.value.message == "PeerRecord.addresses is 257 long, limit 256"
    # 256 bytes is the limit itself: decoding passes and the multiaddr is then judged.
    assert reason(raw(addresses=[bytes(256)])) == "bad-address"


def test_p2p_suffix_must_name_the_record_key() -> None:
    own = raw(addresses=[multiaddr.to_bytes(f"{ADDR}/p2p/{key(1).peer_id}")])
    assert reason(own) is None
    with pytest.raises(WireError) as info:
        records.verify_signed_record(raw(addresses=[multiaddr.to_bytes(ADDR),
                                                    multiaddr.to_bytes(f"{ADDR}/p2p/{key(2).peer_id}")]),
                                     NETWORK, NOW)
    assert info.value.reason == "undialable-address"
    assert info.value.message == "address 1 is not dialable: /p2p names another key"


def test_network_id_strings() -> None:
    base = records.encode_record(key(1).public_key, 1, [multiaddr.to_bytes(ADDR)], "", NOW + 60)
    assert reason(records.sign_record_bytes(key(1), base + b"\x22\x02\xc3\x28")) == "invalid-utf8"
    # protobuf-c strings end at a NUL: refused as malformed rather than silently cut.
    assert reason(records.sign_record_bytes(key(1), base + b"\x22\x03ab\x00")) == "malformed"
    assert reason(records.sign_record_bytes(key(1), base)) == "bad-network-id"
    parsed = records.parse_record(raw().record)
    assert parsed.network_id == NETWORK and parsed.seq == 1


def test_peer_table(clock: FakeClock) -> None:
    table = PeerTable(NETWORK, clock)
    assert len(table) == 0 and table.now() == NOW
    first, new = table.add_signed(signed(1, seq=2))
    assert new and key(1).public_key in table and table.get(key(1).public_key) == first
    assert table.add_signed(signed(1, seq=2))[1] is False  # same seq
    assert table.add_signed(signed(1, seq=1))[1] is False  # older
    newer, new = table.add_signed(signed(1, seq=3, addresses=("/ip4/192.0.2.9/tcp/1",)))
    assert new and table.get(key(1).public_key).seq == 3
    table.add_signed(signed(2, expires_at=NOW + 10))
    table.add_signed(signed(3))
    assert [r.public_key for r in table.records()] == sorted(key(i).public_key for i in (1, 2, 3))
    assert len(table.records(limit=2)) == 2
    clock.now = NOW + 10  # record 2 expires
    assert key(2).public_key not in table and table.get(key(2).public_key) is None
    assert len(table) == 2
    with pytest.raises(WireError) as info:
        table.add_signed(signed(4, network="other"))
    assert info.value.reason == "wrong-network"
    other = records.verify_signed_record(signed(5, network="other"), "other", NOW)
    assert table.add(other) is False
    with pytest.raises(WireError):
        PeerTable("Bad Network")
