#if canImport(Glibc)
import Glibc
#endif

/// Whether anything exists at `path`.
func fileExists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0
}

struct FileError: Error, CustomStringConvertible {
    let description: String
}

/// Creates `path` (mode 0700: it holds the node's secret key) unless it exists.
func makeDirectory(_ path: String) throws(FileError) {
    if mkdir(path, 0o700) != 0 && errno != EEXIST {
        throw FileError(description: "cannot create \(path): \(String(cString: strerror(errno)))")
    }
}

/// Reads a whole file, at most `limit` bytes.
func readFile(_ path: String, limit: Int) throws(FileError) -> [UInt8] {
    guard let file = fopen(path, "rb") else {
        throw FileError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
    }
    defer { fclose(file) }
    return try readAll(file, limit: limit, name: path)
}

/// Reads a stream to its end, at most `limit` bytes.
func readAll(_ file: UnsafeMutablePointer<FILE>, limit: Int, name: String) throws(FileError) -> [UInt8] {
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n > 0 { out.append(contentsOf: chunk[0..<n]) }
        if out.count > limit { throw FileError(description: "\(name) is larger than \(limit) bytes") }
        if n < chunk.count {
            if ferror(file) != 0 { throw FileError(description: "cannot read \(name)") }
            return out
        }
    }
}
