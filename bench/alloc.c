/* Allocation-heavy: binary trees built and freed through a size-class
   allocator written here (so native and wasm run the same algorithm, not
   glibc's malloc against wasi-libc's), plus a churn of mixed-size blocks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CLASSES 32 /* 16-byte granules: sizes up to 512 bytes */
#define CHUNK (1 << 20)

struct free_block { struct free_block *next; };
static struct free_block *free_list[CLASSES];
static char *arena_cur, *arena_end;
static size_t live;

static void *balloc(size_t size) {
    size_t c = (size + 15) / 16;
    if (c >= CLASSES) abort();
    struct free_block *b = free_list[c];
    live++;
    if (b) { free_list[c] = b->next; return b; }
    size_t bytes = c * 16;
    if (arena_cur + bytes > arena_end) {
        arena_cur = malloc(CHUNK);
        if (!arena_cur) abort();
        arena_end = arena_cur + CHUNK;
    }
    void *p = arena_cur;
    arena_cur += bytes;
    return p;
}

static void bfree(void *p, size_t size) {
    size_t c = (size + 15) / 16;
    struct free_block *b = p;
    b->next = free_list[c];
    free_list[c] = b;
    live--;
}

struct node { struct node *l, *r; int32_t v; };

static struct node *tree(int depth, int32_t v) {
    struct node *n = balloc(sizeof *n);
    n->v = v;
    if (depth > 0) { n->l = tree(depth - 1, 2 * v); n->r = tree(depth - 1, 2 * v + 1); }
    else n->l = n->r = 0;
    return n;
}

static int64_t check(const struct node *n) { return n->l ? n->v + check(n->l) - check(n->r) : n->v; }

static void drop(struct node *n) {
    if (n->l) { drop(n->l); drop(n->r); }
    bfree(n, sizeof *n);
}

int main(int argc, char **argv) {
    /* argv[1]: tree depth (default 16); the churn shrinks with it. */
    int depth = argc > 1 ? atoi(argv[1]) : 16;
    int rounds = depth >= 16 ? 2000 : 200;
    int64_t total = 0;
    struct node *longlived = tree(depth, 1);
    for (int d = 4; d <= depth; d += 2) {
        int iters = 1 << (depth - d + 4);
        for (int i = 0; i < iters; i++) {
            struct node *t = tree(d, i);
            total += check(t);
            drop(t);
        }
    }
    total += check(longlived);
    drop(longlived);
    /* Mixed sizes: a ring of 4096 slots, each replaced 2000 times. */
    enum { SLOTS = 4096 };
    static void *slot[SLOTS];
    static uint16_t slot_size[SLOTS];
    uint32_t x = 7;
    for (int r = 0; r < rounds * SLOTS; r++) {
        int s = r % SLOTS;
        if (slot[s]) { total += ((uint8_t *)slot[s])[0]; bfree(slot[s], slot_size[s]); }
        x = x * 1664525u + 1013904223u;
        size_t size = 8 + (x >> 24) % 480;
        slot[s] = balloc(size);
        slot_size[s] = (uint16_t)size;
        /* Touch both ends (no memset: glibc's and wasi-libc's differ). */
        uint8_t *bytes = slot[s];
        bytes[0] = (uint8_t)(x >> 8);
        bytes[size - 1] = (uint8_t)(x >> 16);
    }
    printf("%lld %zu\n", (long long)total, live);
    return 0;
}
