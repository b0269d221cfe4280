/* Storage used by the wasm setjmp/longjmp runtime (src/setjmp/wasm32):
 * [0] invocation id of the function that called setjmp, [1] its label,
 * [2..3] the {env, value} payload thrown by longjmp.  Rest reserved. */
typedef unsigned long __jmp_buf[8];
