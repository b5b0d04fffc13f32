import PexWire
public enum RecordCheck {
    public static func run(_ input: [UInt8]) throws(FuzzFailure) {
        if case let .value(v, _) = Varint.read(input), Varint.encode(v) != Array(input.prefix(Varint.encodedLength(v))) { throw FuzzFailure(.record, "varint") }
    }
}
