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

/* clang gives `int main(int argc, char **argv)` the symbol __main_argc_argv
 * (and `int main(void)` the symbol __main_void, which libc's weak
 * __main_argc_argv forwards to).  musl calls main with three arguments, which
 * a wasm call_indirect would reject for either shape, so main is reached
 * through this adapter with its exact prototype.  A three-argument main
 * (with envp) is not supported. */
int __main_argc_argv(int, char **);

static int call_main(int argc, char **argv, char **envp)
{
	return __main_argc_argv(argc, argv);
}

/* Static constructors are run by the linker-made __wasm_call_ctors, from
 * musl's _init hook (called after libc is initialised). */
void _init(void)
{
	__wasm_call_ctors();
}

/* The other entry points the Runner calls live in libc; referencing them
 * here links them into every program. */
void __w2n_signal();
void __w2n_thread_start();
__attribute__((__used__)) static void (*const keep_exports[])() = {
	__w2n_signal, __w2n_thread_start,
};

__attribute__((__export_name__("_start")))
void _start(long *p)
{
	/* Once per process: relocate pointers stored in data by __memory_base
	 * and __table_base. */
	__wasm_apply_data_relocs();
	__libc_start_main(call_main, p[0], (char **)(p+1), _init, 0, 0);
}
