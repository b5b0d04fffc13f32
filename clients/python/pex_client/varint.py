"""Unsigned LEB128 varints as protobuf writes them (frame length prefix, binary multiaddrs)."""

from __future__ import annotations


class VarintError(ValueError):
    """The bytes are not an acceptable varint (too long, over 64 bits, or not minimal)."""


def encode(value: int) -> bytes:
    """Return the varint encoding of ``value`` (0 ≤ value < 2**64)."""
    if value < 0 or value >= 1 << 64:
        raise ValueError(f"varint value out of range: {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read(data: bytes | bytearray | memoryview, offset: int = 0, *, max_bytes: int = 10,
         minimal: bool = True, end: int | None = None) -> tuple[int, int] | None:
    """Read one varint at ``data[offset:end]`` (``end`` defaults to the end of ``data``).

    Returns ``(value, length)``, or ``None`` when the data ends inside the varint (and fewer than
    ``max_bytes`` bytes are available). Raises :class:`VarintError` for an encoding longer than
    ``max_bytes``, a value over 64 bits, or (when ``minimal``) a redundant trailing zero byte, so
    that each value has exactly one accepted encoding.
    """
    value = 0
    shift = 0
    count = 0
    if end is None:
        end = len(data)
    pos = offset
    while pos < end:
        byte = data[pos]
        pos += 1
        count += 1
        if count > max_bytes or count > 10:
            raise VarintError("varint too long")
        payload = byte & 0x7F
        if shift == 63 and payload > 1:
            raise VarintError("varint over 64 bits")
        value |= payload << shift
        if byte & 0x80 == 0:
            if minimal and count > 1 and byte == 0:
                raise VarintError("non-minimal varint")
            return value, count
        shift += 7
    if count >= max_bytes:
        raise VarintError("varint too long")
    return None
