"""The local table of verified peer records, one per key, highest seq wins."""

from __future__ import annotations

import time
from collections.abc import Callable

from .records import SignedPeerRecord, VerifiedRecord, check_network_id, verify_signed_record


class PeerTable:
    """Verified records of one network, keyed by public key.

    ``clock`` returns the current unix time in seconds; expired records are never returned.
    """

    def __init__(self, network_id: str, clock: Callable[[], float] = time.time) -> None:
        check_network_id(network_id)
        self.network_id = network_id
        self._clock = clock
        self._records: dict[bytes, VerifiedRecord] = {}

    def now(self) -> int:
        return int(self._clock())

    def add(self, record: VerifiedRecord) -> bool:
        """Store ``record`` unless a record with the same or a higher seq is known for its key.

        Returns True when the table changed.
        """
        if record.network_id != self.network_id:
            return False
        current = self._records.get(record.public_key)
        if current is not None and current.seq >= record.seq:
            return False
        self._records[record.public_key] = record
        return True

    def add_signed(self, signed: SignedPeerRecord) -> tuple[VerifiedRecord, bool]:
        """Verify ``signed`` at the table's clock and store it; returns it and whether it was new.

        Raises :class:`~pex_client.errors.WireError` when it does not verify.
        """
        record = verify_signed_record(signed, self.network_id, self.now())
        return record, self.add(record)

    def get(self, public_key: bytes) -> VerifiedRecord | None:
        record = self._records.get(public_key)
        if record is None or record.expires_at <= self.now():
            return None
        return record

    def records(self, limit: int | None = None) -> list[VerifiedRecord]:
        """Unexpired records sorted by public key (at most ``limit``); expired ones are dropped."""
        now = self.now()
        for key in [k for k, r in self._records.items() if r.expires_at <= now]:
            del self._records[key]
        ordered = sorted(self._records.values(), key=lambda r: r.public_key)
        return ordered if limit is None else ordered[:limit]

    def __len__(self) -> int:
        return len(self.records())

    def __contains__(self, public_key: bytes) -> bool:
        return self.get(public_key) is not None

