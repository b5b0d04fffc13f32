/// A min-heap of timed items; ties break by insertion order, so runs are deterministic.
struct EventQueue<Item> {
    private struct Entry {
        let time: UInt64
        let order: UInt64
        let item: Item
        func before(_ other: Entry) -> Bool { time < other.time || (time == other.time && order < other.order) }
    }

    private var heap: [Entry] = []
    private var counter: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextTime: UInt64? { heap.first?.time }

    mutating func push(_ item: Item, at time: UInt64) {
        counter += 1
        heap.append(Entry(time: time, order: counter, item: item))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].before(heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (time: UInt64, item: Item)? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < heap.count && heap[l].before(heap[smallest]) { smallest = l }
                if r < heap.count && heap[r].before(heap[smallest]) { smallest = r }
                if smallest == i { break }
                heap.swapAt(i, smallest)
                i = smallest
            }
        }
        return (top.time, top.item)
    }
}
