/* wasm32 setjmp/longjmp runtime for clang's `-mllvm -wasm-enable-sjlj`.
 *
 * clang rewrites every setjmp(env) into __wasm_setjmp(env, label, id), where
 * id identifies the running invocation of the calling function, and wraps the
 * calls that may longjmp in a `try`.  longjmp(env, val) becomes
 * __wasm_longjmp(env, val), which throws the __c_longjmp tag (defined in
 * c_longjmp.S) with a pointer to {env, val}; each catching function asks
 * __wasm_setjmp_test(env, id) whether env belongs to it (label != 0) and
 * otherwise rethrows.  All state lives in the caller's jmp_buf
 * (see arch/wasm32/bits/setjmp.h). */
#include <setjmp.h>

struct wasm_jb {
	void *id;                 /* invocation that called setjmp */
	unsigned long label;      /* where to resume in it */
	struct {
		void *env;
		int val;
	} thrown;                 /* payload of the __c_longjmp exception */
};

_Static_assert(sizeof(struct wasm_jb) <= sizeof(((jmp_buf){0})->__jb),
	"jmp_buf too small");

void __wasm_setjmp(void *env, unsigned long label, void *id)
{
	struct wasm_jb *jb = env;
	jb->id = id;
	jb->label = label;
}

unsigned long __wasm_setjmp_test(void *env, void *id)
{
	struct wasm_jb *jb = env;
	return jb->id == id ? jb->label : 0;
}

_Noreturn void __wasm_longjmp(void *env, int val)
{
	struct wasm_jb *jb = env;
	jb->thrown.env = env;
	jb->thrown.val = val ? val : 1;
	__builtin_wasm_throw(1, &jb->thrown);
}

/* Out-of-line longjmp for callers built without the sjlj lowering and for
 * address-taken uses; calls from lowered code never get here. */
_Noreturn void longjmp(jmp_buf env, int val)
{
	__wasm_longjmp(env, val);
}

_Noreturn void _longjmp(jmp_buf env, int val)
{
	__wasm_longjmp(env, val);
}
