/* Producer-consumer over a bounded ring, guarded by a futex mutex and two
 * futex condition variables: 2 producers, 2 consumers, wasi-threads. */
#include <stdio.h>
#include "include/wasi_threads.h"

/* Mutex word: 0 unlocked, 1 locked, 2 locked with waiters. */
static void mutex_lock(volatile uint32_t *m)
{
	uint32_t c = 0;
	if (__atomic_compare_exchange_n(m, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	if (c != 2)
		c = __atomic_exchange_n(m, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		futex_wait(m, 2);
		c = __atomic_exchange_n(m, 2, __ATOMIC_ACQUIRE);
	}
}

static void mutex_unlock(volatile uint32_t *m)
{
	if (__atomic_exchange_n(m, 0, __ATOMIC_RELEASE) == 2)
		futex_wake(m, 1);
}

/* Condition variable: a sequence number waited on with the mutex released. */
static void cond_wait(volatile uint32_t *cv, volatile uint32_t *m)
{
	uint32_t seq = __atomic_load_n(cv, __ATOMIC_SEQ_CST);
	mutex_unlock(m);
	futex_wait(cv, seq);
	mutex_lock(m);
}

static void cond_broadcast(volatile uint32_t *cv)
{
	__atomic_fetch_add(cv, 1, __ATOMIC_SEQ_CST);
	futex_wake(cv, 0x7fffffff);
}

#define SLOTS 16
#define ITEMS 100000 /* per producer */
#define PRODUCERS 2
#define CONSUMERS 2

static volatile uint32_t lock, not_empty, not_full;
static uint32_t ring[SLOTS], head, count, produced_done;
static uint64_t consumed_sum[CONSUMERS];
static uint32_t consumed_n[CONSUMERS];
static struct thread threads[PRODUCERS + CONSUMERS];

static void producer(void *arg)
{
	uint32_t base = (uint32_t)(uintptr_t)arg * ITEMS;
	for (uint32_t i = 1; i <= ITEMS; i++) {
		mutex_lock(&lock);
		while (count == SLOTS)
			cond_wait(&not_full, &lock);
		ring[(head + count) % SLOTS] = base + i;
		count++;
		cond_broadcast(&not_empty);
		mutex_unlock(&lock);
	}
	mutex_lock(&lock);
	produced_done++;
	cond_broadcast(&not_empty);
	mutex_unlock(&lock);
}

static void consumer(void *arg)
{
	int me = (int)(uintptr_t)arg;
	for (;;) {
		mutex_lock(&lock);
		while (count == 0 && produced_done < PRODUCERS)
			cond_wait(&not_empty, &lock);
		if (count == 0) {
			mutex_unlock(&lock);
			return;
		}
		uint32_t v = ring[head];
		head = (head + 1) % SLOTS;
		count--;
		cond_broadcast(&not_full);
		mutex_unlock(&lock);
		consumed_sum[me] += v;
		consumed_n[me]++;
	}
}

int main(void)
{
	for (int i = 0; i < CONSUMERS; i++)
		if (thread_start(&threads[i], consumer, (void *)(uintptr_t)i) <= 0)
			return 1;
	for (int i = 0; i < PRODUCERS; i++)
		if (thread_start(&threads[CONSUMERS + i], producer, (void *)(uintptr_t)i) <= 0)
			return 1;
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
		thread_join(&threads[i]);
	uint64_t sum = 0;
	uint32_t n = 0;
	for (int i = 0; i < CONSUMERS; i++) {
		sum += consumed_sum[i];
		n += consumed_n[i];
	}
	uint64_t all = (uint64_t)PRODUCERS * ITEMS;
	printf("consumed %u of %llu items, sum %llu (expected %llu)\n", n,
	       (unsigned long long)all, (unsigned long long)sum,
	       (unsigned long long)(all * (all + 1) / 2));
	return 0;
}
