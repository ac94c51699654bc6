/* The baseline: what a user would write by hand with SQLite, on the same
 * data (a table of equivalent columns, prepared statements).
 *   bench_sqlite <scratch_dir> <size> <results.jsonl>
 */
#include <pthread.h>

#include "bench_common.h"
#include "sqlite3.h"

static long size;
/* Misses are drawn from this many IDs that are not stored. */
#define MISS_POOL 1000
static char **ids, **misses;
static char db_path[1024];

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        exit(1);
    }
}

static sqlite3 *open_db_at(const char *path) {
    sqlite3 *db;
    check(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL), NULL, "open");
    check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL), db, "pragma");
    return db;
}

static sqlite3 *open_db(void) { return open_db_at(db_path); }

static const char *SELECT =
    "SELECT conversation_id, conv_type, group_type, show_name, face_url, unread_count, recv_opt, "
    "last_message, group_at_info, draft_text, draft_timestamp, is_pinned, order_key, mark_list, "
    "custom_data, conversation_groups, c2c_read_timestamp, group_read_sequence "
    "FROM conversation WHERE conversation_id = ?1";

/* What a caller reads from a row: every column (text is borrowed). */
typedef struct {
    const unsigned char *text[10];
    sqlite3_int64 num[8];
} row;

static int lookup(sqlite3_stmt *st, const char *id, row *out) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        int t = 0, n = 0;
        for (int c = 0; c < 18; c++) {
            if (sqlite3_column_type(st, c) == SQLITE_INTEGER) out->num[n++ % 8] = sqlite3_column_int64(st, c);
            else out->text[t++ % 10] = sqlite3_column_text(st, c);
        }
    }
    sqlite3_reset(st);
    return found;
}

static void create_table(sqlite3 *db) {
    check(sqlite3_exec(db,
                       "CREATE TABLE IF NOT EXISTS conversation (conversation_id TEXT PRIMARY KEY NOT NULL, "
                       "conv_type INTEGER, group_type TEXT, show_name TEXT, face_url TEXT, unread_count INTEGER, "
                       "recv_opt INTEGER, last_message TEXT, group_at_info TEXT, draft_text TEXT, "
                       "draft_timestamp INTEGER, is_pinned INTEGER, order_key INTEGER, mark_list TEXT, "
                       "custom_data TEXT, conversation_groups TEXT, c2c_read_timestamp INTEGER, "
                       "group_read_sequence INTEGER) WITHOUT ROWID",
                       NULL, NULL, NULL),
          db, "create");
}

static sqlite3_stmt *prepare_insert(sqlite3 *db) {
    sqlite3_stmt *ins;
    check(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO conversation VALUES (?1,?2,?3,?4,?5,?6,?7,?8,'[]','',0,?9,?10,?11,'',?12,0,0)", -1, &ins, NULL), db, "prepare insert");
    return ins;
}

/* Conversation i, written with the prepared insert. */
static void insert_record(sqlite3 *db, sqlite3_stmt *ins, long i) {
    record r;
    make_record(i, &r);
    sqlite3_bind_text(ins, 1, r.id, -1, SQLITE_STATIC);
    sqlite3_bind_int(ins, 2, i % 2 ? 2 : 1);
    sqlite3_bind_text(ins, 3, r.group_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, r.show_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 5, r.face_url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 6, r.unread);
    sqlite3_bind_int64(ins, 7, r.recv_opt);
    sqlite3_bind_text(ins, 8, r.last_message, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 9, r.pinned);
    sqlite3_bind_int64(ins, 10, r.order_key);
    sqlite3_bind_text(ins, 11, r.marks, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 12, r.groups, -1, SQLITE_STATIC);
    check(sqlite3_step(ins), db, "insert");
    sqlite3_reset(ins);
}

static void bench_import(void) {
    sqlite3 *db = open_db();
    create_table(db);
    sqlite3_stmt *ins = prepare_insert(db);
    /* Five consecutive parts, each a round: the median of their rates. */
    double part_rate[ROUNDS];
    long part = (size + ROUNDS - 1) / ROUNDS, part_start = 0;
    int parts = 0;
    double t0 = now_s();
    for (long start = 0; start < size; start += 1000) {
        check(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), db, "begin");
        for (long i = start; i < start + 1000 && i < size; i++) insert_record(db, ins, i);
        check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
        long end = start + 1000 < size ? start + 1000 : size;
        if (end - part_start >= part || end == size) {
            double t1 = now_s();
            part_rate[parts++] = (double)(end - part_start) / (t1 - t0);
            part_start = end;
            t0 = t1;
        }
    }
    report("import", size, "conversations/s", part_rate, (size_t)parts);
    sqlite3_finalize(ins);
    sqlite3_close(db);
}

/* The whole data set in one transaction, into an empty database (a file of
   its own per round), at up to 100,000 conversations: what imconv's
   import_one_document is measured against. */
enum { DOCUMENT_MAX = 100000, DOCUMENT_ROUNDS = 3 };
static void bench_import_document(const char *dir) {
    if (size > DOCUMENT_MAX) return;
    double rate[DOCUMENT_ROUNDS];
    char path[1100];
    for (int round = 0; round < DOCUMENT_ROUNDS; round++) {
        snprintf(path, sizeof path, "%s/document%d.db", dir, round);
        sqlite3 *db = open_db_at(path);
        create_table(db);
        sqlite3_stmt *ins = prepare_insert(db);
        double t0 = now_s();
        check(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), db, "begin");
        for (long i = 0; i < size; i++) insert_record(db, ins, i);
        check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
        rate[round] = (double)size / (now_s() - t0);
        sqlite3_finalize(ins);
        sqlite3_close(db);
    }
    report("import_one_document", size, "conversations/s", rate, DOCUMENT_ROUNDS);
}

static void bench_latency(sqlite3_stmt *st) {
    enum { SAMPLES = 20000 };
    double p50[ROUNDS], p99[ROUNDS];
    double *lat = malloc(SAMPLES * sizeof *lat);
    row r;
    for (int round = 0; round < ROUNDS; round++) {
        for (int s = 0; s < SAMPLES; s++) {
            const char *id = ids[next_random() % (uint64_t)size];
            double t0 = now_s();
            if (!lookup(st, id, &r)) exit(1);
            lat[s] = (now_s() - t0) * 1e6;
        }
        p50[round] = percentile(lat, SAMPLES, 0.50);
        p99[round] = percentile(lat, SAMPLES, 0.99);
    }
    free(lat);
    report("lookup_latency_p50", size, "us", p50, ROUNDS);
    report("lookup_latency_p99", size, "us", p99, ROUNDS);
}

enum { CALLS = 400000 };

static void *lookup_loop(void *arg) {
    long n = (long)(intptr_t)arg;
    sqlite3 *db = open_db();
    sqlite3_stmt *st;
    check(sqlite3_prepare_v2(db, SELECT, -1, &st, NULL), db, "prepare");
    uint64_t x = (uint64_t)n * 2654435761u + 1;
    row r;
    for (long k = 0; k < n; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        lookup(st, ids[x % (uint64_t)size], &r);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return NULL;
}

static void bench_throughput(int threads, const char *metric) {
    double rate[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t t[2];
        double t0 = now_s();
        for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, lookup_loop, (void *)(intptr_t)(CALLS / threads));
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        rate[round] = CALLS / (now_s() - t0);
    }
    report(metric, size, "lookups/s", rate, ROUNDS);
}

/* A batch by hand: one prepared point lookup per ID, in request order,
 * skipping IDs already seen in the batch. */
static void bench_batch(sqlite3_stmt *st, int n, const char *metric) {
    int batches = n >= 1000 ? 300 : 2000;
    const char **batch = malloc((size_t)n * sizeof *batch);
    row *out = malloc((size_t)n * sizeof *out);
    double per_batch[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        double spent = 0;
        for (int b = 0; b < batches; b++) {
            for (int i = 0; i < n; i++) {
                uint64_t r = next_random();
                batch[i] = i % 5 == 4 ? misses[r % MISS_POOL] : ids[r % (uint64_t)size];
            }
            double t0 = now_s();
            int found = 0;
            for (int i = 0; i < n; i++) found += lookup(st, batch[i], &out[found]);
            spent += now_s() - t0;
        }
        per_batch[round] = spent / batches * 1e6;
    }
    free(batch);
    free(out);
    report(metric, size, "us/batch", per_batch, ROUNDS);
}

/* 6. The same by hand: ordered pages (keyset, on an index) and messages
 * (update the last message, unread count and order of each conversation). */
static void create_order_index(sqlite3 *db) {
    check(sqlite3_exec(db, "CREATE INDEX IF NOT EXISTS conversation_order ON conversation (is_pinned, order_key, conversation_id)", NULL, NULL, NULL), db, "index");
}

static void bench_pages(sqlite3 *db) {
    create_order_index(db);
    sqlite3_stmt *first, *next;
    const char *cols = "SELECT conversation_id, conv_type, group_type, show_name, face_url, unread_count, recv_opt, "
                       "last_message, group_at_info, draft_text, draft_timestamp, is_pinned, order_key, mark_list, "
                       "custom_data, conversation_groups, c2c_read_timestamp, group_read_sequence FROM conversation ";
    char sql[1024];
    snprintf(sql, sizeof sql, "%s ORDER BY is_pinned DESC, order_key DESC, conversation_id DESC LIMIT 100", cols);
    check(sqlite3_prepare_v2(db, sql, -1, &first, NULL), db, "prepare page");
    snprintf(sql, sizeof sql, "%s WHERE (is_pinned, order_key, conversation_id) < (?1, ?2, ?3) "
             "ORDER BY is_pinned DESC, order_key DESC, conversation_id DESC LIMIT 100", cols);
    check(sqlite3_prepare_v2(db, sql, -1, &next, NULL), db, "prepare next page");
    row r;
    double per[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        enum { N = 200 };
        double t0 = now_s();
        for (int i = 0; i < N; i++) {
            while (sqlite3_step(first) == SQLITE_ROW) r.text[0] = sqlite3_column_text(first, 0);
            sqlite3_reset(first);
        }
        per[round] = (now_s() - t0) / N * 1e6;
    }
    report("first_page_of_100", size, "us", per, ROUNDS);
    double t0 = now_s();
    sqlite3_stmt *st = first;
    long pinned = 0, key = 0;
    char last[64] = "";
    for (;;) {
        int rows = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < 18; c++) r.text[c % 10] = sqlite3_column_text(st, c);
            pinned = sqlite3_column_int64(st, 11);
            key = sqlite3_column_int64(st, 12);
            snprintf(last, sizeof last, "%s", sqlite3_column_text(st, 0));
            rows++;
        }
        sqlite3_reset(st);
        if (rows < 100) break;
        st = next;
        sqlite3_bind_int64(st, 1, pinned);
        sqlite3_bind_int64(st, 2, key);
        sqlite3_bind_text(st, 3, last, -1, SQLITE_TRANSIENT);
    }
    report_one("whole_list_paged_by_100", size, "ms", (now_s() - t0) * 1e3);
    if (r.text[0] == NULL) fprintf(stderr, "(empty list)\n");
    sqlite3_finalize(first);
    sqlite3_finalize(next);
}

/* `read_first`: each update is preceded by a read of what it replaces (the
   last message and count), as code that keeps the newest message or skips
   a message it has seen must do; imconv's apply_messages reads its row
   and recent window so (a second figure, for the performance page). */
static void bench_messages(sqlite3 *db, int read_first) {
    enum { BATCH = 100, BATCHES = 200 };
    sqlite3_stmt *up, *read;
    check(sqlite3_prepare_v2(db, "UPDATE conversation SET last_message = ?1, unread_count = unread_count + 1, "
                                 "order_key = ?2 WHERE conversation_id = ?3", -1, &up, NULL), db, "prepare update");
    check(sqlite3_prepare_v2(db, "SELECT last_message, unread_count FROM conversation WHERE conversation_id = ?1",
                             -1, &read, NULL), db, "prepare read");
    char msg[512];
    long next_msg = 0;
    double rate[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now_s();
        for (int b = 0; b < BATCHES; b++) {
            check(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), db, "begin");
            for (int i = 0; i < BATCH; i++, next_msg++) {
                snprintf(msg, sizeof msg, "{\"msgID\":\"bench-%ld\",\"timestamp\":%ld,\"textElem\":{\"text\":\"%s\"}}",
                         next_msg, 1800000000 + next_msg, MESSAGE_TEXT);
                const char *id = ids[next_random() % (uint64_t)size];
                if (read_first) {
                    sqlite3_bind_text(read, 1, id, -1, SQLITE_STATIC);
                    if (sqlite3_step(read) != SQLITE_ROW || !sqlite3_column_text(read, 0)) exit(1);
                    sqlite3_reset(read);
                }
                sqlite3_bind_text(up, 1, msg, -1, SQLITE_STATIC);
                sqlite3_bind_int64(up, 2, 2000000000 + next_msg);
                sqlite3_bind_text(up, 3, id, -1, SQLITE_STATIC);
                check(sqlite3_step(up), db, "update");
                sqlite3_reset(up);
            }
            check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
        }
        rate[round] = BATCH * BATCHES / (now_s() - t0);
    }
    sqlite3_finalize(up);
    sqlite3_finalize(read);
    report(read_first ? "apply_messages_read_first" : "apply_messages", size, "messages/s", rate, ROUNDS);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <scratch_dir> <size> <results.jsonl>\n", argv[0]);
        return 2;
    }
    size = atol(argv[2]);
    results = fopen(argv[3], "a");
    implementation = "sqlite";
    snprintf(db_path, sizeof db_path, "%s/baseline.db", argv[1]);
    ids = malloc((size_t)size * sizeof *ids);
    misses = malloc((size_t)size * sizeof *misses);
    for (long i = 0; i < size; i++) {
        char buf[40];
        conversation_id(i, buf, sizeof buf);
        ids[i] = strdup(buf);
        missing_id(i, buf, sizeof buf);
        misses[i] = strdup(buf);
    }
    /* BENCH_ONLY=import|messages runs one write path (as bench_imconv's
       BENCH_ONLY does), for A/B runs of the writes; unset, everything. */
    const char *only = getenv("BENCH_ONLY");
    bench_import();
    if (!only || strcmp(only, "messages") != 0) bench_import_document(argv[1]);
    if (only && strcmp(only, "import") == 0) {
        fclose(results);
        return 0;
    }
    if (only && strcmp(only, "messages") == 0) {
        sqlite3 *db = open_db();
        create_order_index(db); /* as the full run's pages have by then */
        bench_messages(db, 0);
        bench_messages(db, 1);
        sqlite3_close(db);
        fclose(results);
        return 0;
    }

    double rss_before = rss_bytes();
    double t0 = now_s();
    sqlite3 *db = open_db();
    sqlite3_stmt *st;
    check(sqlite3_prepare_v2(db, SELECT, -1, &st, NULL), db, "prepare");
    row r;
    lookup(st, ids[size / 2], &r);
    report_one("open_to_first_lookup", size, "ms", (now_s() - t0) * 1e3);
    report_one("rss_after_open", size, "MiB", (rss_bytes() - rss_before) / 1048576.0);

    bench_latency(st);
    bench_throughput(1, "lookup_throughput_1_thread");
    bench_throughput(2, "lookup_throughput_2_threads");
    bench_batch(st, 100, "batch_100");
    bench_batch(st, 1000, "batch_1000");
    sqlite3_finalize(st);
    bench_pages(db);
    bench_messages(db, 0);
    bench_messages(db, 1);
    sqlite3_close(db);
    fclose(results);
    return 0;
}
