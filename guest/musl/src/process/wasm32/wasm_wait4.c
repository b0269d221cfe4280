/* wait4 for a time64-only kernel, which has waitid but no wait4: the same
 * selection of children, status re-encoded from the siginfo the kernel fills.
 * The rusage buffer (kernel layout) is passed through unchanged. */
#define _GNU_SOURCE
#include <sys/wait.h>
#include <signal.h>
#include <string.h>
#include "syscall.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

hidden long __wasm_wait4(long pid, long status, long options, long rusage)
{
	siginfo_t si;
	int idtype, id, st;
	long r;

	if (pid < -1) idtype = P_PGID, id = -pid;
	else if (pid == -1) idtype = P_ALL, id = 0;
	else if (pid == 0) idtype = P_PGID, id = 0;   /* caller's group (Linux >= 5.4) */
	else idtype = P_PID, id = pid;

	memset(&si, 0, sizeof si);
	/* WUNTRACED and WSTOPPED are the same bit; waitid needs WEXITED. */
	r = __syscall_cp(SYS_waitid, idtype, id, &si, options | WEXITED, rusage);
	if (r < 0) return r;
	if (!si.si_pid) return 0;                      /* WNOHANG, nothing yet */

	switch (si.si_code) {
	case CLD_EXITED:    st = (si.si_status & 0xff) << 8; break;
	case CLD_KILLED:    st = si.si_status & 0x7f; break;
	case CLD_DUMPED:    st = (si.si_status & 0x7f) | 0x80; break;
	case CLD_STOPPED:
	case CLD_TRAPPED:   st = (si.si_status & 0xff) << 8 | 0x7f; break;
	case CLD_CONTINUED: st = 0xffff; break;
	default:            st = 0;
	}
	if (status) *(int *)status = st;
	return si.si_pid;
}
