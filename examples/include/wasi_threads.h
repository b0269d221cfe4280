/* Minimal wasi-threads for programs built against a wasi-libc without
 * pthreads: the `wasi.thread-spawn` import, the `wasi_thread_start` export
 * (wasm assembly: it must switch __stack_pointer to the thread's own stack
 * before any C code runs), futex wait/notify on the wasm builtins, and a
 * join on a futex word.  Threads must not call libc (it is the
 * single-threaded build); only the main thread prints.
 *
 * Build flags (NAME.cflags): -matomics -mbulk-memory and the link flags
 * -Wl,--shared-memory -Wl,--import-memory -Wl,--max-memory=N
 * -Wl,--no-check-features (libc objects lack the atomics feature). */
#include <stdint.h>

#define STACK_SIZE 65536

struct thread {
	uint32_t stack_top;            /* +0, read by wasi_thread_start */
	void (*fn)(void *);
	void *arg;
	volatile uint32_t done;        /* futex: 1 once fn returned */
	_Alignas(16) unsigned char stack[STACK_SIZE];
};

__attribute__((import_module("wasi"), import_name("thread-spawn")))
int32_t wasi_thread_spawn(void *start_arg);

static inline void futex_wait(volatile uint32_t *p, uint32_t expected)
{
	__builtin_wasm_memory_atomic_wait32((int *)p, (int)expected, -1);
}

static inline void futex_wake(volatile uint32_t *p, uint32_t count)
{
	__builtin_wasm_memory_atomic_notify((int *)p, count);
}

/* wasm-ld wraps the exports of a command so that they run the libc
 * destructors (stdio flush) when they return: a finished thread must not
 * get there while the main thread prints, so it parks until the process
 * exits. */
void thread_entry(int32_t tid, struct thread *t)
{
	static volatile uint32_t never;
	(void)tid;
	t->fn(t->arg);
	__atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST);
	futex_wake(&t->done, 1);
	for (;;)
		futex_wait(&never, 0);
}

__asm__(
	".globaltype __stack_pointer, i32\n"
	".functype thread_entry (i32, i32) -> ()\n"
	".globl wasi_thread_start\n"
	".export_name wasi_thread_start, wasi_thread_start\n"
	".type wasi_thread_start,@function\n"
	"wasi_thread_start:\n"
	".functype wasi_thread_start (i32, i32) -> ()\n"
	"local.get 1\n i32.load 0\n global.set __stack_pointer\n"
	"local.get 0\n local.get 1\n call thread_entry\n"
	"end_function\n");

/* Starts fn(arg) on a new thread; returns its tid (negative on failure). */
static int thread_start(struct thread *t, void (*fn)(void *), void *arg)
{
	t->stack_top = (uint32_t)(uintptr_t)(t->stack + STACK_SIZE);
	t->fn = fn;
	t->arg = arg;
	t->done = 0;
	return wasi_thread_spawn(t);
}

static void thread_join(struct thread *t)
{
	while (__atomic_load_n(&t->done, __ATOMIC_SEQ_CST) == 0)
		futex_wait(&t->done, 0);
}
