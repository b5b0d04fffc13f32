"""Bad clients against a running pexd, each met with the reaction docs/PROTOCOL.md specifies
(§14.2, §19.2, §20), while an honest peer stays connected and a newcomer is still served."""

from __future__ import annotations

import time

from pex.v1 import frame_pb2

from conftest import NETWORK, wait_for
from pex_client import framing, identity, varint
from rawpeer import RawPeer, signed_record


def honest_pair(cluster, **settings):
    """Node a (the target, with ``settings`` applied) and node b connected to it."""
    a = cluster.node("a")
    for name, value in settings.items():
        setattr(a, name, value)
    a.start()
    b = cluster.node("b").start([a.address])
    kb = b.key
    wait_for(lambda: kb in a.connected_keys(), what="the honest peer to connect")
    return a, b, kb


def still_serving(cluster, a, kb: str) -> None:
    """The honest peer kept its connection, and a newcomer joins through a and learns b."""
    assert kb in a.connected_keys(), "the honest peer lost its connection"
    newcomer = cluster.node().start([a.address])
    kn = newcomer.key
    wait_for(lambda: kb in newcomer.known_keys() and kn in a.known_keys(), what="a newcomer to be served")
    assert a.process.poll() is None
    cluster.assert_no_offences(*(n for n in cluster.nodes if n is not a))
    assert not [line for line in a.offences() if any(n.key in line for n in cluster.nodes)], \
        "an honest node was charged"


def test_half_frame_then_silence_is_closed_at_the_handshake_timeout(cluster) -> None:
    a, b, kb = honest_pair(cluster, connection_timeout="2s")
    # A length prefix announcing 200 bytes, 20 of them, then nothing (slowloris, §23.1).
    with RawPeer(a.port, NETWORK, source="127.0.0.2") as slow:
        slow.send_bytes(varint.encode(200) + b"\x0a" * 20)
        opened = time.monotonic()
        assert slow.wait_closed(8), "the node kept a half-sent frame open past its handshake timeout"
        took = time.monotonic() - opened
    assert 1.5 <= took <= 5, f"closed after {took:.2f} s; the handshake timeout is 2 s"
    kinds = [framing.frame_kind(f) for f in slow.received]
    assert kinds == ["hello", "error"], kinds
    assert slow.errors() == [(frame_pb2.ERROR_CODE_TIMEOUT, True)]
    assert len(a.offences(subject="127.0.0.2")) == 0, "a handshake timeout is not an offence (§14.2)"
    still_serving(cluster, a, kb)


def test_request_flood_is_rate_limited_then_disconnected_then_banned(cluster) -> None:
    a, b, kb = honest_pair(cluster)
    spammer = identity.KeyPair.generate()
    key = spammer.public_key_base64
    record = signed_record(spammer, NETWORK)

    def flood(peer: RawPeer, count: int) -> None:
        peer.handshake()
        peer.requests(range(1000, 1000 + count))
        assert peer.wait_closed(10), "the node did not close the flooding connection"

    # Connection 1: the request bucket (burst 3) answers a few; every request over it gets a
    # non-closing RATE_LIMITED and 5 points; the 10th such (50 points) also closes (§20.1-2).
    with RawPeer(a.port, NETWORK, keypair=spammer, record=record) as first:
        flood(first, 40)
    answered = len(first.frames("peer_response"))
    assert 3 <= answered <= 6, f"{answered} requests answered; the burst is 3 (plus what refills meanwhile)"
    assert first.errors() == [(frame_pb2.ERROR_CODE_RATE_LIMITED, False)] * 10 + [(frame_pb2.ERROR_CODE_RATE_LIMITED, True)]
    assert kb in a.connected_keys()
    # Reconnections of the same key: fresh buckets, but the score stays (decay takes hours), so
    # each first excess request (55, 60, …) closes again, and the one reaching 100 bans the key,
    # closing with BANNED instead (§20.3).
    for attempt in range(2, 12):
        with RawPeer(a.port, NETWORK, keypair=spammer, record=record) as again:
            flood(again, 8)
        last = again.errors()[-1]
        if attempt < 11:
            assert again.errors() == [(frame_pb2.ERROR_CODE_RATE_LIMITED, False), (frame_pb2.ERROR_CODE_RATE_LIMITED, True)], \
                f"connection {attempt}: {again.errors()}"
        else:
            assert last == (frame_pb2.ERROR_CODE_BANNED, True), f"connection {attempt}: {again.errors()}"
    assert a.metric("pex_bans_total") == 1
    assert len(a.offences("rate-limited", subject=key)) == 20, "5 points per refused request, banned at 100"
    # Then the banned key is refused in the handshake.
    with RawPeer(a.port, NETWORK, keypair=spammer, record=record) as third:
        third.hello()
        assert third.wait_closed(10)
    assert third.errors() == [(frame_pb2.ERROR_CODE_BANNED, True)]
    assert key not in a.connected_keys()
    still_serving(cluster, a, kb)


def test_wrong_network_is_rejected_in_the_handshake_without_an_offence(cluster) -> None:
    a, b, kb = honest_pair(cluster)
    failed = a.metric("pex_handshakes_failed_total")
    with RawPeer(a.port, "other-net", source="127.0.0.3") as stranger:
        stranger.hello()
        assert stranger.wait_closed(10), "the node kept a peer of another network"
    assert [framing.frame_kind(f) for f in stranger.received] == ["hello", "error"]
    assert stranger.errors() == [(frame_pb2.ERROR_CODE_WRONG_NETWORK, True)]
    assert stranger.received[0].hello.network_id == NETWORK
    assert a.metric("pex_handshakes_failed_total") == failed + 1
    assert len(a.offences(subject="127.0.0.3")) == 0, "another network is not an offence (§14.2)"
    # The same address, on the right network, is welcome.
    with RawPeer(a.port, NETWORK, source="127.0.0.3") as member:
        member.handshake()
        wait_for(lambda: member.keypair.public_key_base64 in a.connected_keys(), what="the retry to be ready")
    still_serving(cluster, a, kb)


def test_bad_signature_is_rejected_and_the_sender_scored(cluster) -> None:
    a, b, kb = honest_pair(cluster)
    forged_key = identity.KeyPair.generate()
    forged = signed_record(forged_key, NETWORK)
    forged.signature = bytes([forged.signature[0] ^ 1]) + forged.signature[1:]
    with RawPeer(a.port, NETWORK) as liar:
        liar.handshake()
        wait_for(lambda: liar.keypair.public_key_base64 in a.connected_keys(), what="the handshake")
        liar.announce([forged])
        # bad-signature is 50 points: the disconnect threshold, closed with INVALID_RECORD (§20.2).
        assert liar.wait_closed(10), "the node kept the peer that sent a forged record"
    assert liar.errors() == [(frame_pb2.ERROR_CODE_INVALID_RECORD, True)]
    assert a.metric("pex_rejections_total", reason="bad-signature") == 1
    assert forged_key.public_key_base64 not in a.known_keys()
    assert len(a.offences("bad-signature")) == 1
    still_serving(cluster, a, kb)
