/* 4 wasi-threads increment one atomic counter 1M times each. */
#include <stdio.h>
#include "include/wasi_threads.h"

#define THREADS 4
#define ROUNDS 1000000

static uint32_t counter;
static struct thread threads[THREADS];

static void work(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++)
		__atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
}

int main(void)
{
	for (int i = 0; i < THREADS; i++)
		if (thread_start(&threads[i], work, 0) <= 0) {
			puts("thread-spawn failed");
			return 1;
		}
	for (int i = 0; i < THREADS; i++)
		thread_join(&threads[i]);
	printf("counter = %u\n", counter);
	return 0;
}
