import PexWire

extension AddressBook {
    /// Draws `select` makes before it falls back to weighing every candidate; enough for
    /// the chance factor (×1.2 per rejection) to overcome the smallest chance, about 0.00036,
    /// many times over.
    static let selectionProbeLimit = 512

    /// Picks a peer to dial, in the manner of Bitcoin Core's `Select`.
    ///
    /// The tried side (tried and protected entries) or the new table is chosen with equal
    /// probability when both have entries. Then entries of that side are drawn uniformly (through
    /// the index of occupied slots: the tables are sparse, so probing random buckets as Bitcoin
    /// Core does would mostly hit empty ones) and one is accepted with probability
    /// `factor × chance(entry)`, the factor growing by 1.2 after each rejection. Excluded keys are
    /// skipped. After `selectionProbeLimit` draws the pick is made by weighing every
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
        let triedSide = triedTable.occupied.count + protectedKeys.count
        let newSide = newTable.occupied.count
        let fromTried: Bool
        if newOnly {
            guard newSide > 0 else { return nil }
            fromTried = false
        } else if newSide == 0 {
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
                let index = Self.randomIndex(triedSide, &rng)
                key = index < protectedKeys.count
                    ? protectedKeys[index] : triedTable.occupant(index - protectedKeys.count)
            } else {
                key = newTable.occupant(Self.randomIndex(newSide, &rng))
            }
            guard let key, !isExcluded(key), let entry = book[key] else { continue }
            if Self.randomUnit(&rng) < factor * chance(entry, now: now) { return entry }
            factor *= 1.2
        }
        if let entry = weightedPick(tried: fromTried, now: now, &rng, isExcluded) { return entry }
        return newOnly ? nil : weightedPick(tried: !fromTried, now: now, &rng, isExcluded)
    }

    /// A candidate of one side drawn with probability proportional to its chance.
    func weightedPick(
        tried: Bool, now: Instant, _ rng: inout some RandomNumberGenerator, _ isExcluded: (PublicKey) -> Bool
    ) -> BookEntry? {
        let table = tried ? triedTable : newTable
        let keys = (tried ? protectedKeys : []) + table.occupied.compactMap { table[$0] }
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
