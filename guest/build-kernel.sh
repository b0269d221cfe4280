#!/usr/bin/env bash
# Build kernel.wasm: Linux 6.1 (Debian linux-source-6.1) + our wasm32 arch
# port (guest/kernel/arch-wasm), configured with guest/kernel/wasm.config,
# compiled with clang-19 --target=wasm32 and linked with wasm-ld-19.
#
# Output: $W2NATIVE_CACHE/guest/kernel-<hash of inputs>/kernel.wasm; the
# path is printed on the last stdout line. A second run is a cache hit.
# An incremental work tree is kept in $W2NATIVE_CACHE/guest/kernel-work.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KDIR="$GUEST_DIR/kernel"
need_packages linux-source-6.1 clang-19 lld-19 llvm-19 wabt gcc libc6-dev make patch xz-utils bc bison flex cpio python3

TARBALL=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n1)
[ -n "$TARBALL" ] || die "linux-source-6.1 tarball not found under /usr/src"
HASH=$(inputs_hash "$KDIR" "$GUEST_DIR/build-kernel.sh" "$GUEST_DIR/common.sh" -- \
    "$(pkg_version linux-source-6.1)" "$(pkg_version clang-19)" "$(pkg_version lld-19)")
OUT="$W2NATIVE_CACHE/guest/kernel-$HASH"
if [ -f "$OUT/kernel.wasm" ]; then
    log "cache hit: $OUT"
    echo "$OUT/kernel.wasm"
    exit 0
fi

WORK="$W2NATIVE_CACHE/guest/kernel-work"
SRC="$WORK/linux"
mkdir -p "$WORK"
# the unpacked tree is reused across builds (incremental); re-unpack when the
# Debian package version changes
STAMP="$WORK/source-version"
if [ ! -d "$SRC" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$(pkg_version linux-source-6.1)" ]; then
    rm -rf "$SRC" "$WORK/tmp-unpack"
    mkdir -p "$WORK/tmp-unpack"
    with_progress "unpack linux-source-6.1" "$WORK/unpack.log" tar -xf "$TARBALL" -C "$WORK/tmp-unpack"
    mv "$WORK/tmp-unpack"/linux-source-6.1 "$SRC"
    rmdir "$WORK/tmp-unpack"
    pkg_version linux-source-6.1 > "$STAMP"
    rm -f "$WORK/patches-applied"
fi

# Generic-code patches (each explains itself in its header). Applied once
# per fresh tree; a changed patch set needs a fresh tree.
PATCHES_ID=$(find "$KDIR/patches" -name "*.patch" 2>/dev/null | LC_ALL=C sort | xargs -r cat | sha256sum | cut -c1-16)
if [ "$(cat "$WORK/patches-applied" 2>/dev/null)" != "$PATCHES_ID" ]; then
    [ -f "$WORK/patches-applied" ] && die "patch set changed; remove $SRC to rebuild from a fresh tree"
    for p in "$KDIR"/patches/*.patch; do
        [ -f "$p" ] || continue
        log "patch $(basename "$p")"
        patch -d "$SRC" -p1 -s --forward < "$p" || die "patch $(basename "$p") failed"
    done
    echo "$PATCHES_ID" > "$WORK/patches-applied"
fi

# Our arch port: new files only. rsync -c keeps timestamps of unchanged
# files so the incremental build stays incremental.
sync_tree() {  # sync_tree FROM TO: copy changed files, drop removed ones
    local from="$1" to="$2" f
    mkdir -p "$to"
    (cd "$from" && find . -type f) | while IFS= read -r f; do
        cmp -s "$from/$f" "$to/$f" || { mkdir -p "$(dirname "$to/$f")"; cp "$from/$f" "$to/$f"; }
    done
    (cd "$to" && find . -type f ! -path './include/generated/*' ! -name '*.o' ! -name '.*' ! -name '*.a' ! -name '*.s' ! -name 'modules.order') |
    while IFS= read -r f; do
        [ -e "$from/$f" ] || rm -f "$to/$f"
    done
}
sync_tree "$KDIR/arch-wasm" "$SRC/arch/wasm"

# Built-in initramfs for the kernel-only tests: /init is a stub wasm module
# (the kernel hands it to the Runner's user_start hook), plus /dev/console.
mkdir -p "$WORK/initramfs"
printf '\000asm\001\000\000\000' > "$WORK/initramfs/init.wasm"
cat > "$WORK/initramfs/list" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /tmp 1777 0 0
dir /root 0700 0 0
file /init $WORK/initramfs/init.wasm 0755 0 0
LIST

# reproducible banner: no build user/host/date of this machine
export KBUILD_BUILD_USER=w2native KBUILD_BUILD_HOST=w2native KBUILD_BUILD_VERSION=1
export KBUILD_BUILD_TIMESTAMP="$(pkg_version linux-source-6.1)"
MAKEFLAGS_K=(-C "$SRC" ARCH=wasm LLVM=-19 CROSS_COMPILE=wasm32-unknown-unknown- LD=wasm-ld-19 HOSTCC=gcc)
{ cat "$KDIR/wasm.config"; echo "CONFIG_INITRAMFS_SOURCE=\"$WORK/initramfs/list\""; } > "$WORK/all.config"
if ! cmp -s "$WORK/all.config" "$WORK/all.config.used" || [ ! -f "$SRC/.config" ]; then
    with_progress "configure" "$WORK/config.log" \
        make "${MAKEFLAGS_K[@]}" KCONFIG_ALLCONFIG="$WORK/all.config" allnoconfig
    cp "$WORK/all.config" "$WORK/all.config.used"
    # every requested option must have survived Kconfig's dependencies
    while IFS= read -r line; do
        case "$line" in CONFIG_*=n|'#'*|'') continue;; esac
        grep -qxF "$line" "$SRC/.config" || die "config option not satisfiable: $line"
    done < "$KDIR/wasm.config"
fi

rm -f "$WORK/build.log" "$WORK/link.log"
with_progress "compile kernel ($JOBS jobs)" "$WORK/build.log" \
    nice -n 10 make "${MAKEFLAGS_K[@]}" -j"$JOBS" ${W2N_KERNEL_MAKEFLAGS:-} wasm-objs

with_progress "link kernel.wasm" "$WORK/link.log" \
    python3 "$KDIR/link-kernel.py" --src "$SRC" --out "$WORK/kernel.wasm"

mkdir -p "$OUT.tmp"
cp "$WORK/kernel.wasm" "$OUT.tmp/kernel.wasm"
cp "$SRC/.config" "$OUT.tmp/config"
rm -rf "$OUT"; mv "$OUT.tmp" "$OUT"
log "kernel.wasm: $(stat -c %s "$OUT/kernel.wasm") bytes"
echo "$OUT/kernel.wasm"
