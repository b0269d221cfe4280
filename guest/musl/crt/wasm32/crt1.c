/* wasm32 process entry.  The Runner instantiates the module (its start
 * function initialises this process's data and static TLS), sets
 * __stack_pointer, and calls the export _start(sp) with sp pointing at the
 * Linux initial stack block: argc, argv[], 0, envp[], 0, auxv pairs, AT_NULL.
 * See docs/guest-abi.md. */
#include <features.h>
#include "libc.h"

int __libc_start_main(int (*)(int, char **, char **), int, char **,
	void (*)(), void (*)(), void (*)());

void __wasm_apply_data_relocs(void);
void __wasm_call_ctors(void);

/* clang gives `int main(int, char **)` the symbol __main_argc_argv and keeps
 * `main` for `int main(void)`.  musl calls main with three arguments, which
 * a wasm call_indirect would reject for either shape, so main is always
 * reached through this adapter with the exact prototype. */
weak hidden int __main_argc_argv(int, char **);
weak hidden int main(void);

static int call_main(int argc, char **argv, char **envp)
{
	if (__main_argc_argv) return __main_argc_argv(argc, argv);
	return main();
}

/* Static constructors are run by the linker-made __wasm_call_ctors, from
 * musl's _init hook (called after libc is initialised). */
void _init(void)
{
	__wasm_call_ctors();
}

__attribute__((__export_name__("_start")))
void _start(long *p)
{
	/* Once per process: relocate pointers stored in data by __memory_base
	 * and __table_base. */
	__wasm_apply_data_relocs();
	__libc_start_main(call_main, p[0], (char **)(p+1), _init, 0, 0);
}
