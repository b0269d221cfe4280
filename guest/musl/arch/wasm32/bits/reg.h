#undef __WORDSIZE
#define __WORDSIZE 32
/* wasm has no user-visible register file. */
