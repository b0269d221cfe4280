/* Quicksort of 10M pseudo-random ints (own implementation: median of three,
   insertion sort below 16 elements); prints a checksum of the sorted array. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void insertion(int32_t *a, long n) {
    for (long i = 1; i < n; i++) {
        int32_t v = a[i];
        long j = i - 1;
        while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}

static void swap(int32_t *a, int32_t *b) { int32_t t = *a; *a = *b; *b = t; }

static void quicksort(int32_t *a, long n) {
    while (n > 16) {
        long m = n / 2;
        if (a[m] < a[0]) swap(&a[m], &a[0]);
        if (a[n - 1] < a[0]) swap(&a[n - 1], &a[0]);
        if (a[n - 1] < a[m]) swap(&a[n - 1], &a[m]);
        int32_t pivot = a[m];
        long i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i >= j) break;
            swap(&a[i], &a[j]);
            i++; j--;
        }
        /* Recurse into the smaller half, loop on the larger one. */
        if (j + 1 < n - j - 1) { quicksort(a, j + 1); a += j + 1; n -= j + 1; }
        else { quicksort(a + j + 1, n - j - 1); n = j + 1; }
    }
    insertion(a, n);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    int32_t *a = malloc(n * sizeof *a);
    if (!a) return 1;
    uint32_t x = 42;
    for (long i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; a[i] = (int32_t)x; }
    quicksort(a, n);
    uint64_t sum = 0;
    for (long i = 0; i < n; i++) {
        if (i && a[i - 1] > a[i]) { printf("not sorted at %ld\n", i); return 1; }
        sum = sum * 31 + (uint32_t)a[i];
    }
    printf("%llu\n", (unsigned long long)sum);
    free(a);
    return 0;
}
