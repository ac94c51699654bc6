/* The cipher candidates of SQLite3 Multiple Ciphers against plain SQLite
 * (issue 27, item 5), with the same amalgamation the library compiles: a
 * table of `size` rows (an ID and 250 bytes) written in one transaction,
 * then `size` lookups by random ID with SQLite's default 2 MB page cache,
 * so that most read pages from the file and decrypt them. Each cipher with
 * a raw key (no key derivation). Rounds alternate the ciphers; medians.
 *   bench_ciphers <scratch_dir> <size>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "sqlite3.h"

#define KEY "x'000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'"
enum { CIPHERS = 6 };
static const char *ciphers[CIPHERS] = {"plain", "aegis", "chacha20", "aes256cbc", "sqlcipher", "ascon128"};
static const char *notes[CIPHERS] = {"", "authenticated", "authenticated", "no MAC",
                                     "authenticated", "authenticated"};

static void run(sqlite3 *db, const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, error);
        exit(1);
    }
}

static sqlite3 *open_keyed(const char *path, int c) {
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) exit(1);
    if (c > 0) {
        char sql[200];
        snprintf(sql, sizeof sql, "PRAGMA cipher='%s'; PRAGMA key=\"%s\";", ciphers[c], KEY);
        run(db, sql);
    }
    return db;
}

static void one(const char *dir, int c, long n, double *write_ms, double *lookup_us) {
    char path[1024], id[40], text[256];
    snprintf(path, sizeof path, "%s/%s.db", dir, ciphers[c]);
    remove(path);
    sqlite3 *db = open_keyed(path, c);
    memset(text, 'x', 250);
    text[250] = '\0';
    double t0 = now_s();
    run(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "CREATE TABLE c(id TEXT PRIMARY KEY, a INT, b TEXT); BEGIN");
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO c VALUES(?1, ?2, ?3)", -1, &st, NULL);
    for (long i = 0; i < n; i++) {
        snprintf(id, sizeof id, "c2c_user%08ld", (i * 7919) % n);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, i);
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    run(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)");
    *write_ms = (now_s() - t0) * 1e3;
    sqlite3_close(db);
    db = open_keyed(path, c);
    sqlite3_prepare_v2(db, "SELECT a FROM c WHERE id = ?1", -1, &st, NULL);
    long found = 0;
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        snprintf(id, sizeof id, "c2c_user%08ld", (long)(next_random() % (uint64_t)n));
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) found++;
        sqlite3_reset(st);
    }
    *lookup_us = (now_s() - t0) * 1e6 / (double)n;
    sqlite3_finalize(st);
    sqlite3_close(db);
    remove(path);
    if (found != n) {
        fprintf(stderr, "%s: %ld of %ld found\n", ciphers[c], found, n);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <scratch_dir> <size>\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    double w[CIPHERS][ROUNDS], l[CIPHERS][ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        for (int k = 0; k < CIPHERS; k++) {
            int c = (k + r) % CIPHERS;
            one(argv[1], c, n, &w[c][r], &l[c][r]);
        }
    double w0 = percentile(w[0], ROUNDS, 0.5), l0 = percentile(l[0], ROUNDS, 0.5);
    printf("\nciphers against plain SQLite, %ld rows, median of %d rounds\n\n", n, ROUNDS);
    printf("| %-10s | %-13s | %10s | %9s | %11s | %9s |\n", "cipher", "pages", "write ms", "x plain",
           "lookup us", "x plain");
    printf("|------------|---------------|------------|-----------|-------------|-----------|\n");
    for (int c = 0; c < CIPHERS; c++) {
        double wm = percentile(w[c], ROUNDS, 0.5), lm = percentile(l[c], ROUNDS, 0.5);
        printf("| %-10s | %-13s | %10.0f | %8.2fx | %11.2f | %8.2fx |\n", ciphers[c], notes[c], wm,
               wm / w0, lm, lm / l0);
    }
    return 0;
}
