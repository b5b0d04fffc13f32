import Foundation
import XCTest
@testable import PexWire

/// Reading and writing the golden vectors of `Tests/Vectors/` (format: Tests/Vectors/README.md):
/// messages in the proto3 JSON mapping as Python's `MessageToDict` writes it.
enum Vectors {
    /// `Tests/Vectors`, found from this file's path so it works from any working directory.
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Vectors")

    static func load(_ name: String) throws -> Any {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try JSONSerialization.jsonObject(with: data)
    }

    static func array(_ name: String) throws -> [[String: Any]] {
        try XCTUnwrap(try load(name) as? [[String: Any]], name)
    }
}

struct VectorFormatError: Error, CustomStringConvertible {
    let description: String
}

func bytes(hex: String) throws -> [UInt8] {
    var out: [UInt8] = []
    var iterator = hex.utf8.makeIterator()
    func nibble(_ c: UInt8) throws -> UInt8 {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        default: throw VectorFormatError(description: "bad hex \(hex)")
        }
    }
    while let hi = iterator.next() {
        guard let lo = iterator.next() else { throw VectorFormatError(description: "odd hex \(hex)") }
        out.append(try nibble(hi) << 4 | nibble(lo))
    }
    return out
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// proto3 JSON mapping ↔ Swift values, for exactly the messages of `proto/pex/v1`.
enum ProtoJSON {
    static let capabilityNames: [UInt32: String] = [0: "CAPABILITY_UNSPECIFIED", 1: "CAPABILITY_DEFLATE", 2: "CAPABILITY_DELTA_SYNC"]
    static let codecNames: [UInt32: String] = [0: "COMPRESSION_CODEC_UNSPECIFIED", 1: "COMPRESSION_CODEC_DEFLATE"]
    static let errorNames: [UInt32: String] = [
        0: "UNSPECIFIED", 1: "PROTOCOL_VIOLATION", 2: "UNSUPPORTED_VERSION", 3: "WRONG_NETWORK", 4: "AUTH_FAILED",
        5: "NOT_A_MEMBER", 6: "RATE_LIMITED", 7: "BANNED", 8: "FRAME_TOO_LARGE", 9: "MALFORMED_FRAME",
        10: "TOO_MANY_CONNECTIONS", 11: "TIMEOUT", 12: "SHUTTING_DOWN", 13: "INVALID_RECORD",
        14: "DUPLICATE_CONNECTION", 15: "INTERNAL",
    ].mapValues { "ERROR_CODE_" + $0 }

    // MARK: JSON → Swift

    static func u64(_ d: [String: Any], _ key: String) throws -> UInt64 {
        guard let value = d[key] else { return 0 }
        guard let text = value as? String, let n = UInt64(text) else {
            throw VectorFormatError(description: "\(key): uint64 must be a decimal string, got \(value)")
        }
        return n
    }

    static func u32(_ d: [String: Any], _ key: String) throws -> UInt32 {
        guard let value = d[key] else { return 0 }
        guard let n = value as? NSNumber, let v = UInt32(exactly: n.uint64Value) else {
            throw VectorFormatError(description: "\(key): bad uint32 \(value)")
        }
        return v
    }

    static func bool(_ d: [String: Any], _ key: String) -> Bool { (d[key] as? Bool) ?? false }
    static func string(_ d: [String: Any], _ key: String) -> String { (d[key] as? String) ?? "" }

    static func bytes(_ d: [String: Any], _ key: String) throws -> [UInt8] {
        guard let value = d[key] else { return [] }
        guard let text = value as? String, let data = Data(base64Encoded: text) else {
            throw VectorFormatError(description: "\(key): bad base64 \(value)")
        }
        return [UInt8](data)
    }

    static func object(_ d: [String: Any], _ key: String) -> [String: Any]? { d[key] as? [String: Any] }
    static func list(_ d: [String: Any], _ key: String) -> [Any] { (d[key] as? [Any]) ?? [] }

    static func enumValue(_ value: Any, names: [UInt32: String]) throws -> UInt32 {
        if let n = value as? NSNumber, let v = UInt32(exactly: n.int64Value) { return v }
        if let n = value as? NSNumber, let v = Int32(exactly: n.int64Value) { return UInt32(bitPattern: v) }
        if let s = value as? String, let v = names.first(where: { $0.value == s })?.key { return v }
        throw VectorFormatError(description: "bad enum value \(value)")
    }

    static func signed(_ d: [String: Any]) throws -> SignedPeerRecord {
        SignedPeerRecord(record: try bytes(d, "record"), signature: try bytes(d, "signature"))
    }

    static func cursor(_ d: [String: Any]?) throws -> SyncCursor? {
        guard let d else { return nil }
        return SyncCursor(epoch: try u64(d, "epoch"), position: try u64(d, "position"))
    }

    static func records(_ d: [String: Any]) throws -> [SignedPeerRecord] {
        try list(d, "records").map { try signed(try XCTUnwrap($0 as? [String: Any])) }
    }

    static func frame(_ d: [String: Any]) throws -> Frame {
        guard d.count == 1, let (body, value) = d.first, let m = value as? [String: Any] else {
            throw VectorFormatError(description: "a frame has exactly one body: \(d)")
        }
        switch body {
        case "hello":
            return .hello(Hello(
                minVersion: try u32(m, "min_version"), maxVersion: try u32(m, "max_version"),
                networkID: string(m, "network_id"), record: try object(m, "record").map(signed),
                nonce: try bytes(m, "nonce"),
                capabilities: try list(m, "capabilities").map { Capability(rawValue: try enumValue($0, names: capabilityNames)) },
                maxFrameSize: try u32(m, "max_frame_size"), agent: string(m, "agent")))
        case "auth": return .auth(Auth(signature: try bytes(m, "signature")))
        case "peer_request":
            return .peerRequest(PeerRequest(
                requestID: try u64(m, "request_id"), maxPeers: try u32(m, "max_peers"), since: try cursor(object(m, "since"))))
        case "peer_response":
            return .peerResponse(PeerResponse(
                requestID: try u64(m, "request_id"), records: try records(m), next: try cursor(object(m, "next")),
                more: bool(m, "more"), full: bool(m, "full")))
        case "peer_announcement": return .peerAnnouncement(PeerAnnouncement(records: try records(m)))
        case "peer_update": return .peerUpdate(PeerUpdate(records: try records(m)))
        case "ping": return .ping(Ping(nonce: try u64(m, "nonce")))
        case "pong": return .pong(Pong(nonce: try u64(m, "nonce")))
        case "error":
            return .error(ErrorMessage(
                code: ErrorCode(rawValue: try m["code"].map { try enumValue($0, names: errorNames) } ?? 0),
                message: string(m, "message"), closing: bool(m, "closing")))
        case "compressed":
            return .compressed(Compressed(
                codec: CompressionCodec(rawValue: try m["codec"].map { try enumValue($0, names: codecNames) } ?? 0),
                uncompressedSize: try u32(m, "uncompressed_size"), data: try bytes(m, "data")))
        default:
            throw VectorFormatError(description: "unknown body \(body)")
        }
    }

    // MARK: Swift → JSON (defaults omitted, as MessageToDict does)

    static func put(_ d: inout [String: Any], _ key: String, _ v: UInt64) { if v != 0 { d[key] = String(v) } }
    static func put(_ d: inout [String: Any], _ key: String, _ v: UInt32) { if v != 0 { d[key] = v } }
    static func put(_ d: inout [String: Any], _ key: String, _ v: Bool) { if v { d[key] = true } }
    static func put(_ d: inout [String: Any], _ key: String, _ v: String) { if !v.isEmpty { d[key] = v } }
    static func put(_ d: inout [String: Any], _ key: String, _ v: [UInt8]) { if !v.isEmpty { d[key] = Data(v).base64EncodedString() } }

    static func enumJSON(_ raw: UInt32, names: [UInt32: String]) -> Any {
        names[raw] ?? Int(Int32(bitPattern: raw))
    }

    static func json(_ s: SignedPeerRecord) -> [String: Any] {
        var d: [String: Any] = [:]
        put(&d, "record", s.record)
        put(&d, "signature", s.signature)
        return d
    }

    static func json(_ c: SyncCursor) -> [String: Any] {
        var d: [String: Any] = [:]
        put(&d, "epoch", c.epoch)
        put(&d, "position", c.position)
        return d
    }

    static func json(records: [SignedPeerRecord]) -> [String: Any] {
        records.isEmpty ? [:] : ["records": records.map(json)]
    }

    static func json(_ frame: Frame) -> [String: Any] {
        var m: [String: Any] = [:]
        let body: String
        switch frame {
        case let .hello(h):
            body = "hello"
            put(&m, "min_version", h.minVersion)
            put(&m, "max_version", h.maxVersion)
            put(&m, "network_id", h.networkID)
            if let r = h.record { m["record"] = json(r) }
            put(&m, "nonce", h.nonce)
            if !h.capabilities.isEmpty { m["capabilities"] = h.capabilities.map { enumJSON($0.rawValue, names: capabilityNames) } }
            put(&m, "max_frame_size", h.maxFrameSize)
            put(&m, "agent", h.agent)
        case let .auth(a):
            body = "auth"
            put(&m, "signature", a.signature)
        case let .peerRequest(r):
            body = "peer_request"
            put(&m, "request_id", r.requestID)
            put(&m, "max_peers", r.maxPeers)
            if let c = r.since { m["since"] = json(c) }
        case let .peerResponse(r):
            body = "peer_response"
            put(&m, "request_id", r.requestID)
            m.merge(json(records: r.records)) { $1 }
            if let c = r.next { m["next"] = json(c) }
            put(&m, "more", r.more)
            put(&m, "full", r.full)
        case let .peerAnnouncement(a):
            body = "peer_announcement"
            m = json(records: a.records)
        case let .peerUpdate(u):
            body = "peer_update"
            m = json(records: u.records)
        case let .ping(p):
            body = "ping"
            put(&m, "nonce", p.nonce)
        case let .pong(p):
            body = "pong"
            put(&m, "nonce", p.nonce)
        case let .error(e):
            body = "error"
            if e.code.rawValue != 0 { m["code"] = enumJSON(e.code.rawValue, names: errorNames) }
            put(&m, "message", e.message)
            put(&m, "closing", e.closing)
        case let .compressed(c):
            body = "compressed"
            if c.codec.rawValue != 0 { m["codec"] = enumJSON(c.codec.rawValue, names: codecNames) }
            put(&m, "uncompressed_size", c.uncompressedSize)
            put(&m, "data", c.data)
        case .unknown:
            return [:]
        }
        return [body: m]
    }
}
