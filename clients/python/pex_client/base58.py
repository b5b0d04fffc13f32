"""Base58 with the Bitcoin alphabet (base58btc), as used by libp2p peer IDs."""

from __future__ import annotations

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def encode(data: bytes) -> str:
    """Encode ``data``; each leading zero byte becomes a leading ``1``."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    n = int.from_bytes(data, "big")
    digits = []
    while n:
        n, r = divmod(n, 58)
        digits.append(ALPHABET[r])
    return "1" * zeros + "".join(reversed(digits))


def decode(text: str) -> bytes:
    """Decode base58btc text; raises :class:`ValueError` on a character outside the alphabet."""
    n = 0
    for c in text:
        index = _INDEX.get(c)
        if index is None:
            raise ValueError(f"invalid base58 character {c!r}")
        n = n * 58 + index
    ones = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\x00" * ones + body
