/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_SYSCALL_WRAPPER_H
#define _ASM_WASM_SYSCALL_WRAPPER_H
/*
 * wasm call_indirect checks the exact function type, so the syscall table
 * cannot hold functions of different arities. Every syscall gets a uniform
 * entry point  long __wasm_sys_NAME(const long *slots)  that reads its
 * arguments from the six 32-bit slots. The slots are read through a packed
 * struct whose members are the syscall's arguments widened like
 * __SC_LONG(), so a 64-bit argument takes two slots (low word first).
 */

/* like __MAP() but without commas between the items */
#define __WASM_MAP0(m, ...)
#define __WASM_MAP1(m, t, a, ...) m(t, a)
#define __WASM_MAP2(m, t, a, ...) m(t, a) __WASM_MAP1(m, __VA_ARGS__)
#define __WASM_MAP3(m, t, a, ...) m(t, a) __WASM_MAP2(m, __VA_ARGS__)
#define __WASM_MAP4(m, t, a, ...) m(t, a) __WASM_MAP3(m, __VA_ARGS__)
#define __WASM_MAP5(m, t, a, ...) m(t, a) __WASM_MAP4(m, __VA_ARGS__)
#define __WASM_MAP6(m, t, a, ...) m(t, a) __WASM_MAP5(m, __VA_ARGS__)
#define __WASM_MAP(n, ...) __WASM_MAP##n(__VA_ARGS__)

#define __WASM_SC_FIELD(t, a)	__typeof(__builtin_choose_expr(__TYPE_IS_LL(t), 0LL, 0L)) a;
#define __WASM_SC_GET(t, a)	__wasm_p->a

#define __SYSCALL_DEFINEx(x, name, ...)					\
	struct __wasm_args##name {					\
		__WASM_MAP(x, __WASM_SC_FIELD, __VA_ARGS__)			\
	} __packed;							\
	long __se_sys##name(__MAP(x,__SC_LONG,__VA_ARGS__));		\
	static inline long __do_sys##name(__MAP(x,__SC_DECL,__VA_ARGS__));\
	long __wasm_sys##name(const long *__wasm_slots);		\
	long __wasm_sys##name(const long *__wasm_slots)			\
	{								\
		const struct __wasm_args##name *__wasm_p =		\
			(const void *)__wasm_slots;			\
		return __se_sys##name(__MAP(x, __WASM_SC_GET, __VA_ARGS__));\
	}								\
	long __se_sys##name(__MAP(x,__SC_LONG,__VA_ARGS__))		\
	{								\
		long ret = __do_sys##name(__MAP(x,__SC_CAST,__VA_ARGS__));\
		__MAP(x,__SC_TEST,__VA_ARGS__);				\
		return ret;						\
	}								\
	static inline long __do_sys##name(__MAP(x,__SC_DECL,__VA_ARGS__))

#define SYSCALL_DEFINE0(sname)						\
	SYSCALL_METADATA(_##sname, 0);					\
	static long __do_sys_##sname(void);				\
	long __wasm_sys_##sname(const long *__wasm_slots);		\
	long __wasm_sys_##sname(const long *__wasm_slots)		\
	{								\
		return __do_sys_##sname();				\
	}								\
	static long __do_sys_##sname(void)

#define COND_SYSCALL(name)						\
	long __weak __wasm_sys_##name(const long *__wasm_slots)	\
	{								\
		return -ENOSYS;						\
	}

#define COND_SYSCALL_COMPAT(name)
#define SYS_NI(name)		COND_SYSCALL(name)

long __wasm_sys_ni_syscall(const long *__wasm_slots);
#endif
