import ArgumentParser
import PexWire
#if canImport(Glibc)
import Glibc
#endif

/// `pexd decode`: prints frames readably, a debugging aid for captures and test vectors.
struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode frames and print them readably.",
        discussion: """
            Input is a stream of length-delimited frames (as on the wire), or with --raw one Frame \
            without its length prefix; from --hex, --file, or standard input (binary). Compressed frames \
            are shown and then inflated. With --network, every peer record is also verified (signature, \
            network id, addresses, expiry against the current time).
            """)

    @Option(help: "The input as hex (whitespace ignored).")
    var hex: String?

    @Option(help: "Read the input from this file.")
    var file: String?

    @Flag(help: "The input is a single Frame without a length prefix.")
    var raw = false

    @Option(help: "Verify peer records against this network id.")
    var network: String?

    func validate() throws {
        if hex != nil && file != nil { throw ValidationError("give --hex or --file, not both") }
    }

    func run() throws {
        let input: [UInt8]
        do {
            if let hex {
                guard let bytes = parseHex(hex) else { throw invalidInput("--hex is not valid hex") }
                input = bytes
            } else if let file {
                input = try readFile(file, limit: 64 << 20)
            } else {
                input = try readAll(stdinStream(), limit: 64 << 20, name: "standard input")
            }
        } catch let error as FileError {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let printer = FramePrinter(network: network, now: UInt64(time(nil)))
        if raw {
            do {
                printer.print(try Frame(decoding: input), index: 1, size: input.count)
            } catch {
                throw invalidInput("frame: \(error)")
            }
            return
        }
        var decoder = FrameDecoder()
        decoder.append(input)
        var index = 0
        while true {
            index += 1
            let bytes: [UInt8]
            do {
                guard let next = try decoder.nextFrameBytes() else { break }
                bytes = next
            } catch {
                throw invalidInput("frame \(index): \(error)")
            }
            do {
                printer.print(try Frame(decoding: bytes), index: index, size: bytes.count)
            } catch {
                throw invalidInput("frame \(index): \(error)")
            }
        }
        do { try decoder.finish() } catch { throw invalidInput("after frame \(index - 1): \(error)") }
        if index == 1 { throw invalidInput("no frame in the input") }
    }
}

private func stdinStream() -> UnsafeMutablePointer<FILE> {
    fdopen(0, "rb")
}

/// Renders frames as indented text.
struct FramePrinter {
    let network: String?
    let now: UInt64

    func print(_ frame: Frame, index: Int, size: Int) {
        Swift.print("frame \(index) (\(size) bytes): \(frame.kind)")
        for line in describe(frame) { Swift.print("  " + line) }
    }

    func describe(_ frame: Frame) -> [String] {
        switch frame {
        case let .hello(h):
            var lines = [
                "versions: \(h.minVersion)...\(h.maxVersion)", "network_id: \(quoted(h.networkID))",
                "nonce: \(hexString(h.nonce))",
                "capabilities: [\(h.capabilities.map(\.description).joined(separator: ", "))]",
                "max_frame_size: \(h.maxFrameSize == 0 ? "default (\(WireLimits.maxFrameSize))" : String(h.maxFrameSize))",
                "agent: \(quoted(h.agent))",
            ]
            if let record = h.record {
                lines.append("record:")
                lines += describe(record).map { "  " + $0 }
            } else {
                lines.append("record: (none)")
            }
            return lines
        case let .auth(a):
            return ["signature: \(hexString(a.signature))"]
        case let .peerRequest(r):
            return ["request_id: \(r.requestID)", "max_peers: \(r.maxPeers)", "since: \(cursor(r.since))"]
        case let .peerResponse(r):
            return ["request_id: \(r.requestID)", "next: \(cursor(r.next))", "more: \(r.more)", "full: \(r.full)"]
                + describe(records: r.records)
        case let .peerAnnouncement(a):
            return describe(records: a.records)
        case let .peerUpdate(u):
            return describe(records: u.records)
        case let .ping(p):
            return ["nonce: \(p.nonce)"]
        case let .pong(p):
            return ["nonce: \(p.nonce)"]
        case let .error(e):
            return ["code: \(e.code) (\(e.code.rawValue))", "message: \(quoted(e.message))", "closing: \(e.closing)"]
        case let .compressed(c):
            var lines = [
                "codec: \(c.codec == .deflate ? "deflate" : "codec(\(c.codec.rawValue))")",
                "uncompressed_size: \(c.uncompressedSize)", "data: \(c.data.count) bytes",
            ]
            do {
                let inner = try frame.inflated()
                lines.append("inflated: \(inner.kind)")
                lines += describe(inner).map { "  " + $0 }
            } catch {
                lines.append("inflated: error: \(error)")
            }
            return lines
        case let .unknown(fieldNumber):
            return ["body field number: \(fieldNumber) (unknown to this version)"]
        }
    }

    func describe(records: [SignedPeerRecord]) -> [String] {
        var lines = ["records: \(records.count)"]
        for (i, record) in records.enumerated() {
            let body = describe(record)
            lines.append("[\(i)] " + (body.first ?? ""))
            lines += body.dropFirst().map { "    " + $0 }
        }
        return lines
    }

    func describe(_ signed: SignedPeerRecord) -> [String] {
        let record: PeerRecord
        do {
            record = try PeerRecord(decoding: signed.record)
        } catch {
            return ["record: undecodable (\(error))", "signature: \(hexString(signed.signature))"]
        }
        var lines: [String] = []
        if let key = try? PublicKey(bytes: record.publicKey) {
            lines.append("key: \(key.base64) (\(key.peerID.base58))")
        } else {
            lines.append("key: \(hexString(record.publicKey)) (not a valid Ed25519 key)")
        }
        lines.append("seq: \(record.seq)")
        lines.append("network_id: \(quoted(record.networkID))")
        lines.append("expires_at: \(record.expiresAt) (\(isoDate(record.expiresAt)))")
        for address in record.addresses {
            if let parsed = try? Multiaddr(bytes: address) {
                lines.append("address: \(parsed.text)")
            } else {
                lines.append("address: \(hexString(address)) (invalid)")
            }
        }
        lines.append("signature: \(hexString(signed.signature))")
        if let network {
            do {
                _ = try signed.verify(networkID: network, now: now)
                lines.append("verified: yes")
            } catch {
                lines.append("verified: no (\(error.reason): \(error))")
            }
        }
        return lines
    }

    func cursor(_ c: SyncCursor?) -> String {
        c.map { "epoch \($0.epoch), position \($0.position)" } ?? "(none)"
    }

    func quoted(_ s: String) -> String { JSONValue.quote(s) }

    func hexString(_ bytes: [UInt8]) -> String { bytes.isEmpty ? "(empty)" : pexd.hex(bytes) }

    func isoDate(_ seconds: UInt64) -> String {
        guard seconds <= UInt64(Int32.max) * 4 else { return "far future" }
        var t = time_t(seconds)
        var parts = tm()
        guard gmtime_r(&t, &parts) != nil else { return "?" }
        var buffer = [CChar](repeating: 0, count: 32)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
