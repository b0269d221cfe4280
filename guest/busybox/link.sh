#!/usr/bin/env bash
# Final link of BusyBox into busybox.wasm, used instead of BusyBox's
# scripts/trylink (which probes GNU ld options and drops "unneeded" flags).
# Called by the BusyBox Makefile through cmd_busybox__ (see
# guest/build-userland.sh):  link.sh OUTPUT OBJECTS_AND_ARCHIVES...
# Needs W2N_SYSROOT (musl), W2N_RTLIB (compiler-rt builtins) and W2N_CC.
#
# The module is a wasm "shared library" (dylink.0): memory, table, stack
# pointer, __memory_base and __table_base are imported, so the Runner can
# place each process anywhere in the one shared memory.  -Bsymbolic plus
# hidden visibility leave no GOT imports: the only other imports are the
# Runner functions of docs/guest-abi.md.
set -euo pipefail
out="$1"; shift
: "${W2N_SYSROOT:?}" "${W2N_RTLIB:?}" "${W2N_CC:?}"
exec $W2N_CC --target=wasm32 -nostdlib -shared -o "$out" \
    -Wl,--experimental-pic -Wl,--shared-memory -Wl,--import-memory \
    -Wl,--max-memory=4294967296 -Wl,-Bsymbolic -Wl,--gc-sections -Wl,--no-entry -Wl,--no-export-dynamic \
    -Wl,--fatal-warnings -Wl,--strip-debug \
    "$W2N_SYSROOT/lib/crt1.o" \
    "$@" "$W2N_SYSROOT/lib/libc.a" "$W2N_RTLIB"
