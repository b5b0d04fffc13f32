"""Multiaddrs (multiformats) in text and binary form, for the protocols peer records use.

Supported: ip4, ip6, tcp, udp, dns, dns4, dns6, quic-v1, p2p. Parsing is strict in both
directions: one canonical encoding per value (no leading zeros in ports or IPv4 octets, IPv6
zones rejected, DNS names must be RFC 1123 host names, /p2p values must be libp2p peer ID
multihashes). quic-v1 is multicodec 0x01cd; the draft ``quic`` (0x01cc) is an unknown protocol.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from . import base58, limits, varint
from .errors import MultiaddrError


@dataclass(frozen=True)
class Protocol:
    """A multiaddr protocol: name, multicodec code and value kind."""

    name: str
    code: int
    #: "ip4", "ip6", "port", "dns", "p2p" or "none".
    kind: str


PROTOCOLS = (
    Protocol("ip4", 0x04, "ip4"),
    Protocol("tcp", 0x06, "port"),
    Protocol("udp", 0x0111, "port"),
    Protocol("ip6", 0x29, "ip6"),
    Protocol("dns", 0x35, "dns"),
    Protocol("dns4", 0x36, "dns"),
    Protocol("dns6", 0x37, "dns"),
    # 0x01cd is quic-v1 (RFC 9000); 0x01cc is the draft-29 "quic", deliberately unknown here.
    Protocol("quic-v1", 0x01CD, "none"),
    Protocol("p2p", 0x01A5, "p2p"),
)
BY_NAME = {p.name: p for p in PROTOCOLS}
BY_CODE = {p.code: p for p in PROTOCOLS}

_IP4 = re.compile(r"(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}")
_PORT = re.compile(r"0|[1-9][0-9]{0,4}")
_LDH = re.compile(r"[A-Za-z0-9-]*")
_MAX_DNS_NAME = 253
_MAX_DNS_LABEL = 63
_MAX_IDENTITY_DIGEST = 42
_IPV4_MAPPED_PREFIX = bytes(10) + b"\xff\xff"
_MULTIHASH_IDENTITY = 0x00
_MULTIHASH_SHA2_256 = 0x12


def _invalid(proto: str, value: str, reason: str) -> MultiaddrError:
    return MultiaddrError("invalid-value", f'invalid {proto} value "{value}": {reason}')


def _dns_problem(name: str) -> str | None:
    """Why ``name`` is not an acceptable host name (RFC 1123 LDH labels), or ``None``.

    Underscore is refused: it never occurs in names that have address records. The last label
    may not be all digits, so that a name never looks like an IPv4 literal.
    """
    if not name:
        return "empty name"
    if len(name) > _MAX_DNS_NAME:
        return f"longer than {_MAX_DNS_NAME} bytes"
    labels = name.split(".")
    for label in labels:
        if not label:
            return "empty label (leading, trailing or double dot)"
        if len(label) > _MAX_DNS_LABEL:
            return f"label longer than {_MAX_DNS_LABEL} bytes"
        if not _LDH.fullmatch(label):
            return ("underscore is not allowed in a host name" if "_" in label
                    else 'only ASCII letters, digits, "-" and "." are allowed')
        if label[0] == "-" or label[-1] == "-":
            return 'label starts or ends with "-"'
    if labels[-1].isdigit():  # ASCII only here: every label passed _LDH
        return "top-level label is all digits"
    return None


def _check_dns(proto: str, name: str) -> None:
    problem = _dns_problem(name)
    if problem is not None:
        raise _invalid(proto, name, problem)


def _check_multihash(proto: str, digest: bytes, shown: str) -> None:
    try:
        code = varint.read(digest)
        if code is None:
            raise _invalid(proto, shown, "empty multihash")
        length = varint.read(digest, code[1])
    except varint.VarintError:
        raise _invalid(proto, shown, "malformed multihash varint") from None
    if length is None:
        raise _invalid(proto, shown, "truncated multihash")
    if len(digest) - code[1] - length[1] != length[0]:
        raise _invalid(proto, shown, "multihash length does not match its digest")
    if code[0] == _MULTIHASH_SHA2_256 and length[0] == 32:
        return
    if code[0] == _MULTIHASH_IDENTITY and 0 < length[0] <= _MAX_IDENTITY_DIGEST:
        return
    raise _invalid(proto, shown, "not an identity multihash of 1 to 42 bytes or a sha2-256 multihash of 32 bytes")


def format_ip6(packed: bytes) -> str:
    """RFC 5952 text of a 16-byte IPv6 address (lowercase, longest zero run as ``::``).

    IPv4-mapped addresses are written ``::ffff:a.b.c.d`` (RFC 5952 §5), as go-multiaddr and the
    Swift implementation print them.
    """
    if packed[:12] == _IPV4_MAPPED_PREFIX:
        return "::ffff:" + ".".join(str(b) for b in packed[12:])
    groups = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)]
    best_start, best_len = -1, 0
    i = 0
    while i < 8:
        if groups[i] == 0:
            j = i
            while j < 8 and groups[j] == 0:
                j += 1
            if j - i > best_len:
                best_start, best_len = i, j - i
            i = j
        else:
            i += 1
    hexes = [f"{g:x}" for g in groups]
    if best_len < 2:
        return ":".join(hexes)
    return ":".join(hexes[:best_start]) + "::" + ":".join(hexes[best_start + best_len :])


def _value_to_bytes(proto: Protocol, value: str) -> bytes:
    if proto.kind == "ip4":
        if not _IP4.fullmatch(value) or any(int(octet) > 255 for octet in value.split(".")):
            raise _invalid(proto.name, value, "not a dotted-quad IPv4 address")
        return bytes(int(octet) for octet in value.split("."))
    if proto.kind == "ip6":
        if "%" in value:
            raise _invalid(proto.name, value, "zones are not allowed")
        try:
            return ipaddress.IPv6Address(value).packed
        except ValueError as exc:
            raise _invalid(proto.name, value, str(exc)) from None
    if proto.kind == "port":
        if not _PORT.fullmatch(value) or int(value) > 65535:
            raise _invalid(proto.name, value, "port must be 0 to 65535 without leading zeros")
        return int(value).to_bytes(2, "big")
    if proto.kind == "dns":
        _check_dns(proto.name, value)
        raw = value.encode("ascii")
        return varint.encode(len(raw)) + raw
    # p2p
    try:
        digest = base58.decode(value)
    except ValueError:
        raise _invalid(proto.name, value, "not base58btc") from None
    _check_multihash(proto.name, digest, value)
    return varint.encode(len(digest)) + digest


def to_bytes(text: str) -> bytes:
    """Binary form of a text multiaddr such as ``/ip4/192.0.2.1/tcp/4001``.

    Raises :class:`MultiaddrError`.
    """
    if not text:
        raise MultiaddrError("empty", "empty multiaddr")
    if not text.startswith("/"):
        raise MultiaddrError("must-start-with-slash", 'multiaddr must start with "/"')
    parts = text[1:].split("/")
    if parts == [""]:
        raise MultiaddrError("empty", "empty multiaddr")
    out = bytearray()
    i = 0
    while i < len(parts):
        proto = BY_NAME.get(parts[i])
        if proto is None:
            raise MultiaddrError("unknown-protocol", f'unknown protocol "{parts[i]}"')
        out += varint.encode(proto.code)
        i += 1
        if proto.kind != "none":
            if i >= len(parts):
                raise MultiaddrError("missing-value", f"protocol {proto.name} needs a value")
            out += _value_to_bytes(proto, parts[i])
            i += 1
    if len(out) > limits.MAX_ADDRESS_LENGTH:
        raise MultiaddrError("too-long", f"multiaddr is {len(out)} bytes, limit {limits.MAX_ADDRESS_LENGTH}")
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    try:
        result = varint.read(data, pos)
    except varint.VarintError:
        raise MultiaddrError("bad-varint", "binary multiaddr has a malformed varint") from None
    if result is None:
        raise MultiaddrError("truncated", "binary multiaddr is truncated")
    return result


def components(data: bytes) -> list[tuple[str, str | None]]:
    """Decode a binary multiaddr into ``(protocol name, value text or None)`` pairs.

    Raises :class:`MultiaddrError`.
    """
    data = bytes(data)
    if not data:
        raise MultiaddrError("empty", "empty multiaddr")
    if len(data) > limits.MAX_ADDRESS_LENGTH:
        raise MultiaddrError("too-long", f"multiaddr is {len(data)} bytes, limit {limits.MAX_ADDRESS_LENGTH}")
    out: list[tuple[str, str | None]] = []
    pos = 0
    while pos < len(data):
        code, n = _read_varint(data, pos)
        pos += n
        proto = BY_CODE.get(code)
        if proto is None:
            raise MultiaddrError("unknown-protocol", f'unknown protocol "0x{code:x}"')
        if proto.kind == "none":
            out.append((proto.name, None))
            continue
        if proto.kind in ("dns", "p2p"):
            size, n = _read_varint(data, pos)
            pos += n
        else:
            size = {"ip4": 4, "ip6": 16, "port": 2}[proto.kind]
        if size > len(data) - pos:
            raise MultiaddrError("truncated", "binary multiaddr is truncated")
        raw = data[pos : pos + size]
        pos += size
        out.append((proto.name, _value_to_text(proto, raw)))
    return out


def _value_to_text(proto: Protocol, raw: bytes) -> str:
    if proto.kind == "ip4":
        return ".".join(str(b) for b in raw)
    if proto.kind == "ip6":
        return format_ip6(raw)
    if proto.kind == "port":
        return str(int.from_bytes(raw, "big"))
    if proto.kind == "dns":
        try:
            name = raw.decode("ascii")
        except UnicodeDecodeError:
            raise _invalid(proto.name, raw.hex(), "DNS name is not ASCII") from None
        _check_dns(proto.name, name)
        return name
    text = base58.encode(raw)
    _check_multihash(proto.name, raw, text)
    return text


def to_text(data: bytes) -> str:
    """Canonical text form of a binary multiaddr. Raises :class:`MultiaddrError`."""
    return "".join(f"/{name}" if value is None else f"/{name}/{value}" for name, value in components(data))


_NETWORK = {"ip4", "ip6", "dns", "dns4", "dns6"}


def undialable_reason(data: bytes) -> str | None:
    """Why a valid binary multiaddr cannot serve as a peer record address, or ``None`` if it can.

    Dialable means: ``ip4|ip6|dns|dns4|dns6``, then ``tcp`` or ``udp`` + ``quic-v1`` with a
    non-zero port, then optionally ``p2p``; IP addresses must not be unspecified (0.0.0.0, ::).
    Raises :class:`MultiaddrError` if ``data`` is not a valid multiaddr at all.
    """
    comps = components(data)
    name, value = comps[0]
    if name not in _NETWORK:
        return f"starts with /{name}, not an IP address or DNS name"
    if value in ("0.0.0.0", "::"):
        return "unspecified IP address"
    if len(comps) < 2 or comps[1][0] not in ("tcp", "udp"):
        return "no tcp or udp transport port"
    if comps[1][1] == "0":
        return "port 0"
    rest = comps[2:]
    if comps[1][0] == "udp":
        if not rest or rest[0][0] != "quic-v1":
            return "udp without quic-v1"
        rest = rest[1:]
    if rest and rest[0][0] == "p2p":
        rest = rest[1:]
    if rest:
        return f"unexpected /{rest[0][0]} after the transport"
    return None


def peer_id_suffix(data: bytes) -> str | None:
    """The peer ID text of a trailing ``/p2p/<id>`` of a binary multiaddr, or ``None``.

    Raises :class:`MultiaddrError` if ``data`` is not a valid multiaddr.
    """
    name, value = components(data)[-1]
    return value if name == "p2p" else None
