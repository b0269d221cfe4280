/* wasm32 has no ELF dynamic linker: busybox.wasm is one position-independent
 * module placed by the Runner.  Only the names generic code needs exist. */
#define LDSO_ARCH "wasm32"

#define CRTJMP(pc,sp) __builtin_trap()
#define GETFUNCSYM(fp, sym, got) (*(fp) = (void *)0)
