/* wasm32: setjmp is never a real function.  clang lowers each call to
 * setjmp/_setjmp in the caller (see longjmp.c), and <setjmp.h> turns
 * sigsetjmp into setjmp(__wasm_sigsetjmp(...)).  This file replaces the
 * generic (empty) one so nothing provides an unusable setjmp symbol. */
