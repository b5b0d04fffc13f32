/// The node's connections by id, kept in creation order.
///
/// A `Dictionary` would serve, but reading `dictionary[id]?.phase` copies the whole
/// `Connection` (a dozen reference-counted fields) and the relay and sync paths ask such
/// questions per record and per connection. Here reads and in-place changes go through
/// `_read`/`_modify` accessors into an array slot, so reading one field touches only that field.
/// Walks follow creation order, which keeps every run deterministic.
struct ConnectionTable {
    /// Creation order; `nil` never stays in a slot (a removal closes the gap).
    private var slots: ContiguousArray<Connection?> = []
    private var position: [ConnectionID: Int] = [:]
    /// The ids, in creation order.
    private(set) var ids: [ConnectionID] = []

    /// Number of connections.
    var count: Int { ids.count }

    /// The connection with id `id`; assigning `nil` removes it, assigning to a new id appends it.
    subscript(id: ConnectionID) -> Connection? {
        _read {
            if let i = position[id] { yield slots[i] } else { yield nil }
        }
        _modify {
            if let i = position[id] {
                yield &slots[i]
                if slots[i] == nil { remove(at: i) }
            } else {
                var added: Connection?
                yield &added
                if let added {
                    position[id] = slots.count
                    slots.append(added)
                    ids.append(id)
                }
            }
        }
    }

    private mutating func remove(at i: Int) {
        position[ids[i]] = nil
        slots.remove(at: i)
        ids.remove(at: i)
        // At most a few hundred connections: shifting the later positions is cheap.
        for j in i..<ids.count { position[ids[j]] = j }
    }

    /// The connections in creation order, read in place.
    var values: Values { Values(slots: slots) }

    /// The position of `id` in `values`.
    func index(forKey id: ConnectionID) -> Int? { position[id] }

    /// A read-only view of the connections in creation order.
    struct Values: RandomAccessCollection {
        fileprivate let slots: ContiguousArray<Connection?>

        var startIndex: Int { 0 }
        var endIndex: Int { slots.count }

        subscript(position: Int) -> Connection {
            _read { yield slots[position]! }
        }
    }
}
