#!/usr/bin/env bash
# Prepares what the fuzz build links against, in fuzz/.deps (git-ignored):
#
# - lib/libprotobuf-c.a: the protobuf-c runtime built with ASan and libFuzzer coverage. The system
#   libprotobuf-c is not instrumented, so libFuzzer would get no coverage from inside
#   protobuf_c_message_unpack and ASan would not see its memory errors. It is compiled from
#   Debian's source package (the version of the installed headers) with the Swift toolchain's
#   clang. Only a static library is produced, so `-lprotobuf-c` cannot pick a shared one there.
#
# - pkgconfig/*.pc: copies of the system libraries' pkg-config files as `pkg-config` itself
#   resolves them, i.e. without `-L/usr/lib/<triple>`. SwiftPM reads .pc files literally and puts
#   their -L ahead of any -L given on the command line, which would make the linker find the
#   system libprotobuf-c.so before fuzz/.deps/lib; scripts/fuzz.sh passes this folder with
#   `--pkg-config-path`.
#
# Unattended (CI runs it as root on a fresh clone) and idempotent. The library is built once and
# then reused; FUZZ_DEPS_REBUILD=1 forces a rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
deps=$root/fuzz/.deps
lib=$deps/lib/libprotobuf-c.a

write_pkgconfig() {
  local dir=$deps/pkgconfig name
  rm -rf "$dir"
  mkdir -p "$dir"
  # Every `pkgConfig: "name"` of the manifest's system library targets.
  for name in $(grep -oE 'pkgConfig: *"[^"]+"' Package.swift | sed -E 's/.*"(.*)"/\1/' | sort -u); do
    # Not installed: SwiftPM falls back to its own lookup, which matters only if a fuzz target
    # needs that library, and then the build says so.
    pkg-config --exists "$name" || continue
    {
      echo "Name: $name"
      echo "Description: $name as resolved by pkg-config, for the fuzz build"
      echo "Version: $(pkg-config --modversion "$name")"
      echo "Libs: $(pkg-config --libs "$name")"
      echo "Cflags: $(pkg-config --cflags "$name")"
    } >"$dir/$name.pc"
  done
}

if ! command -v pkg-config >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pkgconf
fi
write_pkgconfig

if [[ -f $lib && -z ${FUZZ_DEPS_REBUILD:-} ]]; then
  echo "build-fuzz-deps: $lib present, skipping its build"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"

# Debian's sources need a deb-src entry; the machine ships only binary ones. Every stanza of
# debian.sources (same URIs, suites, components, keyring) is mirrored with `Types: deb-src` into a
# file of our own, so the stock one stays untouched and a rerun finds the same content.
src_list=/etc/apt/sources.list.d/pex-deb-src.sources
base=/etc/apt/sources.list.d/debian.sources
if ! grep -qsE '^Types:.*deb-src' "$base"; then
  if [[ ! -f $base ]]; then
    echo "build-fuzz-deps: no $base to derive a deb-src entry from" >&2
    exit 1
  fi
  wanted=$(sed -E 's/^Types:.*/Types: deb-src/' "$base")
  if [[ ! -f $src_list ]] || [[ $(cat "$src_list") != "$wanted" ]]; then
    printf '%s\n' "$wanted" | $sudo tee "$src_list" >/dev/null
    $sudo chmod 0644 "$src_list"
    echo "build-fuzz-deps: wrote $src_list"
    need_update=1
  fi
fi
# A deb-src entry added by an earlier run but whose index was never fetched also needs an update.
if [[ -n ${need_update:-} ]] || ! apt-cache showsrc protobuf-c >/dev/null 2>&1 \
   || [[ -z $(apt-cache showsrc protobuf-c 2>/dev/null) ]]; then
  $sudo apt-get update -y -qq
fi
# dpkg-source (for unpacking) is in dpkg-dev.
if ! command -v dpkg-source >/dev/null 2>&1; then
  $sudo apt-get install -y -qq --no-install-recommends dpkg-dev
fi

# Fetch and unpack the source of the installed runtime's version when it is known, so the runtime
# matches the headers the generated code was compiled against.
version=$(dpkg-query -W -f='${source:Version}' libprotobuf-c-dev 2>/dev/null || true)
srcdir=$deps/src
mkdir -p "$srcdir"
pkgdir=$(find "$srcdir" -maxdepth 1 -mindepth 1 -type d -name 'protobuf-c-*' | head -n1)
if [[ -z $pkgdir ]]; then
  (
    cd "$srcdir"
    # apt-get source runs as root here; `_apt` cannot write into our folder, which apt only warns about.
    if [[ -n $version ]] && apt-get source -y -qq "protobuf-c=$version"; then :
    else apt-get source -y -qq protobuf-c; fi
  )
  pkgdir=$(find "$srcdir" -maxdepth 1 -mindepth 1 -type d -name 'protobuf-c-*' | head -n1)
fi
if [[ -z $pkgdir || ! -f $pkgdir/protobuf-c/protobuf-c.c ]]; then
  echo "build-fuzz-deps: protobuf-c source not found under $srcdir" >&2
  exit 1
fi

# The Swift toolchain's clang: it ships the fuzzer and sanitizer runtimes that swiftc links.
clang=/opt/swift/usr/bin/clang
if [[ ! -x $clang ]]; then
  clang=$(dirname "$(readlink -f "$(command -v swiftc)")")/clang
fi

obj=$deps/obj
mkdir -p "$obj" "$deps/lib"
# -I the package root so `#include <protobuf-c/protobuf-c.h>` finds the header from the same source
# tree; the runtime needs no config.h.
"$clang" -c -g -O1 -fPIC -fno-omit-frame-pointer \
  -fsanitize=fuzzer-no-link,address \
  -I "$pkgdir" -I "$pkgdir/protobuf-c" \
  "$pkgdir/protobuf-c/protobuf-c.c" -o "$obj/protobuf-c.o"
rm -f "$deps/lib"/libprotobuf-c.*
ar rcs "$lib.tmp" "$obj/protobuf-c.o"
# Both instrumentations must be present (ASan checks and SanitizerCoverage counters) before the
# library is put in place, since its mere presence later skips the build.
syms=$(nm "$lib.tmp")
if ! grep -q '__asan_' <<<"$syms" || ! grep -q '__sancov' <<<"$syms"; then
  echo "build-fuzz-deps: $lib.tmp lacks ASan or coverage instrumentation" >&2
  exit 1
fi
mv "$lib.tmp" "$lib"
echo "build-fuzz-deps: built $lib from $(basename "$pkgdir")"
