/* Host side of a wasm2c-compiled workload: instantiates module "bench" and
   implements the few WASI preview1 calls the workloads import (stdout/stderr
   writes, arguments, exit). Everything else answers ENOSYS (52). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "module.h"
#include "wasm-rt-impl.h"

struct Z_wasi_snapshot_preview1_instance_t {
    wasm_rt_memory_t *memory;
    int argc;
    char **argv;
};

#define MEM(w) ((w)->memory->data)
#define ENOSYS_ 52
#define EBADF_ 8

static void put32(struct Z_wasi_snapshot_preview1_instance_t *w, u32 at, u32 v) { memcpy(MEM(w) + at, &v, 4); }
static u32 get32(struct Z_wasi_snapshot_preview1_instance_t *w, u32 at) {
    u32 v;
    memcpy(&v, MEM(w) + at, 4);
    return v;
}

u32 Z_wasi_snapshot_preview1Z_args_sizes_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 argc, u32 size) {
    u32 bytes = 0;
    for (int i = 0; i < w->argc; i++) bytes += (u32)strlen(w->argv[i]) + 1;
    put32(w, argc, (u32)w->argc);
    put32(w, size, bytes);
    return 0;
}

u32 Z_wasi_snapshot_preview1Z_args_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 argv, u32 buf) {
    for (int i = 0; i < w->argc; i++) {
        size_t n = strlen(w->argv[i]) + 1;
        memcpy(MEM(w) + buf, w->argv[i], n);
        put32(w, argv + 4 * (u32)i, buf);
        buf += (u32)n;
    }
    return 0;
}

u32 Z_wasi_snapshot_preview1Z_environ_sizes_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 count, u32 size) {
    put32(w, count, 0);
    put32(w, size, 0);
    return 0;
}

u32 Z_wasi_snapshot_preview1Z_environ_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 env, u32 buf) {
    (void)w; (void)env; (void)buf;
    return 0;
}

u32 Z_wasi_snapshot_preview1Z_fd_write(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd, u32 iovs, u32 n, u32 written) {
    if (fd != 1 && fd != 2) return EBADF_;
    u32 total = 0;
    for (u32 i = 0; i < n; i++) {
        u32 ptr = get32(w, iovs + 8 * i), len = get32(w, iovs + 8 * i + 4);
        while (len > 0) {
            ssize_t r = write((int)fd, MEM(w) + ptr, len);
            if (r <= 0) return 29; /* EIO */
            ptr += (u32)r; len -= (u32)r; total += (u32)r;
        }
    }
    put32(w, written, total);
    return 0;
}

u32 Z_wasi_snapshot_preview1Z_fd_close(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd) { (void)w; (void)fd; return 0; }

u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd, u32 out) {
    if (fd > 2) return EBADF_;
    memset(MEM(w) + out, 0, 24);
    MEM(w)[out] = 2; /* character device: stdio stays line-buffered like native */
    return 0;
}

u32 Z_wasi_snapshot_preview1Z_fd_seek(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd, u64 off, u32 whence, u32 out) {
    (void)w; (void)fd; (void)off; (void)whence; (void)out;
    return 70; /* ESPIPE */
}

u32 Z_wasi_snapshot_preview1Z_clock_time_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 id, u64 precision, u32 out) {
    (void)w; (void)id; (void)precision; (void)out;
    return ENOSYS_;
}

void Z_wasi_snapshot_preview1Z_proc_exit(struct Z_wasi_snapshot_preview1_instance_t *w, u32 code) {
    (void)w;
    exit((int)code);
}

int main(int argc, char **argv) {
    static Z_bench_instance_t instance;
    static struct Z_wasi_snapshot_preview1_instance_t wasi;
    wasi.argc = argc;
    wasi.argv = argv;
    wasm_rt_init();
    Z_bench_init_module();
    Z_bench_instantiate(&instance, &wasi);
    wasi.memory = Z_benchZ_memory(&instance);
    wasm_rt_trap_t trap = (wasm_rt_trap_t)wasm_rt_impl_try();
    if (trap) {
        fprintf(stderr, "trap: %s\n", wasm_rt_strerror(trap));
        return 134;
    }
    Z_benchZ__start(&instance);
    Z_bench_free(&instance);
    wasm_rt_free();
    return 0;
}
