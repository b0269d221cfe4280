#include <string.h>

/* One memory.fill (see memcpy.c). */
void *memset(void *dest, int c, size_t n)
{
	return __builtin_memset(dest, c, n);
}
