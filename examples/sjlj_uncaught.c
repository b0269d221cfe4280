/* A longjmp to a jmp_buf no active setjmp owns: main's catch sees that the
 * buffer is not its own and rethrows, and the __c_longjmp exception leaves
 * the outermost wasm frame: the trap "uncaught exception". */
#include "include/sjlj_wasm_rt.h"
#include <stdio.h>

static jmp_buf mine, never_set;

static void jump(void) { longjmp(never_set, 3); }

int main(void)
{
	if (setjmp(mine) == 0) {
		puts("before the jump");
		fflush(stdout);
		jump();
	}
	puts("not reached");
	return 0;
}
