import PexWire
public enum MultiaddrCheck {
    public static func run(_ input: [UInt8]) throws(FuzzFailure) {
        let s = String(decoding: input, as: UTF8.self)
        if let d = Base58.decode(s), Base58.decode(Base58.encode(d)) != d { throw FuzzFailure(.multiaddr, "b58") }
    }
}
