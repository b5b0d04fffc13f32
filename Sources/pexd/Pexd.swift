import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// The pex command-line tool: node identity and wire-format tools for people and checks.
@main
struct Pexd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pexd",
        abstract: "pex: peer exchange and discovery for small, security-critical networks.",
        discussion: """
            Exit codes: 0 success, 1 runtime failure (I/O), 2 invalid input or usage.
            """,
        version: "0.1.0",
        subcommands: [Run.self, Status.self, Peers.self, Metrics.self, ExportPeers.self, ImportPeers.self, Info.self, Keygen.self,
                      Id.self, Addr.self, Decode.self]
    )
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandleStderr.write(message + "\n")
}

/// Reports invalid input on stderr and returns the exit code for it (2, as a usage error).
func invalidInput(_ message: String) -> ExitCode {
    printError("error: \(message)")
    return ExitCode(2)
}

/// Lowercase hex of `bytes`.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Parses hex, ignoring whitespace; `nil` on any other character or an odd digit count.
func parseHex(_ text: String) -> [UInt8]? {
    let digits = text.utf8.filter { !($0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09) }
    guard digits.count % 2 == 0 else { return nil }
    func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var i = 0
    while i < digits.count {
        guard let hi = value(digits[i]), let lo = value(digits[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

/// Standard error through its file descriptor: the C `stderr` global is shared mutable state
/// that Swift 6 refuses to touch.
enum FileHandleStderr {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}
