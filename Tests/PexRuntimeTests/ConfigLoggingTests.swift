import Foundation
import Logging
import PexRuntime
import XCTest

/// Collects lines written by a handler.
private final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.withLock { stored.append(line) } }
    var all: [String] { lock.withLock { stored } }
}

final class ConfigLoggingTests: XCTestCase {
    func testJSONLineFormat() throws {
        let line = JSONLogHandler.line(
            timestamp: 1_700_000_000_123_456_789, level: .warning, label: "pex.node",
            message: "peer \"x\" said\n\\hi\u{01}",
            metadata: ["peer": "12D3KooW", "count": .stringConvertible(3), "list": ["a", "b"],
                       "nested": .dictionary(["z": "1", "a": "2"])])
        XCTAssertEqual(line, #"{"timestamp":"2023-11-14T22:13:20.123Z","level":"warning","label":"pex.node","#
            + #""message":"peer \"x\" said\n\\hi\u0001","metadata":{"count":"3","list":["a","b"],"#
            + #""nested":{"a":"2","z":"1"},"peer":"12D3KooW"}}"# + "\n")
        // Valid JSON, one object per line.
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        XCTAssertEqual(object?["message"] as? String, "peer \"x\" said\n\\hi\u{01}")
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1)

        let bare = JSONLogHandler.line(timestamp: 0, level: .info, label: "l", message: "m\r\t", metadata: [:])
        XCTAssertEqual(bare, #"{"timestamp":"1970-01-01T00:00:00.000Z","level":"info","label":"l","message":"m\r\t"}"# + "\n")
    }

    func testHandlerMergesMetadataAndFiltersLevels() throws {
        let lines = Lines()
        let provider = Logger.MetadataProvider { ["trace": "t1", "shared": "provider"] }
        var logger = Logger(label: "test") { label in
            JSONLogHandler(label: label, level: .info, metadataProvider: provider, sink: { lines.append($0) })
        }
        logger[metadataKey: "node"] = "n1"
        logger[metadataKey: "shared"] = "handler"
        XCTAssertEqual(logger[metadataKey: "node"], "n1")
        logger.debug("hidden")
        logger.info("connected", metadata: ["peer": "p1", "shared": "call"])
        logger.logLevel = .debug
        XCTAssertEqual(logger.logLevel, .debug)
        logger.debug("now visible")
        let all = lines.all
        XCTAssertEqual(all.count, 2)
        let first = try JSONSerialization.jsonObject(with: Data(all[0].utf8)) as? [String: Any]
        XCTAssertEqual(first?["level"] as? String, "info")
        XCTAssertEqual(first?["label"] as? String, "test")
        XCTAssertEqual(first?["message"] as? String, "connected")
        XCTAssertEqual(first?["metadata"] as? [String: String],
                       ["node": "n1", "trace": "t1", "peer": "p1", "shared": "call"])
        XCTAssertNotNil((first?["timestamp"] as? String)?.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#,
                                                                options: .regularExpression))
        XCTAssertTrue(all[1].contains(#""message":"now visible""#))
    }

    func testHandlerFactoryHonoursFormatAndLevel() {
        let text = PexLogging.handler(label: "a", level: .error, format: .text)
        XCTAssertTrue(text is StreamLogHandler)
        XCTAssertEqual(text.logLevel, .error)
        let json = PexLogging.handler(label: "a", level: .debug, format: .json)
        XCTAssertTrue(json is JSONLogHandler)
        XCTAssertEqual(json.logLevel, .debug)
        // The default sink writes to standard error without failing.
        JSONLogHandler.standardError("")
        JSONLogHandler.standardError(JSONLogHandler.line(timestamp: 0, level: .debug, label: "test", message: "stderr sink", metadata: [:]))
    }
}
