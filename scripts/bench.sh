#!/usr/bin/env bash
# `make bench`: four benchmarks, each against a baseline measured in the same run, so that the
# ratios do not depend on how fast this machine happens to be. Results in benchmarks/results/.
#
#  1. decode: decode + validate (signatures excluded) of a 1000-record PeerResponse by PexWire,
#     against protobuf-c in C and Python's protobuf runtime             -> decode-latest.json
#  2. msgs/s: Ping→Pong answered per second by one pexd loop on loopback, against a libuv echo
#     server in C with the same framing (benchmarks/c/echo_server.c); one load generator
#     (pexbench load) for both, K connections with a window of Pings in flight  -> throughput-latest.json
#  3. memory: VmRSS/VmHWM of a pexd holding 10 000 signed records and 128 authenticated
#     connections, against the same pexd idle                           -> memory-latest.json
#  4. convergence: five pexd on loopback, each knowing only the first, with a 100 ms sync
#     interval: seconds and sync intervals until all know all           -> convergence-latest.json
#
# BENCH_ONLY="decode throughput memory convergence" selects benchmarks. Every process started
# here is stopped on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-7}
LOAD_ROUNDS=${LOAD_ROUNDS:-3}
LOAD_SECONDS=${LOAD_SECONDS:-3}
LOAD_CONNECTIONS=${LOAD_CONNECTIONS:-"1 16 64"}
MEMORY_RECORDS=${MEMORY_RECORDS:-10000}
MEMORY_CONNECTIONS=${MEMORY_CONNECTIONS:-128}
CONVERGE_RUNS=${CONVERGE_RUNS:-5}
BENCH_ONLY=${BENCH_ONLY:-"decode throughput memory convergence"}
SCRATCH=${BENCH_SCRATCH:+--scratch-path $BENCH_SCRATCH}
# The system C compiler, or the clang that ships with the Swift toolchain.
CC=${CC:-$(command -v cc || command -v clang || echo cc)}
work=benchmarks/.work
results=benchmarks/results
mkdir -p "$work" "$results"

PIDS=()
TMP=$(mktemp -d /tmp/pexbench.XXXXXX)
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
selected() { [[ " $BENCH_ONLY " == *" $1 "* ]]; }
# Stops one process started here and forgets it.
stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() pid
  for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  PIDS=("${kept[@]}")
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "building (release)…"
swift build -c release $SCRATCH --product pexbench >/dev/null
swift build -c release $SCRATCH --product pexd >/dev/null
binpath="$(swift build -c release $SCRATCH --show-bin-path)"
bench="$binpath/pexbench"
PEXD="$binpath/pexd"

# Starts pexd on a configuration file; sets NODE_PID. Waits for its admin socket.
start_pexd() { # conf, log, admin socket
  "$PEXD" run --config "$1" > "$2" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  for _ in $(seq 200); do
    "$PEXD" status --socket "$3" >/dev/null 2>&1 && return 0
    kill -0 "$NODE_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "pexd did not start:" >&2; cat "$2" >&2; exit 1
}

# ---------------------------------------------------------------------------------------------
if selected decode; then
  echo "== decode: 1000-record PeerResponse"
  "$bench" make-input "$work/response.bin" >/dev/null
  "$CC" -O2 -o "$work/unpack_bench" benchmarks/c/unpack_bench.c Sources/CPexProto/pex/v1/*.c \
     -ISources/CPexProto/include $(pkg-config --cflags --libs libprotobuf-c)
  ns() { sed -n 's/^ns_per_op //p' | median; }
  swift_ns=$("$bench" decode "$work/response.bin" 20 "$ROUNDS" | ns)
  c_deep_ns=$("$work/unpack_bench" "$work/response.bin" 200 "$ROUNDS" deep 2>/dev/null | ns)
  c_frame_ns=$("$work/unpack_bench" "$work/response.bin" 200 "$ROUNDS" 2>/dev/null | ns)
  py_ns=$(clients/python/.venv/bin/python benchmarks/python_parse.py "$work/response.bin" 20 "$ROUNDS" 2>/dev/null | ns)
  for v in swift_ns c_deep_ns c_frame_ns py_ns; do
    [ -n "${!v}" ] || { echo "decode benchmark: no result for $v (make bench creates the Python venv)" >&2; exit 1; }
  done
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
with open("benchmarks/results/decode-latest.json", "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
with open("benchmarks/results/decode-history.jsonl", "a") as f:
    f.write(json.dumps(result) + "\n")
PY
fi

# ---------------------------------------------------------------------------------------------
if selected throughput; then
  echo "== msgs/s: pexd Ping→Pong vs libuv echo, K connections"
  "$CC" -O2 -o "$work/echo_server" benchmarks/c/echo_server.c $(pkg-config --cflags --libs libuv)
  dir="$TMP/load"; mkdir -p "$dir"
  port=$(free_port)
  # Rate limits raised far above the load (defaults: 20 frames/s, one Ping per 5 s per
  # connection); no outbound dialling, no periodic sync, so the loop serves only the load.
  cat > "$dir/conf.yaml" <<YAML
network:
  addresses: ["/ip4/127.0.0.1/tcp/$port"]
peers:
  exchange_interval: 1h
logging:
  level: error
pex:
  network_id: pex-bench
  data_dir: $dir
  lab_mode: true
  limits: { target_outbound: 0, max_inbound: 512, max_connections_per_ip: 512, max_pending_handshakes: 512 }
  timing: { feeler_interval: 1h }
  rate_limits:
    frames: { rate: 1e9, burst: 1000000000 }
    ping: { rate: 1e9, burst: 1000000000 }
YAML
  start_pexd "$dir/conf.yaml" "$dir/pexd.log" "$dir/admin.sock"
  pexd_pid=$NODE_PID
  # Two baselines: one write per echoed frame (as pexd writes each answer), and one write per read.
  start_echo() { # mode; sets ECHO_PID, ECHO_PORT
    "$work/echo_server" 0 "$1" > "$dir/echo-$1.out" 2>&1 &
    ECHO_PID=$!; PIDS+=("$ECHO_PID")
    for _ in $(seq 100); do grep -q '^port ' "$dir/echo-$1.out" 2>/dev/null && break; sleep 0.05; done
    ECHO_PORT=$(sed -n 's/^port //p' "$dir/echo-$1.out")
    [ -n "$ECHO_PORT" ] || { echo "echo server did not start" >&2; exit 1; }
  }
  start_echo frame; frame_pid=$ECHO_PID; frame_port=$ECHO_PORT
  start_echo batch; batch_pid=$ECHO_PID; batch_port=$ECHO_PORT
  rate() { # HOST:PORT pexd|echo K WINDOW: one run's msgs/s; the generator's message on failure
    local out
    out=$("$bench" load "$1" "$2" pex-bench "$3" "$4" 1 "$LOAD_SECONDS") || {
      echo "load run failed ($2, K=$3): $out" >&2; tail -5 "$dir/pexd.log" >&2; exit 1; }
    sed -n 's/^msgs_per_sec //p' <<<"$out"
  }
  : > "$dir/runs.txt"
  for k in $LOAD_CONNECTIONS; do
    window=$(( k == 1 ? 256 : (k >= 64 ? 32 : 64) ))
    for r in $(seq "$LOAD_ROUNDS"); do
      p=$(rate "127.0.0.1:$port" pexd "$k" "$window")
      f=$(rate "127.0.0.1:$frame_port" echo "$k" "$window")
      b=$(rate "127.0.0.1:$batch_port" echo "$k" "$window")
      echo "$k $window $p $f $b" >> "$dir/runs.txt"
      printf '  K=%-3s window=%-3s round %s: pexd %9.0f  echo/frame %9.0f  echo/batch %9.0f msgs/s\n' \
        "$k" "$window" "$r" "$p" "$f" "$b"
    done
  done
  pexd_rss_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$pexd_pid/status")
  stop "$pexd_pid"; stop "$frame_pid"; stop "$batch_pid"
  python3 - "$dir/runs.txt" "$LOAD_SECONDS" "$pexd_rss_kb" <<'PY'
import json, sys, time, platform, statistics
runs = [line.split() for line in open(sys.argv[1]) if line.strip()]
by_k = {}
for k, window, p, f, b in runs:
    v = by_k.setdefault(int(k), {"window": int(window), "pexd": [], "frame": [], "batch": []})
    v["pexd"].append(float(p)); v["frame"].append(float(f)); v["batch"].append(float(b))
rows = []
for k, v in sorted(by_k.items()):
    p, f, b = (statistics.median(v[x]) for x in ("pexd", "frame", "batch"))
    rows.append({"connections": k, "window_per_connection": v["window"],
                 "pexd_msgs_per_sec": p, "echo_frame_msgs_per_sec": f, "echo_batch_msgs_per_sec": b,
                 "pexd_over_echo_frame": p / f, "pexd_over_echo_batch": p / b,
                 "runs": {"pexd": v["pexd"], "echo_frame": v["frame"], "echo_batch": v["batch"]}})
result = {
    "benchmark": "Ping->Pong answered per second by one pexd loop on loopback vs a libuv C echo "
                 "server with the same framing (one write per frame; one write per read); same load "
                 "generator (pexbench load), medians",
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "machine": platform.machine(), "seconds_per_run": float(sys.argv[2]),
    "pexd_vmhwm_kb_after_load": int(sys.argv[3]), "results": rows,
}
with open("benchmarks/results/throughput-latest.json", "w") as f:
    json.dump(result, f, indent=2); f.write("\n")
with open("benchmarks/results/throughput-history.jsonl", "a") as f:
    f.write(json.dumps(result) + "\n")
PY
fi

# ---------------------------------------------------------------------------------------------
if selected memory; then
  echo "== memory: pexd with $MEMORY_RECORDS records and $MEMORY_CONNECTIONS connections vs idle"
  dir="$TMP/memory"; mkdir -p "$dir"
  port=$(free_port)
  # Roster mode, as a federation runs: every record is a member's and sits in the protected
  # set, so the book holds all of them (the open new table would keep only what its buckets fit).
  node_key=$("$bench" roster "$dir/roster.yaml" "$MEMORY_RECORDS" "$MEMORY_CONNECTIONS")
  cat > "$dir/conf.yaml" <<YAML
node:
  private_key: $node_key
network:
  addresses: ["/ip4/127.0.0.1/tcp/$port"]
peers:
  exchange_interval: 30s
logging:
  level: error
pex:
  network_id: pex-bench
  data_dir: $dir
  roster_file: roster.yaml
  lab_mode: true
  limits: { target_outbound: 0, max_inbound: 512, max_connections_per_ip: 512, max_pending_handshakes: 512,
            max_protected: $(( MEMORY_RECORDS + MEMORY_CONNECTIONS + 1024 )) }
  timing: { feeler_interval: 1h }
YAML
  start_pexd "$dir/conf.yaml" "$dir/pexd.log" "$dir/admin.sock"
  pid=$NODE_PID
  sleep 2
  idle=$(awk '/^VmRSS|^VmHWM/ {printf "%s ", $2}' "/proc/$pid/status")
  idle_status=$("$PEXD" status --json --socket "$dir/admin.sock")
  "$bench" flood "127.0.0.1:$port" pex-bench "$MEMORY_RECORDS" "$MEMORY_CONNECTIONS" 120 > "$dir/flood.out" 2>&1 &
  flood_pid=$!; PIDS+=("$flood_pid")
  want=$MEMORY_RECORDS
  records=0; ready=0; t0=$(date +%s.%N)
  for _ in $(seq 600); do
    # A node busy verifying and storing a burst of records may answer late: just ask again.
    st=$("$PEXD" status --json --socket "$dir/admin.sock" 2>/dev/null) || { sleep 0.2; continue; }
    known=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(s["known_records"], s["ready_peers"])' "$st")
    read -r records ready <<<"$known"
    [ "$records" -ge "$want" ] && [ "$ready" -ge "$MEMORY_CONNECTIONS" ] && break
    kill -0 "$flood_pid" 2>/dev/null || { echo "flood failed:" >&2; cat "$dir/flood.out" >&2; exit 1; }
    sleep 0.1
  done
  [ "$records" -ge "$want" ] || { echo "node holds only $records records" >&2; cat "$dir/flood.out" >&2; exit 1; }
  echo "  node holds $records records, $ready ready peers after $(python3 -c "import time; print(round(time.time()-$t0, 1))")s"
  sleep 3   # let relays, store writes and any transient buffers settle
  loaded=$(awk '/^VmRSS|^VmHWM/ {printf "%s ", $2}' "/proc/$pid/status")
  loaded_status=$("$PEXD" status --json --socket "$dir/admin.sock")
  sed 's/^/  /' "$dir/flood.out"
  stop "$flood_pid"; stop "$pid"
  python3 - "$idle" "$loaded" "$idle_status" "$loaded_status" "$MEMORY_RECORDS" "$MEMORY_CONNECTIONS" <<'PY'
import json, sys, time, platform
i = sys.argv[1].split(); l = sys.argv[2].split()
# /proc/<pid>/status lists VmHWM before VmRSS.
idle = {"vmhwm_kb": int(i[0]), "vmrss_kb": int(i[1])}
loaded = {"vmhwm_kb": int(l[0]), "vmrss_kb": int(l[1])}
si, sl = json.loads(sys.argv[3]), json.loads(sys.argv[4])
records, connections = int(sys.argv[5]), int(sys.argv[6])
held = sl["known_records"] - si["known_records"]
delta_bytes = (loaded["vmrss_kb"] - idle["vmrss_kb"]) * 1024
result = {
    "benchmark": "resident memory of pexd holding signed records and authenticated connections "
                 "(roster mode, every record protected) vs the same pexd idle",
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "machine": platform.machine(),
    "records_announced": records, "connections": connections,
    "idle": dict(idle, known_records=si["known_records"], ready_peers=si["ready_peers"]),
    "loaded": dict(loaded, known_records=sl["known_records"], ready_peers=sl["ready_peers"]),
    "rss_ratio_loaded_over_idle": loaded["vmrss_kb"] / idle["vmrss_kb"],
    "rss_delta_mb": delta_bytes / 1048576,
    "bytes_per_record_including_connections": delta_bytes / held if held else None,
}
with open("benchmarks/results/memory-latest.json", "w") as f:
    json.dump(result, f, indent=2); f.write("\n")
with open("benchmarks/results/memory-history.jsonl", "a") as f:
    f.write(json.dumps(result) + "\n")
PY
fi

# ---------------------------------------------------------------------------------------------
if selected convergence; then
  echo "== convergence: 5 nodes, 100 ms sync interval, $CONVERGE_RUNS runs each with full lists (delta sync off) and delta sync (the default)"
  # scripts/demo.sh's network with every timer scaled to a 100 ms interval and the per-connection
  # rates 300× higher (the default 30 s interval -> 100 ms), so the schedule, not a limit tuned
  # for 30 s rounds, decides. Full lists and delta sync are both measured; delta sync is the default.
  : > "$TMP/converge.txt"
  for variant in false true; do
  for run in $(seq "$CONVERGE_RUNS"); do
    dir="$TMP/converge-$variant-$run"; socks=()
    start_node() { # index, bootstrap list
      local d="$dir/node$1" p
      p=$(free_port); mkdir -p "$d"
      cat > "$d/conf.yaml" <<YAML
network:
  addresses: ["/ip4/127.0.0.1/tcp/$p"]
peers:
  exchange_interval: 100ms
logging:
  level: error
pex:
  network_id: pex-demo
  data_dir: $d
  lab_mode: true
  delta_sync: $variant
  bootstrap: $2
  limits: { max_connections_per_ip: 64 }
  timing: { sync_jitter: 10ms, backoff_base: 10ms, backoff_cap: 100ms, ping_interval: 1s, idle_timeout: 3s,
            request_timeout: 1s, feeler_interval: 1s }
  rate_limits:
    request: { rate: 30 }
    records: { rate: 30 }
    frames: { rate: 6000 }
    ping: { rate: 60 }
YAML
      ADDRESS="/ip4/127.0.0.1/tcp/$p"
      socks+=("$d/admin.sock")
    }
    start_node 1 "[]"
    first=$ADDRESS
    start_pexd "$dir/node1/conf.yaml" "$dir/node1/pexd.log" "$dir/node1/admin.sock"
    run_pids=("$NODE_PID")
    for i in 2 3 4 5; do start_node "$i" "[\"$first\"]"; done
    since=$(date +%s.%N)
    for i in 2 3 4 5; do
      "$PEXD" run --config "$dir/node$i/conf.yaml" > "$dir/node$i/pexd.log" 2>&1 &
      PIDS+=($!); run_pids+=($!)
    done
    out=$("$bench" converge "$since" 30 "${socks[@]}") || { echo "$out" >&2; exit 1; }
    up=$(sed -n 's/^up_seconds //p' <<<"$out"); conv=$(sed -n 's/^converged_seconds //p' <<<"$out")
    echo "$variant $up $conv" >> "$TMP/converge.txt"
    printf '  delta_sync %-5s run %s: all up after %.3fs, all know all after %.3fs\n' "$variant" "$run" "$up" "$conv"
    for pid in "${run_pids[@]}"; do stop "$pid"; done
  done
  done
  python3 - "$TMP/converge.txt" <<'PY'
import json, sys, time, platform, statistics
interval = 0.1
def summary(runs):
    conv = [c for _, c in runs]; after_up = [c - u for u, c in runs]
    return {
        "median_seconds_from_launch": statistics.median(conv),
        "median_intervals_from_launch": statistics.median(conv) / interval,
        "median_seconds_from_all_up": statistics.median(after_up),
        "median_intervals_from_all_up": statistics.median(after_up) / interval,
        "median_startup_seconds": statistics.median([u for u, _ in runs]),
        "runs_seconds_from_launch": conv, "runs_seconds_from_all_up": after_up,
    }
lines = [line.split() for line in open(sys.argv[1]) if line.strip()]
variants = {v: [(float(u), float(c)) for w, u, c in lines if w == v] for v in ("false", "true")}
result = {
    "benchmark": "5 pexd on loopback, each bootstrapping from the first (make demo's network); time "
                 "until every node's book holds every other node (admin sockets polled every 10 ms), "
                 "from the launch of nodes 2-5 and from the moment all five answer on their sockets",
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "machine": platform.machine(), "sync_interval_seconds": interval, "runs_per_variant": len(variants["false"]),
    "delta_sync_off_full_lists": summary(variants["false"]),
    "delta_sync_on_default": summary(variants["true"]),
}
with open("benchmarks/results/convergence-latest.json", "w") as f:
    json.dump(result, f, indent=2); f.write("\n")
with open("benchmarks/results/convergence-history.jsonl", "a") as f:
    f.write(json.dumps(result) + "\n")
PY
fi

# ---------------------------------------------------------------------------------------------
python3 - "$BENCH_ONLY" <<'PY'
import json, os, sys
only = sys.argv[1].split()
def load(name):
    path = f"benchmarks/results/{name}-latest.json"
    return json.load(open(path)) if name in only and os.path.exists(path) else None
rows = []
d = load("decode")
if d:
    m, r = d["median_ns_per_op"], d["ratios"]
    rows.append(("decode 1000-record response", f"{m['pexwire_swift']/1e6:.3f} ms", "protobuf-c (+records)",
                 f"{m['protobuf_c_unpack_deep']/1e6:.3f} ms", f"{r['swift_over_c_deep']:.2f}"))
    rows.append(("", "", "protobuf-c (frame only)", f"{m['protobuf_c_unpack_frame']/1e6:.3f} ms",
                 f"{r['swift_over_c_frame']:.2f}"))
    rows.append(("", "", "Python protobuf", f"{m['python_protobuf_parse_deep']/1e6:.3f} ms",
                 f"{r['swift_over_python']:.2f}"))
t = load("throughput")
if t:
    for x in t["results"]:
        rows.append((f"pexd Ping->Pong, {x['connections']} conn", f"{x['pexd_msgs_per_sec']:,.0f} msg/s",
                     "C echo, write per frame", f"{x['echo_frame_msgs_per_sec']:,.0f} msg/s",
                     f"{x['pexd_over_echo_frame']:.3f}"))
        rows.append(("", "", "C echo, write per read", f"{x['echo_batch_msgs_per_sec']:,.0f} msg/s",
                     f"{x['pexd_over_echo_batch']:.3f}"))
m = load("memory")
if m:
    rows.append((f"pexd RSS, {m['loaded']['known_records']} records + {m['loaded']['ready_peers']} conn",
                 f"{m['loaded']['vmrss_kb']/1024:.1f} MB", "same pexd idle", f"{m['idle']['vmrss_kb']/1024:.1f} MB",
                 f"{m['rss_ratio_loaded_over_idle']:.2f}"))
    rows.append(("  bytes per record (RSS delta)", f"{m['bytes_per_record_including_connections']:,.0f} B", "", "", ""))
c = load("convergence")
if c:
    for key, name in (("delta_sync_off_full_lists", "full lists"), ("delta_sync_on_default", "delta sync on")):
        v = c[key]
        rows.append((f"5-node convergence, {name}", f"{v['median_seconds_from_launch']:.2f} s",
                     "100 ms sync interval", "0.1 s", f"{v['median_intervals_from_launch']:.1f}"))
        rows.append(("  same, from all nodes up", f"{v['median_seconds_from_all_up']:.2f} s",
                     "100 ms sync interval", "0.1 s", f"{v['median_intervals_from_all_up']:.1f}"))
head = ("benchmark", "pex", "baseline", "baseline value", "ratio")
w = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
line = lambda r: "  ".join(r[i].ljust(w[i]) if i in (0, 2) else r[i].rjust(w[i]) for i in range(5))
print(); print(line(head)); print("  ".join("-" * x for x in w))
for r in rows: print(line(r))
print("\nresults: benchmarks/results/*-latest.json (history: *-history.jsonl)")
print("load average now (other work on this machine skews the baselines less than the absolute figures):",
      open("/proc/loadavg").read().split()[:3])
PY
