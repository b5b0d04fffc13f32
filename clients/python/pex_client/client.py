"""asyncio transport for :class:`~pex_client.session.Session`: outgoing and incoming TCP peers."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pex.v1 import frame_pb2, record_pb2

from . import handshake, identity, limits, session as sessions
from .errors import WireError
from .records import VerifiedRecord, make_signed_record, verify_signed_record
from .table import PeerTable

DEFAULT_TIMEOUT = 10.0
#: Default lifetime of this node's own record.
DEFAULT_TTL = 24 * 3600
_READ_SIZE = 64 * 1024


class ConnectionClosedError(Exception):
    """The connection ended before the awaited answer; ``event`` tells how."""

    def __init__(self, event: sessions.SessionClosed) -> None:
        self.event = event
        who = "locally" if event.local else "by the peer"
        detail = f" ({event.error.reason})" if event.error is not None else ""
        code = f", code {frame_pb2.ErrorCode.Name(event.code) if event.code in frame_pb2.ErrorCode.values() else event.code}" \
            if event.code is not None else ""
        super().__init__(f"connection closed {who}{code}: {event.message}{detail}")


class RequestRefusedError(Exception):
    """The peer answered a PeerRequest with a non-closing ``Error`` (``RATE_LIMITED``: asked
    more often than its request budget allows, docs/PROTOCOL.md §20.1); the connection stays open."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        name = frame_pb2.ErrorCode.Name(code) if code in frame_pb2.ErrorCode.values() else str(code)
        super().__init__(f"request refused, code {name}: {message}")


@dataclass(frozen=True)
class PeerList:
    """The answer to one PeerRequest, gathered over all its PeerResponse frames."""

    records: list[VerifiedRecord]
    rejected: list[tuple[int, WireError]]
    full: bool
    #: The responder's cursor after this answer: pass it as ``since`` to the next
    #: :meth:`PexConnection.request_peers` to get only what changed (delta sync, §17.3).
    next: tuple[int, int] | None = None


class PexConnection:
    """Drives one :class:`Session` over an asyncio stream pair.

    ``on_event`` (optional) is called with every session event, in order.
    """

    def __init__(self, session: sessions.Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 on_event: Callable[[PexConnection, sessions.Event], None] | None = None) -> None:
        self.session = session
        self._reader = reader
        self._writer = writer
        self._on_event = on_event
        loop = asyncio.get_running_loop()
        self._handshake: asyncio.Future[handshake.PeerHello] = loop.create_future()
        # Request id → (answer, records so far, rejections so far, whether the first page was full).
        self._requests: dict[int, tuple[asyncio.Future[PeerList], list, list, bool | None]] = {}
        self._pings: dict[int, asyncio.Future[None]] = {}
        # Request id → the id of the request that continues its paged answer.
        self._continuations: dict[int, int] = {}
        self._closed = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def peer(self) -> handshake.PeerHello | None:
        return self.session.peer

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def start(self, timeout: float = DEFAULT_TIMEOUT) -> handshake.PeerHello:
        """Send Hello, run the handshake, and return what the peer proved.

        Raises :class:`ConnectionClosedError` if it fails, :class:`TimeoutError` if it does not
        complete within ``timeout`` seconds (the peer is then sent ``TIMEOUT``).
        """
        self.session.start()
        await self._flush()
        self._task = asyncio.create_task(self._read_loop())
        try:
            return await asyncio.wait_for(asyncio.shield(self._handshake), timeout)
        except asyncio.TimeoutError:
            self._dispatch(self.session.timeout())
            await self._finish()
            raise TimeoutError("handshake timed out") from None

    async def request_peers(self, max_peers: int = 0, timeout: float = DEFAULT_TIMEOUT, *,
                            since: tuple[int, int] | None = None) -> PeerList:
        """Ask the peer for its records, following `more` with continuation requests, and return them all.

        Without ``since`` the peer sends its full list. With the ``next`` cursor of an earlier
        answer from the same peer, it sends only the records that changed after it (a full list
        again if the cursor is no longer its own, e.g. after it restarted). A full list may come
        from a snapshot several minutes old (§17.2), so a peer that keeps asking should keep its
        cursor.
        """
        future: asyncio.Future[PeerList] = asyncio.get_running_loop().create_future()
        request_id = self.session.request_peers(max_peers, since=since)
        self._requests[request_id] = (future, [], [], None)
        await self._flush()
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            # Forget the request and any continuation still pending for it.
            current: int | None = request_id
            while current is not None:
                self._requests.pop(current, None)
                current = self._continuations.pop(current, None)

    async def ping(self, timeout: float = DEFAULT_TIMEOUT) -> float:
        """Ping the peer; returns the round-trip time in seconds."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        started = time.monotonic()
        nonce = self.session.send_ping()
        self._pings[nonce] = future
        await self._flush()
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            self._pings.pop(nonce, None)
        return time.monotonic() - started

    async def announce(self, records: Iterable[record_pb2.SignedPeerRecord], *, update: bool = False) -> None:
        """Send records in PeerAnnouncement (or PeerUpdate) frames."""
        self.session.announce(records, update=update)
        await self._flush()

    async def close(self, code: int = frame_pb2.ERROR_CODE_SHUTTING_DOWN, message: str = "") -> None:
        """Send a closing Error, then close the socket."""
        self._dispatch(self.session.close(code, message))
        await self._finish()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # --- internals -----------------------------------------------------------------------

    async def _flush(self) -> None:
        async with self._write_lock:
            data = self.session.data_to_send()
            if data and not self._writer.is_closing():
                self._writer.write(data)
                with contextlib.suppress(ConnectionError, OSError):
                    await self._writer.drain()

    async def _read_loop(self) -> None:
        try:
            while not self.session.closed:
                try:
                    data = await self._reader.read(_READ_SIZE)
                except (ConnectionError, OSError):
                    data = b""
                events = self.session.receive_data(data) if data else self.session.connection_lost()
                await self._flush()
                self._dispatch(events)
        finally:
            await self._close_transport()

    async def _finish(self) -> None:
        await self._flush()
        await self._close_transport()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _close_transport(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
        if not self.session.closed:
            self._dispatch(self.session.connection_lost())
        self._closed.set()

    def _dispatch(self, events: list[sessions.Event]) -> None:
        for event in events:
            if isinstance(event, sessions.HandshakeComplete):
                if not self._handshake.done():
                    self._handshake.set_result(event.peer)
            elif isinstance(event, sessions.PeersReceived):
                self._on_peers(event)
            elif isinstance(event, sessions.PongReceived):
                future = self._pings.pop(event.nonce, None)
                if future is not None and not future.done():
                    future.set_result(None)
            elif isinstance(event, sessions.SessionClosed):
                self._fail_all(ConnectionClosedError(event))
            elif (isinstance(event, sessions.RemoteError) and not event.closing
                  and event.code == frame_pb2.ERROR_CODE_RATE_LIMITED):
                self._refuse_oldest_request(event)
            if self._on_event is not None:
                self._on_event(self, event)

    def _on_peers(self, event: sessions.PeersReceived) -> None:
        entry = self._requests.get(event.request_id)
        if entry is None:
            return
        future, records, rejected, full = entry
        # A paged listing is full when its first page is; later pages continue it.
        full = event.full if full is None else full
        # Rejections are reported by position in the whole answer, across all its responses.
        offset = len(records) + len(rejected)
        rejected.extend((offset + index, error) for index, error in event.rejected)
        records.extend(event.records)
        del self._requests[event.request_id]
        if event.more and event.next is not None and (event.records or event.rejected):
            # Paged answer: continue from the responder's cursor under a new request id.
            follow_up = self.session.request_peers(0, since=event.next)
            self._requests[follow_up] = (future, records, rejected, full)
            self._continuations[event.request_id] = follow_up
            asyncio.get_running_loop().create_task(self._flush())
            return
        if not future.done():
            future.set_result(PeerList(records, rejected, full, event.next))

    def _refuse_oldest_request(self, event: sessions.RemoteError) -> None:
        """A refused request gets this Error instead of its PeerResponse (§17.2): requests are
        answered in order, so it is the oldest one still waiting."""
        for request_id, entry in self._requests.items():
            if not entry[0].done():
                del self._requests[request_id]
                entry[0].set_exception(RequestRefusedError(event.code, event.message))
                return

    def _fail_all(self, error: ConnectionClosedError) -> None:
        futures = [self._handshake, *(entry[0] for entry in self._requests.values()), *self._pings.values()]
        self._requests.clear()
        self._pings.clear()
        for future in futures:
            if not future.done():
                future.set_exception(error)
                # Mark retrieved: nobody may be waiting on it any more.
                future.exception()


def address_from_socket(sockname: tuple) -> str:
    """The ``/ip4|ip6/…/tcp/…`` multiaddr of a socket address."""
    host, port = sockname[0], sockname[1]
    ip = ipaddress.ip_address(host.split("%")[0])
    return f"/{'ip4' if ip.version == 4 else 'ip6'}/{ip.compressed}/tcp/{port}"


class PexNode:
    """A pex participant: its key and record, a peer table, outgoing and incoming connections."""

    def __init__(self, keypair: identity.KeyPair, network_id: str, addresses: Iterable[str] = (), *,
                 ttl: int = DEFAULT_TTL, clock: Callable[[], float] = time.time,
                 agent: str = handshake.DEFAULT_AGENT, timeout: float = DEFAULT_TIMEOUT,
                 on_event: Callable[[PexConnection, sessions.Event], None] | None = None) -> None:
        if not 0 < ttl <= limits.MAX_RECORD_LIFETIME_SECONDS:
            raise ValueError(f"ttl must be 1 to {limits.MAX_RECORD_LIFETIME_SECONDS} seconds")
        self.keypair = keypair
        self.network_id = network_id
        self.table = PeerTable(network_id, clock)
        self.ttl = ttl
        self.agent = agent
        self.timeout = timeout
        self.on_event = on_event
        self._clock = clock
        self._seq = 0
        self._addresses: list[str] = []
        self.record: record_pb2.SignedPeerRecord | None = None
        self.connections: set[PexConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.base_events.Server | None = None
        if addresses:
            self.set_addresses(addresses)

    def set_addresses(self, addresses: Iterable[str]) -> VerifiedRecord:
        """Sign a new record for ``addresses`` (seq above any earlier one) and store it."""
        self._addresses = list(addresses)
        return self.refresh_record()

    def refresh_record(self) -> VerifiedRecord:
        """Re-sign the record with a later expiry and a higher seq."""
        now = int(self._clock())
        # Seconds since the epoch keep seq increasing across restarts of the same key.
        self._seq = max(self._seq + 1, now)
        self.record = make_signed_record(self.keypair, self._seq, self._addresses, self.network_id, now + self.ttl)
        verified = verify_signed_record(self.record, self.network_id, now)
        self.table.add(verified)
        return verified

    def _session(self, initiator: bool) -> sessions.Session:
        assert self.record is not None
        return sessions.Session(self.keypair, self.record, self.network_id, initiator=initiator,
                                table=self.table, clock=self._clock, agent=self.agent)

    async def connect(self, host: str, port: int) -> PexConnection:
        """Open a connection and complete the handshake.

        Without addresses, the node's record uses the connection's local address.
        """
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self.timeout)
        if self.record is None:
            self.set_addresses([address_from_socket(writer.get_extra_info("sockname"))])
        connection = PexConnection(self._session(True), reader, writer, self.on_event)
        self._track(connection)
        await connection.start(self.timeout)
        return connection

    async def listen(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Accept connections; returns the bound host and port."""
        self._server = await asyncio.start_server(self._accept, host, port)
        bound = self._server.sockets[0].getsockname()
        if self.record is None:
            self.set_addresses([address_from_socket(bound)])
        return bound[0], bound[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = PexConnection(self._session(False), reader, writer, self.on_event)
        self._track(connection)
        with contextlib.suppress(ConnectionClosedError, TimeoutError):
            await connection.start(self.timeout)
        await connection.wait_closed()

    def _track(self, connection: PexConnection) -> None:
        self.connections.add(connection)
        task = asyncio.get_running_loop().create_task(self._untrack(connection))
        # The loop keeps only weak references to tasks.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _untrack(self, connection: PexConnection) -> None:
        await connection.wait_closed()
        self.connections.discard(connection)

    async def close(self) -> None:
        """Stop listening and close every connection with ``SHUTTING_DOWN``."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for connection in list(self.connections):
            await connection.close()
