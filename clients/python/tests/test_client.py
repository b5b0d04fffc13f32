"""asyncio peers over real loopback sockets, and the command line."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import sys
from pathlib import Path

import pytest

import time

from conftest import NETWORK, key
from conftest import signed as signed_at
from pex.v1 import frame_pb2
from pex_client import __main__ as cli
from pex_client import records
from pex_client import framing
from pex_client.client import ConnectionClosedError, PexNode, RequestRefusedError, address_from_socket
from pex_client.records import VerifiedRecord
from pex_client.session import Session
from pex_client.session import RecordsReceived, SessionClosed

ROOT = Path(__file__).resolve().parent.parent


def signed(seed: int, **kwargs):
    """A record valid on the real clock (the nodes here use it)."""
    return signed_at(seed, expires_at=int(time.time()) + 3600, **kwargs)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_two_nodes_handshake_and_exchange() -> None:
    async def scenario() -> None:
        server_events: list = []
        server = PexNode(key(1), NETWORK, ["/ip4/127.0.0.1/tcp/1"], on_event=lambda c, e: server_events.append(e))
        host, port = await server.listen("127.0.0.1", 0)
        assert host == "127.0.0.1" and port > 0
        client = PexNode(key(2), NETWORK)
        connection = await client.connect(host, port)
        peer = connection.peer
        assert peer is not None and peer.record.public_key == key(1).public_key and peer.version == 1
        # Without configured addresses the client advertises its socket address.
        assert client.record is not None
        own = records.verify_signed_record(client.record, NETWORK, int(client.table.now()))
        assert own.multiaddrs[0].startswith("/ip4/127.0.0.1/tcp/")

        assert await connection.ping() >= 0
        await connection.announce([signed(3)])
        listing = await connection.request_peers()
        assert listing.full and listing.rejected == []
        assert sorted(r.public_key for r in listing.records) == sorted(key(i).public_key for i in (1, 2, 3))
        assert any(isinstance(e, RecordsReceived) for e in server_events)
        assert key(3).public_key in server.table and key(2).public_key in server.table
        assert len(server.connections) == 1

        await connection.close()
        assert connection.closed
        await asyncio.sleep(0.05)
        closed = [e for e in server_events if isinstance(e, SessionClosed)]
        assert closed and closed[0].code == frame_pb2.ERROR_CODE_SHUTTING_DOWN and not closed[0].local
        await client.close()
        await server.close()

    run(scenario())


def test_many_records_and_paging_over_tcp() -> None:
    async def scenario() -> None:
        server = PexNode(key(1), NETWORK, ["/ip4/127.0.0.1/tcp/1"])
        for seed in range(3, 60):
            server.table.add_signed(signed(seed, addresses=tuple(
                f"/dns/n{i}.{'x' * 60}.{'y' * 60}.{'z' * 60}/tcp/1" for i in range(8))))
        host, port = await server.listen()
        client = PexNode(key(2), NETWORK, ["/ip4/127.0.0.1/tcp/2"])
        connection = await client.connect(host, port)
        listing = await connection.request_peers(max_peers=7)
        assert len(listing.records) == 59  # 57 + server + client
        await server.close()
        await connection.wait_closed()
        assert connection.session.close_event is not None and connection.session.close_event.code == 12

    run(scenario())


def test_the_cursor_of_an_answer_asks_for_what_follows() -> None:
    async def scenario() -> None:
        server = PexNode(key(1), NETWORK, ["/ip4/127.0.0.1/tcp/1"])
        for seed in (3, 4, 5):
            server.table.add_signed(signed(seed))
        host, port = await server.listen()
        client = PexNode(key(2), NETWORK, ["/ip4/127.0.0.1/tcp/2"])
        connection = await client.connect(host, port)
        first = await connection.request_peers(max_peers=2)
        assert first.full and len(first.records) == 5 and first.next is not None
        # The cursor of the last page: its position is the end of the listing.
        assert first.next[1] == 5
        after = await connection.request_peers(since=first.next)
        assert after.records == [] and not after.full and after.next == first.next
        # A cursor of another epoch is not the responder's: the full list again.
        other = await connection.request_peers(since=(first.next[0] ^ 1, 1))
        assert other.full and len(other.records) == 5
        await client.close()
        await server.close()

    run(scenario())


def test_rejected_records_are_reported_by_position() -> None:
    async def scenario() -> None:
        server = PexNode(key(1), NETWORK, ["/ip4/127.0.0.1/tcp/1"])
        for seed in (3, 4, 5, 6):
            server.table.add_signed(signed(seed))
        # Smuggle records with broken signatures into the server's table, so it serves them.
        for seed in (7, 8):
            good = signed(seed)
            broken = type(good)(record=good.record, signature=bytes(64))
            verified = records.verify_signed_record(good, NETWORK, server.table.now())
            server.table.add(VerifiedRecord(verified.public_key, verified.seq, verified.addresses, NETWORK,
                                            verified.expires_at, broken))
        host, port = await server.listen()
        client = PexNode(key(2), NETWORK, ["/ip4/127.0.0.1/tcp/2"])
        connection = await client.connect(host, port)
        listing = await connection.request_peers(max_peers=2)
        order = sorted(key(i).public_key for i in range(1, 9))  # the server serves in key order
        bad_positions = sorted(order.index(key(i).public_key) for i in (7, 8))
        assert [index for index, _ in listing.rejected] == bad_positions
        assert {error.reason for _, error in listing.rejected} == {"bad-signature"}
        assert len(listing.records) == 6
        await client.close()
        await server.close()

    run(scenario())


def test_listen_without_addresses_uses_the_bound_address() -> None:
    async def scenario() -> None:
        server = PexNode(key(1), NETWORK)
        host, port = await server.listen()
        mine = records.verify_signed_record(server.record, NETWORK, server.table.now())
        assert mine.multiaddrs == [f"/ip4/127.0.0.1/tcp/{port}"]
        await server.close()

    run(scenario())


def test_connection_reset_during_handshake() -> None:
    async def scenario() -> None:
        async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()

        server = await asyncio.start_server(reset, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = PexNode(key(2), NETWORK, ["/ip4/127.0.0.1/tcp/2"])
        with pytest.raises(ConnectionClosedError) as info:
            await client.connect("127.0.0.1", port)
        assert not info.value.event.local and info.value.event.message == "connection lost"
        server.close()
        await server.wait_closed()

    run(scenario())


def test_wrong_network_is_refused() -> None:
    async def scenario() -> None:
        server = PexNode(key(1), "net-a", ["/ip4/127.0.0.1/tcp/1"])
        host, port = await server.listen()
        client = PexNode(key(2), "net-b", ["/ip4/127.0.0.1/tcp/2"])
        with pytest.raises(ConnectionClosedError) as info:
            await client.connect(host, port)
        assert info.value.event.code == frame_pb2.ERROR_CODE_WRONG_NETWORK
        assert "ERROR_CODE_WRONG_NETWORK" in str(info.value)
        await server.close()

    run(scenario())


def test_handshake_timeout_and_silent_peer() -> None:
    async def scenario() -> None:
        received = bytearray()

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            received.extend(await reader.read(4096))
            received.extend(await reader.read(4096))  # the Error frame after the timeout
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = PexNode(key(2), NETWORK, ["/ip4/127.0.0.1/tcp/2"], timeout=0.3)
        with pytest.raises(TimeoutError):
            await client.connect("127.0.0.1", port)
        await asyncio.sleep(0.1)
        from pex_client import framing
        frames = framing.FrameReader().feed(bytes(received))
        assert [framing.frame_kind(f) for f in frames] == ["hello", "error"]
        assert frames[1].error.code == frame_pb2.ERROR_CODE_TIMEOUT
        server.close()
        await server.wait_closed()

    run(scenario())


def test_peer_hanging_up_during_handshake() -> None:
    async def scenario() -> None:
        async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"\x05\x3a")  # half a frame, then gone
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(rude, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = PexNode(key(2), NETWORK, ["/ip4/127.0.0.1/tcp/2"])
        with pytest.raises(ConnectionClosedError) as info:
            await client.connect("127.0.0.1", port)
        assert not info.value.event.local and info.value.event.error.reason == "truncated"
        server.close()
        await server.wait_closed()

    run(scenario())


def test_node_refreshes_its_record() -> None:
    node = PexNode(key(1), NETWORK, ["/ip4/192.0.2.1/tcp/1"])
    first = records.verify_signed_record(node.record, NETWORK, node.table.now())
    second = node.refresh_record()
    assert second.seq > first.seq and node.table.get(key(1).public_key).seq == second.seq
    with pytest.raises(ValueError):
        PexNode(key(1), NETWORK, ttl=0)


def test_address_from_socket() -> None:
    assert address_from_socket(("127.0.0.1", 4001)) == "/ip4/127.0.0.1/tcp/4001"
    assert address_from_socket(("::1", 4001, 0, 0)) == "/ip6/::1/tcp/4001"
    assert address_from_socket(("fe80::1%eth0", 5, 0, 2)) == "/ip6/fe80::1/tcp/5"


# --- command line ----------------------------------------------------------------------------


def cli_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_cli_join_prints_peers() -> None:
    async def scenario() -> None:
        server = PexNode(key(1), NETWORK, ["/ip4/127.0.0.1/tcp/1"])
        server.table.add_signed(signed(3))
        host, port = await server.listen()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pex_client", "join", f"{host}:{port}", "--network", NETWORK,
            "--key", key(2).secret_key_base64, "--addr", "/dns4/me.example/tcp/4001", "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env())
        stdout, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        peers = json.loads(stdout)
        assert {p["peer_id"] for p in peers} == {key(i).peer_id for i in (1, 2, 3)}
        me = next(p for p in peers if p["peer_id"] == key(2).peer_id)
        assert me["addresses"] == ["/dns4/me.example/tcp/4001"]
        assert f"connected to {key(1).peer_id}" in stderr.decode()
        # The join announced the client to the server.
        assert server.table.get(key(2).public_key) is not None
        await server.close()

    run(scenario())


def test_cli_join_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def scenario() -> None:
        server = PexNode(key(1), "net-a", ["/ip4/127.0.0.1/tcp/1"])
        host, port = await server.listen()
        key_file = tmp_path / "key"
        key_file.write_text(key(2).secret_key_base64 + "\n")
        parser = cli.build_parser()
        args = parser.parse_args(["join", f"{host}:{port}", "--network", "net-b", "--key-file", str(key_file)])
        assert await cli.cmd_join(args) == 1
        assert "WRONG_NETWORK" in capsys.readouterr().err
        args = parser.parse_args(["join", f"{host}:{port}", "--network", "net-a", "-v", "--key-file", str(key_file)])
        assert await cli.cmd_join(args) == 0
        captured = capsys.readouterr()
        assert key(1).peer_id in captured.out and "/ip4/127.0.0.1/tcp/1" in captured.out
        assert "seq=" in captured.out and "expires=" in captured.out
        assert "closed (local)" in captured.err and f"connected to {key(1).peer_id}" in captured.err
        await server.close()
        args = parser.parse_args(["join", f"{host}:{port}", "--network", "net-a", "--timeout", "1"])
        assert await cli.cmd_join(args) == 1
        assert "join failed" in capsys.readouterr().err

    run(scenario())


def test_cli_serve_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    async def scenario() -> None:
        other = PexNode(key(3), NETWORK, ["/ip4/127.0.0.1/tcp/3"])
        other_host, other_port = await other.listen()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        args = cli.build_parser().parse_args([
            "serve", "--listen", f"127.0.0.1:{port}", "--network", NETWORK, "--key", key(1).secret_key_base64,
            "--connect", f"{other_host}:{other_port}", "--connect", "127.0.0.1:1", "--ttl", "2"])
        task = asyncio.create_task(cli.cmd_serve(args))
        await asyncio.sleep(0.3)
        client = PexNode(key(2), NETWORK, ["/ip4/127.0.0.1/tcp/2"])
        connection = await client.connect("127.0.0.1", port)
        await connection.announce([signed(4)])
        listing = await connection.request_peers()
        # Its own record, the dialled peer's, the client's and the announced one.
        assert {r.peer_id for r in listing.records} == {key(i).peer_id for i in (1, 2, 3, 4)}
        first_seq = next(r.seq for r in listing.records if r.peer_id == key(1).peer_id)
        await asyncio.sleep(1.2)  # the server re-signs its record every ttl/2
        listing = await connection.request_peers()
        assert next(r.seq for r in listing.records if r.peer_id == key(1).peer_id) > first_seq
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await connection.wait_closed()
        await other.close()
        err = capsys.readouterr().err
        assert "listening on 127.0.0.1" in err and "connect to 127.0.0.1:1 failed" in err
        assert "announcement of 1 records" in err

    run(scenario())


def test_cli_serve_answers_peers() -> None:
    async def scenario() -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pex_client", "serve", "--listen", "127.0.0.1:0", "--network", NETWORK,
            "--key", key(1).secret_key_base64, "--addr", "/ip4/192.0.2.1/tcp/4001",
            stderr=asyncio.subprocess.PIPE, env=cli_env())
        try:
            line = (await process.stderr.readline()).decode()
            assert "listening on 127.0.0.1:" in line and key(1).peer_id in line
            port = int(line.rsplit(":", 1)[1])
            client = PexNode(key(2), NETWORK, ["/ip4/127.0.0.1/tcp/2"])
            connection = await client.connect("127.0.0.1", port)
            listing = await connection.request_peers()
            assert {r.peer_id for r in listing.records} == {key(1).peer_id, key(2).peer_id}
            await connection.close()
        finally:
            process.terminate()
            await process.wait()

    run(scenario())


def test_cli_keygen(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keygen", "--seed-hex", "01" * 32]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"private_key": key(1).secret_key_base64, "public_key": key(1).public_key_base64,
                   "peer_id": key(1).peer_id}
    assert cli.main(["keygen"]) == 0
    assert json.loads(capsys.readouterr().out)["peer_id"].startswith("12D3KooW")


def test_cli_argument_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.parse_host_port("[::1]:4001") == ("::1", 4001)
    assert cli.parse_host_port("example.org:1") == ("example.org", 1)
    for bad in ("nohost", ":1", "h:0", "h:65536", "h:x", "[::1]4001"):
        with pytest.raises(Exception):
            cli.parse_host_port(bad)
    for argv in (["join", "h:1", "--network", "Bad"],
                 ["join", "h:1", "--network", "n", "--addr", "/ip4/1.2.3.4"],
                 ["join", "h:1", "--network", "n", "--addr", "/ip4/1.2.3"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
    assert cli.main(["join", "127.0.0.1:1", "--network", "n", "--key", "bad"]) == 2
    assert "invalid-base64" in capsys.readouterr().err


def test_a_request_refused_as_rate_limited_fails_at_once() -> None:
    async def scenario() -> None:
        async def strict(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            """Answers the first PeerRequest, refuses the second as a rate-limited node does."""
            session = Session(key(1), signed(1), NETWORK, initiator=False)
            session.start()
            writer.write(session.data_to_send())
            frames = framing.FrameReader()
            requests = 0
            while not session.closed:
                data = await reader.read(65536)
                if not data:
                    break
                # Frame by frame, so that the second PeerRequest can be intercepted.
                for raw in frames.feed_raw(data):
                    if framing.frame_kind(framing.decode_frame(raw)) == "peer_request":
                        requests += 1
                        if requests == 2:
                            refusal = frame_pb2.Frame()
                            refusal.error.code = frame_pb2.ERROR_CODE_RATE_LIMITED
                            refusal.error.message = "too many peer requests"
                            writer.write(framing.encode_frame(refusal))
                            continue
                    session.receive_data(framing.delimit(raw))
                writer.write(session.data_to_send())
            writer.close()

        server = await asyncio.start_server(strict, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = PexNode(key(2), NETWORK, ["/ip4/127.0.0.1/tcp/2"])
        connection = await client.connect("127.0.0.1", port)
        assert (await connection.request_peers()).full
        started = time.monotonic()
        with pytest.raises(RequestRefusedError) as refused:
            await connection.request_peers(timeout=5)
        assert time.monotonic() - started < 2, "the refusal ends the wait, not the timeout"
        assert refused.value.code == frame_pb2.ERROR_CODE_RATE_LIMITED and "RATE_LIMITED" in str(refused.value)
        assert not connection.closed, "a non-closing Error keeps the connection"
        assert (await connection.request_peers()).records, "and later requests are answered"
        await client.close()
        server.close()
        await server.wait_closed()

    run(scenario())


def test_request_and_ping_timeouts_clean_up() -> None:
    async def scenario() -> None:
        async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            """Completes the handshake, then never reads again."""
            session = Session(key(1), signed(1), NETWORK, initiator=False)
            session.start()
            writer.write(session.data_to_send())
            while not session.ready:
                session.receive_data(await reader.read(65536))
                writer.write(session.data_to_send())
            writers.append(writer)

        writers: list[asyncio.StreamWriter] = []

        server = await asyncio.start_server(mute, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = PexNode(key(2), NETWORK, ["/ip4/127.0.0.1/tcp/2"])
        connection = await client.connect("127.0.0.1", port)
        with pytest.raises(asyncio.TimeoutError):
            await connection.request_peers(timeout=0.2)
        with pytest.raises(asyncio.TimeoutError):
            await connection.ping(timeout=0.2)
        assert connection._requests == {} and connection._pings == {}
        await client.close()
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()

    run(scenario())
