#!/usr/bin/env bash
# Regenerates the committed seed corpus fuzz/corpus/<target>/ from FuzzSeeds (valid frames,
# signed records and multiaddrs built with the project's own encoders and fixed keys).
# Run it after a wire format change; the output is deterministic.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-fuzz/plain
swift build --scratch-path "$scratch" --product FuzzFrame >/dev/null
swift build --scratch-path "$scratch" --product FuzzRecord >/dev/null
swift build --scratch-path "$scratch" --product FuzzMultiaddr >/dev/null
bin=$(swift build --scratch-path "$scratch" --show-bin-path)
for pair in frame:FuzzFrame record:FuzzRecord multiaddr:FuzzMultiaddr; do
  name=${pair%%:*}
  rm -rf "fuzz/corpus/$name"
  mkdir -p "fuzz/corpus/$name"
  "$bin/${pair##*:}" --write-seeds "fuzz/corpus/$name"
done
