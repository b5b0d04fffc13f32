"""A scriptable peer for the misbehaviour tests: it speaks pex through `pex_client`'s wire pieces
(records, Hello, Auth, framing) but sends whatever the test asks for, when it asks, and keeps
every frame the node sends back.

Blocking sockets with timeouts: each test drives one or two of these in sequence, and every
wait is bounded, so a node that does not react fails the test instead of hanging it.
"""

from __future__ import annotations

import socket
import time

from pex.v1 import frame_pb2

from pex_client import framing, handshake, identity
from pex_client.records import make_signed_record


def free_address(source: str = "127.0.0.1") -> str:
    """A loopback address with a port nothing listens on (a dial to it fails at once)."""
    with socket.socket() as s:
        s.bind((source, 0))
        return f"/ip4/{source}/tcp/{s.getsockname()[1]}"


def signed_record(keypair: identity.KeyPair, network: str, address: str | None = None, seq: int | None = None):
    """A valid record of ``keypair`` for ``network``, expiring in an hour."""
    now = int(time.time())
    return make_signed_record(keypair, seq or now, [address or free_address()], network, now + 3600)


class RawPeer:
    """One TCP connection to a node, as initiator, from ``source`` (any 127.0.0.0/8 address)."""

    def __init__(self, port: int, network: str, *, keypair: identity.KeyPair | None = None, record=None,
                 source: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.keypair = keypair or identity.KeyPair.generate()
        self.network = network
        # Reconnections of one key must present the same record: another record with the same
        # seq is an equivocation (§19.2), and the node bans the key for it.
        self.record = record if record is not None else signed_record(self.keypair, network)
        self.received: list[frame_pb2.Frame] = []
        self.closed = False
        self._reader = framing.FrameReader()
        self._serviced = 0
        self.sock = socket.socket()
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))

    # --- sending -------------------------------------------------------------------------

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, frame: frame_pb2.Frame) -> None:
        self.send_bytes(framing.encode_frame(frame))

    def hello(self, network: str | None = None, record=None) -> bytes:
        """Sends a Hello (no compression offered); returns its serialised frame."""
        if record is None:
            record = self.record if network is None else signed_record(self.keypair, network)
        network = network or self.network
        self.nonce = handshake.make_nonce()
        frame = handshake.build_hello(record, network, self.nonce, capabilities=[frame_pb2.CAPABILITY_DELTA_SYNC])
        data = framing.serialize(frame)
        self.send_bytes(framing.delimit(data))
        return data

    def handshake(self) -> None:
        """Completes a real handshake (Hello, Auth, the node's Auth verified)."""
        own = self.hello()
        node_hello = self.expect("hello")
        raw = framing.serialize(node_hello)
        signature = handshake.sign_auth(self.keypair, handshake.ROLE_INITIATOR, own, raw, bytes(node_hello.hello.nonce))
        self.send(handshake.build_auth(signature))
        node = handshake.check_hello(node_hello.hello, self.network, int(time.time()))
        auth = self.expect("auth")
        handshake.verify_auth(node.record.public_key, handshake.ROLE_RESPONDER, own, raw, self.nonce,
                              bytes(auth.auth.signature))

    def requests(self, request_ids) -> None:
        """Sends a PeerRequest per id, all in one write; a node that closes midway is no error
        here (what it answered before is in ``received``)."""
        data = b""
        for request_id in request_ids:
            frame = frame_pb2.Frame()
            frame.peer_request.request_id = request_id
            data += framing.encode_frame(frame)
        try:
            self.send_bytes(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def announce(self, records) -> None:
        frame = frame_pb2.Frame()
        frame.peer_announcement.records.extend(records)
        self.send(frame)

    # --- receiving -----------------------------------------------------------------------

    def pump(self, timeout: float) -> bool:
        """Reads for up to ``timeout`` seconds; False once the node closed the connection."""
        if self.closed:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.received += self._reader.feed(data)
        self._service()
        return True

    def _service(self) -> None:
        """Answers the node's Pings and PeerRequests, as an honest peer would."""
        while self._serviced < len(self.received):
            frame = self.received[self._serviced]
            self._serviced += 1
            kind = framing.frame_kind(frame)
            if kind == "ping":
                pong = frame_pb2.Frame()
                pong.pong.nonce = frame.ping.nonce
                self._send_quietly(pong)
            elif kind == "peer_request":
                response = frame_pb2.Frame()
                response.peer_response.request_id = frame.peer_request.request_id
                self._send_quietly(response)

    def _send_quietly(self, frame: frame_pb2.Frame) -> None:
        try:
            self.send(frame)
        except OSError:
            pass  # the node may already have closed; what it sent is what the test checks

    def wait(self, condition, timeout: float = 10.0) -> bool:
        """Reads until ``condition()`` holds or the connection closes; False if neither in time."""
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if not self.pump(min(left, 0.5)) and not condition():
                return False
        return True

    def expect(self, kind: str, timeout: float = 10.0) -> frame_pb2.Frame:
        """The first received frame of ``kind`` (waiting for it); AssertionError if none comes."""
        found = lambda: next((f for f in self.received if framing.frame_kind(f) == kind), None)  # noqa: E731
        if not self.wait(lambda: found() is not None, timeout):
            raise AssertionError(f"no {kind} frame from the node; got {[framing.frame_kind(f) for f in self.received]}"
                                 f"{' and the connection closed' if self.closed else ''}")
        return found()

    def wait_closed(self, timeout: float = 10.0) -> bool:
        return self.wait(lambda: self.closed, timeout)

    def frames(self, kind: str) -> list[frame_pb2.Frame]:
        return [f for f in self.received if framing.frame_kind(f) == kind]

    def errors(self) -> list[tuple[int, bool]]:
        """(code, closing) of every Error the node sent."""
        return [(f.error.code, f.error.closing) for f in self.frames("error")]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawPeer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
