#!/usr/bin/env bash
# Regenerates the committed protobuf code from proto/: C (protobuf-c) for Sources/CPexProto and
# Python for clients/python. Headers go under include/ so that the generated `#include "pex/v1/…"`
# lines resolve both for the C target and for Swift importers.
set -euo pipefail
cd "$(dirname "$0")/.."
protos=$(cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
protoc-c --proto_path=proto --c_out="$tmp" $protos
rm -rf Sources/CPexProto/pex Sources/CPexProto/include/pex
(cd "$tmp" && find . -name '*.pb-c.c') | while read -r f; do
  mkdir -p "Sources/CPexProto/$(dirname "$f")"; cp "$tmp/$f" "Sources/CPexProto/$f"; done
(cd "$tmp" && find . -name '*.pb-c.h') | while read -r f; do
  mkdir -p "Sources/CPexProto/include/$(dirname "$f")"; cp "$tmp/$f" "Sources/CPexProto/include/$f"; done
# Python: the generated modules import each other as `pex.v1.x_pb2`, so they form a top-level
# package `pex` next to `pex_client`.
out=clients/python
rm -rf "$out/pex"; mkdir -p "$out"
protoc --proto_path=proto --python_out="$out" $protos
find "$out/pex" -type d -exec touch {}/__init__.py \;
