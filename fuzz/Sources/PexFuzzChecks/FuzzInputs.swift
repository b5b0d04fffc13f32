#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading fuzz inputs (corpus files, saved crashes) from disk, without Foundation so that the
/// fuzz binaries stay small and start fast.
public enum FuzzInputs {
    /// Why an input could not be read.
    public struct ReadError: Error, CustomStringConvertible, Sendable {
        /// The path that failed.
        public let path: String
        /// The C library's `errno` at the failure.
        public let code: Int32
        public var description: String { "\(path): \(String(cString: strerror(code)))" }
    }

    /// The regular files to replay for `path`: the file itself, or the files directly inside a
    /// folder (hidden ones skipped), sorted by name so that runs are reproducible.
    /// - Parameter path: A file or folder.
    /// - Returns: Paths of regular files; empty for an empty or missing folder.
    /// - Throws: `ReadError` when `path` exists but cannot be listed.
    public static func files(at path: String) throws(ReadError) -> [String] {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return [] }
            throw ReadError(path: path, code: errno)
        }
        if (info.st_mode & S_IFMT) != S_IFDIR { return [path] }
        guard let dir = opendir(path) else { throw ReadError(path: path, code: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            var child = stat()
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            if stat(full, &child) == 0, (child.st_mode & S_IFMT) == S_IFREG { names.append(full) }
        }
        return names.sorted()
    }

    /// The whole content of a file.
    /// - Parameter path: The file to read.
    /// - Returns: Its bytes.
    /// - Throws: `ReadError` when it cannot be opened or read.
    public static func read(_ path: String) throws(ReadError) -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw ReadError(path: path, code: errno) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { bytes.append(contentsOf: chunk[..<n]) }
            if n < chunk.count {
                if ferror(file) != 0 { throw ReadError(path: path, code: errno) }
                return bytes
            }
        }
    }
}
