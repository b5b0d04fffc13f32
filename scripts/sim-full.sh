#!/usr/bin/env bash
# The full-size simulator runs behind docs/PERFORMANCE.md: every result as JSON (and the text
# report) in docs/sim-results/, with /usr/bin/time -v output beside it for the simulator's own
# cost, then the plots. Runs JOBS scenarios at once (default: the number of cores); each run is
# single-threaded and a pure function of its seed.
#
# usage: scripts/sim-full.sh [RUN...]     RUN = a name below; default all but the growth runs of
# 3 000 and 10 000 nodes (10 to 15 minutes each at 3 000 nodes, hours at 10 000: run them by name).
# The -bookN runs set every node's book size (PERFORMANCE.md, "Books smaller than the network").
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=docs/sim-results
JOBS=${JOBS:-$(nproc)}
swift build -c release --product pexsim
# A copy of the binary, so that a rebuild while the runs go on cannot change what they run.
BIN=$(mktemp -d)/pexsim
cp "$(swift build -c release --show-bin-path)/pexsim" "$BIN"
trap 'rm -rf "$(dirname "$BIN")"' EXIT
mkdir -p "$OUT"

declare -A RUNS=(
  [federation-64]="run federation --nodes 64"
  [federation-128]="run federation --nodes 128"
  [federation-256]="run federation --nodes 256"
  [federation-512]="run federation --nodes 512"
  [federation-128-sodium]="run federation --nodes 128 --crypto sodium"
  [address-change-512]="run address-change --nodes 512"
  [steady-64]="run steady --nodes 64"
  [steady-512]="run steady --nodes 512"
  [partition-128]="run partition --nodes 128"
  [churn-128]="run churn --nodes 128"
  [loss-256]="run loss --nodes 256"
  [growth-1000]="run growth --nodes 1000"
  [growth-10000]="run growth --nodes 10000"
  [growth-10000-book2560]="run growth --nodes 10000 --new-buckets 64 --tried-buckets 16"
  [growth-3000-book640]="run growth --nodes 3000 --rounds 40 --new-buckets 16 --tried-buckets 4"
  [growth-3000-book1280]="run growth --nodes 3000 --rounds 40"
  [scale-500]="run scale --nodes 500 --rounds 10"
  [flood-64]="run flood --nodes 64"
  [eclipse-64]="run eclipse --nodes 64"
  [equivocate-64]="run equivocate --nodes 64"
  [replay-64]="run replay --nodes 64"
)
names=("$@")
# Longest first, so that the parallel jobs finish together.
[ ${#names[@]} -gt 0 ] || names=(growth-1000 steady-512 federation-512 address-change-512 flood-64 eclipse-64
  scale-500 federation-128-sodium equivocate-64 replay-64 loss-256 federation-256 partition-128 churn-128
  steady-64 federation-128 federation-64)

one() { # name
  local name=$1 args=${RUNS[$1]}
  # shellcheck disable=SC2086
  if /usr/bin/time -v -o "$OUT/$name.time" "$BIN" $args --output "$OUT/$name.json" > "$OUT/$name.txt" 2>&1; then
    echo "done   $name"
  else
    echo "FAILED $name (see $OUT/$name.txt)"; return 1
  fi
}
status=0
for name in "${names[@]}"; do
  [ -n "${RUNS[$name]:-}" ] || { echo "unknown run $name" >&2; exit 2; }
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || status=1; done
  one "$name" &
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || status=1; done
make -s venv >/dev/null 2>&1 || true
clients/python/.venv/bin/python -m pip install -q -r scripts/requirements-sim.txt
clients/python/.venv/bin/python scripts/sim-report.py "$OUT" docs > "$OUT/summary.md"
echo "plots in docs/, metrics table in $OUT/summary.md"
exit $status
