import PexCore

/// The SQLite store is where a real node's driver writes: one transaction per loop turn.
extension Store: PersistSink {}
