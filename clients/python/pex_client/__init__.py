"""Python client of the pex wire protocol v1 (peer exchange for an Ed25519-identified federation).

Modules: :mod:`~pex_client.framing` (frames and limits), :mod:`~pex_client.multiaddr`,
:mod:`~pex_client.identity` (keys, peer IDs, signatures), :mod:`~pex_client.records`,
:mod:`~pex_client.handshake`, :mod:`~pex_client.session` (sans-IO connection),
:mod:`~pex_client.client` (asyncio) and the ``python -m pex_client`` command line.
"""

from .errors import HandshakeError, MultiaddrError, WireError
from .identity import KeyPair
from .records import VerifiedRecord, make_signed_record, verify_signed_record

__all__ = [
    "HandshakeError",
    "KeyPair",
    "MultiaddrError",
    "VerifiedRecord",
    "WireError",
    "make_signed_record",
    "verify_signed_record",
]
