#!/usr/bin/env bash
# Builds the guest userland: musl 1.2.3 with our wasm32 port (guest/musl/),
# then BusyBox 1.35 with our config (guest/busybox/), linked into ONE
# position-independent module busybox.wasm (docs/guest-abi.md).
#
# Upstream sources are Debian source packages fetched at build time; only our
# own files are applied to them (the port, and small patches in
# guest/musl/patches/ and guest/busybox/patches/).  The result is cached under
#   $W2NATIVE_CACHE/guest/userland-<hash of every input>/
# (busybox.wasm, applets.txt, busybox.config, logs/, and sysroot/: our libc
# for building other programs) and the last line printed on stdout is the
# path of busybox.wasm.
#
# Usage: guest/build-userland.sh [--force]
#   --force   rebuild even if the cache has this exact build
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

FORCE=0
for a in "$@"; do
    case "$a" in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$a' (usage: build-userland.sh [--force])" ;;
    esac
done

# BusyBox probes compiler flags by compiling to /dev/null; if something has
# replaced /dev/null by a regular file, every probe fails silently and the
# build comes out unoptimised and broken.  Say so instead.
[ -c /dev/null ] || die "/dev/null is not a character device (replaced by a file?); restore it: rm -f /dev/null && mknod -m 666 /dev/null c 1 3"

CLANG=clang-19
need_packages clang-19 lld-19 llvm-19 libclang-rt-19-dev-wasm32 \
    make gcc libc6-dev patch bzip2 xz-utils dpkg-dev wabt linux-libc-dev
enable_deb_src

# Newest available source version of a Debian source package.
src_version() {
    apt-cache showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n1
}
MUSL_VER="$(src_version musl)"
BUSYBOX_VER="$(src_version busybox)"
[ -n "$MUSL_VER" ] || die "no source package for musl (is deb-src enabled?)"
[ -n "$BUSYBOX_VER" ] || die "no source package for busybox (is deb-src enabled?)"
case "$MUSL_VER" in 1.2.3*) ;; *) die "expected musl 1.2.3 source, found $MUSL_VER" ;; esac
case "$BUSYBOX_VER" in *1.35.*) ;; *) die "expected busybox 1.35 source, found $BUSYBOX_VER" ;; esac
CLANG_VER="$($CLANG --version | head -n1)"
RT_LIB="$($CLANG -print-resource-dir)/lib/wasi/libclang_rt.builtins-wasm32.a"
[ -f "$RT_LIB" ] || die "compiler-rt builtins for wasm32 not found at $RT_LIB"

HASH="$(inputs_hash "$GUEST_DIR/musl" "$GUEST_DIR/busybox" \
    "$GUEST_DIR/build-userland.sh" "$GUEST_DIR/common.sh" -- \
    "musl=$MUSL_VER" "busybox=$BUSYBOX_VER" "$CLANG_VER" \
    "lld=$(pkg_version lld-19)" "uapi=$(pkg_version linux-libc-dev)" "rt=$(pkg_version libclang-rt-19-dev-wasm32)")"
OUT="$W2NATIVE_CACHE/guest/userland-$HASH"

if [ "$FORCE" -eq 0 ] && [ -f "$OUT/busybox.wasm" ]; then
    log "cache hit: userland-$HASH"
    echo "$OUT/busybox.wasm"
    exit 0
fi

WORK="$OUT.work"
rm -rf "$WORK"
mkdir -p "$WORK/logs"
SYSROOT="$WORK/sysroot"
START=$SECONDS

# Flags shared by libc and BusyBox: one PIC module with shared memory,
# atomics and bulk memory for threads and TLS, legacy EH for setjmp/longjmp.
WASM_CFLAGS="--target=wasm32 -fPIC -fvisibility=hidden -matomics -mbulk-memory \
-mexception-handling -mllvm -wasm-enable-sjlj"

# ---------------------------------------------------------------- sources
with_progress "fetch musl $MUSL_VER" "$WORK/logs/fetch-musl.log" \
    fetch_source musl "$WORK/src-musl"
with_progress "fetch busybox $BUSYBOX_VER" "$WORK/logs/fetch-busybox.log" \
    fetch_source busybox "$WORK/src-busybox"
MUSL_SRC="$(find "$WORK/src-musl" -mindepth 1 -maxdepth 1 -type d | head -n1)"
BB_SRC="$(find "$WORK/src-busybox" -mindepth 1 -maxdepth 1 -type d | head -n1)"
[ -f "$MUSL_SRC/Makefile" ] || die "musl source tree not found in $WORK/src-musl"
[ -f "$BB_SRC/Makefile" ] || die "busybox source tree not found in $WORK/src-busybox"

# ---------------------------------------------------------------- musl
apply_musl_port() {
    # New files of the port (arch/wasm32, src/*/wasm32, crt/wasm32).
    (cd "$GUEST_DIR/musl" && find arch src crt -type f) | while read -r f; do
        mkdir -p "$MUSL_SRC/$(dirname "$f")"
        cp "$GUEST_DIR/musl/$f" "$MUSL_SRC/$f"
    done
    # Small patches to generic files, each explained in its own header.
    local p
    for p in "$GUEST_DIR"/musl/patches/*.patch; do
        echo "applying $(basename "$p")"
        patch -d "$MUSL_SRC" -p1 --no-backup-if-mismatch < "$p"
    done
    cat > "$MUSL_SRC/config.mak" <<EOF
ARCH = wasm32
srcdir = .
prefix = $SYSROOT
includedir = \$(prefix)/include
libdir = \$(prefix)/lib
CC = $CLANG
AR = llvm-ar-19
RANLIB = llvm-ranlib-19
CFLAGS_C99FSE = -std=c99 -nostdinc -ffreestanding
CFLAGS_AUTO = -Os -pipe -ffunction-sections -fdata-sections -Werror=implicit-function-declaration -Werror=implicit-int -Werror=pointer-sign -Werror=pointer-arith -Wno-parentheses -Wno-shift-op-parentheses -Wno-bitwise-op-parentheses -Wno-string-plus-int -Wno-unsupported-visibility
CFLAGS = $WASM_CFLAGS
LIBCC =
SHARED_LIBS =
EOF
}

with_progress "musl: apply wasm32 port" "$WORK/logs/musl-port.log" apply_musl_port
with_progress "musl: build libc.a" "$WORK/logs/musl-build.log" \
    nice -n 10 make -C "$MUSL_SRC" -j"$JOBS" lib/libc.a lib/crt1.o
with_progress "musl: install headers" "$WORK/logs/musl-install.log" \
    make -C "$MUSL_SRC" install-headers
mkdir -p "$SYSROOT/lib"
cp "$MUSL_SRC/lib/libc.a" "$MUSL_SRC/lib/crt1.o" "$SYSROOT/lib/"

# ---------------------------------------------------------------- busybox
# Linux UAPI headers (Debian's linux-libc-dev, 6.1) as a generic 32-bit arch
# sees them: asm/ is a set of wrappers around asm-generic/.
install_uapi_headers() {
    local inc="$SYSROOT/include" f
    cp -r /usr/include/linux /usr/include/asm-generic "$inc/"
    mkdir -p "$inc/asm"
    for f in /usr/include/asm-generic/*.h; do
        printf '#include <asm-generic/%s>\n' "$(basename "$f")" > "$inc/asm/$(basename "$f")"
    done
    printf '#define __BITS_PER_LONG 32\n#include <asm-generic/bitsperlong.h>\n' \
        > "$inc/asm/bitsperlong.h"
    printf '#include <linux/byteorder/little_endian.h>\n' > "$inc/asm/byteorder.h"
}
with_progress "sysroot: linux uapi headers" "$WORK/logs/uapi.log" install_uapi_headers

# clang's wasm32 target does not define __linux__; user code for this guest is
# Linux code, so say so.
BB_CFLAGS="-D__linux__ -D__linux $WASM_CFLAGS --sysroot=$SYSROOT -nostdinc \
-isystem $SYSROOT/include -isystem $($CLANG -print-resource-dir)/include \
-Wno-unused-command-line-argument"

# Small patches to BusyBox, each explained in its own header.
apply_busybox_patches() {
    local p
    for p in "$GUEST_DIR"/busybox/patches/*.patch; do
        echo "applying $(basename "$p")"
        patch -d "$BB_SRC" -p1 --no-backup-if-mismatch < "$p" || return 1
    done
}
with_progress "busybox: apply patches" "$WORK/logs/busybox-patches.log" apply_busybox_patches

with_progress "busybox: configure" "$WORK/logs/busybox-config.log" \
    bash -c "cd '$BB_SRC' && '$GUEST_DIR/busybox/apply-config.sh' '$GUEST_DIR/busybox/busybox.config'"

# The final link is ours (guest/busybox/link.sh) instead of scripts/trylink.
export W2N_SYSROOT="$SYSROOT" W2N_RTLIB="$RT_LIB" W2N_CC="$CLANG"
with_progress "busybox: build" "$WORK/logs/busybox-build.log" nice -n 10 \
    make -C "$BB_SRC" -j"$JOBS" CC="$CLANG --target=wasm32" HOSTCC=gcc \
    AR=llvm-ar-19 SKIP_STRIP=y CONFIG_EXTRA_CFLAGS="$BB_CFLAGS" \
    cmd_busybox__="$GUEST_DIR/busybox/link.sh \"\$@\" \$(core-y) \$(libs-y)" \
    busybox busybox.links

WASM="$BB_SRC/busybox"
[ -f "$WASM" ] || die "busybox link produced no output"
wasm-validate --enable-threads --enable-exceptions "$WASM" \
    || die "busybox.wasm does not validate"

# ---------------------------------------------------------------- publish
mkdir -p "$WORK/keep"
cp "$WASM" "$WORK/keep/busybox.wasm"
cp "$BB_SRC/.config" "$WORK/keep/busybox.config"
sed 's#.*/##' "$BB_SRC/busybox.links" | sort > "$WORK/keep/applets.txt"
mv "$WORK/logs" "$WORK/keep/logs"
# The libc (headers, libc.a, crt1.o) for building other wasm32 programs
# against the same ABI (guest/tests-userland builds its C tests with it).
mv "$SYSROOT" "$WORK/keep/sysroot"
cp "$GUEST_DIR/busybox/link.sh" "$WORK/keep/sysroot/link.sh"
rm -rf "$OUT"
mv "$WORK/keep" "$OUT"
rm -rf "$WORK"
log "busybox.wasm: $(stat -c %s "$OUT/busybox.wasm") bytes, $(wc -l < "$OUT/applets.txt") applets, built in $((SECONDS - START))s"
echo "$OUT/busybox.wasm"
