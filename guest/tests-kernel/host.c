/*
 * Temporary test host for kernel.wasm (until the w2native compiler core and
 * its Runner land): implements the "host" import module of docs/host-abi.md
 * on pthreads and POSIX semaphores for the wasm2c translation of the
 * kernel, boots it, and runs syscall checks as the init task.
 *
 * Output: the kernel log on stdout, "TEST <name>: ok|FAIL ..." lines, and
 * exit status 0 only if every check passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"

static Z_kernel_instance_t kinst;
static u64 boot_start_ns;
static const char *cmdline = "";

/* ---------- handles ---------- */
#define MAX_HANDLES 4096
static void *handles[MAX_HANDLES];
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static int next_handle = 1;

static int handle_new(void *p)
{
	int h = -1;

	pthread_mutex_lock(&handles_lock);
	for (int i = 0; i < MAX_HANDLES - 1 && h < 0; i++) {
		int c = next_handle;
		next_handle = next_handle % (MAX_HANDLES - 1) + 1;
		if (!handles[c]) {
			handles[c] = p;
			h = c;
		}
	}
	pthread_mutex_unlock(&handles_lock);
	return h;
}

static void *handle_get(uint32_t h)
{
	if (h == 0 || h >= MAX_HANDLES || !handles[h]) {
		fprintf(stderr, "host: bad handle %u\n", h);
		abort();
	}
	return handles[h];
}

static void handle_free(uint32_t h)
{
	pthread_mutex_lock(&handles_lock);
	handles[h] = NULL;
	pthread_mutex_unlock(&handles_lock);
}

static uint8_t *mem(void)
{
	return kinst.w2c_memory.data;
}

/* ---------- output ---------- */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

void Z_hostZ_print(struct Z_host_instance_t *h, u32 str, u32 len)
{
	pthread_mutex_lock(&out_lock);
	fwrite(mem() + str, 1, len, stdout);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

void Z_hostZ_panic(struct Z_host_instance_t *h, u32 str, u32 len)
{
	printf("\nHOST PANIC: %.*s\n", (int)len, (char *)mem() + str);
	fflush(stdout);
	_exit(2);
}

static int failures;

void Z_hostZ_halt(struct Z_host_instance_t *h, u32 how, u32 code)
{
	printf("host: halt(%u, %u)\n", how, code);
	printf("host: %d failure(s)\n", failures);
	fflush(stdout);
	_exit(how == 2 && failures == 0 ? 0 : 1);
}

/* ---------- semaphores, mutexes ---------- */
u32 Z_hostZ_sem_alloc(struct Z_host_instance_t *h, u32 count)
{
	sem_t *s = malloc(sizeof(*s));
	int hd;

	if (!s || sem_init(s, 0, count))
		return 0;
	hd = handle_new(s);
	return hd > 0 ? hd : 0;
}

void Z_hostZ_sem_free(struct Z_host_instance_t *h, u32 sem)
{
	sem_t *s = handle_get(sem);

	handle_free(sem);
	sem_destroy(s);
	free(s);
}

void Z_hostZ_sem_up(struct Z_host_instance_t *h, u32 sem)
{
	sem_post(handle_get(sem));
}

void Z_hostZ_sem_down(struct Z_host_instance_t *h, u32 sem)
{
	sem_t *s = handle_get(sem);

	while (sem_wait(s) && errno == EINTR)
		;
}

u32 Z_hostZ_mutex_alloc(struct Z_host_instance_t *h)
{
	pthread_mutex_t *m = malloc(sizeof(*m));
	int hd;

	if (!m || pthread_mutex_init(m, NULL))
		return 0;
	hd = handle_new(m);
	return hd > 0 ? hd : 0;
}

void Z_hostZ_mutex_free(struct Z_host_instance_t *h, u32 mutex)
{
	pthread_mutex_t *m = handle_get(mutex);

	handle_free(mutex);
	pthread_mutex_destroy(m);
	free(m);
}

void Z_hostZ_mutex_lock(struct Z_host_instance_t *h, u32 mutex)
{
	pthread_mutex_lock(handle_get(mutex));
}

void Z_hostZ_mutex_unlock(struct Z_host_instance_t *h, u32 mutex)
{
	pthread_mutex_unlock(handle_get(mutex));
}

/* ---------- threads and TLS ---------- */
#define MAX_TLS 16
static __thread u32 my_thread_id;
static __thread u32 tls_values[MAX_TLS];
static int next_tls_key = 1;
static int next_thread_id = 1;
static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;

static u32 new_thread_id(void)
{
	u32 id;

	pthread_mutex_lock(&ids_lock);
	id = next_thread_id++;
	pthread_mutex_unlock(&ids_lock);
	return id;
}

struct thread_start {
	u32 id, arg;
};

static void *thread_main(void *p)
{
	struct thread_start ts = *(struct thread_start *)p;

	free(p);
	my_thread_id = ts.id;
	Z_kernelZ_kernel_thread_start(&kinst, ts.arg);
	fprintf(stderr, "host: kernel_thread_start returned\n");
	abort();
}

u32 Z_hostZ_thread_create(struct Z_host_instance_t *h, u32 arg)
{
	struct thread_start *ts = malloc(sizeof(*ts));
	pthread_attr_t attr;
	pthread_t t;
	u32 id;

	if (!ts)
		return 0;
	ts->id = id = new_thread_id();
	ts->arg = arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 8 << 20);
	int err = pthread_create(&t, &attr, thread_main, ts);
	pthread_attr_destroy(&attr);
	if (err) {
		fprintf(stderr, "host: pthread_create: %s\n", strerror(err));
		free(ts);
		return 0;
	}
	return id; /* ts belongs to the new thread now */
}

void Z_hostZ_thread_exit(struct Z_host_instance_t *h)
{
	pthread_exit(NULL);
}

u32 Z_hostZ_thread_join(struct Z_host_instance_t *h, u32 thread)
{
	return (u32)-1; /* threads are created detached */
}

u32 Z_hostZ_thread_self(struct Z_host_instance_t *h)
{
	if (!my_thread_id)
		my_thread_id = new_thread_id();
	return my_thread_id;
}

u32 Z_hostZ_tls_alloc(struct Z_host_instance_t *h)
{
	int k;

	pthread_mutex_lock(&ids_lock);
	k = next_tls_key < MAX_TLS ? next_tls_key++ : 0;
	pthread_mutex_unlock(&ids_lock);
	return k;
}

void Z_hostZ_tls_free(struct Z_host_instance_t *h, u32 key)
{
}

u32 Z_hostZ_tls_set(struct Z_host_instance_t *h, u32 key, u32 value)
{
	if (key == 0 || key >= MAX_TLS)
		return (u32)-1;
	tls_values[key] = value;
	return 0;
}

u32 Z_hostZ_tls_get(struct Z_host_instance_t *h, u32 key)
{
	return key && key < MAX_TLS ? tls_values[key] : 0;
}

/* ---------- time and the one-shot timer ---------- */
static u64 now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

u64 Z_hostZ_time_ns(struct Z_host_instance_t *h)
{
	return now_ns(CLOCK_MONOTONIC);
}

u64 Z_hostZ_wall_time_ns(struct Z_host_instance_t *h)
{
	return now_ns(CLOCK_REALTIME);
}

static pthread_mutex_t timer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cond;
static u64 timer_deadline; /* 0 = disarmed */

static void *timer_main(void *p)
{
	my_thread_id = new_thread_id();
	pthread_mutex_lock(&timer_lock);
	for (;;) {
		if (!timer_deadline) {
			pthread_cond_wait(&timer_cond, &timer_lock);
			continue;
		}
		u64 now = now_ns(CLOCK_MONOTONIC);
		if (now < timer_deadline) {
			struct timespec ts = { timer_deadline / 1000000000ull,
					       timer_deadline % 1000000000ull };
			pthread_cond_timedwait(&timer_cond, &timer_lock, &ts);
			continue;
		}
		timer_deadline = 0;
		pthread_mutex_unlock(&timer_lock);
		Z_kernelZ_kernel_irq(&kinst, 1);
		pthread_mutex_lock(&timer_lock);
	}
	return NULL;
}

u32 Z_hostZ_timer_set(struct Z_host_instance_t *h, u64 delta)
{
	pthread_mutex_lock(&timer_lock);
	timer_deadline = now_ns(CLOCK_MONOTONIC) + (delta ? delta : 1);
	pthread_cond_signal(&timer_cond);
	pthread_mutex_unlock(&timer_lock);
	return 0;
}

void Z_hostZ_timer_cancel(struct Z_host_instance_t *h)
{
	pthread_mutex_lock(&timer_lock);
	timer_deadline = 0;
	pthread_mutex_unlock(&timer_lock);
}

/* ---------- boot inputs ---------- */
u32 Z_hostZ_cmdline(struct Z_host_instance_t *h, u32 buf, u32 size)
{
	u32 n = strlen(cmdline);

	if (n > size)
		n = size;
	memcpy(mem() + buf, cmdline, n);
	return n;
}

u32 Z_hostZ_initrd_size(struct Z_host_instance_t *h)
{
	return 0; /* the test uses the kernel's built-in initramfs */
}

void Z_hostZ_initrd_copy(struct Z_host_instance_t *h, u32 dst)
{
}

/* free pages: zero them, like the Runner's madvise(MADV_DONTNEED) would */
void Z_hostZ_discard(struct Z_host_instance_t *h, u32 addr, u32 len)
{
	memset(mem() + addr, 0, len);
}

/* ---------- console output and size ---------- */
void Z_hostZ_console_write(struct Z_host_instance_t *h, u32 buf, u32 len)
{
	Z_hostZ_print(h, buf, len);
}

u32 Z_hostZ_console_winsize(struct Z_host_instance_t *h)
{
	return 24 << 16 | 80;
}

/* ---------- the executable's own streams (not used by these tests) ---------- */
u32 Z_hostZ_stdin_read(struct Z_host_instance_t *h, u32 buf, u32 size)
{
	return (u32)-1; /* end of input */
}

void Z_hostZ_stdio_write(struct Z_host_instance_t *h, u32 fd, u32 buf, u32 len)
{
	Z_hostZ_print(h, buf, len);
}

/* ---------- randomness: the test host's getrandom ---------- */
u32 Z_hostZ_random(struct Z_host_instance_t *h, u32 buf, u32 len)
{
	ssize_t n = getrandom(mem() + buf, len, 0);

	return n > 0 ? (u32)n : 0;
}

/* ---------- console input ---------- */
static pthread_mutex_t input_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *input_data;
static size_t input_len;

u32 Z_hostZ_console_read(struct Z_host_instance_t *h, u32 buf, u32 size)
{
	u32 n;

	pthread_mutex_lock(&input_lock);
	n = input_len < size ? input_len : size;
	memcpy(mem() + buf, input_data, n);
	input_data += n;
	input_len -= n;
	pthread_mutex_unlock(&input_lock);
	return n;
}

/* a "keyboard": types a line into the console after a delay */
static void *typist_main(void *p)
{
	usleep(200 * 1000);
	pthread_mutex_lock(&input_lock);
	input_data = "typed line\n";
	input_len = strlen(input_data);
	pthread_mutex_unlock(&input_lock);
	my_thread_id = new_thread_id();
	Z_kernelZ_kernel_irq(&kinst, 2);
	return NULL;
}

static volatile s32 child_pid_seen;
static volatile int spin_child, spin_saw_flag;

/* runs on the child's own host thread (created by the kernel) */
/* the test's user code polls the preempt flag itself: nothing to kick */
void Z_hostZ_user_kick(struct Z_host_instance_t *h, u32 thread)
{
}

u32 Z_hostZ_user_clone(struct Z_host_instance_t *h, u32 task, u32 flags, u32 stack, u32 tls)
{
	if (spin_child) {
		/* "user code" busy for up to 2 s, polling the preempt flag */
		u32 flag = Z_kernelZ_kernel_preempt_flag(&kinst);
		u64 end = now_ns(CLOCK_MONOTONIC) + 2000000000ull;

		while (now_ns(CLOCK_MONOTONIC) < end) {
			if (__atomic_load_n((u32 *)(mem() + flag), __ATOMIC_ACQUIRE)) {
				spin_saw_flag = 1;
				break;
			}
		}
		Z_kernelZ_kernel_syscall(&kinst, 124 /* sched_yield */, 0, 0, 0, 0, 0, 0);
		Z_kernelZ_kernel_syscall(&kinst, 94 /* exit_group */, 0, 0, 0, 0, 0, 0);
	}
	child_pid_seen = (s32)Z_kernelZ_kernel_syscall(&kinst, 172 /* getpid */, 0, 0, 0, 0, 0, 0);
	Z_kernelZ_kernel_syscall(&kinst, 94 /* exit_group */, 42, 0, 0, 0, 0, 0);
	return 99; /* not reached */
}

/* ---------- the init task: syscall checks ---------- */
enum {
	NR_ioctl = 29, NR_mkdirat = 34, NR_mount = 40, NR_openat = 56,
	NR_close = 57, NR_read = 63, NR_write = 64, NR_exit_group = 94,
	NR_uname = 160, NR_getpid = 172, NR_socket = 198, NR_socketpair = 199,
	NR_sendto = 206, NR_clone = 220, NR_waitid = 95, NR_rt_sigaction = 134, NR_eventfd2 = 19,
	NR_epoll_create1 = 20, NR_epoll_ctl = 21, NR_epoll_pwait = 22, NR_timerfd_create = 85,
	NR_timerfd_settime64 = 411, NR_recvfrom = 207, NR_mmap2 = 222,
};
#define AT_FDCWD (-100)

static u32 scratch, scratch_top;

static s32 sys(u32 nr, u32 a, u32 b, u32 c, u32 d, u32 e, u32 f)
{
	return (s32)Z_kernelZ_kernel_syscall(&kinst, nr, a, b, c, d, e, f);
}

/* copy bytes into guest scratch memory, return the guest address */
static u32 put(const void *p, u32 n)
{
	u32 at = scratch_top;

	memcpy(mem() + at, p, n);
	scratch_top += (n + 7) & ~7u;
	return at;
}

static u32 str(const char *s)
{
	return put(s, strlen(s) + 1);
}

static void check(const char *name, int ok, const char *fmt, ...)
{
	va_list ap;

	printf("TEST %s: %s", name, ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	if (fmt && *fmt) {
		printf(" (");
		vprintf(fmt, ap);
		printf(")");
	}
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static void test_tmpfs(void)
{
	s32 r, fd;
	u32 buf;

	r = sys(NR_mount, str("tmpfs"), str("/tmp"), str("tmpfs"), 0, 0, 0);
	check("mount-tmpfs", r == 0, "ret %d", r);
	r = sys(NR_mkdirat, AT_FDCWD, str("/tmp/dir"), 0755, 0, 0, 0);
	check("mkdir", r == 0, "ret %d", r);
	fd = sys(NR_openat, AT_FDCWD, str("/tmp/dir/file"), 0x42 /* O_CREAT|O_RDWR */, 0644, 0, 0);
	check("open-create", fd >= 0, "fd %d", fd);
	r = sys(NR_write, fd, str("hello, wasm kernel"), 18, 0, 0, 0);
	check("write", r == 18, "ret %d", r);
	r = sys(NR_close, fd, 0, 0, 0, 0, 0);
	check("close", r == 0, "ret %d", r);
	fd = sys(NR_openat, AT_FDCWD, str("/tmp/dir/file"), 0 /* O_RDONLY */, 0, 0, 0);
	buf = put("", 64);
	memset(mem() + buf, 0, 64);
	r = sys(NR_read, fd, buf, 64, 0, 0, 0);
	check("read-back", r == 18 && !memcmp(mem() + buf, "hello, wasm kernel", 18),
	      "ret %d, \"%.*s\"", r, r > 0 ? r : 0, (char *)mem() + buf);
	sys(NR_close, fd, 0, 0, 0, 0, 0);
}

static void test_proc(void)
{
	s32 r, fd;
	u32 buf;

	r = sys(NR_mount, str("proc"), str("/proc"), str("proc"), 0, 0, 0);
	check("mount-proc", r == 0, "ret %d", r);
	fd = sys(NR_openat, AT_FDCWD, str("/proc/version"), 0, 0, 0, 0);
	buf = put("", 512);
	memset(mem() + buf, 0, 512);
	r = sys(NR_read, fd, buf, 511, 0, 0, 0);
	check("proc-version", r > 0 && strstr((char *)mem() + buf, "Linux version 6.1"),
	      "%s", r > 0 ? strtok((char *)mem() + buf, "\n") : "read failed");
	sys(NR_close, fd, 0, 0, 0, 0, 0);
}

static void test_socketpair(void)
{
	u32 sv = put("\0\0\0\0\0\0\0\0", 8), buf;
	s32 r, s0, s1;

	r = sys(NR_socketpair, 1 /* AF_UNIX */, 1 /* SOCK_STREAM */, 0, sv, 0, 0);
	memcpy(&s0, mem() + sv, 4);
	memcpy(&s1, mem() + sv + 4, 4);
	check("socketpair", r == 0, "ret %d fds %d %d", r, s0, s1);
	r = sys(NR_write, s0, str("ping"), 4, 0, 0, 0);
	buf = put("\0\0\0\0\0\0\0\0", 8);
	r = sys(NR_read, s1, buf, 8, 0, 0, 0);
	check("socketpair-bytes", r == 4 && !memcmp(mem() + buf, "ping", 4), "ret %d", r);
}

static void test_ping(void)
{
	unsigned char ifr[32] = "lo";
	unsigned char sin[16] = { 2, 0, 0, 0, 127, 0, 0, 1 };
	unsigned char echo[16] = { 8, 0, 0, 0, 0, 0, 0, 1, 'w', '2', 'n', 'a', 't', 'i', 'v', 'e' };
	u32 gifr, gbuf;
	s32 fd, r;

	fd = sys(NR_socket, 2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0, 0, 0, 0);
	gifr = put(ifr, sizeof(ifr));
	r = sys(NR_ioctl, fd, 0x8913 /* SIOCGIFFLAGS */, gifr, 0, 0, 0);
	mem()[gifr + 16] |= 1; /* IFF_UP */
	r = sys(NR_ioctl, fd, 0x8914 /* SIOCSIFFLAGS */, gifr, 0, 0, 0);
	check("lo-up", r == 0, "ret %d", r);
	sys(NR_close, fd, 0, 0, 0, 0, 0);

	/* allow ping sockets for gid 0 */
	fd = sys(NR_openat, AT_FDCWD, str("/proc/sys/net/ipv4/ping_group_range"), 1, 0, 0, 0);
	r = sys(NR_write, fd, str("0 0\n"), 4, 0, 0, 0);
	sys(NR_close, fd, 0, 0, 0, 0, 0);

	fd = sys(NR_socket, 2 /* AF_INET */, 2 /* SOCK_DGRAM */, 1 /* IPPROTO_ICMP */, 0, 0, 0);
	check("ping-socket", fd >= 0, "fd %d", fd);
	r = sys(NR_sendto, fd, put(echo, sizeof(echo)), sizeof(echo), 0, put(sin, 16), 16);
	check("icmp-echo-send", r == sizeof(echo), "ret %d", r);
	gbuf = put("", 64);
	memset(mem() + gbuf, 0, 64);
	r = sys(NR_recvfrom, fd, gbuf, 64, 0x40 /* MSG_DONTWAIT */, 0, 0);
	if (r == -11) /* EAGAIN: the reply is processed by the softirq; block */
		r = sys(NR_recvfrom, fd, gbuf, 64, 0, 0, 0);
	check("icmp-echo-reply", r == sizeof(echo) && mem()[gbuf] == 0 &&
	      !memcmp(mem() + gbuf + 8, "w2native", 8), "ret %d type %d", r, mem()[gbuf]);
}

static void test_console(void)
{
	pthread_t typist;
	s32 fd, r;
	u32 buf;

	fd = sys(NR_openat, AT_FDCWD, str("/dev/console"), 2 /* O_RDWR */, 0, 0, 0);
	check("console-open", fd >= 0, "fd %d", fd);
	r = sys(NR_write, fd, str("console says hi\n"), 16, 0, 0, 0);
	check("console-write", r == 16, "ret %d", r);
	/* blocking read, woken by the console interrupt from another thread */
	pthread_create(&typist, NULL, typist_main, NULL);
	buf = put("", 64);
	memset(mem() + buf, 0, 64);
	r = sys(NR_read, fd, buf, 63, 0, 0, 0);
	check("console-read", r == 11 && !memcmp(mem() + buf, "typed line\n", 11),
	      "ret %d \"%.*s\"", r, r > 0 ? r - 1 : 0, (char *)mem() + buf);
	pthread_join(typist, NULL);
}

static void test_clone(void)
{
	u32 info = put("", 128);
	s32 pid, r, st, code;

	/* NOMMU: a child shares the memory (CLONE_VM); SIGCHLD on exit */
	pid = sys(NR_clone, 0x100 /* CLONE_VM */ | 17 /* SIGCHLD */, 0, 0, 0, 0, 0);
	check("clone", pid > 1, "pid %d", pid);
	/* no wait4 with 64-bit time only (like riscv32): waitid */
	memset(mem() + info, 0, 128);
	r = sys(NR_waitid, 1 /* P_PID */, pid, info, 4 /* WEXITED */, 0, 0);
	memcpy(&code, mem() + info + 8, 4);
	memcpy(&st, mem() + info + 20, 4);
	check("waitid-child-exit", r == 0 && code == 1 /* CLD_EXITED */ && st == 42 &&
	      child_pid_seen == pid, "ret %d code %d status %d child saw pid %d",
	      r, code, st, child_pid_seen);
}

/* SIGCHLD must interrupt a blocking read (the shell prompt bug of WasmLinux) */
static void test_sigchld_interrupts_read(void)
{
	static const char zeros[144];
	u32 act = put("", 16), handler = put(zeros, 144), buf = put("", 16);
	u32 info = put("", 128);
	s32 fd, pid, r, sig;
	u32 h = 0;

	memset(mem() + act, 0, 16);
	h = 12345; /* a user-module function index, opaque to the kernel */
	memcpy(mem() + act, &h, 4);
	r = sys(NR_rt_sigaction, 17 /* SIGCHLD */, act, 0, 8, 0, 0);
	check("sigaction", r == 0, "ret %d", r);
	fd = sys(NR_openat, AT_FDCWD, str("/dev/console"), 2, 0, 0, 0);
	pid = sys(NR_clone, 0x100 | 17, 0, 0, 0, 0, 0);
	/* blocks: nobody types; the child's exit must end it */
	r = sys(NR_read, fd, buf, 16, 0, 0, 0);
	sig = (s32)Z_kernelZ_kernel_get_signal(&kinst, handler, 144);
	memcpy(&h, mem() + handler, 4);
	check("sigchld-interrupts-read", r == -4 /* EINTR */ && sig == 17 && h == 12345,
	      "read %d, signal %d, handler %u", r, sig, h);
	r = sys(NR_waitid, 1, pid, info, 4, 0, 0);
	check("reap", r == 0, "ret %d", r);
}

static void test_fds(void)
{
	unsigned char one[8] = { 1 }, ev[16] = { 1 /* EPOLLIN */ };
	/* itimerspec64: interval {0, 0}, value {0 s, 50 ms} */
	s64 its[4] = { 0, 0, 0, 50 * 1000 * 1000 };
	u32 buf = put("", 64), evs = put("", 64);
	s32 efd, ep, tfd, r;
	u64 t0, t1, n = 0;

	efd = sys(NR_eventfd2, 0, 0, 0, 0, 0, 0);
	ep = sys(NR_epoll_create1, 0, 0, 0, 0, 0, 0);
	r = sys(NR_epoll_ctl, ep, 1 /* EPOLL_CTL_ADD */, efd, put(ev, 16), 0, 0);
	check("eventfd+epoll-setup", efd >= 0 && ep >= 0 && r == 0, "efd %d ep %d ret %d", efd, ep, r);
	sys(NR_write, efd, put(one, 8), 8, 0, 0, 0);
	r = sys(NR_epoll_pwait, ep, evs, 4, 1000, 0, 8);
	check("epoll-wait-eventfd", r == 1, "ret %d", r);

	tfd = sys(NR_timerfd_create, 1 /* CLOCK_MONOTONIC */, 0, 0, 0, 0, 0);
	r = sys(NR_timerfd_settime64, tfd, 0, put(its, sizeof(its)), 0, 0, 0);
	t0 = now_ns(CLOCK_MONOTONIC);
	r = r ? r : sys(NR_read, tfd, buf, 8, 0, 0, 0); /* blocks until the timer IRQ */
	t1 = now_ns(CLOCK_MONOTONIC);
	memcpy(&n, mem() + buf, 8);
	{
		s32 f = sys(422 /* futex_time64 */, put("\0\0\0\0", 4), 1 /* FUTEX_WAKE */, 1, 0, 0, 0);
		check("futex-wake", f == 0, "ret %d", f);
		f = sys(74 /* signalfd4 */, -1, put("\0\0\1\0\0\0\0\0", 8) /* SIGUSR1 */, 8, 0, 0, 0);
		check("signalfd", f >= 0, "fd %d", f);
	}
	check("timerfd-50ms", r == 8 && n == 1 && t1 - t0 >= 40000000ull,
	      "ret %d expirations %llu after %.1f ms", r, (unsigned long long)n, (t1 - t0) / 1e6);
}

/* a task busy in user code must yield when an interrupt woke another one */
static void test_preempt_flag(void)
{
	s64 its[4] = { 0, 0, 0, 30 * 1000 * 1000 };
	u32 buf = put("", 8), info = put("", 128);
	s32 tfd, pid, r;
	u64 t0, t1;

	tfd = sys(NR_timerfd_create, 1, 0, 0, 0, 0, 0);
	spin_child = 1;
	pid = sys(NR_clone, 0x100 | 17, 0, 0, 0, 0, 0);
	sys(NR_timerfd_settime64, tfd, 0, put(its, sizeof(its)), 0, 0, 0);
	t0 = now_ns(CLOCK_MONOTONIC);
	r = sys(NR_read, tfd, buf, 8, 0, 0, 0); /* the spinning child holds the CPU */
	t1 = now_ns(CLOCK_MONOTONIC);
	check("preempt-flag", r == 8 && spin_saw_flag && t1 - t0 < 1000000000ull,
	      "read %d after %.1f ms, child saw flag %d", r, (t1 - t0) / 1e6, spin_saw_flag);
	sys(NR_waitid, 1, pid, info, 4, 0, 0);
	spin_child = 0;
}

static void test_pty(void)
{
	u32 ptn = put("\0\0\0\0", 4), buf = put("", 64);
	s32 r, m, sl, n = -1;
	char path[32];

	sys(NR_mkdirat, AT_FDCWD, str("/dev/pts"), 0755, 0, 0, 0);
	r = sys(NR_mount, str("devpts"), str("/dev/pts"), str("devpts"), 0, 0, 0);
	check("mount-devpts", r == 0, "ret %d", r);
	m = sys(NR_openat, AT_FDCWD, str("/dev/pts/ptmx"), 2 | 0x100 /* O_RDWR|O_NOCTTY */, 0, 0, 0);
	r = sys(NR_ioctl, m, 0x80045430 /* TIOCGPTN */, ptn, 0, 0, 0);
	memcpy(&n, mem() + ptn, 4);
	r = sys(NR_ioctl, m, 0x40045431 /* TIOCSPTLCK */, put("\0\0\0\0", 4), 0, 0, 0);
	snprintf(path, sizeof(path), "/dev/pts/%d", n);
	sl = sys(NR_openat, AT_FDCWD, str(path), 2 | 0x100, 0, 0, 0);
	check("pty-open", m >= 0 && sl >= 0, "master %d slave %d (%s)", m, sl, path);
	r = sys(NR_write, m, str("pty ok\n"), 7, 0, 0, 0);
	memset(mem() + buf, 0, 64);
	r = sys(NR_read, sl, buf, 63, 0, 0, 0);
	check("pty-master-to-slave", r == 7 && !memcmp(mem() + buf, "pty ok\n", 7), "ret %d", r);
}

u32 Z_hostZ_user_start(struct Z_host_instance_t *h, u32 task, u32 path, u32 len)
{
	printf("host: boot to /init took %.1f ms\n",
	       (now_ns(CLOCK_MONOTONIC) - boot_start_ns) / 1e6);
	printf("host: user_start task=%#x path=%.*s\n", task, (int)len, (char *)mem() + path);
	check("init-exec", len == 5 && !memcmp(mem() + path, "/init", 5), "%.*s", (int)len,
	      (char *)mem() + path);
	check("getpid", sys(NR_getpid, 0, 0, 0, 0, 0, 0) == 1, "");
	scratch = sys(NR_mmap2, 0, 65536, 3, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
	check("mmap", scratch < 0xfffff000u, "addr %#x", scratch);
	scratch_top = scratch;
	{
		u32 buf = put("", 256);
		s32 n = (s32)Z_kernelZ_kernel_exec_args(&kinst, buf, 256);
		u32 argc = 0;

		if (n >= 12)
			memcpy(&argc, mem() + buf, 4);
		check("exec-args", n >= 12 && argc == 1 && !strcmp((char *)mem() + buf + 12, "/init"),
		      "size %d argc %u argv0 %s", n, argc, n >= 12 ? (char *)mem() + buf + 12 : "-");
	}
	test_tmpfs();
	test_proc();
	test_socketpair();
	test_ping();
	test_console();
	test_fds();
	test_pty();
	test_preempt_flag();
	test_clone();
	test_sigchld_interrupts_read();
	/* power off through the kernel: ends in host.halt(2, 0) */
	sys(142 /* reboot */, 0xfee1dead, 672274793, 0x4321fedc /* POWER_OFF */, 0, 0, 0);
	printf("host: reboot(POWER_OFF) returned\n");
	fflush(stdout);
	_exit(1);
}

static void on_fatal_signal(int sig)
{
	static const char msg[] = "\nhost: fatal signal (trap or crash in kernel code)\n";

	write(1, msg, sizeof(msg) - 1);
	_exit(3);
}

int main(int argc, char **argv)
{
	pthread_t timer;
	pthread_condattr_t ca;
	u32 mem_mb = 64;

	if (argc > 1)
		cmdline = argv[1];
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	my_thread_id = new_thread_id();
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&timer_cond, &ca);

	wasm_rt_init();
	signal(SIGSEGV, on_fatal_signal);
	signal(SIGBUS, on_fatal_signal);
	signal(SIGILL, on_fatal_signal);
	Z_kernel_init_module();
	Z_kernel_instantiate(&kinst, NULL);
	pthread_create(&timer, NULL, timer_main, NULL);
	alarm(60);
	boot_start_ns = now_ns(CLOCK_MONOTONIC);
	Z_kernelZ_kernel_boot(&kinst, mem_mb << 20);
	fprintf(stderr, "host: kernel_boot returned\n");
	return 4;
}

/* wasm2c traps (unreachable, bad indirect call, ...) end the test */
void wasm_rt_trap(wasm_rt_trap_t code)
{
	printf("\nhost: wasm trap: %s\n", wasm_rt_strerror(code));
	fflush(stdout);
	_exit(3);
}
