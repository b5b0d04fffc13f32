"""A sans-IO pex connection: feed it received bytes, send what it queues, act on its events.

Lifecycle::

    HELLO  --peer Hello ok-->  AUTH  --peer Auth ok-->  READY
      \\________________ any fault, or a closing Error ________________--> CLOSED

Both sides queue their Hello at :meth:`Session.start`. On the peer's Hello a side validates it
and queues its Auth; on the peer's Auth it is READY. Before READY only Hello, Auth, Error (and,
after Hello, frames of unknown body type) are allowed; anything else closes the connection
with ``PROTOCOL_VIOLATION``. In READY the session answers Ping with Pong and PeerRequest from
its :class:`~pex_client.table.PeerTable`, and verifies every received record.

Every local fault queues an ``Error`` frame with ``closing`` set and ends the session; the
driver writes the remaining bytes, then closes the socket.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pex.v1 import frame_pb2, record_pb2

from . import framing, handshake, identity, limits
from .errors import HandshakeError, WireError
from .records import VerifiedRecord, verify_signed_record
from .table import PeerTable


class State(enum.Enum):
    HELLO = "hello"  # Hello sent, waiting for the peer's
    AUTH = "auth"  # both Hellos seen, own Auth sent, waiting for the peer's
    READY = "ready"
    CLOSED = "closed"


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandshakeComplete:
    """The peer proved its key; the session is READY."""

    peer: handshake.PeerHello


@dataclass(frozen=True)
class PingReceived:
    """The peer pinged; a Pong was queued."""

    nonce: int


@dataclass(frozen=True)
class PongReceived:
    nonce: int
    #: False when no Ping with this nonce is outstanding.
    expected: bool


@dataclass(frozen=True)
class PeerRequestAnswered:
    """The peer asked for records; ``responses`` PeerResponse frames with ``records`` were queued."""

    request_id: int
    records: int
    responses: int


@dataclass(frozen=True)
class PeersReceived:
    """One PeerResponse. ``records`` verified; ``rejected`` holds (index, error) of the others."""

    request_id: int
    records: list[VerifiedRecord]
    rejected: list[tuple[int, WireError]]
    more: bool
    full: bool
    next: tuple[int, int] | None
    #: False when no request with this id is outstanding.
    solicited: bool


@dataclass(frozen=True)
class RecordsReceived:
    """A PeerAnnouncement (``kind == "announcement"``) or PeerUpdate (``"update"``)."""

    kind: str
    records: list[VerifiedRecord]
    rejected: list[tuple[int, WireError]]


@dataclass(frozen=True)
class RemoteError:
    """The peer sent an Error frame."""

    code: int
    message: str
    closing: bool


@dataclass(frozen=True)
class UnknownFrame:
    """A frame whose body this version does not know (from a newer peer); ignored."""

    field_number: int | None


@dataclass(frozen=True)
class SessionClosed:
    """The session ended; emitted exactly once.

    ``local`` is True when this side ended it (``code`` is then the ErrorCode sent, ``error`` the
    wire fault if any); False for a closing Error from the peer or a lost connection.
    """

    local: bool
    code: int | None
    message: str
    error: WireError | None = None


Event = (HandshakeComplete | PingReceived | PongReceived | PeerRequestAnswered | PeersReceived
         | RecordsReceived | RemoteError | UnknownFrame | SessionClosed)

_FRAME_ERROR_CODES = {
    "frame-too-large": frame_pb2.ERROR_CODE_FRAME_TOO_LARGE,
}
# Room for everything in a PeerResponse/Announcement besides the records: frame tag and
# length, request id, flags and cursor.
_MESSAGE_OVERHEAD = 64


def _truncate_utf8(text: str, limit: int) -> str:
    raw = text.encode("utf-8")[:limit]
    return raw.decode("utf-8", errors="ignore")


@dataclass
class _Outstanding:
    requests: set[int] = field(default_factory=set)
    pings: set[int] = field(default_factory=set)


class Session:
    """One side of one pex connection, without I/O.

    ``initiator`` is True for the side that opened the TCP connection. ``record`` is this node's
    signed record (sent in Hello); ``table`` answers PeerRequests and stores verified records
    received (a private empty table is used when omitted). ``clock`` gives unix time for record
    verification; ``nonce`` fixes the Hello nonce (tests, vectors).
    """

    def __init__(self, keypair: identity.KeyPair, record: record_pb2.SignedPeerRecord, network_id: str, *,
                 initiator: bool, table: PeerTable | None = None, clock: Callable[[], float] = time.time,
                 nonce: bytes | None = None,
                 capabilities: Iterable[int] = (frame_pb2.CAPABILITY_DEFLATE,),
                 agent: str = handshake.DEFAULT_AGENT, max_frame_size: int = limits.MAX_FRAME_SIZE) -> None:
        if not limits.MIN_FRAME_SIZE <= max_frame_size <= limits.MAX_FRAME_SIZE:
            raise ValueError(f"max_frame_size must be {limits.MIN_FRAME_SIZE} to {limits.MAX_FRAME_SIZE}")
        self.keypair = keypair
        self.network_id = network_id
        self.initiator = initiator
        self.table = table if table is not None else PeerTable(network_id, clock)
        self._clock = clock
        self.capabilities = tuple(capabilities)
        self.max_frame_size = max_frame_size
        self.nonce = nonce if nonce is not None else handshake.make_nonce()
        self._hello_frame = handshake.build_hello(
            record, network_id, self.nonce, capabilities=self.capabilities, agent=agent,
            max_frame_size=0 if max_frame_size == limits.MAX_FRAME_SIZE else max_frame_size)
        self.hello_bytes = framing.serialize(self._hello_frame)
        self.state = State.HELLO
        self.peer: handshake.PeerHello | None = None
        self.peer_hello_bytes: bytes | None = None
        self._started = False
        self._reader = framing.FrameReader(max_frame_size)
        self._out = bytearray()
        self._outstanding = _Outstanding()
        self._next_request_id = 1
        # Identifies this session's listing in the cursors it hands out.
        self._epoch = int.from_bytes(os.urandom(8), "big")
        self.close_event: SessionClosed | None = None

    # --- properties ----------------------------------------------------------------------

    @property
    def role(self) -> int:
        return handshake.ROLE_INITIATOR if self.initiator else handshake.ROLE_RESPONDER

    @property
    def ready(self) -> bool:
        return self.state is State.READY

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def deflate(self) -> bool:
        """Whether both sides listed CAPABILITY_DEFLATE (known once the peer's Hello arrived)."""
        return (self.peer is not None and frame_pb2.CAPABILITY_DEFLATE in self.capabilities
                and frame_pb2.CAPABILITY_DEFLATE in self.peer.capabilities)

    @property
    def peer_id(self) -> str | None:
        return self.peer.record.peer_id if self.peer is not None else None

    # --- driver interface ----------------------------------------------------------------

    def start(self) -> None:
        """Queue this side's Hello; call once, right after the connection is established."""
        if self._started:
            raise RuntimeError("session already started")
        self._started = True
        self._out += framing.delimit(self.hello_bytes)

    def data_to_send(self) -> bytes:
        """Take every byte queued for the peer."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def receive_data(self, data: bytes) -> list[Event]:
        """Process bytes received from the peer and return what happened."""
        if self.closed:
            return []
        if not self._started:
            raise RuntimeError("start() the session before feeding it data")
        events: list[Event] = []
        self._reader.push(data)
        while not self.closed:
            try:
                raw = self._reader.next_raw()
                if raw is None:
                    break
                frame = framing.decode_frame(raw, max_frame_size=self.max_frame_size, decompress=False)
            except WireError as exc:
                events += self._fail(_FRAME_ERROR_CODES.get(exc.reason, frame_pb2.ERROR_CODE_MALFORMED_FRAME),
                                     exc.message, exc)
                break
            events += self._on_frame(frame, raw)
        return events

    def connection_lost(self) -> list[Event]:
        """The transport closed; ends the session (``truncated`` if it stopped inside a frame)."""
        if self.closed:
            return []
        error = None
        try:
            self._reader.close()
        except WireError as exc:
            error = exc
        self.state = State.CLOSED
        self.close_event = SessionClosed(local=False, code=None, message="connection lost", error=error)
        return [self.close_event]

    def close(self, code: int = frame_pb2.ERROR_CODE_SHUTTING_DOWN, message: str = "") -> list[Event]:
        """Queue a closing Error frame and end the session."""
        return self._fail(code, message)

    def timeout(self) -> list[Event]:
        """The driver's timer fired (handshake or keepalive): close with ``TIMEOUT``."""
        return self._fail(frame_pb2.ERROR_CODE_TIMEOUT, f"timed out in state {self.state.value}")

    # --- requests ------------------------------------------------------------------------

    def _require_ready(self) -> None:
        if not self.ready:
            raise RuntimeError(f"session is {self.state.value}, not ready")

    def send_ping(self, nonce: int | None = None) -> int:
        """Queue a Ping; returns its nonce."""
        self._require_ready()
        if nonce is None:
            nonce = int.from_bytes(os.urandom(8), "big")
        frame = frame_pb2.Frame()
        frame.ping.nonce = nonce
        self._outstanding.pings.add(nonce)
        self._send(frame)
        return nonce

    def request_peers(self, max_peers: int = 0, since: tuple[int, int] | None = None) -> int:
        """Queue a PeerRequest: the full list, or with ``since`` (epoch, position) what follows
        that cursor (the continuation of a paged answer); returns the request id."""
        self._require_ready()
        request_id = self._next_request_id
        self._next_request_id += 1
        frame = frame_pb2.Frame()
        frame.peer_request.request_id = request_id
        frame.peer_request.max_peers = max_peers
        if since is not None:
            frame.peer_request.since.epoch, frame.peer_request.since.position = since
        self._outstanding.requests.add(request_id)
        self._send(frame)
        return request_id

    def announce(self, records: Iterable[record_pb2.SignedPeerRecord], *, update: bool = False) -> int:
        """Queue PeerAnnouncement (or PeerUpdate) frames carrying ``records``; returns the frame count."""
        self._require_ready()
        kind = "peer_update" if update else "peer_announcement"
        records = list(records)
        count = 0
        if not records:
            return 0
        for chunk in self._chunks(records, limits.MAX_RECORDS_PER_MESSAGE):
            frame = frame_pb2.Frame()
            getattr(frame, kind).records.extend(chunk)
            self._send(frame)
            count += 1
        return count

    # --- internals -----------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    def _chunks(self, records: list[record_pb2.SignedPeerRecord], per_message: int):
        """Split records into messages of at most ``per_message`` that fit the peer's frame limit."""
        assert self.peer is not None
        budget = self.peer.max_frame_size - _MESSAGE_OVERHEAD
        chunk: list[record_pb2.SignedPeerRecord] = []
        size = 0
        for signed in records:
            entry = signed.ByteSize() + 3  # field tag + length varint (records are < 16 KiB)
            if chunk and (len(chunk) == per_message or size + entry > budget):
                yield chunk
                chunk, size = [], 0
            chunk.append(signed)
            size += entry
        yield chunk

    def _send(self, frame: frame_pb2.Frame) -> None:
        data = framing.serialize(frame)
        if self.ready and self.deflate and len(data) >= limits.COMPRESSION_THRESHOLD:
            packed = framing.serialize(framing.compress_frame(data))
            if len(packed) < len(data):
                data = packed
        limit = self.peer.max_frame_size if self.peer is not None else limits.MAX_FRAME_SIZE
        self._out += framing.delimit(data, limit)

    def _fail(self, code: int, message: str, error: WireError | None = None) -> list[Event]:
        if self.closed:
            return []
        if self._started:
            frame = frame_pb2.Frame()
            frame.error.code = code
            frame.error.message = _truncate_utf8(message, limits.MAX_ERROR_MESSAGE_LENGTH)
            frame.error.closing = True
            self._out += framing.encode_frame(frame)
        self.state = State.CLOSED
        self.close_event = SessionClosed(local=True, code=code, message=message, error=error)
        return [self.close_event]

    def _violation(self, message: str) -> list[Event]:
        return self._fail(frame_pb2.ERROR_CODE_PROTOCOL_VIOLATION, message)

    def _on_frame(self, frame: frame_pb2.Frame, raw: bytes) -> list[Event]:
        kind = framing.frame_kind(frame)
        if kind == "error":
            return self._on_error(frame.error)
        if kind == "compressed":
            if not self.ready or frame_pb2.CAPABILITY_DEFLATE not in self.capabilities:
                return self._violation("compressed frame not allowed here")
            try:
                frame = framing.decompress_frame(frame, max_frame_size=self.max_frame_size)
            except WireError as exc:
                return self._fail(frame_pb2.ERROR_CODE_MALFORMED_FRAME, exc.message, exc)
            kind = framing.frame_kind(frame)
            if kind == "error":
                return self._on_error(frame.error)
        if self.state is State.HELLO:
            if kind != "hello":
                return self._violation(f"expected hello, got {kind}")
            return self._on_hello(frame.hello, raw)
        if kind == "unknown":
            return [UnknownFrame(framing.unknown_field_number(frame))]
        if self.state is State.AUTH:
            if kind != "auth":
                return self._violation(f"expected auth, got {kind}")
            return self._on_auth(frame.auth)
        handler = {
            "ping": self._on_ping,
            "pong": self._on_pong,
            "peer_request": self._on_peer_request,
            "peer_response": self._on_peer_response,
            "peer_announcement": self._on_records,
            "peer_update": self._on_records,
        }.get(kind)
        if handler is None:
            return self._violation(f"unexpected {kind} after the handshake")
        return handler(frame)

    def _on_error(self, error: frame_pb2.Error) -> list[Event]:
        events: list[Event] = [RemoteError(error.code, error.message, error.closing)]
        if error.closing:
            self.state = State.CLOSED
            self.close_event = SessionClosed(local=False, code=error.code, message=error.message)
            events.append(self.close_event)
        return events

    def _on_hello(self, hello: frame_pb2.Hello, raw: bytes) -> list[Event]:
        try:
            peer = handshake.check_hello(hello, self.network_id, self._now())
        except HandshakeError as exc:
            return self._fail(exc.code, exc.message, exc.cause)
        self.peer = peer
        self.peer_hello_bytes = raw
        initiator_hello, responder_hello = self._hellos()
        signature = handshake.sign_auth(self.keypair, self.role, initiator_hello, responder_hello, peer.nonce)
        self._send(handshake.build_auth(signature))
        self.state = State.AUTH
        return []

    def _hellos(self) -> tuple[bytes, bytes]:
        assert self.peer_hello_bytes is not None
        if self.initiator:
            return self.hello_bytes, self.peer_hello_bytes
        return self.peer_hello_bytes, self.hello_bytes

    def _on_auth(self, auth: frame_pb2.Auth) -> list[Event]:
        assert self.peer is not None
        peer_role = handshake.ROLE_RESPONDER if self.initiator else handshake.ROLE_INITIATOR
        initiator_hello, responder_hello = self._hellos()
        try:
            handshake.verify_auth(self.peer.record.public_key, peer_role, initiator_hello, responder_hello,
                                  self.nonce, auth.signature)
        except WireError as exc:
            return self._fail(frame_pb2.ERROR_CODE_AUTH_FAILED, f"auth failed: {exc.message}", exc)
        self.state = State.READY
        self.table.add(self.peer.record)
        return [HandshakeComplete(self.peer)]

    def _on_ping(self, frame: frame_pb2.Frame) -> list[Event]:
        pong = frame_pb2.Frame()
        pong.pong.nonce = frame.ping.nonce
        self._send(pong)
        return [PingReceived(frame.ping.nonce)]

    def _on_pong(self, frame: frame_pb2.Frame) -> list[Event]:
        nonce = frame.pong.nonce
        expected = nonce in self._outstanding.pings
        self._outstanding.pings.discard(nonce)
        return [PongReceived(nonce, expected)]

    def _on_peer_request(self, frame: frame_pb2.Frame) -> list[Event]:
        request = frame.peer_request
        # 0 means the maximum; larger values are capped rather than refused.
        per_message = min(request.max_peers or limits.MAX_RECORDS_PER_MESSAGE, limits.MAX_RECORDS_PER_MESSAGE)
        records = [r.signed for r in self.table.records()]
        # One response per request (docs/PROTOCOL.md §11): a page of the listing and the cursor
        # to continue from. Positions index this session's listing (its epoch); a cursor of
        # another epoch, or none, starts the full list.
        start, full = 0, True
        if request.HasField("since") and request.since.epoch == self._epoch and request.since.position <= len(records):
            start, full = request.since.position, False
        chunk = next(iter(self._chunks(records[start:], per_message)), [])
        end = start + len(chunk)
        response = frame_pb2.Frame()
        body = response.peer_response
        body.request_id = request.request_id
        body.records.extend(chunk)
        body.next.epoch, body.next.position = self._epoch, end
        body.more = end < len(records)
        body.full = full
        self._send(response)
        return [PeerRequestAnswered(request.request_id, len(chunk), 1)]

    def _verify_all(self, records) -> tuple[list[VerifiedRecord], list[tuple[int, WireError]]]:
        now = self._now()
        good: list[VerifiedRecord] = []
        bad: list[tuple[int, WireError]] = []
        for index, signed in enumerate(records):
            try:
                record = verify_signed_record(signed, self.network_id, now)
            except WireError as exc:
                bad.append((index, exc))
                continue
            self.table.add(record)
            good.append(record)
        return good, bad

    def _on_peer_response(self, frame: frame_pb2.Frame) -> list[Event]:
        response = frame.peer_response
        # Exactly one response answers a request (docs/PROTOCOL.md §11); `more` asks the
        # requester to continue with a new request from `next`.
        solicited = response.request_id in self._outstanding.requests
        self._outstanding.requests.discard(response.request_id)
        good, bad = self._verify_all(response.records)
        cursor = (response.next.epoch, response.next.position) if response.HasField("next") else None
        return [PeersReceived(response.request_id, good, bad, response.more, response.full, cursor, solicited)]

    def _on_records(self, frame: frame_pb2.Frame) -> list[Event]:
        kind = framing.frame_kind(frame)
        good, bad = self._verify_all(getattr(frame, kind).records)
        return [RecordsReceived("update" if kind == "peer_update" else "announcement", good, bad)]
