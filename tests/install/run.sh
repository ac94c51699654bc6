#!/usr/bin/env bash
# Installs imconv into a temporary prefix (and once more into a DESTDIR
# stage), then builds and runs a consumer through pkg-config, shared and
# static, and through CMake's find_package. Run from the repository root
# (make test-install).
set -euo pipefail
# Whether a command's whole output holds a pattern. The output is captured
# first: a quiet grep reading a pipe exits at its first match, and under
# pipefail the producer's SIGPIPE would then fail the step at random. A
# producer that fails stops the test.
outputs() {
  local pattern=$1 out
  shift
  out=$("$@") || { echo "failed: $*"; exit 1; }
  grep -q -- "$pattern" <<<"$out"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
here=tests/install
cc=${CC:-cc}

make --no-print-directory install PREFIX="$prefix" > "$tmp/install.log"
lib="$prefix/lib"
version=$(grep -m1 '^version = ' Cargo.toml | sed 's/^version = "\(.*\)"/\1/')
major=${version%%.*}

echo "== the header's version is Cargo.toml's"
macros=$(for part in MAJOR MINOR PATCH; do
  sed -n "s/^#define IMCONV_VERSION_$part \([0-9]*\)$/\1/p" "$prefix/include/imconv.h"
done | paste -sd.)
if [ "$macros" != "$version" ]; then
  echo "imconv.h says $macros, Cargo.toml $version"; exit 1
fi

echo "== the files and links"
test -f "$lib/libimconv.so.$version"
test "$(readlink "$lib/libimconv.so.$major")" = "libimconv.so.$version"
test "$(readlink "$lib/libimconv.so")" = "libimconv.so.$major"
test -f "$lib/libimconv.a" && test -f "$prefix/include/imconv.h" && test -f "$prefix/include/imconv.hpp" && test -f "$prefix/include/imconv_sdk.hpp"
test -f "$lib/.debug/libimconv.so.$version.debug"
# Stripped, with its debug info linked.
if outputs '\.debug_info' readelf -S "$lib/libimconv.so.$version"; then
  echo "libimconv.so.$version is not stripped"; exit 1
fi
outputs '\.gnu_debuglink' readelf -S "$lib/libimconv.so.$version"
# The archive carries no debug info (64 MB with it, about 10 MB without).
if outputs '\.debug_info' readelf -S "$lib/libimconv.a"; then
  echo "libimconv.a carries debug info"; exit 1
fi
outputs "SONAME.*libimconv.so.$major" readelf -d "$lib/libimconv.so.$version"

echo "== a man page per function, type and callback type (man 3 works from the prefix)"
test -f "$prefix/share/man/man3/imconv.3"
functions=$(grep -c '^IMCONV_API' include/imconv.h)
pages=$(ls "$prefix/share/man/man3" | wc -l)
test "$pages" -gt "$functions" || { echo "$pages man pages for $functions functions"; exit 1; }
for f in $(sed -n 's/^IMCONV_API.* \**\(imconv_[a-z0-9_]*\)(.*/\1/p; s/^\(int32_t\|void\|size_t\|char\|const\).* \**\(imconv_[a-z0-9_]*\)(.*/\2/p' include/imconv.h); do
  test -f "$prefix/share/man/man3/$f.3" || { echo "no man page for $f"; exit 1; }
done
if ! command -v man >/dev/null; then
  echo "(installing man-db from Debian's packages)"
  (apt-get update -q && apt-get install -y -q man-db) > "$tmp/apt-man.log" 2>&1 || {
    echo "test-install: man is missing and could not be installed"; exit 1; }
fi
# man finds the page through MANPATH, renders it without a warning, and it
# holds the synopsis and the C++ and Python forms.
page=$(LC_ALL=C.UTF-8 MANPATH="$prefix/share/man" MANWIDTH=100 man --warnings 3 imconv_get_conversation 2>"$tmp/man.err")
# groff's warnings about the page itself (a locale or cache note of man-db is not the page's).
if grep -E 'troff|warning:' "$tmp/man.err"; then echo "man 3 imconv_get_conversation: the page has warnings"; exit 1; fi
for f in "$prefix/share/man/man3/"*.3; do
  LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -l "$f" > /dev/null 2>> "$tmp/man-all.err"
done
if grep -E 'troff|warning:' "$tmp/man-all.err"; then echo "the man pages above have warnings"; exit 1; fi
for want in 'imconv_get_conversation - Looks up one conversation' 'imconv_conversation_callback on_success' \
    'imconv::Sdk::get_conversation' 'imconv.Sdk.get_conversation' 'EXAMPLE' 'Since imconv 0.1.0'; do
  grep -qF -- "$want" <<<"$page" || { echo "man 3 imconv_get_conversation lacks: $want"; exit 1; }
done

echo "== a consumer through pkg-config, shared"
export PKG_CONFIG_PATH="$lib/pkgconfig"
test "$(pkg-config --modversion imconv)" = "$version"
# The quick start's link line: -Wl,-rpath so the program finds the library.
"$cc" -std=c99 -Wall -Wextra -Werror "$here/consumer.c" -o "$tmp/shared" \
  $(pkg-config --cflags --libs imconv) -Wl,-rpath,"$(pkg-config --variable=libdir imconv)" -lpthread
outputs "c2c_alice: Alice" "$tmp/shared"
outputs "libimconv.so.$major" ldd "$tmp/shared"

echo "== a consumer through pkg-config, static"
# The quick start's static line: the archive found through pkg-config.
"$cc" -std=c99 -Wall -Wextra -Werror "$here/consumer.c" -o "$tmp/static" \
  $(pkg-config --cflags imconv) "$(pkg-config --variable=libdir imconv)/libimconv.a" \
  $(pkg-config --static --libs-only-l imconv | sed 's/-limconv//')
outputs "c2c_alice: Alice" "$tmp/static"
if outputs libimconv ldd "$tmp/static"; then echo "the static consumer loads libimconv.so"; exit 1; fi

echo "== a fully static consumer (cc -static, the same line)"
# glibc warns that getaddrinfo and getpwuid_r (linked in by Rust's std,
# never called by imconv) need its shared libraries at run time: kept out
# of the log, not out of the check.
"$cc" -static -std=c99 -Wall -Wextra -Werror "$here/consumer.c" -o "$tmp/fully_static" \
  $(pkg-config --cflags imconv) "$(pkg-config --variable=libdir imconv)/libimconv.a" \
  $(pkg-config --static --libs-only-l imconv | sed 's/-limconv//') 2>"$tmp/static.log" ||
  { cat "$tmp/static.log"; exit 1; }
outputs "c2c_alice: Alice" "$tmp/fully_static"
if ldd "$tmp/fully_static" >/dev/null 2>&1; then echo "the -static consumer is dynamic"; exit 1; fi

echo "== the shared library needs the C runtime only (SQLite and its ciphers are compiled in)"
needed=$(readelf -d "$lib/libimconv.so.$version" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' |
  grep -v -E '^(libc|libm|libgcc_s|libpthread|libdl|librt)\.so|^ld-linux' || true)
test -z "$needed" || { echo "libimconv.so needs: $needed"; exit 1; }

echo "== only imconv_* is exported, from the shared library and the archive (no SQLite, no cipher)"
others=$(nm -D --defined-only "$lib/libimconv.so.$version" | awk '{print $3}' | grep -v '^imconv_' || true)
test -z "$others" || { echo "libimconv.so exports: $others" | head -5; exit 1; }
others=$(nm -g --defined-only "$lib/libimconv.a" 2>/dev/null | awk 'NF==3 {print $3}' | grep -v '^imconv_' || true)
test -z "$others" || { echo "libimconv.a defines globally: $(echo "$others" | head -5)"; exit 1; }

echo "== the archive beside the system's SQLite, in both orders"
if [ ! -f /usr/include/sqlite3.h ]; then
  echo "(installing libsqlite3-dev from Debian's packages)"
  (apt-get update -q && apt-get install -y -q libsqlite3-dev) > "$tmp/apt-sqlite.log" 2>&1 || {
    echo "test-install: libsqlite3-dev is missing and could not be installed"; exit 1; }
fi
static_libs=$(pkg-config --static --libs-only-l imconv | sed 's/-limconv//')
for order in archive-first sqlite-first; do
  if [ $order = archive-first ]; then link="$lib/libimconv.a -lsqlite3"; else link="-lsqlite3 $lib/libimconv.a"; fi
  "$cc" -std=c99 -Wall -Wextra -Werror "$here/with_sqlite.c" -o "$tmp/with_sqlite" \
    -I"$prefix/include" $link $static_libs
  # The program's own SQLite calls reach the system's SQLite, and imconv works.
  outputs "imconv works, sqlite3_libversion() is the system's" "$tmp/with_sqlite"
done

echo "== a consumer through CMake's find_package"
if ! command -v cmake >/dev/null; then
  echo "(installing cmake from Debian's packages)"
  (apt-get update -q && apt-get install -y -q cmake) > "$tmp/apt.log" 2>&1 || {
    echo "test-install: cmake is missing and could not be installed"; tail -5 "$tmp/apt.log"; exit 1; }
fi
cmake -S "$here" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > "$tmp/cmake.log"
cmake --build "$tmp/cmake" > "$tmp/cmake-build.log"
outputs "c2c_alice: Alice" "$tmp/cmake/consumer_shared"
outputs "c2c_alice: Alice" "$tmp/cmake/consumer_static"

echo "== DESTDIR staging"
make --no-print-directory install PREFIX=/usr DESTDIR="$tmp/stage" > "$tmp/stage.log"
test -L "$tmp/stage/usr/lib/libimconv.so"
grep -q '^libdir=/usr/lib$' "$tmp/stage/usr/lib/pkgconfig/imconv.pc"

echo "== uninstall removes every installed file"
make --no-print-directory uninstall PREFIX="$prefix" > "$tmp/uninstall.log"
left=$(find "$prefix" -type f -o -type l)
test -z "$left" || { echo "left after make uninstall: $left"; exit 1; }
make --no-print-directory uninstall PREFIX=/usr DESTDIR="$tmp/stage" > "$tmp/unstage.log"
left=$(find "$tmp/stage" -type f -o -type l)
test -z "$left" || { echo "left after make uninstall (DESTDIR): $left"; exit 1; }

echo "test-install: passed"
echo "1 passed, 0 failed"
