import ArgumentParser
import PexWire

/// `pexd keygen`: a new node identity.
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a new Ed25519 identity; print its public key (base64) and peer ID.",
        discussion: """
            The key file holds the base64 of the 64-byte Ed25519 secret key, the format of the \
            federation's original conf.yaml `node.private_key`; it is written with mode 0600.
            """)

    @Option(name: .shortAndLong, help: "Write the secret key to this file (mode 0600).")
    var out: String?

    @Flag(help: "Overwrite --out if it exists.")
    var force = false

    @Flag(help: "Print a JSON object instead of text.")
    var json = false

    func run() throws {
        if let out, !force, fileExists(out) {
            throw invalidInput("\(out) exists; use --force to replace it")
        }
        let keyPair = KeyPair.generate()
        if let out {
            do { try keyPair.save(to: out) } catch {
                printError("error: \(error)")
                throw ExitCode(1)
            }
        }
        printIdentity(keyPair.publicKey, input: nil, keyFile: out, json: json)
    }
}

/// `pexd id`: converts between the base64 public key and the libp2p peer ID.
struct Id: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a public key in both forms: base64 and libp2p peer ID.",
        discussion: "Accepts a base64 Ed25519 public key (44 characters) or a peer ID (12D3KooW…, or bafz… CIDv1).")

    @Argument(help: "A base64 public key or a peer ID.")
    var key: String

    @Flag(help: "Print a JSON object instead of text.")
    var json = false

    func run() throws {
        let input = key.trimmingWhitespace
        let publicKey: PublicKey
        do {
            publicKey = try parsePublicKey(input)
        } catch {
            if json {
                print(JSONValue.object([
                    ("input", .string(input)), ("valid", .bool(false)), ("error", .string(error.description)),
                ]).rendered)
            }
            throw invalidInput(error.description)
        }
        printIdentity(publicKey, input: input, keyFile: nil, json: json)
    }
}

/// `pexd info`: the identity of the node whose data directory is given, created on first use.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print this node's identity, creating its key on first use.")

    @Option(help: "Data directory holding node.key.")
    var dataDir = "data"

    @Flag(help: "Print a JSON object instead of text.")
    var json = false

    func run() throws {
        let path = dataDir + "/node.key"
        let keyPair: KeyPair
        do {
            if fileExists(path) {
                keyPair = try KeyPair.load(from: path)
            } else {
                try makeDirectory(dataDir)
                keyPair = KeyPair.generate()
                try keyPair.save(to: path)
                if !json { print("created a new identity in \(path)") }
            }
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        printIdentity(keyPair.publicKey, input: nil, keyFile: path, json: json)
    }
}

/// Parses a base64 public key or a peer ID, deciding by shape: base64 of 32 bytes is 44
/// characters ending in "=", which no peer ID text is.
func parsePublicKey(_ text: String) throws(WireError) -> PublicKey {
    if text.count == 44 && text.hasSuffix("=") {
        return try PublicKey(base64: text)
    }
    return try PeerID(text: text).publicKey
}

func printIdentity(_ key: PublicKey, input: String?, keyFile: String?, json: Bool) {
    if json {
        var fields: [(String, JSONValue)] = []
        if let input { fields.append(("input", .string(input))); fields.append(("valid", .bool(true))) }
        fields.append(("public_key", .string(key.base64)))
        fields.append(("peer_id", .string(key.peerID.base58)))
        fields.append(("public_key_hex", .string(hex(key.bytes))))
        if let keyFile { fields.append(("key_file", .string(keyFile))) }
        print(JSONValue.object(fields).rendered)
    } else {
        print("public key: \(key.base64)")
        print("peer id:    \(key.peerID.base58)")
        if let keyFile { print("key file:   \(keyFile)") }
    }
}

extension String {
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(scalars[first...last])
    }
}
