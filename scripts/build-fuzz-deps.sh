#!/usr/bin/env bash
# Prepares what the fuzz build links against, in fuzz/.deps (git-ignored):
#
# - lib/libprotobuf-c.a and lib/libz.a: the protobuf-c runtime and zlib built with ASan and
#   libFuzzer coverage. The system libraries are not instrumented, so libFuzzer would get no
#   coverage from inside protobuf_c_message_unpack or inflate, and ASan would not see their memory
#   errors. They are compiled from Debian's source packages (the versions of the installed
#   headers) with the Swift toolchain's clang. Only static libraries are produced, so `-lprotobuf-c`
#   and `-lz` cannot pick a shared one there.
#
# - pkgconfig/*.pc: the system libraries' pkg-config files as `pkg-config` itself resolves them,
#   i.e. without `-L/usr/lib/<triple>`. SwiftPM reads .pc files literally and puts their -L ahead
#   of any -L given on the command line, which would make the linker find the system shared
#   libraries before fuzz/.deps/lib; scripts/fuzz.sh passes this folder with `--pkg-config-path`.
#
# Unattended (CI runs it as root on a fresh clone) and idempotent. Each library is built once and
# then reused; FUZZ_DEPS_REBUILD=1 forces a rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
deps=$root/fuzz/.deps
export DEBIAN_FRONTEND=noninteractive
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"

log() { echo "build-fuzz-deps: $*"; }

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

# Debian's sources need a deb-src entry; the machine ships only binary ones. Every stanza of
# debian.sources (same URIs, suites, components, keyring) is mirrored with `Types: deb-src` into a
# file of our own, so the stock one stays untouched and a rerun finds the same content.
apt_sources_ready=""
prepare_apt_sources() {
  [[ -z $apt_sources_ready ]] || return 0
  local src_list=/etc/apt/sources.list.d/pex-deb-src.sources
  local base=/etc/apt/sources.list.d/debian.sources
  local need_update=""
  if ! grep -qsE '^Types:.*deb-src' "$base"; then
    if [[ ! -f $base ]]; then
      echo "build-fuzz-deps: no $base to derive a deb-src entry from" >&2
      exit 1
    fi
    local wanted
    wanted=$(sed -E 's/^Types:.*/Types: deb-src/' "$base")
    if [[ ! -f $src_list ]] || [[ $(cat "$src_list") != "$wanted" ]]; then
      printf '%s\n' "$wanted" | $sudo tee "$src_list" >/dev/null
      $sudo chmod 0644 "$src_list"
      log "wrote $src_list"
      need_update=1
    fi
  fi
  # A deb-src entry whose index was never fetched (e.g. an interrupted earlier run) also needs it.
  if [[ -n $need_update || -z $(apt-cache showsrc protobuf-c 2>/dev/null || true) ]]; then
    $sudo apt-get update -y -qq
  fi
  # dpkg-source, which unpacks and patches the sources, is in dpkg-dev.
  if ! command -v dpkg-source >/dev/null 2>&1; then
    $sudo apt-get install -y -qq --no-install-recommends dpkg-dev
  fi
  apt_sources_ready=1
}

# Unpacks Debian source package $1 (at the version of installed binary package $2 when known)
# under fuzz/.deps/src and prints the unpacked folder.
fetch_source() {
  local srcpkg=$1 binpkg=$2 srcdir=$deps/src/$1 dir version
  mkdir -p "$srcdir"
  dir=$(find "$srcdir" -maxdepth 1 -mindepth 1 -type d | head -n1)
  if [[ -z $dir ]]; then
    # Its messages go to stderr: stdout is this function's result.
    prepare_apt_sources >&2
    version=$(dpkg-query -W -f='${source:Version}' "$binpkg" 2>/dev/null || true)
    (
      cd "$srcdir"
      # As root, apt downloads without its `_apt` sandbox user, which cannot write here; apt says
      # so in a warning, which is harmless.
      if [[ -n $version ]] && apt-get source -y -qq "$srcpkg=$version" >&2; then :
      else apt-get source -y -qq "$srcpkg" >&2; fi
    )
    dir=$(find "$srcdir" -maxdepth 1 -mindepth 1 -type d | head -n1)
  fi
  if [[ -z $dir ]]; then
    echo "build-fuzz-deps: source of $srcpkg not found under $srcdir" >&2
    exit 1
  fi
  echo "$dir"
}

# The Swift toolchain's clang: it ships the fuzzer and sanitizer runtimes that swiftc links.
clang=/opt/swift/usr/bin/clang
if [[ ! -x $clang ]]; then
  clang=$(dirname "$(readlink -f "$(command -v swiftc)")")/clang
fi

# build_static NAME SRCPKG BINPKG SUBDIR FILE... — compiles FILEs (relative to SUBDIR of the
# unpacked source) into fuzz/.deps/lib/libNAME.a, with $EXTRA_CFLAGS added.
build_static() {
  local name=$1 srcpkg=$2 binpkg=$3 subdir=$4
  shift 4
  local lib=$deps/lib/lib$name.a
  if [[ -f $lib && -z ${FUZZ_DEPS_REBUILD:-} ]]; then
    log "$lib present, skipping its build"
    return 0
  fi
  local src obj=$deps/obj/$name file
  src=$(fetch_source "$srcpkg" "$binpkg")
  rm -rf "$obj"
  mkdir -p "$obj" "$deps/lib"
  for file in "$@"; do
    # -w: these are third-party sources in K&R style; their warnings are not ours to fix.
    "$clang" -c -g -O1 -fPIC -fno-omit-frame-pointer -w \
      -fsanitize=fuzzer-no-link,address ${EXTRA_CFLAGS:-} \
      -I "$src" -I "$src/$subdir" \
      "$src/$subdir/$file" -o "$obj/$(basename "$file" .c).o"
  done
  rm -f "$deps/lib/lib$name".*
  ar rcs "$lib.tmp" "$obj"/*.o
  # Both instrumentations must be present (ASan checks and SanitizerCoverage counters) before the
  # library is put in place, since its mere presence later skips the build.
  local syms
  syms=$(nm "$lib.tmp")
  if ! grep -q '__asan_' <<<"$syms" || ! grep -q '__sancov' <<<"$syms"; then
    echo "build-fuzz-deps: $lib.tmp lacks ASan or coverage instrumentation" >&2
    exit 1
  fi
  mv "$lib.tmp" "$lib"
  log "built $lib from $(basename "$src")"
}

if ! command -v pkg-config >/dev/null 2>&1; then
  $sudo apt-get install -y -qq --no-install-recommends pkgconf
fi
write_pkgconfig

# The runtime only: protobuf-c.c includes its own header as <protobuf-c/protobuf-c.h>, found
# through -I of the source root; it needs no config.h.
build_static protobuf-c protobuf-c libprotobuf-c-dev . protobuf-c/protobuf-c.c
# zlib's library sources, as its Makefile lists them (the gz* file functions included, so that the
# library is complete for anything that links -lz), with the definitions its ./configure makes
# on Linux.
EXTRA_CFLAGS="-DHAVE_UNISTD_H -DHAVE_STDARG_H -D_LARGEFILE64_SOURCE=1" build_static z zlib zlib1g-dev . \
  adler32.c compress.c crc32.c deflate.c gzclose.c gzlib.c gzread.c gzwrite.c infback.c \
  inffast.c inflate.c inftrees.c trees.c uncompr.c zutil.c
