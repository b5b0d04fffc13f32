#!/usr/bin/env bash
# `make bench`: decode + validate (signatures excluded) of a 1000-record PeerResponse by PexWire,
# against raw protobuf-c unpack of the same bytes in C and against Python's protobuf runtime.
# Each side runs ROUNDS rounds in this same run; the medians are compared as ratios, so the
# figures do not depend on how fast this machine happens to be.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-7}
work=benchmarks/.work
mkdir -p "$work" benchmarks/results

swift build -c release --product pexbench >/dev/null
bin="$(swift build -c release --show-bin-path)/pexbench"
"$bin" make-input "$work/response.bin"
cc -O2 -o "$work/unpack_bench" benchmarks/c/unpack_bench.c Sources/CPexProto/pex/v1/*.c \
   -ISources/CPexProto/include $(pkg-config --cflags --libs libprotobuf-c)

median() { sed -n 's/^ns_per_op //p' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

swift_ns=$("$bin" decode "$work/response.bin" 20 "$ROUNDS" | median)
c_deep_ns=$("$work/unpack_bench" "$work/response.bin" 200 "$ROUNDS" deep 2>/dev/null | median)
c_frame_ns=$("$work/unpack_bench" "$work/response.bin" 200 "$ROUNDS" 2>/dev/null | median)
py_ns=$(clients/python/.venv/bin/python benchmarks/python_parse.py "$work/response.bin" 20 "$ROUNDS" 2>/dev/null | median)

python3 - "$swift_ns" "$c_deep_ns" "$c_frame_ns" "$py_ns" "$ROUNDS" <<'PY'
import json, sys, time, platform
swift, c_deep, c_frame, py, rounds = (float(x) for x in sys.argv[1:6])
result = {
    "benchmark": "decode+validate 1000-record PeerResponse (signatures excluded)",
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "machine": platform.machine(), "rounds": int(rounds),
    "median_ns_per_op": {"pexwire_swift": swift, "protobuf_c_unpack_deep": c_deep,
                         "protobuf_c_unpack_frame": c_frame, "python_protobuf_parse_deep": py},
    "ratios": {"swift_over_c_deep": swift / c_deep, "swift_over_c_frame": swift / c_frame,
               "swift_over_python": swift / py},
}
print(f"PexWire decode+validate      {swift/1e6:9.3f} ms/op")
print(f"protobuf-c unpack (+records) {c_deep/1e6:9.3f} ms/op")
print(f"protobuf-c unpack (frame)    {c_frame/1e6:9.3f} ms/op")
print(f"Python protobuf (+records)   {py/1e6:9.3f} ms/op")
print(f"ratio Swift / C (+records)   {swift/c_deep:9.2f}")
print(f"ratio Swift / C (frame only) {swift/c_frame:9.2f}")
print(f"ratio Swift / Python         {swift/py:9.2f}")
with open("benchmarks/results/decode-latest.json", "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
with open("benchmarks/results/decode-history.jsonl", "a") as f:
    f.write(json.dumps(result) + "\n")
print("written to benchmarks/results/decode-latest.json (and appended to decode-history.jsonl)")
PY
