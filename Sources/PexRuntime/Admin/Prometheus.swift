import PexCore
import PexWire

/// Prometheus text exposition (format 0.0.4) of a node's metrics.
///
/// Every family has `# HELP` and `# TYPE` lines; counters end in `_total`; within a sample,
/// label names are sorted, and samples of a family are sorted by their labels, so the output is
/// stable from one scrape to the next. Label values are escaped (`\\`, `\"`, `\n`).
public enum PrometheusExporter {
    /// A metric family being written.
    struct Family {
        let name: String
        let type: String
        let help: String
        var samples: [(labels: [(String, String)], value: String)] = []

        init(_ name: String, _ type: String, _ help: String) {
            self.name = name
            self.type = type
            self.help = help
        }

        mutating func add(_ value: some BinaryInteger, _ labels: [(String, String)] = []) {
            samples.append((labels.sorted { $0.0 < $1.0 }, String(value)))
        }

        /// `labels` are `(name, value)` pairs; each counter of `counts` becomes one sample.
        mutating func add(counts: [String: Int], label: String, extra: [(String, String)] = []) {
            for (key, value) in counts { add(value, extra + [(label, key)]) }
        }

        func render(into out: inout String) {
            out += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(type)\n"
            let sorted = samples.sorted { lhs, rhs in
                lhs.labels.lexicographicallyPrecedes(rhs.labels) { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            }
            for sample in sorted {
                out += name
                if !sample.labels.isEmpty {
                    out += "{" + sample.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                }
                out += " \(sample.value)\n"
            }
        }
    }

    /// The exposition of a snapshot: counters from its `NodeMetrics`, gauges from its tables and
    /// connections.
    ///
    /// - Parameter snapshot: The node's state.
    /// - Returns: The text a Prometheus scrape expects.
    public static func render(_ snapshot: AdminSnapshot) -> String {
        let m = snapshot.metrics
        var families: [Family] = []

        var state = Family("pex_node_state", "gauge", "1 for the node's current state, 0 for the others.")
        for candidate in [NodeState.bootstrapping, .initialSync, .maintenance, .stopped] {
            state.add(candidate == snapshot.state ? 1 : 0, [("state", AdminNodeState(candidate).rawValue)])
        }
        families.append(state)

        var uptime = Family("pex_uptime_seconds", "gauge", "Seconds since the node started.")
        uptime.add((snapshot.now - snapshot.startedAt).nanoseconds / 1_000_000_000)
        families.append(uptime)

        var connections = Family("pex_connections", "gauge", "Open connections by direction, handshakes included.")
        connections.add(snapshot.inbound, [("direction", "inbound")])
        connections.add(snapshot.outbound, [("direction", "outbound")])
        families.append(connections)

        var ready = Family("pex_ready_peers", "gauge", "Peers with an authenticated connection.")
        ready.add(snapshot.readyPeers.count)
        families.append(ready)

        var records = Family("pex_records", "gauge", "Records in the address book by table.")
        for (table, count) in snapshot.recordsByTable where table != .unspecified {
            records.add(count, [("table", table.rawValue)])
        }
        families.append(records)

        var ownSeq = Family("pex_own_record_seq", "gauge", "Seq of this node's current record.")
        ownSeq.add(snapshot.ownSeq)
        families.append(ownSeq)

        var messages = Family("pex_messages_total", "counter", "Frames received and sent by type.")
        messages.add(counts: m.framesIn, label: "type", extra: [("direction", "in")])
        messages.add(counts: m.framesOut, label: "type", extra: [("direction", "out")])
        families.append(messages)

        var bytes = Family("pex_bytes_total", "counter", "Bytes received and sent.")
        bytes.add(m.bytesIn, [("direction", "in")])
        bytes.add(m.bytesOut, [("direction", "out")])
        families.append(bytes)

        var received = Family("pex_records_received_total", "counter", "Valid records received, by outcome.")
        received.add(m.recordsAccepted, [("outcome", "accepted")])
        received.add(m.recordsDuplicate, [("outcome", "duplicate")])
        received.add(m.recordsStale, [("outcome", "stale")])
        families.append(received)

        var notStored = Family("pex_records_not_stored_total", "counter", "Valid records of new keys the address book had no slot for.")
        notStored.add(m.recordsNotStored, [])
        families.append(notStored)

        var rejections = Family("pex_rejections_total", "counter", "Records and frames rejected, by reason.")
        rejections.add(counts: m.rejections, label: "reason")
        families.append(rejections)

        var opened = Family("pex_connections_opened_total", "counter", "Connections opened or refused, by kind.")
        opened.add(counts: m.connectionsOpened, label: "kind")
        families.append(opened)

        var closed = Family("pex_connections_closed_total", "counter", "Connections closed, by cause.")
        closed.add(counts: m.connectionsClosedBy, label: "cause")
        families.append(closed)

        let plainCounters: [(String, String, Int)] = [
            ("pex_handshakes_failed_total", "Handshakes that failed.", m.handshakesFailed),
            ("pex_bans_total", "Bans imposed.", m.bans),
            ("pex_sync_rounds_total", "Sync exchanges completed.", m.syncRounds),
            ("pex_sync_records_total", "Records received in sync exchanges.", m.syncRecords),
            ("pex_relays_total", "Records relayed to peers.", m.relays),
            ("pex_state_changes_total", "Changes of the node's overall state.", m.stateChanges),
            ("pex_inbound_evictions_total", "Inbound peers evicted to admit a new one.", m.inboundEvictions),
            ("pex_address_fetches_released_total", "Bootstrap connections closed after their address fetch.",
             m.addressFetchesReleased),
            ("pex_refresh_syncs_total", "Refresh feelers that synced because the handshake showed the node behind.",
             m.refreshSyncs),
            ("pex_refresh_dial_backs_total", "Refresh feelers dialled back to an inbound peer that showed the node behind.",
             m.refreshDialBacks),
        ]
        for (name, help, value) in plainCounters {
            var family = Family(name, "counter", help)
            family.add(value)
            families.append(family)
        }

        var out = ""
        for family in families { family.render(into: &out) }
        return out
    }

    static func escapeLabel(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func escapeHelp(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
