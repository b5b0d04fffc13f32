/// A min-heap of timed items; ties break by insertion order, so runs are deterministic.
///
/// The heap holds only plain (time, order, slot) triples; the items wait in a slot array with a
/// free list, so sifting moves no reference-counted payload (copying `SimNetwork.Item`s up and
/// down the heap was a visible share of a large run).
struct EventQueue<Item> {
    private struct Entry {
        let time: UInt64
        let order: UInt64
        let slot: Int
        @inline(__always)
        func before(_ other: Entry) -> Bool { time < other.time || (time == other.time && order < other.order) }
    }

    private var heap: [Entry] = []
    private var slots: [Item?] = []
    private var free: [Int] = []
    private var counter: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextTime: UInt64? { heap.first?.time }

    mutating func push(_ item: Item, at time: UInt64) {
        counter += 1
        let slot: Int
        if let reused = free.popLast() {
            slots[reused] = item
            slot = reused
        } else {
            slot = slots.count
            slots.append(item)
        }
        let entry = Entry(time: time, order: counter, slot: slot)
        heap.append(entry)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entry.before(heap[parent]) else { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = entry
    }

    mutating func pop() -> (time: UInt64, item: Item)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            // Sift the former last entry down from the root (hole technique: one write per level).
            var i = 0
            let n = heap.count
            while true {
                let l = 2 * i + 1
                guard l < n else { break }
                let r = l + 1
                let child = r < n && heap[r].before(heap[l]) ? r : l
                guard heap[child].before(last) else { break }
                heap[i] = heap[child]
                i = child
            }
            heap[i] = last
        }
        var taken: Item?
        swap(&taken, &slots[top.slot])
        free.append(top.slot)
        guard let item = taken else { return nil }  // every heap entry names a filled slot
        return (top.time, item)
    }
}
