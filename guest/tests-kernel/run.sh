#!/usr/bin/env bash
# Kernel-only boot + syscall test through a temporary host: kernel.wasm is
# translated with wasm2c (wabt), compiled with gcc together with host.c
# (the host ops of docs/host-abi.md on pthreads), booted, and checked.
# Replaced by the w2native Runner once the compiler core lands.
# Usage: guest/tests-kernel/run.sh [path/to/kernel.wasm]
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
HERE="$GUEST_DIR/tests-kernel"
need_packages wabt gcc

KWASM="${1:-}"
if [ -z "$KWASM" ]; then
    KWASM=$("$GUEST_DIR/build-kernel.sh" | tail -n1)
fi
[ -f "$KWASM" ] || die "kernel.wasm not found: $KWASM"

RT=/usr/src/wasm2c
[ -f "$RT/wasm-rt-impl.c" ] || RT=/usr/share/wabt/wasm2c
[ -f "$RT/wasm-rt-impl.c" ] || die "wasm2c runtime (wasm-rt-impl.c) not found"

# the translated kernel is cached by the hash of kernel.wasm
KHASH=$(sha256sum "$KWASM" | cut -c1-16)
T="$W2NATIVE_CACHE/guest/tests-kernel-$KHASH"
mkdir -p "$T"
if [ ! -f "$T/kernel.o" ]; then
    with_progress "wasm2c kernel.wasm" "$T/wasm2c.log" wasm2c "$KWASM" -n kernel -o "$T/kernel.c"
    with_progress "gcc kernel.c" "$T/gcc.log" nice -n 10 gcc -O1 -w -I"$RT" -c "$T/kernel.c" -o "$T/kernel.o.tmp"
    mv "$T/kernel.o.tmp" "$T/kernel.o"
fi
gcc -O1 -g -w -I"$RT" -I"$T" -Dwasm_rt_trap=wasm_rt_trap_unused -c "$RT/wasm-rt-impl.c" -o "$T/wasm-rt-impl.o" \
    || die "compiling the wasm2c runtime failed"
gcc -O1 -g -Wall -Wno-unused-function -I"$RT" -I"$T" -c "$HERE/host.c" -o "$T/host.o" \
    || die "compiling host.c failed"
gcc -o "$T/kernel-host" "$T/host.o" "$T/kernel.o" "$T/wasm-rt-impl.o" -lpthread -lm \
    || die "linking the test host failed"

LOG="$T/boot.log"
log "booting kernel.wasm (log: $LOG)"
set +e
timeout 120 "$T/kernel-host" "${KERNEL_CMDLINE:-}" > "$LOG" 2>&1
rc=$?
set -e
cat "$LOG"

fail=0
expect() {  # expect LABEL REGEX
    if grep -qE "$2" "$LOG"; then echo "CHECK $1: ok"; else echo "CHECK $1: FAIL (no /$2/ in log)"; fail=1; fi
}
expect banner '^Linux version 6\.1\.'
expect end-of-boot 'Run /init as init process'
grep -q '^TEST .*FAIL' "$LOG" && fail=1
[ "$rc" -eq 0 ] || { echo "test host exited with status $rc"; fail=1; }
[ "$fail" -eq 0 ] || die "kernel test failed"
echo "kernel test passed"
