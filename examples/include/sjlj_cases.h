/* setjmp/longjmp cases shared by sjlj_wasm.c (clang -wasm-enable-sjlj) and
 * sjlj_emscripten.c (clang -enable-emscripten-sjlj): the same program,
 * the same golden output, two lowerings.  The includer declares jmp_buf,
 * setjmp and longjmp (wasi-libc has no <setjmp.h>). */
#include <stdio.h>
#include <stdlib.h>

/* 1. longjmp across three frames. */
static jmp_buf across;
static int depth_reached;

static void level3(int v) { depth_reached = 3; longjmp(across, v); }
static void level2(int v) { depth_reached = 2; level3(v + 1); puts("not reached 2"); }
static void level1(int v) { depth_reached = 1; level2(v + 1); puts("not reached 1"); }

static void case_across(void)
{
	int r = setjmp(across);
	if (r == 0) {
		level1(40);
		puts("not reached 0");
	}
	printf("across: setjmp returned %d after depth %d\n", r, depth_reached);
}

/* 2. nested setjmp: an inner buffer in a callee, the outer one in the caller. */
static jmp_buf outer, inner;

static void jump_outer(void) { longjmp(outer, 2); }

static int nested_callee(void)
{
	int r = setjmp(inner);
	if (r == 0)
		longjmp(inner, 5);
	printf("nested: inner setjmp returned %d\n", r);
	jump_outer();
	return -1;
}

static void case_nested(void)
{
	int r = setjmp(outer);
	if (r == 0) {
		nested_callee();
		puts("not reached");
	}
	printf("nested: outer setjmp returned %d\n", r);
}

/* 3. the same setjmp re-entered several times. */
static jmp_buf again;

static void bump(int n) { longjmp(again, n + 1); }

static void case_reentered(void)
{
	volatile int rounds = 0;
	int r = setjmp(again);
	rounds++;
	if (r < 5)
		bump(r);
	printf("reentered: %d rounds, last value %d\n", rounds, r);
}

/* 4. longjmp out of a qsort comparator (through libc frames). */
static jmp_buf from_qsort;
static int compares;

static int cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	if (++compares == 10)
		longjmp(from_qsort, x == y ? 1 : 100 + (x > y));
	return (x > y) - (x < y);
}

static void case_qsort(void)
{
	int v[64];
	for (int i = 0; i < 64; i++)
		v[i] = (i * 37) % 64;
	int r = setjmp(from_qsort);
	if (r == 0) {
		qsort(v, 64, sizeof v[0], cmp);
		puts("not reached");
	}
	printf("qsort: escaped after %d compares (code %d)\n", compares, r > 0);
}

/* 5. longjmp out of a deep recursion. */
static jmp_buf bottom;

static int recurse(int n)
{
	if (n == 0)
		longjmp(bottom, 77);
	return recurse(n - 1) + 1;
}

static void case_deep(void)
{
	int r = setjmp(bottom);
	if (r == 0)
		printf("never: %d\n", recurse(20000));
	printf("deep: came back with %d\n", r);
}

/* 6. volatile locals keep the values they had at longjmp time; 0 becomes 1. */
static jmp_buf vol;

static void jump_zero(void) { longjmp(vol, 0); }

static void case_volatile(void)
{
	volatile int counter = 1;
	volatile double scaled = 0.5;
	volatile long long big = 1;
	int r = setjmp(vol);
	if (r == 0) {
		counter = 42;
		scaled = 2.75;
		big = 1LL << 40;
		jump_zero();
	}
	printf("volatile: r=%d counter=%d scaled=%.2f big=%lld\n", r, counter, scaled, big);
}

int main(void)
{
	case_across();
	case_nested();
	case_reentered();
	case_qsort();
	case_deep();
	case_volatile();
	puts("done");
	return 0;
}
