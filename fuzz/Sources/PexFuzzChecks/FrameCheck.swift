import CPexProto
public enum FrameCheck {
    public static func run(_ input: [UInt8]) throws(FuzzFailure) {
        let msg = input.withUnsafeBufferPointer { protobuf_c_message_unpack(withUnsafePointer(to: pex__v1__frame__descriptor) { $0 }, nil, $0.count, $0.baseAddress) }
        guard let msg else { return }
        defer { protobuf_c_message_free_unpacked(msg, nil) }
        let n = protobuf_c_message_get_packed_size(msg)
        var out = [UInt8](repeating: 0, count: n)
        _ = out.withUnsafeMutableBufferPointer { protobuf_c_message_pack(msg, $0.baseAddress) }
        let m2 = out.withUnsafeBufferPointer { protobuf_c_message_unpack(withUnsafePointer(to: pex__v1__frame__descriptor) { $0 }, nil, $0.count, $0.baseAddress) }
        guard let m2 else { throw FuzzFailure(.frame, "repack does not unpack") }
        protobuf_c_message_free_unpacked(m2, nil)
    }
}
