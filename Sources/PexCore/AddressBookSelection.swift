import PexWire

extension AddressBook {
    /// Bucket probes `select` makes before it falls back to weighing every candidate; enough for
    /// the chance factor (×1.2 per rejection) to overcome the smallest chance, about 0.00036,
    /// in a reasonably filled table.
    static let selectionProbeLimit = 512

    /// Picks a peer to dial, in the manner of Bitcoin Core's `Select`.
    ///
    /// The tried side (tried and protected entries) or the new table is chosen with equal
    /// probability when both have entries. Then random buckets are probed, each from a random
    /// slot to its first occupied one, and an entry is accepted with probability
    /// `factor × chance(entry)`, the factor growing by 1.2 after each rejection. Excluded keys are
    /// skipped. After `selectionProbeLimit` probes the pick is made by weighing every
    /// non-excluded candidate of that side (then of the other side) by its chance, so a
    /// candidate is found whenever one exists, and the call always ends.
    ///
    /// - Parameters:
    ///   - now: The current time.
    ///   - rng: The source of randomness; the same generator state gives the same pick.
    ///   - newOnly: Pick from the new table only (feeler connections).
    ///   - isExcluded: Keys to skip, such as connected or banned peers.
    /// - Returns: The chosen entry, or `nil` when no entry qualifies.
    public func select(
        now: Instant, using rng: inout some RandomNumberGenerator, newOnly: Bool = false,
        excluding isExcluded: (PublicKey) -> Bool = { _ in false }
    ) -> BookEntry? {
        let triedSide = triedCount + protectedKeys.count
        let fromTried: Bool
        if newOnly {
            guard newCount > 0 else { return nil }
            fromTried = false
        } else if newCount == 0 {
            guard triedSide > 0 else { return nil }
            fromTried = true
        } else if triedSide == 0 {
            fromTried = false
        } else {
            fromTried = rng.next() & 1 == 1
        }

        var factor = 1.0
        for _ in 0..<Self.selectionProbeLimit {
            let key: PublicKey?
            if fromTried {
                if Self.randomIndex(triedSide, &rng) < protectedKeys.count {
                    key = protectedKeys[Self.randomIndex(protectedKeys.count, &rng)]
                } else {
                    key = probe(triedTable, buckets: config.triedBucketCount, &rng)
                }
            } else {
                key = probe(newTable, buckets: config.newBucketCount, &rng)
            }
            guard let key, !isExcluded(key), let entry = book[key] else { continue }
            if Self.randomUnit(&rng) < factor * chance(entry, now: now) { return entry }
            factor *= 1.2
        }
        if let entry = weightedPick(tried: fromTried, now: now, &rng, isExcluded) { return entry }
        return newOnly ? nil : weightedPick(tried: !fromTried, now: now, &rng, isExcluded)
    }

    /// The first occupied slot of a random bucket, scanning from a random slot.
    func probe(_ table: [PublicKey?], buckets: Int, _ rng: inout some RandomNumberGenerator) -> PublicKey? {
        let bucket = Self.randomIndex(buckets, &rng)
        let start = Self.randomIndex(config.bucketSize, &rng)
        for i in 0..<config.bucketSize {
            if let key = table[flat(bucket, (start + i) % config.bucketSize)] { return key }
        }
        return nil
    }

    /// A candidate of one side drawn with probability proportional to its chance.
    func weightedPick(
        tried: Bool, now: Instant, _ rng: inout some RandomNumberGenerator, _ isExcluded: (PublicKey) -> Bool
    ) -> BookEntry? {
        let keys = tried ? protectedKeys + triedTable.compactMap { $0 } : newTable.compactMap { $0 }
        var candidates: [(entry: BookEntry, weight: Double)] = []
        var total = 0.0
        for key in keys where !isExcluded(key) {
            guard let entry = book[key] else { continue }
            let weight = chance(entry, now: now)
            candidates.append((entry, weight))
            total += weight
        }
        guard !candidates.isEmpty else { return nil }
        var target = Self.randomUnit(&rng) * total
        for candidate in candidates {
            target -= candidate.weight
            if target < 0 { return candidate.entry }
        }
        return candidates.last?.entry
    }

    static func randomIndex(_ upperBound: Int, _ rng: inout some RandomNumberGenerator) -> Int {
        Int(truncatingIfNeeded: rng.next(upperBound: UInt64(max(1, upperBound))))
    }

    /// A uniform value in [0, 1) from 53 random bits.
    static func randomUnit(_ rng: inout some RandomNumberGenerator) -> Double {
        Double(rng.next() >> 11) * 0x1p-53
    }
}
