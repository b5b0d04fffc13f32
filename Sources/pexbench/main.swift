// Benchmark driver for `make bench` (scripts/bench.sh); not a test.
//
//   pexbench make-input FILE          write a serialised Frame holding a 1000-record PeerResponse
//   pexbench decode FILE N ROUNDS     decode + validate it N times per round, signatures excluded;
//                                     prints `ns_per_op <value>` per round
//   pexbench load HOST:PORT pexd|echo NETWORK CONNECTIONS WINDOW WARMUP SECONDS
//                                     Ping load (Load.swift); prints `msgs_per_sec <value>`
//   pexbench roster FILE RECORDS CONNECTIONS
//                                     roster for the memory benchmark; prints the node's secret key
//   pexbench flood HOST:PORT NETWORK RECORDS CONNECTIONS HOLD_SECONDS
//                                     announces RECORDS records over CONNECTIONS connections, holds them
//   pexbench converge SINCE TIMEOUT SOCKET...
//                                     seconds from SINCE (Unix time) until all nodes know each other
import PexWire
#if canImport(Glibc)
import Glibc
#endif

let network = "pex-bench"
let recordCount = WireLimits.maxRecordsPerMessage

func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func fail(_ message: String) -> Never {
    print("pexbench: \(message)")
    exit(2)
}

/// A realistic federation response: distinct members, two addresses each (IPv4 and IPv6).
func makeInput() -> [UInt8] {
    var records: [SignedPeerRecord] = []
    for i in 0..<recordCount {
        var seed = [UInt8](repeating: 0, count: 32)
        seed[0] = UInt8(i & 0xff)
        seed[1] = UInt8(i >> 8)
        seed[31] = 0x5a
        do {
            let key = try KeyPair(seed: seed)
            let addresses = [
                try Multiaddr("/ip4/198.\(i % 250).\(i / 250).7/tcp/4001"),
                try Multiaddr("/ip6/2001:db8:\(String(i, radix: 16))::7/udp/4001/quic-v1"),
            ]
            records.append(try SignedPeerRecord.create(
                keyPair: key, seq: 1_790_000_000 + UInt64(i), addresses: addresses, networkID: network,
                expiresAt: 4_000_000_000))
        } catch {
            fail("building record \(i): \(error)")
        }
    }
    let frame = Frame.peerResponse(PeerResponse(
        requestID: 1, records: records, next: SyncCursor(epoch: 7, position: 1000), more: false, full: true))
    return frame.encoded()
}

/// The work measured: everything a node does to a received response before signature checks.
@inline(never)
func decodeAndValidate(_ bytes: [UInt8]) -> Int {
    do {
        guard case let .peerResponse(response) = try Frame(decoding: bytes) else { fail("not a PeerResponse") }
        var addresses = 0
        for signed in response.records {
            addresses += try signed.parse(networkID: network).addresses.count
        }
        return addresses
    } catch {
        fail("decode: \(error)")
    }
}

let args = CommandLine.arguments
switch args.count > 1 ? args[1] : "" {
case "make-input" where args.count == 3:
    let bytes = makeInput()
    guard let file = fopen(args[2], "wb"), fwrite(bytes, 1, bytes.count, file) == bytes.count else {
        fail("cannot write \(args[2])")
    }
    fclose(file)
    print("wrote \(bytes.count) bytes (\(recordCount) records) to \(args[2])")
case "decode" where args.count == 5:
    guard let file = fopen(args[2], "rb") else { fail("cannot open \(args[2])") }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        bytes += chunk[0..<n]
        if n < chunk.count { break }
    }
    fclose(file)
    guard let iterations = Int(args[3]), let rounds = Int(args[4]), iterations > 0, rounds > 0 else {
        fail("N and ROUNDS must be positive integers")
    }
    var sink = 0
    for _ in 0..<rounds {
        let start = monotonicNanoseconds()
        for _ in 0..<iterations { sink &+= decodeAndValidate(bytes) }
        let elapsed = Double(monotonicNanoseconds() - start) / Double(iterations)
        print("ns_per_op \((elapsed * 10).rounded() / 10)")
    }
    if sink == 0 { fail("nothing decoded") }
case "load" where args.count == 9:
    guard let connections = Int(args[5]), let window = Int(args[6]), let warmup = Double(args[7]),
          let seconds = Double(args[8]), connections > 0, window > 0, seconds > 0 else {
        fail("load: CONNECTIONS and WINDOW must be positive integers, WARMUP and SECONDS numbers")
    }
    do {
        let (host, port) = try parsePort(args[2])
        let network: String? = args[3] == "pexd" ? args[4] : nil
        let result = try runLoad(host: host, port: port, handshakeWith: network, connections: connections,
                                 window: window, warmup: warmup, duration: seconds)
        print("answers \(result.answers) seconds \(result.seconds)")
        print("msgs_per_sec \(result.perSecond.rounded())")
    } catch {
        fail("load: \(error)")
    }
case "roster" where args.count == 5:
    guard let records = Int(args[3]), let connections = Int(args[4]) else { fail("roster: counts expected") }
    do { try writeRoster(path: args[2], records: records, connections: connections) } catch { fail("roster: \(error)") }
case "flood" where args.count == 7:
    guard let records = Int(args[4]), let connections = Int(args[5]), let hold = Double(args[6]), connections > 0 else {
        fail("flood: RECORDS, CONNECTIONS (> 0) and HOLD_SECONDS expected")
    }
    do {
        let (host, port) = try parsePort(args[2])
        try flood(host: host, port: port, network: args[3], records: records, connections: connections, hold: hold)
    } catch {
        fail("flood: \(error)")
    }
case "converge" where args.count >= 5:
    guard let since = Double(args[2]), let timeout = Double(args[3]) else { fail("converge: SINCE and TIMEOUT expected") }
    do {
        let times = try awaitConvergence(sockets: Array(args[4...]), since: since, timeout: timeout)
        print("up_seconds \(times.up)")
        print("converged_seconds \(times.converged)")
    } catch {
        fail("converge: \(error)")
    }
default:
    fail("usage: see the comment at the top of Sources/pexbench/main.swift")
}
