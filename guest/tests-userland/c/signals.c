/* Signal handlers on the guest ABI: the Runner calls __w2n_signal, which must
 * call one-argument and SA_SIGINFO handlers with their own prototypes, and a
 * handler may leave with siglongjmp (the exception crosses the import that
 * delivered the signal); sigsetjmp(env, 1) restores the mask. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile int plain_sig, info_sig, info_code = -1;
static sigjmp_buf env;

static void plain(int sig) { plain_sig = sig; }

static void with_info(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	info_sig = si->si_signo;
	info_code = si->si_code;
	/* the interrupted mask is in the context; the signal itself is blocked now */
	sigset_t now;
	sigprocmask(SIG_BLOCK, 0, &now);
	printf("in handler: USR2 blocked now %d, in uc_sigmask %d\n",
		sigismember(&now, SIGUSR2), sigismember(&uc->uc_sigmask, SIGUSR2));
}

static void jumper(int sig) { siglongjmp(env, sig); }

int main(int argc, char **argv)
{
	signal(SIGUSR1, plain);
	raise(SIGUSR1);
	printf("plain handler got %d\n", plain_sig);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = with_info;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR2, &sa, 0);
	raise(SIGUSR2);
	printf("siginfo handler got %d, sent by a process %d\n", info_sig, info_code <= 0);

	signal(SIGHUP, jumper);
	int got = sigsetjmp(env, 1);
	if (got == 0) {
		raise(SIGHUP);
		puts("not reached");
	}
	sigset_t now;
	sigprocmask(SIG_BLOCK, 0, &now);
	printf("siglongjmp from handler returned %d, HUP blocked after %d\n",
		got, sigismember(&now, SIGHUP));
	return 0;
}
