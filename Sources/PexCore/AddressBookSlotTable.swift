import PexWire

/// A bucket table's slots together with an index of the occupied ones.
///
/// The tables are sparse (a federation of a few hundred members fills a few percent of the
/// slots), so selection draws from the occupied positions directly instead of probing random,
/// mostly empty buckets. Every write goes through the subscript, which keeps the index in step.
/// The index order depends only on the sequence of writes, so selection stays deterministic.
struct SlotTable: RandomAccessCollection, MutableCollection, Sendable {
    /// The slots, bucket-major.
    private(set) var slots: [PublicKey?]
    /// Flat positions of the occupied slots, in no meaningful order (swap-removed).
    private(set) var occupied: [Int] = []
    /// For each slot, its place in `occupied`, or -1 when the slot is empty.
    private var place: [Int32]

    init(count: Int) {
        slots = Array(repeating: nil, count: count)
        place = Array(repeating: -1, count: count)
    }

    var startIndex: Int { 0 }
    var endIndex: Int { slots.count }

    subscript(position: Int) -> PublicKey? {
        get { slots[position] }
        set {
            let wasOccupied = slots[position] != nil
            slots[position] = newValue
            if newValue != nil, !wasOccupied {
                place[position] = Int32(occupied.count)
                occupied.append(position)
            } else if newValue == nil, wasOccupied {
                let at = Int(place[position])
                let moved = occupied.removeLast()
                if moved != position {
                    occupied[at] = moved
                    place[moved] = Int32(at)
                }
                place[position] = -1
            }
        }
    }

    /// The key in the `index`-th occupied slot (`index < occupied.count`).
    func occupant(_ index: Int) -> PublicKey? { slots[occupied[index]] }
}
