#!/usr/bin/env bash
# Builds the instrumented protobuf-c and zlib and the libFuzzer targets, then runs each target for
# FUZZ_SECONDS (first argument, else $FUZZ_SECONDS, else 60). Exits non-zero when a target crashes,
# leaks, times out or runs out of memory; the input that did it is left in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [seconds] [target...]     targets: frame record multiaddr core (default: all)
#
# See fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${1:-${FUZZ_SECONDS:-60}}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
  echo "fuzz.sh: seconds must be a positive integer, got '$seconds'" >&2
  exit 2
fi

# name:product:max_len. Frames go up to the 256 KiB frame limit plus prefix and some slack, so that
# oversized and truncated inputs are also tried; records and multiaddrs are small by protocol.
all_targets=(
  "frame:FuzzFrame:300000"
  "record:FuzzRecord:8192"
  "multiaddr:FuzzMultiaddr:1024"
  "core:FuzzCore:4096"
)
selected=("$@")
targets=()
for t in "${all_targets[@]}"; do
  name=${t%%:*}
  if (( ${#selected[@]} == 0 )) || [[ " ${selected[*]} " == *" $name "* ]]; then targets+=("$t"); fi
done
if (( ${#targets[@]} == 0 )); then
  echo "fuzz.sh: no such target: ${selected[*]} (have: frame record multiaddr core)" >&2
  exit 2
fi

bash scripts/build-fuzz-deps.sh

scratch=.build-fuzz
# --sanitize=fuzzer makes SwiftPM link libFuzzer's main and compile executables as libraries, but
# the Swift driver keeps only the last -sanitize= it is given when compiling, so the coverage
# instrumentation that `fuzzer` implies is lost next to `address`; it is requested explicitly.
# The .pc files of fuzz/.deps/pkgconfig carry no -L, so nothing puts the system library folder
# ahead of fuzz/.deps/lib (see scripts/build-fuzz-deps.sh). PEX_FUZZING drops the replay `main` of the fuzz executables in favour of libFuzzer's.
build_flags=(
  --scratch-path "$scratch" -c debug
  --sanitize=fuzzer --sanitize=address
  -Xswiftc -DPEX_FUZZING
  -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table
  -Xlinker "-L$root/fuzz/.deps/lib"
  --pkg-config-path "$root/fuzz/.deps/pkgconfig"
)
bindir=$(swift build "${build_flags[@]}" --show-bin-path)

for t in "${targets[@]}"; do
  IFS=: read -r name product _ <<<"$t"
  echo "fuzz.sh: building $product"
  mkdir -p fuzz/artifacts
  buildlog=fuzz/artifacts/build-$name.log
  # gold warns once per ASan helper symbol it cannot export; that noise is filtered from the output.
  if ! swift build "${build_flags[@]}" --product "$product" >"$buildlog" 2>&1; then
    grep -v 'Cannot export local symbol' "$buildlog" >&2
    echo "fuzz.sh: build of $product failed" >&2
    exit 1
  fi
  grep -v 'Cannot export local symbol' "$buildlog" | tail -n 1
  bin=$bindir/$product
  # The point of building protobuf-c and zlib ourselves: the fuzzer must use those copies, not the
  # system ones, in which neither ASan nor libFuzzer sees anything.
  for pair in libprotobuf-c:protobuf_c_message_unpack libz.so:inflate; do
    soname=${pair%%:*} function=${pair##*:}
    if ldd "$bin" | grep -q "$soname"; then
      echo "fuzz.sh: $product loads the system $soname, not fuzz/.deps/lib" >&2
      exit 1
    fi
    code=$(objdump -d --no-show-raw-insn --disassemble="$function" "$bin")
    if ! grep -q '__asan_' <<<"$code" || ! grep -q '__sanitizer_cov' <<<"$code"; then
      echo "fuzz.sh: $function in $product is not instrumented" >&2
      exit 1
    fi
  done
done

export SWIFT_BACKTRACE=enable=no
failed=0
summary=()
for t in "${targets[@]}"; do
  IFS=: read -r name product max_len <<<"$t"
  work=fuzz/corpus-run/$name
  artifacts=fuzz/artifacts/$name
  mkdir -p "$work" "$artifacts"
  # The working corpus grows across runs; the committed seeds are (re)added each time.
  if [[ -d fuzz/corpus/$name ]]; then cp -n fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true; fi
  dirs=("$work")
  # Earlier crashes are replayed first: a regression stops the run at once.
  if [[ -d fuzz/regressions/$name ]] && compgen -G "fuzz/regressions/$name/*" >/dev/null; then
    dirs+=("fuzz/regressions/$name")
  fi
  log=fuzz/artifacts/$name.log
  echo "fuzz.sh: running $name for ${seconds}s"
  set +e
  "$bindir/$product" "${dirs[@]}" \
    -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 -close_fd_mask=1 >"$log" 2>&1
  rc=$?
  set -e
  # A crashed run prints no final stats; the last status line still tells how far it got.
  last=$(grep -E '^#[0-9]+' "$log" | tail -n1 || true)
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n1 || true)
  [[ -n $execs ]] || execs=$(grep -oE '^#[0-9]+' <<<"$last" | tr -d '#' || true)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
  corp=$(grep -oE 'corp: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
  if (( rc == 0 )); then
    status=ok
  else
    status="FAILED (exit $rc)"
    failed=1
    echo "---- $name: last lines of $log ----" >&2
    tail -n 40 "$log" >&2
    ls -1 "$artifacts" >&2 || true
  fi
  summary+=("fuzz $name: $status, execs ${execs:-?}, cov ${cov:-?}, features ${ft:-?}, corpus ${corp:-?}")
done
printf '%s\n' "${summary[@]}"
exit "$failed"
