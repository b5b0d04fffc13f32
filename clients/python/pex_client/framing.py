"""Frames on the stream: varint length prefix + serialised ``pex.v1.Frame``.

Decoding checks every limit of protocol v1 (:mod:`pex_client.limits`) and reports each fault as a
:class:`~pex_client.errors.WireError` with the same reason as the Swift codec. Checks that need
keys or a clock (signatures, expiry, network id) live in :mod:`pex_client.records`.
"""

from __future__ import annotations

import zlib

from google.protobuf.message import DecodeError

from pex.v1 import frame_pb2, record_pb2

from . import limits, varint
from .errors import WireError
from .wirecheck import check_message

Frame = frame_pb2.Frame

#: Names of the known bodies of ``Frame`` (its ``body`` oneof), by field number.
BODY_FIELDS = {f.number: f.name for f in Frame.DESCRIPTOR.oneofs_by_name["body"].fields}


def serialize(frame: frame_pb2.Frame) -> bytes:
    """The exact bytes of ``frame`` as sent on the wire (without the length prefix)."""
    return frame.SerializeToString(deterministic=True)


def delimit(frame_bytes: bytes, max_frame_size: int = limits.MAX_FRAME_SIZE) -> bytes:
    """Prefix already serialised frame bytes with their varint length.

    Raises ``empty-frame`` for no bytes and ``frame-too-large`` beyond ``max_frame_size``.
    """
    if not frame_bytes:
        raise WireError("empty-frame", "empty frame (no body)")
    if len(frame_bytes) > max_frame_size:
        raise WireError("frame-too-large", f"frame of {len(frame_bytes)} bytes exceeds the limit of {max_frame_size}")
    return varint.encode(len(frame_bytes)) + frame_bytes


def encode_frame(frame: frame_pb2.Frame, max_frame_size: int = limits.MAX_FRAME_SIZE) -> bytes:
    """Serialise ``frame`` and prefix it with its varint length, ready to write to the stream."""
    return delimit(serialize(frame), max_frame_size)


def frame_kind(frame: frame_pb2.Frame) -> str:
    """The name of the body set in ``frame`` (``"hello"``, ``"ping"``, …) or ``"unknown"``."""
    return frame.WhichOneof("body") or "unknown"


def unknown_field_number(frame: frame_pb2.Frame) -> int | None:
    """For a frame without a known body, the first field number it carries; else ``None``."""
    if frame.WhichOneof("body") is not None:
        return None
    unknown = check_message(serialize(frame), Frame.DESCRIPTOR, "frame")
    return unknown[0] if unknown else None


# --- compression ---------------------------------------------------------------------------


def deflate(data: bytes) -> bytes:
    """Raw deflate (RFC 1951, no zlib header) at the highest compression level."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def inflate(data: bytes, announced_size: int, limit: int = limits.MAX_FRAME_SIZE) -> bytes:
    """Inflate raw deflate ``data`` that should yield exactly ``announced_size`` bytes.

    The announcement is the allowance: a stream that would produce more is
    ``decompression-too-large`` (inflation stops one byte past it, so a decompression bomb costs
    no more memory than the limit); one that produces fewer is ``decompressed-size-mismatch``.
    """
    if announced_size > limit:
        raise WireError("decompression-too-large", f"compressed frame announces {announced_size} bytes, limit {limit}")
    inflater = zlib.decompressobj(wbits=-15)
    try:
        out = inflater.decompress(data, announced_size + 1)
    except zlib.error as exc:
        raise WireError("bad-compressed-data", f"corrupt compressed data: {exc}") from None
    if len(out) > announced_size:
        raise WireError("decompression-too-large", f"inflates to more than the announced {announced_size} bytes")
    if not inflater.eof:
        raise WireError("bad-compressed-data", "corrupt compressed data: deflate stream is incomplete")
    if inflater.unused_data:
        raise WireError("bad-compressed-data", "corrupt compressed data: bytes after the end of the deflate stream")
    if len(out) != announced_size:
        raise WireError("decompressed-size-mismatch", f"inflated to {len(out)} bytes, announced {announced_size}")
    return out


def compress_frame(frame_bytes: bytes) -> frame_pb2.Frame:
    """Wrap serialised frame bytes in a ``Compressed`` frame (codec deflate)."""
    out = Frame()
    out.compressed.codec = frame_pb2.COMPRESSION_CODEC_DEFLATE
    out.compressed.uncompressed_size = len(frame_bytes)
    out.compressed.data = deflate(frame_bytes)
    return out


# --- decoding ------------------------------------------------------------------------------


def _check_len(field: str, value: bytes | str, limit: int) -> None:
    length = len(value.encode("utf-8")) if isinstance(value, str) else len(value)
    if length > limit:
        raise WireError("field-too-long", f"{field} is {length} long, limit {limit}")


def _check_fixed(field: str, value: bytes, expected: int) -> None:
    if len(value) != expected:
        raise WireError("wrong-field-length", f"{field} is {len(value)} bytes, expected {expected}")


def check_signed_record_shape(signed: record_pb2.SignedPeerRecord, field: str) -> None:
    """Size checks on a SignedPeerRecord that need neither a key nor a clock."""
    _check_len(f"{field}.record", signed.record, limits.MAX_RECORD_SIZE)
    _check_fixed(f"{field}.signature", signed.signature, limits.SIGNATURE_LENGTH)


def _check_records(field: str, records) -> None:
    if len(records) > limits.MAX_RECORDS_PER_MESSAGE:
        raise WireError("too-many-records", f"{len(records)} records in one message, limit {limits.MAX_RECORDS_PER_MESSAGE}")
    for signed in records:
        check_signed_record_shape(signed, f"{field}.records")


def validate_frame(frame: frame_pb2.Frame) -> None:
    """Check the limits of protocol v1 on an already parsed frame (see module docstring)."""
    kind = frame.WhichOneof("body")
    if kind == "hello":
        hello = frame.hello
        _check_fixed("hello.nonce", hello.nonce, limits.NONCE_LENGTH)
        _check_len("hello.agent", hello.agent, limits.MAX_AGENT_LENGTH)
        if len(hello.capabilities) > limits.MAX_CAPABILITIES:
            raise WireError(
                "field-too-long",
                f"hello.capabilities is {len(hello.capabilities)} long, limit {limits.MAX_CAPABILITIES}",
            )
        if hello.HasField("record"):
            check_signed_record_shape(hello.record, "hello.record")
    elif kind == "auth":
        _check_fixed("auth.signature", frame.auth.signature, limits.SIGNATURE_LENGTH)
    elif kind in ("peer_response", "peer_announcement", "peer_update"):
        _check_records(kind, getattr(frame, kind).records)
    elif kind == "error":
        _check_len("error.message", frame.error.message, limits.MAX_ERROR_MESSAGE_LENGTH)
    elif kind == "compressed":
        if frame.compressed.codec != frame_pb2.COMPRESSION_CODEC_DEFLATE:
            raise WireError("unsupported-compression", f"unsupported compression codec {frame.compressed.codec}")


def decode_frame(data: bytes, *, max_frame_size: int = limits.MAX_FRAME_SIZE, decompress: bool = True) -> frame_pb2.Frame:
    """Decode and validate one serialised frame (no length prefix).

    With ``decompress`` (the default) a ``Compressed`` frame is inflated and the inner frame is
    returned; it may not itself be compressed. Raises :class:`WireError`.
    """
    frame = _decode_one(bytes(data), max_frame_size)
    if decompress and frame.WhichOneof("body") == "compressed":
        frame = decompress_frame(frame, max_frame_size=max_frame_size)
    return frame


def decompress_frame(frame: frame_pb2.Frame, *, max_frame_size: int = limits.MAX_FRAME_SIZE) -> frame_pb2.Frame:
    """Inflate, decode and validate the frame inside a decoded ``Compressed`` frame."""
    compressed = frame.compressed
    if compressed.codec != frame_pb2.COMPRESSION_CODEC_DEFLATE:
        raise WireError("unsupported-compression", f"unsupported compression codec {compressed.codec}")
    inner = _decode_one(inflate(compressed.data, compressed.uncompressed_size, max_frame_size), max_frame_size)
    if inner.WhichOneof("body") == "compressed":
        raise WireError("nested-compression", "compressed frame inside a compressed frame")
    return inner


def _decode_one(data: bytes, max_frame_size: int) -> frame_pb2.Frame:
    if not data:
        raise WireError("empty-frame", "empty frame (no body)")
    if len(data) > max_frame_size:
        raise WireError("frame-too-large", f"frame of {len(data)} bytes exceeds the limit of {max_frame_size}")
    check_message(data, Frame.DESCRIPTOR, "frame")
    try:
        frame = Frame.FromString(data)
    except DecodeError as exc:  # pragma: no cover - the structural walk rejects these first
        raise WireError("malformed", f"malformed frame: {exc}") from None
    validate_frame(frame)
    return frame


def decode_delimited(data: bytes, *, max_frame_size: int = limits.MAX_FRAME_SIZE,
                     decompress: bool = True) -> tuple[frame_pb2.Frame, int]:
    """Decode the first length-prefixed frame of ``data``; returns the frame and bytes consumed."""
    reader = FrameReader(max_frame_size)
    reader.push(data)
    raw = reader.next_raw()
    if raw is None:
        reader.close()  # raises ``truncated`` when the data ends inside a frame
        raise WireError("truncated", "truncated: needed 1 bytes, had 0")
    return decode_frame(raw, max_frame_size=max_frame_size, decompress=decompress), len(data) - reader.buffered


class FrameReader:
    """Splits a byte stream, fed in arbitrary chunks, into frames.

    The length prefix is checked (at most 5 bytes, minimal, non-zero, within ``max_frame_size``)
    as soon as it is complete, before any body bytes are waited for. After an error the stream is
    out of sync: the reader keeps raising the same error.
    """

    def __init__(self, max_frame_size: int = limits.MAX_FRAME_SIZE) -> None:
        self.max_frame_size = max_frame_size
        self._buffer = bytearray()
        self._expected: int | None = None  # body length once the prefix has been read
        self._error: WireError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as part of a frame."""
        return len(self._buffer)

    def push(self, data: bytes) -> None:
        """Append received bytes; frames are taken out with :meth:`next_raw`."""
        if self._error is not None:
            raise self._error
        self._buffer += data

    def next_raw(self) -> bytes | None:
        """The next complete frame's bytes (prefix removed), or ``None`` if more data is needed."""
        if self._error is not None:
            raise self._error
        try:
            if self._expected is None:
                result = varint.read(self._buffer, max_bytes=limits.MAX_LENGTH_PREFIX_BYTES)
                if result is None:
                    return None
                length, used = result
                if length == 0:
                    raise WireError("empty-frame", "empty frame (no body)")
                if length > self.max_frame_size:
                    raise WireError("frame-too-large",
                                    f"frame of {length} bytes exceeds the limit of {self.max_frame_size}")
                del self._buffer[:used]
                self._expected = length
            if len(self._buffer) < self._expected:
                return None
            raw = bytes(self._buffer[: self._expected])
            del self._buffer[: self._expected]
            self._expected = None
            return raw
        except varint.VarintError:
            self._error = WireError("bad-length-prefix", "frame length prefix is not a valid varint")
            raise self._error from None
        except WireError as exc:
            self._error = exc
            raise

    def feed_raw(self, data: bytes) -> list[bytes]:
        """Append ``data`` and return the bytes of every frame now complete."""
        self.push(data)
        out = []
        while (raw := self.next_raw()) is not None:
            out.append(raw)
        return out

    def feed(self, data: bytes, *, decompress: bool = True) -> list[frame_pb2.Frame]:
        """Append ``data`` and return every frame now complete, decoded and validated."""
        return [decode_frame(raw, max_frame_size=self.max_frame_size, decompress=decompress)
                for raw in self.feed_raw(data)]

    def close(self) -> None:
        """Signal the end of the stream; raises ``truncated`` if it ended inside a frame."""
        if self._error is not None:
            raise self._error
        if self._buffer or self._expected is not None:
            expected = self._expected if self._expected is not None else len(self._buffer) + 1
            error = WireError("truncated", f"truncated: needed {expected} bytes, had {len(self._buffer)}")
            self._error = error
            raise error
