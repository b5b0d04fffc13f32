#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PexFuzzChecks

/// libFuzzer entry point; see `CoreCheck` for what is checked.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCore(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzEntry.testOneInput(.core, data, size)
}

// With libFuzzer (scripts/fuzz.sh defines PEX_FUZZING) its own main drives the entry point above;
// otherwise this binary replays the files it is given.
#if !PEX_FUZZING
@main enum Replay {
    static func main() { exit(FuzzEntry.main(.core, arguments: CommandLine.arguments)) }
}
#endif
