/* Checks w2n_call_protected / w2n_unwind (src/arch/*.S) on their own: a
 * normal return gives 0, an unwind from deep frames gives 1, and callee-saved
 * state (a register-held double, a stack slot) survives. */
#include <stdio.h>
typedef struct { unsigned long long r[32]; } __attribute__((aligned(16))) buf_t;
int w2n_call_protected(buf_t *, void (*)(void *), void *);
void w2n_unwind(buf_t *) __attribute__((noreturn));
static buf_t b;
static void deep(int n) { volatile char pad[100]; pad[0] = n; if (n == 0) w2n_unwind(&b); deep(n - 1); pad[1] = 0; }
static void f(void *ctx) { *(int *)ctx += 1; if (*(int *)ctx == 2) deep(50); }
int main() {
  register double keep = 3.5; volatile int sentinel = 1234; int c = 0;
  int r1 = w2n_call_protected(&b, f, &c);
  int r2 = w2n_call_protected(&b, f, &c);
  printf("r1=%d r2=%d c=%d sentinel=%d keep=%g\n", r1, r2, c, sentinel, keep);
  return !(r1 == 0 && r2 == 1 && c == 2 && sentinel == 1234);
}
