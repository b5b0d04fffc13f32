@testable import PexFuzzChecks
import PexWire
import XCTest

/// Replays every saved fuzz finding (`fuzz/regressions/<target>/*`) and the seed corpus
/// (`fuzz/corpus/<target>/*`) through the same checks the fuzzers run, so a fixed crash stays
/// fixed without the sanitizer toolchain.
final class FuzzRegressionTests: XCTestCase {
    /// The repository's fuzz/ folder, found from this file's path.
    static let fuzzDirectory: String = {
        var components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // Tests/PexWireTests/FuzzRegressionTests.swift
        return components.joined(separator: "/") + "/fuzz"
    }()

    /// Runs the check of `target` on every file in `fuzz/<folder>/<target>/`.
    /// - Returns: The number of files replayed.
    @discardableResult
    func replay(_ folder: String, _ target: FuzzTarget, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let directory = "\(Self.fuzzDirectory)/\(folder)/\(target.rawValue)"
        let files = try FuzzInputs.files(at: directory)
        for path in files {
            let input = try FuzzInputs.read(path)
            do {
                try target.check(input)
            } catch {
                XCTFail("\(path): \(error.message)", file: file, line: line)
            }
        }
        return files.count
    }

    func testRegressionsStayFixed() throws {
        var total = 0
        for target in FuzzTarget.allCases {
            total += try replay("regressions", target)
        }
        // The folders hold the findings made so far; an empty set would mean the path is wrong.
        XCTAssertGreaterThan(total, 0, "no regression inputs found under \(Self.fuzzDirectory)/regressions")
    }

    /// protobuf-c accepts field numbers that cannot be written back (0 through a non-minimal tag,
    /// and above 2^29 − 1); a frame whose only field has such a number must be malformed, not
    /// `.unknown`, or it would not survive re-encoding.
    func testUnwritableFieldNumbersAreMalformed() throws {
        for name in ["protobuf-c-field-zero-tag", "protobuf-c-field-number-above-max"] {
            var decoder = FrameDecoder()
            decoder.append(try FuzzInputs.read("\(Self.fuzzDirectory)/regressions/frame/\(name)"))
            XCTAssertThrowsError(try decoder.nextFrame(), name) { error in
                guard case WireError.malformed = error else { return XCTFail("\(name): \(error)") }
            }
        }
    }

    func testSeedCorpusPassesTheChecks() throws {
        for target in FuzzTarget.allCases {
            let count = try replay("corpus", target)
            XCTAssertGreaterThan(count, 0, "empty seed corpus for \(target.rawValue)")
        }
    }

    /// The committed seeds are what `FuzzSeeds` generates (fuzz/gen-corpus.sh): a wire format
    /// change that forgets to regenerate them is caught here. (`vector-*` files are copies of the
    /// golden vectors, checked by the tests of those.)
    func testCommittedCorpusIsTheGeneratedOne() throws {
        for target in FuzzTarget.allCases {
            let directory = "\(Self.fuzzDirectory)/corpus/\(target.rawValue)"
            let committed = try FuzzInputs.files(at: directory).filter { !$0.hasPrefix("\(directory)/vector-") }
            let generated = FuzzSeeds.seeds(for: target)
            XCTAssertEqual(committed.map { String($0.split(separator: "/").last ?? "") }, generated.map(\.name).sorted())
            for seed in generated {
                XCTAssertEqual(try FuzzInputs.read("\(directory)/\(seed.name)"), seed.bytes, "\(target.rawValue)/\(seed.name) is stale; run fuzz/gen-corpus.sh")
            }
        }
    }

    /// Seeds are only useful if they are valid: every frame seed decodes to frames without error,
    /// every record seed decodes, and the records meant to verify do.
    func testSeedsAreValidInputs() throws {
        for seed in FuzzSeeds.seeds(for: .frame) {
            var decoder = FrameDecoder()
            decoder.append(seed.bytes)
            var frames = 0
            while let frame = try decoder.nextFrame() {
                XCTAssertNotEqual(frame.kind, "compressed", seed.name)
                frames += 1
            }
            try decoder.finish()
            XCTAssertGreaterThan(frames, 0, seed.name)
        }
        for seed in FuzzSeeds.seeds(for: .record) {
            let signed = try SignedPeerRecord(decoding: seed.bytes)
            let outcome = Result { () throws(WireError) in try signed.verify(networkID: RecordCheck.networkID, now: RecordCheck.now) }
            switch seed.name {
            case "record-expired":
                XCTAssertEqual(outcome.failureValue, .expired(expiresAt: RecordCheck.now - 1, now: RecordCheck.now))
            case "record-other-network":
                XCTAssertEqual(outcome.failureValue, .wrongNetwork(expected: RecordCheck.networkID, actual: "pex-other"))
            default:
                XCTAssertNil(outcome.failureValue, seed.name)
            }
        }
        for seed in FuzzSeeds.seeds(for: .multiaddr) {
            let text = String(decoding: seed.bytes, as: UTF8.self)
            let parsed = (try? Multiaddr(bytes: seed.bytes)) != nil || (try? Multiaddr(text)) != nil || IPAddress(text) != nil
            XCTAssertTrue(parsed, seed.name)
        }
    }

    /// The round-trip checks report values that do not survive encoding. Such values cannot come
    /// out of a correct decoder, but the codec documents some that can be built by hand.
    func testRoundTripChecksDetectValuesThatDoNotSurviveEncoding() {
        // Field numbers 1–10 are the known bodies, so `.unknown(5)` decodes as something else.
        XCTAssertThrowsError(try FrameCheck.roundTrip(.unknown(fieldNumber: 5))) { error in
            XCTAssertEqual((error as? FuzzFailure)?.target, .frame)
        }
        // protobuf-c strings end at the first NUL, so the message loses its tail.
        let nul = Frame.error(ErrorMessage(code: .internalError, message: "a\u{0}b", closing: false))
        XCTAssertThrowsError(try FrameCheck.roundTrip(nul))
        // A signature of the wrong size encodes but is refused when decoded.
        let short = SignedPeerRecord(record: FuzzSeeds.records(1)[0].record, signature: [1, 2, 3])
        XCTAssertThrowsError(try RecordCheck.roundTrip(short, target: .record)) { error in
            XCTAssertTrue((error as? FuzzFailure)?.message.hasPrefix("re-encoded SignedPeerRecord is rejected") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try FrameCheck.roundTrip(.peerUpdate(PeerUpdate(records: [short]))))
        // And values that do survive pass.
        XCTAssertNoThrow(try FrameCheck.roundTrip(.unknown(fieldNumber: 11)))
        XCTAssertNoThrow(try RecordCheck.roundTrip(FuzzSeeds.records(1)[0], target: .record))
    }

    func testInflationExpectationMatchesFrameInflated() {
        let ping = FrameCheck.Event.frame(.ping(Ping(nonce: 1)))
        XCTAssertEqual(FrameCheck.inflate(ping), ping)
        XCTAssertEqual(FrameCheck.inflate(.finished(nil)), .finished(nil))
        let corrupt = Frame.compressed(Compressed(codec: .deflate, uncompressedSize: 4, data: [0xff]))
        guard case .rejected(.badCompressedData) = FrameCheck.inflate(.frame(corrupt)) else {
            return XCTFail("a corrupt deflate stream must be rejected")
        }
    }

    func testEntryPointAcceptsSeeds() {
        for target in FuzzTarget.allCases {
            for seed in FuzzSeeds.seeds(for: target) {
                let result = seed.bytes.withUnsafeBufferPointer { FuzzEntry.testOneInput(target, $0.baseAddress, $0.count) }
                XCTAssertEqual(result, 0)
            }
            XCTAssertEqual(FuzzEntry.testOneInput(target, nil, 0), 0)
        }
    }

    func testReplayCountsInputsAndReportsUnreadablePaths() throws {
        let corpus = "\(Self.fuzzDirectory)/corpus/frame"
        let report = FuzzEntry.replay(.frame, paths: [corpus, "/nonexistent/input", "\(corpus)/frame-ping"])
        XCTAssertEqual(report.failures, [])
        XCTAssertEqual(report.passed, try FuzzInputs.files(at: corpus).count + 1)
        let unreadable = FuzzEntry.replay(.record, paths: ["/etc/passwd/not-a-folder"])
        XCTAssertEqual(unreadable.passed, 0)
        XCTAssertEqual(unreadable.failures.count, 1)
        XCTAssertTrue(unreadable.failures[0].hasPrefix("/etc/passwd/not-a-folder: "), unreadable.failures[0])
    }

    func testReplayMainExitStatus() throws {
        var lines: [String] = []
        let collect: (String) -> Void = { lines.append($0) }
        let corpus = "\(Self.fuzzDirectory)/corpus/multiaddr"
        XCTAssertEqual(FuzzEntry.main(.multiaddr, arguments: ["fuzz", corpus], output: collect), 0)
        XCTAssertEqual(lines.last, "multiaddr: \(try FuzzInputs.files(at: corpus).count) passed, 0 failed")
        XCTAssertEqual(FuzzEntry.main(.multiaddr, arguments: ["fuzz"], output: collect), 2)
        XCTAssertEqual(FuzzEntry.main(.multiaddr, arguments: ["fuzz", "-runs=1", corpus], output: collect), 2)
        XCTAssertEqual(FuzzEntry.main(.multiaddr, arguments: ["fuzz", "/etc/passwd/x"], output: collect), 1)
        XCTAssertEqual(FuzzEntry.main(.multiaddr, arguments: ["fuzz", "--write-seeds", "/nonexistent/dir"], output: collect), 1)

        let directory = "/tmp/pex-fuzz-main-\(getpid())"
        XCTAssertEqual(mkdir(directory, 0o755), 0)
        defer {
            for file in (try? FuzzInputs.files(at: directory)) ?? [] { unlink(file) }
            rmdir(directory)
        }
        XCTAssertEqual(FuzzEntry.main(.frame, arguments: ["fuzz", "--write-seeds", directory], output: collect), 0)
        XCTAssertEqual(try FuzzInputs.files(at: directory).count, FuzzSeeds.seeds(for: .frame).count)
    }

    func testFailureDescriptionNamesTheTarget() {
        XCTAssertEqual(FuzzFailure(.record, "boom").description, "fuzz record: boom")
        let error = FuzzInputs.ReadError(path: "/x", code: ENOENT)
        XCTAssertEqual(error.description, "/x: No such file or directory")
    }

    func testSeedsAreWrittenAndReadBack() throws {
        let directory = "/tmp/pex-fuzz-seeds-\(getpid())"
        XCTAssertEqual(mkdir(directory, 0o755), 0)
        defer {
            for file in (try? FuzzInputs.files(at: directory)) ?? [] { unlink(file) }
            rmdir(directory)
        }
        XCTAssertEqual(try FuzzSeeds.write(.record, to: directory), FuzzSeeds.seeds(for: .record).count)
        let report = FuzzEntry.replay(.record, paths: [directory])
        XCTAssertEqual(report.passed, FuzzSeeds.seeds(for: .record).count)
        XCTAssertThrowsError(try FuzzSeeds.write(.record, to: "/nonexistent/dir"))
        XCTAssertThrowsError(try FuzzInputs.read("/nonexistent/file"))
    }

    func testBriefDescriptionsAreBounded() {
        let big = Frame.peerAnnouncement(PeerAnnouncement(records: FuzzSeeds.records(30)))
        XCTAssertLessThan(FrameCheck.brief(big).utf8.count, 700)
        XCTAssertEqual(FrameCheck.brief("short"), "short")
    }
}

extension Result {
    fileprivate var failureValue: Failure? {
        if case let .failure(error) = self { return error }
        return nil
    }
}


/// The core fuzz target's seeds must reach the states worth fuzzing, or libFuzzer starts blind.
final class CoreFuzzSeedTests: XCTestCase {
    func testSeedsCompleteTheHandshakeAndStoreRecords() throws {
        let seeds = Dictionary(uniqueKeysWithValues: FuzzSeeds.seeds(for: .core).map { ($0.name, $0.bytes) })
        let handshake = try CoreCheck.run(try XCTUnwrap(seeds["core-handshake"]))
        XCTAssertEqual(handshake.mostReadyPeers, 1, "the scripted peer completes the handshake")
        let announce = try CoreCheck.run(try XCTUnwrap(seeds["core-announce"]))
        XCTAssertGreaterThanOrEqual(announce.mostStoredRecords, 3, "its own record and two announced ones")
        XCTAssertEqual(try CoreCheck.run(try XCTUnwrap(seeds["core-dial"])).mostReadyPeers, 1, "an outbound dial completes too")
    }
}
