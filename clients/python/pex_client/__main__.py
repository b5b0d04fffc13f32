"""Command line: ``python -m pex_client {keygen,join,serve} …`` (see ``--help``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from pex.v1 import frame_pb2

from . import identity, multiaddr
from .client import DEFAULT_TIMEOUT, DEFAULT_TTL, ConnectionClosedError, PexConnection, PexNode
from .errors import MultiaddrError, WireError
from .records import VerifiedRecord, check_network_id
from .session import Event, RecordsReceived, RemoteError, SessionClosed


def parse_host_port(text: str, *, allow_zero: bool = False) -> tuple[str, int]:
    """Split ``HOST:PORT`` or ``[IPV6]:PORT``; port 0 (any free port) only with ``allow_zero``."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not (0 if allow_zero else 1) <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _listen_address(text: str) -> tuple[str, int]:
    return parse_host_port(text, allow_zero=True)


def _network_id(text: str) -> str:
    try:
        check_network_id(text)
    except WireError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    return text


def _address(text: str) -> str:
    try:
        problem = multiaddr.undialable_reason(multiaddr.to_bytes(text))
    except MultiaddrError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text} is not dialable: {problem}")
    return text


def load_keypair(args: argparse.Namespace) -> identity.KeyPair:
    """The key from --key or --key-file, else a fresh one."""
    if args.key:
        return identity.KeyPair.from_secret_base64(args.key)
    if args.key_file:
        with open(args.key_file, encoding="ascii") as handle:
            return identity.KeyPair.from_secret_base64(handle.read())
    return identity.KeyPair.generate()


def record_json(record: VerifiedRecord) -> dict:
    return {
        "peer_id": record.peer_id,
        "public_key": identity.b64encode(record.public_key),
        "seq": record.seq,
        "addresses": record.multiaddrs,
        "expires_at": record.expires_at,
    }


def _print_record(record: VerifiedRecord) -> None:
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.expires_at))
    print(f"{record.peer_id}  seq={record.seq}  expires={expires}")
    for address in record.multiaddrs:
        print(f"    {address}")


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _log_event(connection: PexConnection, event: Event) -> None:
    who = connection.session.peer_id or "?"
    if isinstance(event, RemoteError):
        _log(f"{who}: error {frame_pb2.ErrorCode.Name(event.code) if event.code in frame_pb2.ErrorCode.values() else event.code}"
             f" {event.message!r} closing={event.closing}")
    elif isinstance(event, RecordsReceived):
        _log(f"{who}: {event.kind} of {len(event.records)} records ({len(event.rejected)} rejected)")
    elif isinstance(event, SessionClosed):
        _log(f"{who}: closed ({'local' if event.local else 'remote'}): {event.message}")


async def cmd_join(args: argparse.Namespace) -> int:
    keypair = load_keypair(args)
    node = PexNode(keypair, args.network, args.addr, ttl=args.ttl, timeout=args.timeout,
                   on_event=_log_event if args.verbose else None)
    host, port = args.target
    try:
        connection = await node.connect(host, port)
        peer = connection.peer
        assert peer is not None
        _log(f"connected to {peer.record.peer_id} (protocol v{peer.version}, agent {peer.agent!r}); "
             f"we are {keypair.peer_id}")
        assert node.record is not None
        await connection.announce([node.record])
        listing = await connection.request_peers(args.max_peers, timeout=args.timeout)
        await connection.close()
    except (ConnectionClosedError, TimeoutError, OSError) as exc:
        _log(f"join failed: {exc}")
        return 1
    for index, error in listing.rejected:
        _log(f"rejected record {index}: {error}")
    if args.json:
        print(json.dumps([record_json(r) for r in listing.records], indent=2))
    else:
        for record in listing.records:
            _print_record(record)
    return 0


async def cmd_serve(args: argparse.Namespace) -> int:
    keypair = load_keypair(args)
    node = PexNode(keypair, args.network, args.addr, ttl=args.ttl, timeout=args.timeout, on_event=_log_event)
    host, port = await node.listen(*args.listen)
    _log(f"{keypair.peer_id} listening on {host}:{port}")
    for target in args.connect:
        try:
            await node.connect(*target)
        except (ConnectionClosedError, TimeoutError, OSError) as exc:
            _log(f"connect to {target[0]}:{target[1]} failed: {exc}")
    try:
        while True:
            # Re-sign well before the record expires.
            await asyncio.sleep(max(args.ttl // 2, 1))
            node.refresh_record()
    finally:
        await node.close()


def cmd_keygen(args: argparse.Namespace) -> int:
    keypair = identity.KeyPair.from_seed(bytes.fromhex(args.seed_hex)) if args.seed_hex else identity.KeyPair.generate()
    print(json.dumps({"private_key": keypair.secret_key_base64, "public_key": keypair.public_key_base64,
                      "peer_id": keypair.peer_id}, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pex_client", description="pex wire protocol v1 client")
    commands = parser.add_subparsers(dest="command", required=True)

    keygen = commands.add_parser("keygen", help="print a new key pair (base64 keys and peer ID)")
    keygen.add_argument("--seed-hex", help="derive the key from this 32-byte seed instead")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--network", required=True, type=_network_id, help="network id")
        keys = sub.add_mutually_exclusive_group()
        keys.add_argument("--key", help="base64 private key (64-byte seed ‖ public key)")
        keys.add_argument("--key-file", help="file holding the base64 private key")
        sub.add_argument("--addr", action="append", default=[], type=_address,
                         help="multiaddr to announce (repeatable; default: the local socket address)")
        sub.add_argument("--ttl", type=int, default=DEFAULT_TTL, help="record lifetime in seconds")
        sub.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per network step")

    join = commands.add_parser("join", help="handshake, announce this node, print the peer list")
    join.add_argument("target", type=parse_host_port, metavar="HOST:PORT")
    common(join)
    join.add_argument("--max-peers", type=int, default=0, help="records per response (0: 1000)")
    join.add_argument("--json", action="store_true", help="print the peers as JSON")
    join.add_argument("-v", "--verbose", action="store_true", help="log protocol events to stderr")

    serve = commands.add_parser("serve", help="accept connections and answer peer requests")
    serve.add_argument("--listen", type=_listen_address, default=("127.0.0.1", 4001), metavar="HOST:PORT")
    serve.add_argument("--connect", type=parse_host_port, action="append", default=[], metavar="HOST:PORT",
                       help="also dial this peer (repeatable)")
    common(serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "keygen":
            return cmd_keygen(args)
        if args.command == "join":
            return asyncio.run(cmd_join(args))
        return asyncio.run(cmd_serve(args))
    except WireError as exc:
        _log(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
