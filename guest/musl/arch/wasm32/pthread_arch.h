/* The thread pointer lives in a wasm thread-local variable: every thread is
 * its own instance with its own __tls_base, so no register is needed.
 * Set by __set_thread_area (src/thread/wasm32). */
extern hidden __thread uintptr_t __wasm_tp;

static inline uintptr_t __get_tp(void)
{
	return __wasm_tp;
}

/* TLS below the thread pointer (TP_ADJ(p) == p); musl's own ELF TLS image is
 * empty, the wasm TLS block (__tls_base) is placed by __copy_tls. */
#define MC_PC __pc
