#!/usr/bin/env bash
# Five pex nodes on 127.0.0.1; node 1 is the only bootstrap peer of the others. Prints who knows
# whom (through each node's admin socket) until every node knows every other, then the time it
# took, and stops them. Every node is stopped on exit, whatever happens (Ctrl-C included).
set -euo pipefail

PEXD=${PEXD:-$(swift build --show-bin-path)/pexd}
COUNT=5
TIMEOUT=${DEMO_TIMEOUT:-90}
[ -x "$PEXD" ] || { echo "pexd not found at $PEXD (swift build --product pexd)" >&2; exit 1; }

DIR=$(mktemp -d /tmp/pexdemo.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Not called through $(…): the PID must be recorded in this shell, for the exit trap.
start_node() { # index, bootstrap list (YAML flow sequence); sets ADDRESS
  local i=$1 bootstrap=$2 dir="$DIR/node$1" port
  port=$(free_port)
  mkdir -p "$dir"
  cat > "$dir/conf.yaml" <<YAML
network:
  addresses: ["/ip4/127.0.0.1/tcp/$port"]
peers:
  exchange_interval: 2s
logging:
  level: warn
pex:
  network_id: pex-demo
  data_dir: $dir
  lab_mode: true
  bootstrap: $bootstrap
  limits: { max_connections_per_ip: 64 }
  timing: { sync_jitter: 200ms, backoff_base: 100ms, backoff_cap: 1s }
YAML
  "$PEXD" run --config "$dir/conf.yaml" > "$dir/pexd.log" 2>&1 &
  PIDS+=($!)
  ADDRESS="/ip4/127.0.0.1/tcp/$port"
}

sock() { echo "$DIR/node$1/admin.sock"; }
wait_admin() { # index
  for _ in $(seq 100); do "$PEXD" status --socket "$(sock "$1")" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "node $1 did not start:" >&2; cat "$DIR/node$1/pexd.log" >&2; exit 1
}

start_node 1 "[]"
FIRST=$ADDRESS
wait_admin 1
for i in $(seq 2 $COUNT); do start_node "$i" "[\"$FIRST\"]"; done
for i in $(seq 2 $COUNT); do wait_admin "$i"; done

KEYS=()
for i in $(seq $COUNT); do
  KEYS+=("$("$PEXD" status --json --socket "$(sock "$i")" | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')")
done
echo "5 nodes started; node 1 ($FIRST) is everyone's bootstrap peer"

START=$(date +%s.%N)
while true; do
  done_all=1
  table="        $(for j in $(seq $COUNT); do printf ' n%s' "$j"; done)   knows\n"
  for i in $(seq $COUNT); do
    known=$("$PEXD" peers --json --socket "$(sock "$i")" 2>/dev/null || echo '[]')
    row=$(printf 'node %s ' "$i"); n=0
    for j in $(seq $COUNT); do
      if [ "$i" = "$j" ]; then row+="  ."
      elif grep -qF "${KEYS[$((j-1))]}" <<<"$known"; then row+="  x"; n=$((n+1))
      else row+="  -"; done_all=0; fi
    done
    table+="$row   $n/$((COUNT-1))\n"
  done
  elapsed=$(python3 -c "import time; print(f'{time.time()-$START:.1f}')")
  printf '\033[2J\033[H%b\nelapsed %ss\n' "$table" "$elapsed"
  [ "$done_all" = 1 ] && break
  if python3 -c "import sys; sys.exit(0 if $elapsed > $TIMEOUT else 1)"; then
    echo "not converged after ${TIMEOUT}s" >&2; exit 1
  fi
  sleep 0.5
done
echo "all $COUNT nodes know each other after ${elapsed}s; stopping them"
