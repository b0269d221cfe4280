#!/usr/bin/env bash
# Builds the native x86_64 BusyBox that BusyBox's own testsuite runs against
# as the baseline for the guest (`cargo xtask busybox-tests`,
# tests/busybox_suite.rs): the same Debian source package as the guest's
# busybox.wasm (guest/build-userland.sh), the same config list
# (guest/busybox/busybox.config through apply-config.sh, unchanged: a native
# gcc build needs no adjustment), built with the host's gcc and glibc.
#
# Cached under $W2NATIVE_CACHE/guest/busybox-native-<hash of the inputs>/:
#   busybox      the native binary
#   .config      its configuration (runtest reads it to skip tests)
#   testsuite/   the source package's testsuite tree
# The last line printed on stdout is the path of the binary.
#
# Usage: guest/build-busybox-native.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -eq 0 ] || die "usage: build-busybox-native.sh (no arguments)"
[ -c /dev/null ] || die "/dev/null is not a character device (replaced by a file?); restore it: rm -f /dev/null && mknod -m 666 /dev/null c 1 3"

need_packages make gcc libc6-dev bzip2 xz-utils dpkg-dev
enable_deb_src

BUSYBOX_VER="$(apt-cache showsrc busybox 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n1)"
[ -n "$BUSYBOX_VER" ] || die "no source package for busybox (is deb-src enabled?)"
case "$BUSYBOX_VER" in *1.35.*) ;; *) die "expected busybox 1.35 source, found $BUSYBOX_VER" ;; esac

HASH="$(inputs_hash "$GUEST_DIR/busybox/busybox.config" "$GUEST_DIR/busybox/apply-config.sh" \
    "$GUEST_DIR/build-busybox-native.sh" "$GUEST_DIR/common.sh" -- \
    "busybox=$BUSYBOX_VER" "gcc=$(pkg_version gcc)" "libc=$(pkg_version libc6-dev)")"
OUT="$W2NATIVE_CACHE/guest/busybox-native-$HASH"
if [ -x "$OUT/busybox" ] && [ -f "$OUT/testsuite/runtest" ]; then
    log "cache hit: busybox-native-$HASH"
    echo "$OUT/busybox"
    exit 0
fi

WORK="$OUT.work"
rm -rf "$WORK"
mkdir -p "$WORK/logs"
with_progress "fetch busybox $BUSYBOX_VER" "$WORK/logs/fetch.log" fetch_source busybox "$WORK/src"
SRC="$(find "$WORK/src" -mindepth 1 -maxdepth 1 -type d | head -n1)"
[ -f "$SRC/Makefile" ] && [ -f "$SRC/testsuite/runtest" ] || die "busybox source tree (with testsuite/) not found in $WORK/src"
with_progress "busybox (native): configure" "$WORK/logs/config.log" \
    bash -c "cd '$SRC' && '$GUEST_DIR/busybox/apply-config.sh' '$GUEST_DIR/busybox/busybox.config'"
with_progress "busybox (native): build" "$WORK/logs/build.log" \
    nice -n 10 make -C "$SRC" -j"$JOBS" busybox
mkdir -p "$WORK/keep"
cp "$SRC/busybox" "$SRC/.config" "$WORK/keep/"
cp -r "$SRC/testsuite" "$WORK/keep/testsuite"
mv "$WORK/logs" "$WORK/keep/logs"
rm -rf "$OUT"
mv "$WORK/keep" "$OUT"
rm -rf "$WORK"
log "native busybox: $(stat -c %s "$OUT/busybox") bytes"
echo "$OUT/busybox"
