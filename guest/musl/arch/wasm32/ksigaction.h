/* The kernel port has no SA_RESTORER, so its struct sigaction is
 * { handler, flags, mask } (16 bytes).  musl's sigaction.c always fills a
 * restorer field; it is kept here but placed after the mask, where the
 * kernel neither reads nor writes it. */
#include <features.h>

struct k_sigaction {
	void (*handler)(int);
	unsigned long flags;
	unsigned mask[2];
	void (*restorer)(void);
};

hidden void __restore(), __restore_rt();
