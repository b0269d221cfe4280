/* wasm32 sigsetjmp: <setjmp.h> defines
 *     sigsetjmp(env, save)  as  setjmp(__wasm_sigsetjmp(env, save))
 * so the setjmp itself is lowered in the caller; this helper only records the
 * signal mask when asked to.  siglongjmp restores it. */
#include <setjmp.h>
#include <signal.h>
#include "syscall.h"

struct __jmp_buf_tag *__wasm_sigsetjmp(struct __jmp_buf_tag *env, int save)
{
	env->__fl = save != 0;
	if (save)
		__syscall(SYS_rt_sigprocmask, SIG_SETMASK, 0, env->__ss, _NSIG/8);
	return env;
}
