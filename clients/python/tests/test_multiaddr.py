"""Multiaddr text ↔ binary, strictness and dialability."""

from __future__ import annotations

import pytest

from conftest import key
from pex_client import multiaddr
from pex_client.errors import MultiaddrError

PEER = key(1).peer_id


@pytest.mark.parametrize("text,hex_", [
    ("/ip4/192.0.2.1/tcp/4001", "04c0000201060fa1"),
    ("/ip4/0.0.0.0/tcp/0", "0400000000060000"),
    ("/ip4/255.255.255.255/udp/65535/quic-v1", "04ffffffff9102ffffcd03"),
    ("/ip6/::1/tcp/80", "2900000000000000000000000000000001060050"),
    ("/ip6/2001:db8::1/udp/4001/quic-v1", "2920010db80000000000000000000000019102" + "0fa1cd03"),
    ("/dns/example.org/tcp/443", "350b6578616d706c652e6f726706" + "01bb"),
    ("/dns4/a/tcp/1", "360161060001"),
    ("/dns6/x-y-Z.example/tcp/1", "370d782d792d5a2e6578616d706c65060001"),
    ("/dns/1.example.123a/tcp/1", "350e312e6578616d706c652e31323361060001"),
    ("/dns/" + ".".join(["a" * 63] * 3 + ["a" * 61]), "35fd01" + ("61" * 63 + "2e") * 3 + "61" * 61),
    ("/quic-v1", "cd03"),
])
def test_round_trip(text: str, hex_: str) -> None:
    assert multiaddr.to_bytes(text).hex() == hex_
    assert multiaddr.to_text(bytes.fromhex(hex_)) == text


def test_p2p_component() -> None:
    text = f"/ip4/192.0.2.1/tcp/4001/p2p/{PEER}"
    binary = multiaddr.to_bytes(text)
    assert binary.endswith(bytes.fromhex("a503") + bytes([38]) + bytes.fromhex("002408011220") + key(1).public_key)
    assert multiaddr.to_text(binary) == text
    # A sha2-256 multihash peer ID ("Qm…") is valid too.
    sha = "/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
    assert multiaddr.to_text(multiaddr.to_bytes(sha)) == sha


@pytest.mark.parametrize("text,ip6", [
    ("/ip6/0:0:0:0:0:0:0:1/tcp/1", "::1"),
    ("/ip6/2001:DB8:0:0:1:0:0:1/tcp/1", "2001:db8::1:0:0:1"),
    ("/ip6/2001:db8:0:1:1:1:1:1/tcp/1", "2001:db8:0:1:1:1:1:1"),
    ("/ip6/::/tcp/1", "::"),
    ("/ip6/1::/tcp/1", "1::"),
    ("/ip6/::ffff:192.0.2.1/tcp/1", "::ffff:192.0.2.1"),
    ("/ip6/::ffff:c000:201/tcp/1", "::ffff:192.0.2.1"),
    ("/ip6/::fffe:c000:201/tcp/1", "::fffe:c000:201"),
    ("/ip6/::c000:201/tcp/1", "::c000:201"),
    ("/ip6/1:0:0:2:0:0:0:3/tcp/1", "1:0:0:2::3"),
])
def test_ip6_canonical_text(text: str, ip6: str) -> None:
    assert multiaddr.to_text(multiaddr.to_bytes(text)) == f"/ip6/{ip6}/tcp/1"


@pytest.mark.parametrize("text,kind", [
    ("", "empty"),
    ("/", "empty"),
    ("ip4/1.2.3.4", "must-start-with-slash"),
    ("/ip5/1.2.3.4", "unknown-protocol"),
    ("/ip4/1.2.3.4/", "unknown-protocol"),
    ("/ipfs/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", "unknown-protocol"),
    ("/ip4", "missing-value"),
    ("/ip4/1.2.3.4/tcp", "missing-value"),
    ("/ip4/1.2.3", "invalid-value"),
    ("/ip4/1.2.3.256", "invalid-value"),
    ("/ip4/01.2.3.4", "invalid-value"),
    ("/ip4/1.2.3.4.5", "invalid-value"),
    ("/ip4//tcp/1", "invalid-value"),
    ("/ip6/1.2.3.4", "invalid-value"),
    ("/ip6/fe80::1%eth0", "invalid-value"),
    ("/ip6/::g", "invalid-value"),
    ("/ip4/1.2.3.4/tcp/65536", "invalid-value"),
    ("/ip4/1.2.3.4/tcp/080", "invalid-value"),
    ("/ip4/1.2.3.4/tcp/-1", "invalid-value"),
    ("/ip4/1.2.3.4/tcp/+1", "invalid-value"),
    ("/dns/-bad.example", "invalid-value"),
    ("/dns/bad-.example", "invalid-value"),
    ("/dns/a..b", "invalid-value"),
    ("/dns/example.org.", "invalid-value"),
    ("/dns/ex ample", "invalid-value"),
    ("/dns/" + "a" * 64, "invalid-value"),
    ("/dns/" + ".".join(["a" * 63] * 4), "invalid-value"),
    ("/dns/exämple.org", "invalid-value"),
    ("/dns/_srv.example.org", "invalid-value"),
    ("/dns/a_b.example", "invalid-value"),
    ("/dns/192.0.2.1", "invalid-value"),
    ("/dns/example.123", "invalid-value"),
    ("/dns/-", "invalid-value"),
    ("/quic", "unknown-protocol"),
    ("/quic-v1/1", "unknown-protocol"),
    ("/p2p/0OIl", "invalid-value"),
    ("/p2p/", "invalid-value"),
    ("/p2p/1", "invalid-value"),
    ("/p2p/3yZe7d", "invalid-value"),
    ("/dns/" + ".".join(["a" * 63] * 3 + ["a" * 61]) + "/tcp/1", "too-long"),
])
def test_text_errors(text: str, kind: str) -> None:
    with pytest.raises(MultiaddrError) as info:
        multiaddr.to_bytes(text)
    assert info.value.kind == kind


@pytest.mark.parametrize("hex_,kind", [
    ("", "empty"),
    ("ff", "truncated"),
    ("8000", "bad-varint"),
    ("ffffffffffffffffffff01", "bad-varint"),
    ("05", "unknown-protocol"),
    ("04c00002", "truncated"),
    ("06", "truncated"),
    ("35", "truncated"),
    ("3505616263", "truncated"),
    ("3500", "invalid-value"),
    ("3502c328", "invalid-value"),
    ("35022f61", "invalid-value"),
    ("a50300", "invalid-value"),
    ("a503030002" + "01", "invalid-value"),  # identity multihash announcing 2 bytes, holding 1
    ("a50303122001", "invalid-value"),  # sha2-256 with a 1-byte digest
    ("a50302 1380".replace(" ", ""), "invalid-value"),  # truncated multihash varint
    ("a503021300", "invalid-value"),  # unknown multihash code
    ("a5032d002b" + "01" * 43, "invalid-value"),  # identity multihash over 42 bytes
    ("cc03", "unknown-protocol"),  # draft "quic", not quic-v1
    ("04c0000201" + "9102" + "0fa1" + "cc03", "unknown-protocol"),
    ("3503615f62", "invalid-value"),  # "a_b"
    ("3503312e32", "invalid-value"),  # "1.2": all-digit top-level label
    ("a5030100", "invalid-value"),  # multihash without length
    ("a503028000", "invalid-value"),  # non-minimal multihash code varint
    ("04" + "00" * 4 + "06" + "0001" + "cd03" * 126, "too-long"),
])
def test_binary_errors(hex_: str, kind: str) -> None:
    with pytest.raises(MultiaddrError) as info:
        multiaddr.components(bytes.fromhex(hex_))
    assert info.value.kind == kind


def test_identity_multihash_limit() -> None:
    at_limit = bytes.fromhex("a5032c002a") + bytes(range(1, 43))
    assert multiaddr.to_bytes(multiaddr.to_text(at_limit)) == at_limit


def test_dns_error_messages_name_the_rule() -> None:
    for text, words in (("/dns/a_b.example", "underscore"), ("/dns/example.123", "all digits"),
                        ("/dns/a-.example", 'ends with "-"'), ("/dns/a..b", "empty label")):
        with pytest.raises(MultiaddrError) as info:
            multiaddr.to_bytes(text)
        assert words in info.value.message, text


def test_peer_id_suffix() -> None:
    assert multiaddr.peer_id_suffix(multiaddr.to_bytes(f"/ip4/192.0.2.1/tcp/1/p2p/{PEER}")) == PEER
    assert multiaddr.peer_id_suffix(multiaddr.to_bytes("/ip4/192.0.2.1/tcp/1")) is None


def test_binary_length_limit_boundary() -> None:
    exactly = bytes.fromhex("0400000000" + "060001") + bytes.fromhex("cd03") * 124
    assert len(exactly) == 256
    assert multiaddr.to_text(exactly).endswith("/quic-v1")


@pytest.mark.parametrize("text,reason", [
    ("/ip4/192.0.2.1/tcp/4001", None),
    ("/ip6/2001:db8::1/tcp/4001", None),
    ("/dns/example.org/tcp/4001", None),
    ("/dns4/example.org/udp/4001/quic-v1", None),
    (f"/dns6/example.org/tcp/4001/p2p/{PEER}", None),
    (f"/ip4/192.0.2.1/udp/1/quic-v1/p2p/{PEER}", None),
    ("/ip4/192.0.2.1", "no tcp or udp transport port"),
    ("/ip4/192.0.2.1/quic-v1", "no tcp or udp transport port"),
    ("/tcp/4001", "starts with /tcp, not an IP address or DNS name"),
    (f"/p2p/{PEER}", "starts with /p2p, not an IP address or DNS name"),
    ("/ip4/0.0.0.0/tcp/4001", "unspecified IP address"),
    ("/ip6/::/tcp/4001", "unspecified IP address"),
    ("/ip4/192.0.2.1/tcp/0", "port 0"),
    ("/ip4/192.0.2.1/udp/4001", "udp without quic-v1"),
    ("/ip4/192.0.2.1/tcp/4001/tcp/4002", "unexpected /tcp after the transport"),
    (f"/ip4/192.0.2.1/tcp/4001/p2p/{PEER}/quic-v1", "unexpected /quic-v1 after the transport"),
])
def test_dialability(text: str, reason: str | None) -> None:
    assert multiaddr.undialable_reason(multiaddr.to_bytes(text)) == reason


def test_dialability_of_invalid_bytes_raises() -> None:
    with pytest.raises(MultiaddrError):
        multiaddr.undialable_reason(b"\x05")


def test_format_ip6() -> None:
    assert multiaddr.format_ip6(bytes(16)) == "::"
    assert multiaddr.format_ip6(bytes(range(16))) == "1:203:405:607:809:a0b:c0d:e0f"
    # A single zero group is not compressed; the first of two equal runs is.
    assert multiaddr.format_ip6(bytes.fromhex("00010000000100010001000100010001")) == "1:0:1:1:1:1:1:1"
    assert multiaddr.format_ip6(bytes.fromhex("00010000000000010000000000010001")) == "1::1:0:0:1:1"
