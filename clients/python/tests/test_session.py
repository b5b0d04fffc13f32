"""The sans-IO session: handshake, requests, announcements and every way a peer can misbehave."""

from __future__ import annotations

import pytest

from conftest import NETWORK, NOW, FakeClock, key, signed
from pex.v1 import frame_pb2, record_pb2
from pex_client import framing, identity, limits, records
from pex_client.session import (HandshakeComplete, PeerRequestAnswered, PeersReceived, PingReceived, PongReceived,
                                RecordsReceived, RemoteError, Session, SessionClosed, State, UnknownFrame)
from pex_client.table import PeerTable

Frame = frame_pb2.Frame


def make(seed: int, initiator: bool, *, network: str = NETWORK, clock: FakeClock | None = None,
         record: record_pb2.SignedPeerRecord | None = None, keypair: identity.KeyPair | None = None,
         **kwargs) -> Session:
    clock = clock or FakeClock()
    return Session(keypair or key(seed), record or signed(seed, expires_at=NOW + 3600), network,
                   initiator=initiator, clock=clock, table=kwargs.pop("table", PeerTable(network, clock)), **kwargs)


def pump(a: Session, b: Session, chunk: int | None = None) -> tuple[list, list]:
    """Deliver queued bytes both ways until both sides are quiet."""
    events_a: list = []
    events_b: list = []
    while True:
        out_a, out_b = a.data_to_send(), b.data_to_send()
        if not out_a and not out_b:
            return events_a, events_b
        for data, target, events in ((out_a, b, events_b), (out_b, a, events_a)):
            step = chunk or max(len(data), 1)
            for i in range(0, len(data), step):
                events += target.receive_data(data[i : i + step])


def connected(**kwargs) -> tuple[Session, Session]:
    a, b = make(1, True, **kwargs), make(2, False)
    a.start()
    b.start()
    events_a, events_b = pump(a, b)
    assert [type(e) for e in events_a] == [HandshakeComplete]
    assert [type(e) for e in events_b] == [HandshakeComplete]
    return a, b


def frames_in(data: bytes) -> list[Frame]:
    return framing.FrameReader().feed(data, decompress=False)


def sent_error(session: Session) -> frame_pb2.Error:
    frames = frames_in(session.data_to_send())
    assert framing.frame_kind(frames[-1]) == "error"
    return frames[-1].error


def test_handshake() -> None:
    a, b = make(1, True), make(2, False)
    assert a.role == 1 and b.role == 2 and a.peer_id is None
    a.start()
    b.start()
    events_a, events_b = pump(a, b)
    assert a.ready and b.ready and a.state is State.READY
    assert events_a[0].peer.record.public_key == key(2).public_key
    assert events_b[0].peer.record.public_key == key(1).public_key
    assert a.peer_id == key(2).peer_id and b.peer_id == key(1).peer_id
    assert a.peer.version == 1 and a.deflate and b.deflate
    # Each side stored the other's proven record.
    assert key(2).public_key in a.table and key(1).public_key in b.table


def test_handshake_byte_by_byte() -> None:
    a, b = make(1, True), make(2, False)
    a.start()
    b.start()
    events_a, events_b = pump(a, b, chunk=1)
    assert a.ready and b.ready
    assert isinstance(events_a[0], HandshakeComplete) and isinstance(events_b[0], HandshakeComplete)


def test_handshake_without_deflate_on_one_side() -> None:
    a, b = make(1, True, capabilities=()), make(2, False)
    a.start()
    b.start()
    pump(a, b)
    assert a.ready and not a.deflate and not b.deflate


def test_ping_pong() -> None:
    a, b = connected()
    nonce = a.send_ping()
    events_a, events_b = pump(a, b)
    assert events_b == [PingReceived(nonce)]
    assert events_a == [PongReceived(nonce, True)]
    b.receive_data(b"")
    a.receive_data(framing.encode_frame(Frame(pong=frame_pb2.Pong(nonce=nonce))))
    assert a.receive_data(framing.encode_frame(Frame(pong=frame_pb2.Pong(nonce=5)))) == [PongReceived(5, False)]
    assert a.send_ping(77) == 77


def test_peer_request_answered_from_table() -> None:
    a, b = connected()
    for seed in (3, 4, 5):
        b.table.add_signed(signed(seed))
    request_id = a.request_peers()
    events_a, events_b = pump(a, b)
    # The session serves its table: the 3 records plus the peer's own (b's own record is added by
    # the node that owns the table, not by the session).
    assert events_b == [PeerRequestAnswered(request_id, 4, 1)]
    (response,) = events_a
    assert isinstance(response, PeersReceived) and response.solicited and response.full and not response.more
    assert response.request_id == request_id and response.next == (b._epoch, 4) and response.rejected == []
    assert sorted(r.public_key for r in response.records) == sorted(key(i).public_key for i in (1, 3, 4, 5))
    assert all(key(i).public_key in a.table for i in (3, 4, 5))


def test_peer_request_pages_by_max_peers() -> None:
    a, b = connected()
    for seed in range(3, 8):
        b.table.add_signed(signed(seed))
    # One response per request: a page and a cursor; the requester continues from `next`.
    request_id = a.request_peers(max_peers=3)
    events_a, events_b = pump(a, b)
    assert events_b == [PeerRequestAnswered(request_id, 3, 1)]
    assert [(len(e.records), e.more, e.full) for e in events_a] == [(3, True, True)]
    follow_up = a.request_peers(max_peers=3, since=events_a[0].next)
    events_a, events_b = pump(a, b)
    assert events_b == [PeerRequestAnswered(follow_up, 3, 1)]
    assert [(len(e.records), e.more, e.full) for e in events_a] == [(3, False, False)]
    # A cursor of another epoch starts over with the full list.
    a.request_peers(max_peers=3, since=(b._epoch ^ 1, 3))
    events_a, _ = pump(a, b)
    assert [(len(e.records), e.more, e.full) for e in events_a] == [(3, True, True)]
    # Unsolicited once answered.
    b.table.add_signed(signed(9))
    response = Frame(peer_response=frame_pb2.PeerResponse(request_id=request_id, records=[signed(9)]))
    (event,) = a.receive_data(framing.encode_frame(response))
    assert not event.solicited and len(event.records) == 1


def test_peer_request_pages_by_frame_size_and_compresses() -> None:
    a = make(1, True, max_frame_size=limits.MIN_FRAME_SIZE)
    b = make(2, False)
    a.start()
    b.start()
    pump(a, b)
    long_names = tuple(f"/dns/{'a' * 60}.{'b' * 60}.{'c' * 60}.n{i}/tcp/4001" for i in range(10))
    for seed in range(3, 40):
        b.table.add_signed(signed(seed, addresses=long_names))
    request_id = a.request_peers()
    b.receive_data(a.data_to_send())
    out = b.data_to_send()
    reader = framing.FrameReader(limits.MIN_FRAME_SIZE)
    raws = reader.feed_raw(out)
    assert len(raws) == 1 and all(len(r) <= limits.MIN_FRAME_SIZE for r in raws), "one response per request"
    wrapped = [framing.decode_frame(r, decompress=False) for r in raws]
    assert {framing.frame_kind(f) for f in wrapped} == {"compressed"}
    assert all(f.compressed.uncompressed_size <= limits.MIN_FRAME_SIZE for f in wrapped)
    events = a.receive_data(out)
    total = sum(len(e.records) for e in events)
    assert events[-1].request_id == request_id and events[-1].more
    # Continue page by page; each page fits the requester's 16 KiB limit.
    while events[-1].more:
        a.request_peers(since=events[-1].next)
        b.receive_data(a.data_to_send())
        out = b.data_to_send()
        assert all(len(r) <= limits.MIN_FRAME_SIZE for r in framing.FrameReader(limits.MIN_FRAME_SIZE).feed_raw(out))
        events = a.receive_data(out)
        total += sum(len(e.records) for e in events)
    assert total == 38


def test_peer_request_max_records_per_message() -> None:
    a, b = connected()
    for i in range(1, 1001):
        kp = identity.KeyPair.from_seed(i.to_bytes(32, "big"))
        b.table.add(records.verify_signed_record(
            records.make_signed_record(kp, 1, ["/ip4/192.0.2.1/tcp/1"], NETWORK, NOW + 60), NETWORK, NOW))
    a.request_peers(max_peers=5000)
    events_a, events_b = pump(a, b)
    assert events_b[0].records == 1000 and events_b[0].responses == 1
    assert [(len(e.records), e.more) for e in events_a] == [(1000, True)]
    a.request_peers(max_peers=5000, since=events_a[0].next)
    events_a, _ = pump(a, b)
    assert [(len(e.records), e.more) for e in events_a] == [(1, False)]


def test_announcements_and_updates() -> None:
    a, b = connected()
    bad = records.sign_record_bytes(key(4), records.encode_record(key(4).public_key, 0, [bytes.fromhex("04c0000204060fa1")],
                                                                   NETWORK, NOW + 60))
    assert a.announce([signed(3), bad]) == 1
    _, events_b = pump(a, b)
    (event,) = events_b
    assert isinstance(event, RecordsReceived) and event.kind == "announcement"
    assert [r.public_key for r in event.records] == [key(3).public_key]
    assert [(i, e.reason) for i, e in event.rejected] == [(1, "zero-seq")]
    assert key(3).public_key in b.table and key(4).public_key not in b.table
    a.announce([signed(3, seq=2)], update=True)
    _, events_b = pump(a, b)
    assert events_b[0].kind == "update" and b.table.get(key(3).public_key).seq == 2


def test_announce_splits_at_1000_records() -> None:
    a, b = connected()
    many = [signed(3)] * 1001
    assert a.announce(many) == 2
    assert a.announce([]) == 0
    _, events_b = pump(a, b)
    assert [len(e.records) for e in events_b] == [1000, 1]


def test_remote_error_not_closing() -> None:
    a, b = connected()
    error = Frame(error=frame_pb2.Error(code=frame_pb2.ERROR_CODE_RATE_LIMITED, message="slow", closing=False))
    assert a.receive_data(framing.encode_frame(error)) == [RemoteError(6, "slow", False)]
    assert a.ready


def test_remote_closing_error_ends_session() -> None:
    a, b = connected()
    events = b.close(frame_pb2.ERROR_CODE_SHUTTING_DOWN, "bye")
    assert events == [SessionClosed(True, frame_pb2.ERROR_CODE_SHUTTING_DOWN, "bye")] and b.closed
    events_a, _ = pump(a, b)
    assert events_a == [RemoteError(12, "bye", True), SessionClosed(False, 12, "bye")]
    assert a.closed and a.close_event == events_a[1]
    assert a.receive_data(framing.encode_frame(Frame(ping=frame_pb2.Ping()))) == []
    assert a.close() == [] and a.connection_lost() == []


def test_wrong_network() -> None:
    a = make(1, True, network="other", record=signed(1, network="other"))
    b = make(2, False)
    a.start()
    b.start()
    events_a, events_b = pump(a, b)
    assert events_a[0].local and events_a[0].code == frame_pb2.ERROR_CODE_WRONG_NETWORK
    assert events_a[0].error.reason == "wrong-network"
    assert events_b[0].local and events_b[0].code == frame_pb2.ERROR_CODE_WRONG_NETWORK
    assert a.closed and b.closed


def test_unsupported_version() -> None:
    a, b = make(1, True), make(2, False)
    a._hello_frame.hello.min_version = 2
    a._hello_frame.hello.max_version = 3
    a.hello_bytes = framing.serialize(a._hello_frame)
    a.start()
    b.start()
    _, events_b = pump(a, b)
    assert events_b[0].code == frame_pb2.ERROR_CODE_UNSUPPORTED_VERSION


def test_auth_with_another_key_fails() -> None:
    # Hello carries key 2's record, but the session signs Auth with key 1.
    a = make(1, True, record=signed(2, expires_at=NOW + 3600), keypair=key(1))
    b = make(3, False)
    a.start()
    b.start()
    events_a, events_b = pump(a, b)
    closed = [e for e in events_b if isinstance(e, SessionClosed)][0]
    assert closed.local and closed.code == frame_pb2.ERROR_CODE_AUTH_FAILED and closed.error.reason == "bad-signature"
    # a verified b's Auth first, then learns that b refused its own.
    assert [type(e) for e in events_a] == [HandshakeComplete, RemoteError, SessionClosed]
    assert events_a[1].code == frame_pb2.ERROR_CODE_AUTH_FAILED and a.closed
    assert key(2).public_key not in b.table


def test_hello_with_expired_record_fails(clock: FakeClock) -> None:
    a = make(1, True, record=signed(1, expires_at=NOW + 5))
    b = make(2, False, clock=FakeClock(NOW + 5))
    a.start()
    b.start()
    _, events_b = pump(a, b)
    assert events_b[0].code == frame_pb2.ERROR_CODE_AUTH_FAILED and events_b[0].error.reason == "expired"


def started() -> tuple[Session, Session]:
    a, b = make(1, True), make(2, False)
    a.start()
    b.start()
    return a, b


def feed_hello(a: Session, b: Session) -> None:
    """Give ``b`` the Hello of ``a`` (``b`` moves to AUTH)."""
    assert b.receive_data(a.data_to_send()) == []
    assert b.state is State.AUTH


@pytest.mark.parametrize("frame", [
    Frame(ping=frame_pb2.Ping(nonce=1)),
    Frame(auth=frame_pb2.Auth(signature=bytes(64))),
    Frame(peer_request=frame_pb2.PeerRequest()),
    framing.compress_frame(framing.serialize(Frame(ping=frame_pb2.Ping()))),
    frame_pb2.Frame.FromString(bytes.fromhex("a20600")),
])
def test_frames_before_hello_are_violations(frame: Frame) -> None:
    a, b = started()
    (event,) = b.receive_data(framing.encode_frame(frame))
    assert event.code == frame_pb2.ERROR_CODE_PROTOCOL_VIOLATION and b.closed
    assert sent_error(b).closing


@pytest.mark.parametrize("frame", [
    Frame(ping=frame_pb2.Ping(nonce=1)),
    Frame(peer_request=frame_pb2.PeerRequest()),
    Frame(hello=frame_pb2.Hello(nonce=bytes(32))),
])
def test_frames_before_auth_are_violations(frame: Frame) -> None:
    a, b = started()
    feed_hello(a, b)
    (event,) = b.receive_data(framing.encode_frame(frame))
    assert event.code == frame_pb2.ERROR_CODE_PROTOCOL_VIOLATION


def test_unknown_frame_after_hello_is_ignored() -> None:
    a, b = started()
    feed_hello(a, b)
    assert b.receive_data(bytes.fromhex("03a20600")) == [UnknownFrame(100)]
    assert b.state is State.AUTH


@pytest.mark.parametrize("frame", [
    Frame(hello=frame_pb2.Hello(nonce=bytes(32))),
    Frame(auth=frame_pb2.Auth(signature=bytes(64))),
])
def test_handshake_frames_after_ready_are_violations(frame: Frame) -> None:
    a, b = connected()
    (event,) = a.receive_data(framing.encode_frame(frame))
    assert event.code == frame_pb2.ERROR_CODE_PROTOCOL_VIOLATION


def test_ready_session_handles_unknown_and_compressed_frames() -> None:
    a, b = connected()
    assert a.receive_data(bytes.fromhex("03a20600")) == [UnknownFrame(100)]
    ping = framing.serialize(Frame(ping=frame_pb2.Ping(nonce=9)))
    assert a.receive_data(framing.encode_frame(framing.compress_frame(ping))) == [PingReceived(9)]
    error = framing.serialize(Frame(error=frame_pb2.Error(code=6)))
    assert a.receive_data(framing.encode_frame(framing.compress_frame(error))) == [RemoteError(6, "", False)]
    broken = Frame(compressed=frame_pb2.Compressed(codec=1, uncompressed_size=3, data=b"\xff"))
    (event,) = a.receive_data(framing.encode_frame(broken))
    assert event.code == frame_pb2.ERROR_CODE_MALFORMED_FRAME and event.error.reason == "bad-compressed-data"


def test_compressed_frame_refused_without_deflate() -> None:
    a, b = connected(capabilities=())
    ping = framing.serialize(Frame(ping=frame_pb2.Ping(nonce=9)))
    (event,) = a.receive_data(framing.encode_frame(framing.compress_frame(ping)))
    assert event.code == frame_pb2.ERROR_CODE_PROTOCOL_VIOLATION


@pytest.mark.parametrize("data,code,reason", [
    (b"\x03\xff\xff\xff", frame_pb2.ERROR_CODE_MALFORMED_FRAME, "malformed"),
    (b"\x00", frame_pb2.ERROR_CODE_MALFORMED_FRAME, "empty-frame"),
    (bytes([0x80] * 6), frame_pb2.ERROR_CODE_MALFORMED_FRAME, "bad-length-prefix"),
    (b"\x81\x80\x10", frame_pb2.ERROR_CODE_FRAME_TOO_LARGE, "frame-too-large"),
    (framing.encode_frame(Frame(auth=frame_pb2.Auth(signature=bytes(3)))), frame_pb2.ERROR_CODE_MALFORMED_FRAME,
     "wrong-field-length"),
])
def test_bad_bytes_close_the_session(data: bytes, code: int, reason: str) -> None:
    a, b = connected()
    (event,) = a.receive_data(data)
    assert event.local and event.code == code and event.error.reason == reason
    error = sent_error(a)
    assert error.code == code and error.closing


def test_frames_before_a_bad_frame_are_processed() -> None:
    a, b = connected()
    data = framing.encode_frame(Frame(ping=frame_pb2.Ping(nonce=4))) + b"\x00"
    events = a.receive_data(data)
    assert events[0] == PingReceived(4) and isinstance(events[1], SessionClosed)
    frames = frames_in(a.data_to_send())
    assert [framing.frame_kind(f) for f in frames] == ["pong", "error"]


def test_connection_lost() -> None:
    a, b = connected()
    assert a.connection_lost() == [SessionClosed(False, None, "connection lost", None)]
    a, b = connected()
    a.receive_data(b"\x05\x3a")
    (event,) = a.connection_lost()
    assert event.error.reason == "truncated" and not event.local


def test_timeout_and_close_messages() -> None:
    a, b = started()
    (event,) = a.timeout()
    assert event.code == frame_pb2.ERROR_CODE_TIMEOUT
    frames = frames_in(a.data_to_send())
    assert framing.frame_kind(frames[0]) == "hello" and frames[-1].error.code == frame_pb2.ERROR_CODE_TIMEOUT
    a, b = connected()
    a.close(frame_pb2.ERROR_CODE_INTERNAL, "é" * 200)
    message = sent_error(a).message
    assert message == "é" * 128 and len(message.encode()) == 256


def test_close_before_start_sends_nothing() -> None:
    a = make(1, True)
    assert a.close()[0].local and a.data_to_send() == b""


def test_api_misuse() -> None:
    a = make(1, True)
    with pytest.raises(RuntimeError):
        a.receive_data(b"x")
    with pytest.raises(RuntimeError):
        a.request_peers()
    with pytest.raises(RuntimeError):
        a.send_ping()
    with pytest.raises(RuntimeError):
        a.announce([])
    a.start()
    with pytest.raises(RuntimeError):
        a.start()
    with pytest.raises(ValueError):
        make(1, True, max_frame_size=limits.MIN_FRAME_SIZE - 1)
    with pytest.raises(ValueError):
        make(1, True, max_frame_size=limits.MAX_FRAME_SIZE + 1)


def test_hello_announces_a_smaller_frame_limit() -> None:
    a = make(1, True, max_frame_size=20000)
    assert a._hello_frame.hello.max_frame_size == 20000
    assert make(1, True)._hello_frame.hello.max_frame_size == 0


def test_default_table_and_nonce() -> None:
    s = Session(key(1), signed(1), NETWORK, initiator=True)
    assert len(s.nonce) == 32 and s.table.network_id == NETWORK
    assert Session(key(1), signed(1), NETWORK, initiator=True, nonce=bytes(32)).nonce == bytes(32)
