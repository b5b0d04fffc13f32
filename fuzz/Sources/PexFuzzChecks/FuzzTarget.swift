/// An invariant that a fuzz check found broken for one input.
///
/// Rejecting bad input with a `WireError` is the expected outcome and is not a failure; a failure
/// is a crash-worthy bug such as an accepted input that does not survive a round trip.
public struct FuzzFailure: Error, CustomStringConvertible, Sendable {
    /// The target whose check failed.
    public let target: FuzzTarget
    /// What was expected and what happened instead.
    public let message: String

    /// Creates a failure report.
    /// - Parameters:
    ///   - target: The target whose check failed.
    ///   - message: What was expected and what happened instead.
    public init(_ target: FuzzTarget, _ message: String) {
        self.target = target
        self.message = message
    }

    public var description: String { "fuzz \(target.rawValue): \(message)" }
}

/// The fuzz targets; the raw value names the corpus and regression folders
/// (`fuzz/corpus/<name>`, `fuzz/regressions/<name>`).
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Length-prefixed frames through `FrameDecoder`, decode, validation and re-encoding.
    case frame
    /// Signed peer records: decode, key and signature checks, address parsing.
    case record
    /// Multiaddrs in text and binary form.
    case multiaddr
    /// Operation sequences against one protocol core (`CoreCheck`).
    case core

    /// Runs this target's check on one input.
    /// - Parameter input: The bytes to check, as libFuzzer or a saved file gives them.
    /// - Throws: `FuzzFailure` when an invariant does not hold for `input`.
    public func check(_ input: [UInt8]) throws(FuzzFailure) {
        switch self {
        case .frame: try FrameCheck.run(input)
        case .record: try RecordCheck.run(input)
        case .multiaddr: try MultiaddrCheck.run(input)
        case .core: _ = try CoreCheck.run(input)
        }
    }
}

/// The glue shared by the fuzz executables.
public enum FuzzEntry {
    /// Body of `LLVMFuzzerTestOneInput`: runs the check and aborts on failure, which is how
    /// libFuzzer learns of a finding and saves the input.
    /// - Parameters:
    ///   - target: The check to run.
    ///   - data: Start of the input; may be `nil` when `size` is 0.
    ///   - size: Length of the input in bytes.
    /// - Returns: 0, as libFuzzer requires for an input that was processed.
    public static func testOneInput(_ target: FuzzTarget, _ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        do {
            try target.check(input)
        } catch {
            fatalError(error.description)
        }
        return 0
    }

    /// `main` of a fuzz executable built without libFuzzer: runs the check over the files named on
    /// the command line (a folder stands for the files in it). `--write-seeds DIR` instead writes
    /// the target's seed corpus into DIR.
    ///
    /// Replaying reproduces a finding without the sanitizer toolchain, e.g. under a debugger.
    /// - Parameters:
    ///   - target: The check to run.
    ///   - arguments: The command line, program name first.
    ///   - output: Where report lines go.
    /// - Returns: The exit status: 0 when every input passed, 1 when one failed or could not be
    ///   read, 2 for a usage error.
    public static func main(
        _ target: FuzzTarget, arguments: [String], output: (String) -> Void = { print($0) }
    ) -> Int32 {
        let program = arguments.first ?? "fuzz-\(target.rawValue)"
        let operands = Array(arguments.dropFirst())
        if operands.count == 2, operands[0] == "--write-seeds" {
            do {
                let count = try FuzzSeeds.write(target, to: operands[1])
                output("\(target.rawValue): wrote \(count) seeds to \(operands[1])")
                return 0
            } catch {
                output("\(target.rawValue): \(error)")
                return 1
            }
        }
        guard !operands.isEmpty, !operands.contains(where: { $0.hasPrefix("-") }) else {
            output("usage: \(program) FILE|DIR...         replay inputs through the \(target.rawValue) check")
            output("       \(program) --write-seeds DIR   write the seed corpus")
            return 2
        }
        let report = replay(target, paths: operands)
        report.failures.forEach(output)
        output("\(target.rawValue): \(report.passed) passed, \(report.failures.count) failed")
        return report.failures.isEmpty ? 0 : 1
    }

    /// Replays saved inputs through a check.
    /// - Parameters:
    ///   - target: The check to run.
    ///   - paths: Files, or folders standing for the files directly inside them.
    /// - Returns: How many inputs passed, and one line per input that failed or could not be read.
    public static func replay(_ target: FuzzTarget, paths: [String]) -> (passed: Int, failures: [String]) {
        var passed = 0
        var failures: [String] = []
        for path in paths {
            let files: [String]
            do {
                files = try FuzzInputs.files(at: path)
            } catch {
                failures.append("\(error)")
                continue
            }
            for file in files {
                do {
                    try target.check(try FuzzInputs.read(file))
                    passed += 1
                } catch let failure as FuzzFailure {
                    failures.append("FAIL \(file): \(failure.message)")
                } catch {
                    failures.append("\(error)")
                }
            }
        }
        return (passed, failures)
    }
}
