/* wasm32 ftw.  The generic version passes the three-argument ftw callback to
 * nftw, which calls it with four arguments: undefined behaviour that wasm's
 * call_indirect signature check turns into a trap.  Here an adapter with the
 * nftw prototype calls the user's function with exactly three arguments.
 * The callback is kept per thread and restored on return, so ftw may be
 * used from several threads and re-entered from a callback. */
#include <ftw.h>

static __thread int (*ftw_fn)(const char *, const struct stat *, int);

static int ftw_adapter(const char *path, const struct stat *st, int type,
	struct FTW *ftw)
{
	return ftw_fn(path, st, type);
}

int ftw(const char *path, int (*fn)(const char *, const struct stat *, int), int fd_limit)
{
	int (*saved)(const char *, const struct stat *, int) = ftw_fn;
	int r;
	ftw_fn = fn;
	r = nftw(path, ftw_adapter, fd_limit, FTW_PHYS);
	ftw_fn = saved;
	return r;
}

weak_alias(ftw, ftw64);
