/* Futex wait/notify ping-pong between the main thread and a wasi-thread. */
#include <stdio.h>
#include "include/wasi_threads.h"

#define ROUNDS 20000

static volatile uint32_t turn; /* 0: main's turn, 1: the other thread's */
static uint32_t pongs;
static struct thread other;

static void wait_for(uint32_t mine)
{
	uint32_t t;
	while ((t = __atomic_load_n(&turn, __ATOMIC_SEQ_CST)) != mine)
		futex_wait(&turn, t);
}

static void pass_to(uint32_t next)
{
	__atomic_store_n(&turn, next, __ATOMIC_SEQ_CST);
	futex_wake(&turn, 1);
}

static void pong(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		wait_for(1);
		pongs++;
		pass_to(0);
	}
}

int main(void)
{
	if (thread_start(&other, pong, 0) <= 0)
		return 1;
	uint32_t pings = 0;
	for (int i = 0; i < ROUNDS; i++) {
		wait_for(0);
		pings++;
		pass_to(1);
	}
	wait_for(0);
	thread_join(&other);
	printf("ping-pong: %u pings, %u pongs\n", pings, pongs);
	return 0;
}
