// Sorting 200,000 pseudo-random integers with libc qsort (a callback through
// the function table on every comparison), then a checksum of the result.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t state = 12345;
static uint32_t next(void) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

static int cmp(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int main(void) {
    enum { N = 200000 };
    int32_t *v = malloc(N * sizeof *v);
    for (int i = 0; i < N; i++) v[i] = (int32_t)next();
    qsort(v, N, sizeof *v, cmp);
    for (int i = 1; i < N; i++)
        if (v[i - 1] > v[i]) { printf("not sorted at %d\n", i); return 1; }
    uint64_t sum = 0;
    for (int i = 0; i < N; i++) sum = sum * 31 + (uint32_t)v[i];
    printf("min=%d max=%d median=%d\n", v[0], v[N - 1], v[N / 2]);
    printf("checksum=%016llx\n", (unsigned long long)sum);
    free(v);
    return 0;
}
