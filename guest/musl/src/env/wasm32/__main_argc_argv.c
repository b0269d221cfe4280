/* crt1 calls main as clang names `int main(int, char **)`: __main_argc_argv.
 * A program written as `int main(void)` defines __main_void instead; for it
 * this weak definition (pulled from libc.a only when the program has no
 * __main_argc_argv) forwards with the right prototype. */
#include <features.h>

int __main_void(void);

weak int __main_argc_argv(int argc, char **argv)
{
	return __main_void();
}
