/* SQLite driver: an in-memory database, 1M-row insert in one transaction,
   then aggregate queries. Built against Debian's sqlite3 amalgamation with
   SQLITE_OS_OTHER: the tiny VFS below has no files (":memory:" needs none),
   so native and wasm run the same code without wasi-libc's missing pieces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite3.h"

static int no_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out) {
    (void)v; (void)name; (void)f; (void)flags; (void)out;
    return SQLITE_CANTOPEN;
}
static int no_delete(sqlite3_vfs *v, const char *name, int sync) { (void)v; (void)name; (void)sync; return SQLITE_OK; }
static int no_access(sqlite3_vfs *v, const char *name, int flags, int *res) {
    (void)v; (void)name; (void)flags; *res = 0; return SQLITE_OK;
}
static int full_path(sqlite3_vfs *v, const char *name, int n, char *out) {
    (void)v; sqlite3_snprintf(n, out, "%s", name); return SQLITE_OK;
}
static int randomness(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    for (int i = 0; i < n; i++) out[i] = (char)(i * 131 + 7);
    return n;
}
static int sleep_us(sqlite3_vfs *v, int us) { (void)v; return us; }
static int current_time(sqlite3_vfs *v, double *t) { (void)v; *t = 2461000.5; return SQLITE_OK; }
static int last_error(sqlite3_vfs *v, int n, char *s) { (void)v; (void)n; (void)s; return 0; }
static int current_time64(sqlite3_vfs *v, sqlite3_int64 *t) {
    (void)v; *t = (sqlite3_int64)2461000 * 86400000 + 43200000; return SQLITE_OK;
}

static sqlite3_vfs memory_only = {
    2, 0, 512, 0, "memory-only", 0,
    no_open, no_delete, no_access, full_path,
    0, 0, 0, 0,
    randomness, sleep_us, current_time, last_error, current_time64,
    0, 0, 0,
};

int sqlite3_os_init(void) { return sqlite3_vfs_register(&memory_only, 1); }
int sqlite3_os_end(void) { return SQLITE_OK; }

static void die(sqlite3 *db, const char *what) {
    fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
    _Exit(1);
}

static void exec(sqlite3 *db, const char *sql) {
    char *err = 0;
    if (sqlite3_exec(db, sql, 0, 0, &err) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, err);
        _Exit(1);
    }
}

static int print_row(void *arg, int n, char **vals, char **cols) {
    (void)arg; (void)cols;
    for (int i = 0; i < n; i++) printf("%s%s", i ? " " : "", vals[i] ? vals[i] : "NULL");
    printf("\n");
    return 0;
}

int main(int argc, char **argv) {
    int rows = argc > 1 ? atoi(argv[1]) : 1000000;
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) die(db, "open");
    exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT)");
    exec(db, "BEGIN");
    sqlite3_stmt *ins;
    if (sqlite3_prepare_v2(db, "INSERT INTO t(a, b) VALUES (?1, ?2)", -1, &ins, 0) != SQLITE_OK) die(db, "prepare");
    unsigned x = 1;
    char text[32];
    for (int i = 0; i < rows; i++) {
        x = x * 1103515245u + 12345u;
        int a = (int)((x >> 8) % 10000);
        int len = snprintf(text, sizeof text, "row-%u-%d", x >> 12, i % 97);
        sqlite3_bind_int(ins, 1, a);
        sqlite3_bind_text(ins, 2, text, len, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) die(db, "insert");
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    exec(db, "COMMIT");
    exec(db, "CREATE INDEX t_a ON t(a)");
    char *err = 0;
    const char *queries[] = {
        "SELECT count(*), sum(a), max(length(b)) FROM t",
        "SELECT a, count(*) AS c FROM t GROUP BY a ORDER BY c DESC, a LIMIT 3",
        "SELECT count(*) FROM t WHERE b LIKE '%-42'",
        "SELECT sum(id) FROM t WHERE a BETWEEN 100 AND 199",
    };
    for (unsigned q = 0; q < sizeof queries / sizeof *queries; q++)
        if (sqlite3_exec(db, queries[q], print_row, 0, &err) != SQLITE_OK) {
            fprintf(stderr, "%s: %s\n", queries[q], err);
            return 1;
        }
    sqlite3_close(db);
    return 0;
}
