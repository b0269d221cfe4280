/* wasm32 thread-local storage.
 *
 * C thread-locals live in the wasm TLS block of the instance, addressed by
 * the __tls_base global: the linker-generated start function points the
 * first instance of a process at the static block, and every thread
 * instance calls __wasm_init_tls on a block that __copy_tls reserved.
 * musl's own ELF TLS image is therefore empty (tls_cnt == 0); a thread's
 * area is [dtv: 2 words][wasm TLS block][...][struct pthread]. */
#include <string.h>
#include <stddef.h>
#include "pthread_impl.h"
#include "libc.h"
#include "syscall.h"

volatile int __thread_list_lock;

int __init_tp(void *p)
{
	pthread_t td = p;
	td->self = td;
	if (__set_thread_area(TP_ADJ(p)) < 0) return -1;
	libc.can_do_threads = 1;
	td->detach_state = DT_JOINABLE;
	td->tid = __syscall(SYS_set_tid_address, &__thread_list_lock);
	td->locale = &libc.global_locale;
	td->robust_list.head = &td->robust_list.head;
	td->sysinfo = __sysinfo;
	td->next = td->prev = td;
	return 0;
}

void *__copy_tls(unsigned char *mem)
{
	uintptr_t *dtv = (uintptr_t *)mem;
	uintptr_t end = (uintptr_t)mem + libc.tls_size - sizeof(struct pthread);
	pthread_t td = (pthread_t)(end & -(uintptr_t)libc.tls_align);

	dtv[0] = 0;
	dtv[1] = 0;
	td->dtv = dtv;
	return td;
}

static uintptr_t main_dtv[2];
static struct pthread main_thread __attribute__((__aligned__(16)));

static void wasm_init_tls(size_t *aux)
{
	size_t align = __builtin_wasm_tls_align();
	if (align < _Alignof(struct pthread)) align = _Alignof(struct pthread);
	if (align < 2*sizeof(void *)) align = 2*sizeof(void *);

	libc.tls_cnt = 0;
	libc.tls_head = 0;
	libc.tls_align = align;
	libc.tls_size = (2*sizeof(void *) + __builtin_wasm_tls_size()
		+ sizeof(struct pthread) + 2*align + align-1) & -align;

	/* The main thread already runs on the static TLS block that the
	 * start function of the module installed. */
	main_thread.dtv = main_dtv;
	if (__init_tp(&main_thread) < 0) a_crash();
}

weak_alias(wasm_init_tls, __init_tls);
