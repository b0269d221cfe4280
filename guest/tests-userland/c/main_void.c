/* `int main(void)` reaches the program through libc's __main_argc_argv. */
#include <stdio.h>

int main(void)
{
	puts("main(void) ok");
	return 0;
}
