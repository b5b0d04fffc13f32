// Convergence timer: polls the admin sockets of running nodes until every node's address book
// holds every other node's key. Polling through the sockets directly (every 10 ms) rather than by
// spawning `pexd peers` keeps the timing resolution far below a 100 ms sync interval.
import PexRuntime
import PexWire
#if canImport(Glibc)
import Glibc
#endif

func wallSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// - Parameters:
///   - sockets: Admin socket paths, one per node.
///   - since: Wall-clock instant (Unix seconds) the measured interval starts at.
///   - timeout: Give up this many seconds after `since`.
/// - Returns: Seconds from `since` until every node first answered on its socket (`up`), and
///   until the end of the first poll that saw every node know every other (`converged`).
func awaitConvergence(sockets: [String], since: Double, timeout: Double) throws(BenchError) -> (up: Double, converged: Double) {
    let clients = sockets.map { AdminClient(socketPath: $0, timeout: .seconds(2)) }
    var keys: [PublicKey?] = Array(repeating: nil, count: clients.count)
    var upAt: Double?
    while true {
        let now = wallSeconds()
        guard now - since < timeout else {
            throw BenchError("not converged after \(timeout)s")
        }
        for (i, client) in clients.enumerated() where keys[i] == nil {
            keys[i] = try? client.status().publicKey
        }
        if keys.allSatisfy({ $0 != nil }) {
            if upAt == nil { upAt = wallSeconds() }
            var converged = true
            for (i, client) in clients.enumerated() {
                guard let known = try? Set(client.peers().map(\.publicKey)) else { converged = false; break }
                for (j, key) in keys.enumerated() where j != i {
                    if let key, !known.contains(key) { converged = false; break }
                }
                if !converged { break }
            }
            // Stamped after the poll that saw it: an upper bound, late by at most one poll.
            if converged {
                let at = wallSeconds()
                return (up: (upAt ?? at) - since, converged: at - since)
            }
        }
        usleep(10_000)
    }
}
