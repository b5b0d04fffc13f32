#!/usr/bin/env bash
# Regenerates the committed seed corpus fuzz/corpus/<target>/: FuzzSeeds (valid frames, signed
# records and multiaddrs built with the project's own encoders and fixed keys), plus, as
# `vector-<name>`, the invalid streams and the records of the Python golden vectors
# (Tests/Vectors/python), which sit right at the limits the decoders enforce.
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
python3 - <<'PY'
import json
def extract(vectors, field, target):
    for vector in json.load(open(f"Tests/Vectors/python/{vectors}")):
        with open(f"fuzz/corpus/{target}/vector-{vector['name']}", "wb") as out:
            out.write(bytes.fromhex(vector[field]))
extract("frames_invalid.json", "stream_hex", "frame")
extract("records.json", "signed_hex", "record")
PY
for name in frame record multiaddr; do echo "$name: $(ls "fuzz/corpus/$name" | wc -l) files"; done
