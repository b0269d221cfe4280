/* What clang's -mllvm -wasm-enable-sjlj lowering calls, for wasi-libc
 * builds that lack it: every setjmp becomes __wasm_setjmp(env, label, id)
 * plus try/catch in the caller; longjmp(env, val) becomes
 * __wasm_longjmp(env, val), which throws the tag __c_longjmp with a
 * pointer to {env, val}; the catching function asks
 * __wasm_setjmp_test(env, id) whether env is its own (non-zero label).
 *
 * The three helpers are wasm assembly: the lowering pass declares them
 * itself, and C definitions in the same translation unit would be renamed
 * away from the names it calls. */
typedef struct {
	void *owner;         /* +0  invocation id of the setjmp caller */
	unsigned long label; /* +4  resume point in it */
	void *env;           /* +8  thrown payload: {env, val} */
	int val;             /* +12 */
} jmp_buf[1];

int setjmp(jmp_buf env) __attribute__((returns_twice));
_Noreturn void longjmp(jmp_buf env, int val);

__asm__(
	".globl __wasm_setjmp\n"
	".type __wasm_setjmp,@function\n"
	"__wasm_setjmp:\n"
	".functype __wasm_setjmp (i32, i32, i32) -> ()\n"
	"local.get 0\n local.get 2\n i32.store 0\n"
	"local.get 0\n local.get 1\n i32.store 4\n"
	"end_function\n"

	".globl __wasm_setjmp_test\n"
	".type __wasm_setjmp_test,@function\n"
	"__wasm_setjmp_test:\n"
	".functype __wasm_setjmp_test (i32, i32) -> (i32)\n"
	"local.get 0\n i32.load 4\n i32.const 0\n"
	"local.get 0\n i32.load 0\n local.get 1\n i32.eq\n i32.select\n"
	"end_function\n"

	".globl __wasm_longjmp\n"
	".type __wasm_longjmp,@function\n"
	"__wasm_longjmp:\n"
	".functype __wasm_longjmp (i32, i32) -> ()\n"
	"local.get 0\n local.get 0\n i32.store 8\n"
	"local.get 0\n local.get 1\n i32.const 1\n local.get 1\n i32.select\n i32.store 12\n"
	"local.get 0\n i32.const 8\n i32.add\n throw __c_longjmp\n"
	"end_function\n");
