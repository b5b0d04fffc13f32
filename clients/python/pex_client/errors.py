"""Typed errors shared by every module of the client."""

from __future__ import annotations

#: Every reason a :class:`WireError` can carry; the same kebab-case strings as ``WireError.reason``
#: on the Swift side, so logs and test vectors of both implementations compare directly.
REASONS = frozenset(
    {
        "frame-too-large",
        "bad-length-prefix",
        "empty-frame",
        "truncated",
        "malformed",
        "invalid-utf8",
        "field-too-long",
        "wrong-field-length",
        "too-many-records",
        "missing-field",
        "unsupported-compression",
        "decompressed-size-mismatch",
        "decompression-too-large",
        "bad-compressed-data",
        "nested-compression",
        "too-few-addresses",
        "too-many-addresses",
        "bad-address",
        "undialable-address",
        "wrong-network",
        "bad-network-id",
        "bad-signature",
        "expired",
        "expiry-too-far",
        "zero-seq",
        "invalid-public-key",
        "invalid-secret-key",
        "invalid-base64",
        "invalid-peer-id",
    }
)


class WireError(Exception):
    """Bytes from the network, a record, a key or an address are wrong.

    ``reason`` is one of :data:`REASONS`; ``message`` is human-readable detail.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown wire error reason {reason!r}")
        self.reason = reason
        self.message = message if message is not None else reason
        super().__init__(f"{reason}: {self.message}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WireError) and (self.reason, self.message) == (other.reason, other.message)

    def __hash__(self) -> int:
        return hash((self.reason, self.message))


#: Kinds of :class:`MultiaddrError` (the cases of ``MultiaddrError`` on the Swift side).
MULTIADDR_ERROR_KINDS = frozenset(
    {
        "empty",
        "must-start-with-slash",
        "unknown-protocol",
        "missing-value",
        "invalid-value",
        "truncated",
        "bad-varint",
        "too-long",
    }
)


class MultiaddrError(ValueError):
    """A multiaddr (text or binary) is not valid; ``kind`` is one of :data:`MULTIADDR_ERROR_KINDS`."""

    def __init__(self, kind: str, message: str) -> None:
        if kind not in MULTIADDR_ERROR_KINDS:
            raise ValueError(f"unknown multiaddr error kind {kind!r}")
        self.kind = kind
        self.message = message
        super().__init__(f"{kind}: {message}")


class HandshakeError(Exception):
    """The handshake cannot go on; ``code`` is the ``pex.v1.ErrorCode`` to send to the peer.

    ``cause`` holds the :class:`WireError` behind it, if any.
    """

    def __init__(self, code: int, message: str, cause: WireError | None = None) -> None:
        self.code = code
        self.message = message
        self.cause = cause
        super().__init__(message)
