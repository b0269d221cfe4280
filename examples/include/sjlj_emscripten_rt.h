/* What clang's -mllvm -enable-emscripten-sjlj lowering expects from the
 * program, for a wasi-libc build: the calls that may longjmp become
 * env.invoke_<sig>(table_index, args..) imports, longjmp becomes
 * env.emscripten_longjmp(env, val), and after each invoke the caller
 * reads __THREW__/__threwValue, which emscripten_longjmp sets through the
 * exported setThrew.  w2native lowers the invokes and provides
 * emscripten_longjmp and setTempRet0/getTempRet0; the program provides the
 * two variables, setThrew, and __wasm_setjmp/__wasm_setjmp_test (in wasm
 * assembly: the lowering pass declares them itself, and same-named C
 * definitions in this translation unit would be renamed away). */
typedef struct {
	void *owner;         /* +0 invocation id of the setjmp caller */
	unsigned long label; /* +4 resume point in it */
	int reserved[2];
} jmp_buf[1];

int setjmp(jmp_buf env) __attribute__((returns_twice));
_Noreturn void longjmp(jmp_buf env, int val);

unsigned long __THREW__;
int __threwValue;

__attribute__((export_name("setThrew"))) void setThrew(unsigned long threw, int value)
{
	if (__THREW__ == 0) {
		__THREW__ = threw;
		__threwValue = value;
	}
}

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
	"end_function\n");
