/* wasm32 has no assembly entry point: the process entry is the exported C
 * function _start in crt/wasm32/crt1.c (see docs/guest-abi.md). */
