"""Protocol constants and hard limits of wire protocol v1 (mirrors ``WireLimits`` in Swift)."""

#: The protocol version this implementation speaks.
PROTOCOL_VERSION = 1
#: Largest frame (length prefix excluded) accepted by default, and the ceiling of any
#: ``Hello.max_frame_size``: 256 KiB.
MAX_FRAME_SIZE = 256 * 1024
#: Smallest non-zero ``Hello.max_frame_size`` a peer may announce.
MIN_FRAME_SIZE = 16 * 1024
#: A length of at most MAX_FRAME_SIZE needs 3 varint bytes; more than 5 is always an error.
MAX_LENGTH_PREFIX_BYTES = 5
#: Records in one PeerResponse, PeerAnnouncement or PeerUpdate.
MAX_RECORDS_PER_MESSAGE = 1000
MIN_ADDRESSES_PER_RECORD = 1
MAX_ADDRESSES_PER_RECORD = 10
#: Longest binary multiaddr in a record.
MAX_ADDRESS_LENGTH = 256
#: Largest serialised PeerRecord (the signed bytes).
MAX_RECORD_SIZE = 2048
PUBLIC_KEY_LENGTH = 32
SIGNATURE_LENGTH = 64
NONCE_LENGTH = 32
#: Longest Hello.agent in UTF-8 bytes.
MAX_AGENT_LENGTH = 128
#: Longest network id in UTF-8 bytes; it must also be non-empty.
MAX_NETWORK_ID_LENGTH = 64
#: Longest Error.message in UTF-8 bytes.
MAX_ERROR_MESSAGE_LENGTH = 256
#: Most capabilities listed in one Hello (unknown ones included).
MAX_CAPABILITIES = 32
#: Frames whose encoding is at least this large are compressed when both sides support it.
COMPRESSION_THRESHOLD = 1024
#: Longest lifetime a record may claim, relative to the verifier's clock.
MAX_RECORD_LIFETIME_SECONDS = 30 * 24 * 3600

UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
