/* Threads, TLS, futex-based locks and setjmp/longjmp on the guest ABI:
 * pthread_create goes through env.__clone_thread and the
 * __w2n_thread_start export; each thread has its own TLS block. */
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>

static __thread int tls_value = 5;
static int total;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
	int add = (int)(long)arg;
	tls_value += add;                      /* private copy, starts at 5 */
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&lock);
		total++;
		pthread_mutex_unlock(&lock);
	}
	return (void *)(long)tls_value;
}

static jmp_buf jb;

static void deep(int n)
{
	if (n == 0) longjmp(jb, 42);
	deep(n - 1);
}

int main(int argc, char **argv)
{
	pthread_t t[4];
	long sum = 0;
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], 0, worker, (void *)(long)(10 * (i + 1)))) {
			puts("pthread_create failed");
			return 1;
		}
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (long)r;
	}
	printf("main tls %d, thread tls sum %ld, total %d\n", tls_value, sum, total);

	int v = setjmp(jb);
	if (v == 0) deep(10);
	printf("longjmp returned %d\n", v);
	return 0;
}
