/* The calls the C benchmarks of one mode against another share (encryption,
 * sharing): the instance, the data set's IDs, completion counting, and
 * the timed paths built on them. Each benchmark opens its own instance
 * (`open_store`, its own) into `sdk`. */
#ifndef BENCH_CALLS_H
#define BENCH_CALLS_H

#include <sched.h>
#include <stdatomic.h>

#include "bench_common.h"
#include "imconv.h"

static imconv_sdk *sdk;
static long size;
static char **ids;
static atomic_long completed;
static char cursor[256];
static int finished;

static void on_one(const imconv_conversation *c, void *u) {
    (void)c, (void)u;
    atomic_fetch_add_explicit(&completed, 1, memory_order_release);
}
static void on_done(void *u) {
    (void)u;
    atomic_fetch_add_explicit(&completed, 1, memory_order_release);
}
static void on_page(const imconv_conversation *const *c, size_t n, const char *next, bool fin,
                    void *u) {
    (void)c, (void)n, (void)u;
    snprintf(cursor, sizeof cursor, "%s", next);
    finished = fin;
    atomic_fetch_add_explicit(&completed, 1, memory_order_release);
}
static void on_fail(int32_t code, const char *desc, void *u) {
    (void)u;
    fprintf(stderr, "callback error %d: %s\n", code, desc);
    exit(1);
}
static void wait_for(long target) {
    while (atomic_load_explicit(&completed, memory_order_acquire) < target) sched_yield();
}

static void get(const char *id) {
    long target = atomic_load(&completed) + 1;
    if (imconv_get_conversation(sdk, id, on_one, on_fail, NULL) != IMCONV_OK) exit(1);
    wait_for(target);
}

static double import_all(void) {
    enum { BATCH = 1000 };
    size_t cap = BATCH * 900;
    char *doc = malloc(cap);
    record r;
    double spent = 0;
    for (long start = 0; start < size; start += BATCH) {
        size_t len = 0;
        doc[len++] = '[';
        for (long i = start; i < start + BATCH && i < size; i++) {
            make_record(i, &r);
            len += (size_t)snprintf(
                doc + len, cap - len,
                "%s{\"conversationID\":\"%s\",\"showName\":\"%s\",\"faceUrl\":\"%s\","
                "\"groupType\":\"%s\",\"unreadCount\":%ld,\"orderKey\":%ld,\"lastMessage\":%s}",
                i > start ? "," : "", r.id, r.show_name, r.face_url, r.group_type, r.unread,
                r.order_key, r.last_message);
        }
        doc[len++] = ']';
        doc[len] = '\0';
        long target = atomic_load(&completed) + 1;
        double t0 = now_s();
        if (imconv_import_conversations(sdk, doc, on_done, on_fail, NULL) != IMCONV_OK) exit(1);
        wait_for(target);
        spent += now_s() - t0;
    }
    free(doc);
    return spent * 1e3;
}

static double page_once(void) {
    long target = atomic_load(&completed) + 1;
    double t0 = now_s();
    if (imconv_get_conversation_page(sdk, NULL, cursor, 100, on_page, on_fail, NULL) != IMCONV_OK)
        exit(1);
    wait_for(target);
    return now_s() - t0;
}

static double apply_messages(long calls) {
    char doc[100 * 300];
    double t0 = now_s();
    for (long k = 0; k < calls; k++) {
        size_t len = 0;
        doc[len++] = '[';
        for (int m = 0; m < 100; m++) {
            long i = (long)(next_random() % (uint64_t)size);
            len += (size_t)snprintf(doc + len, sizeof doc - len,
                                    "%s{\"conversationID\":\"%s\",\"msgID\":\"e%ld-%d\","
                                    "\"timestamp\":%ld,\"seq\":%ld,\"text\":\"hello\"}",
                                    m ? "," : "", ids[i], k, m, 1800000000L + k, k * 100 + m + 1);
        }
        doc[len++] = ']';
        doc[len] = '\0';
        long target = atomic_load(&completed) + 1;
        if (imconv_apply_messages(sdk, doc, on_done, on_fail, NULL) != IMCONV_OK) exit(1);
        wait_for(target);
    }
    return (now_s() - t0) * 1e3;
}

/* One benchmark of two modes (plain/encrypted, alone/shared): the data
 * set's IDs, `rounds` rounds of each mode alternating which goes first
 * (`round_of(dir, mode, v)` fills v[path]), then per path each mode's
 * median into the results file and a table with their ratio (a path
 * whose unit starts with "~" is printed without one: an absolute figure).
 * argv: <scratch_dir> <size> <results.jsonl>. */
typedef struct {
    const char *what;        /* "encryption's cost" */
    const char *modes[2];    /* "plain", "encrypted" */
    int paths, rounds;
    const char *const *names;
    const char *const *units;
    void (*round_of)(const char *dir, int mode, double *v);
} two_modes;

static int run_two_modes(const two_modes *b, int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <scratch_dir> <size> <results.jsonl>\n", argv[0]);
        return 2;
    }
    size = atol(argv[2]);
    results = fopen(argv[3], "a");
    ids = malloc((size_t)size * sizeof *ids);
    for (long i = 0; i < size; i++) {
        char buf[40];
        conversation_id(i, buf, sizeof buf);
        ids[i] = strdup(buf);
    }
    int paths = b->paths, rounds = b->rounds;
    double *v = malloc(sizeof *v * 2 * (size_t)paths * (size_t)rounds); /* [mode][path][round] */
    double *one = malloc(sizeof *one * (size_t)paths);
    for (int round = 0; round < rounds; round++) {
        for (int m = 0; m < 2; m++) {
            int mode = (round + m) % 2;
            b->round_of(argv[1], mode, one);
            for (int p = 0; p < paths; p++) v[(mode * paths + p) * rounds + round] = one[p];
        }
    }
    char ratio[64];
    snprintf(ratio, sizeof ratio, "%s / %s", b->modes[1], b->modes[0]);
    printf("\n%s, %ld conversations, median of %d rounds (%s and %s alternating)\n\n", b->what,
           size, rounds, b->modes[0], b->modes[1]);
    printf("| %-24s | %14s | %14s | %18s |\n", "path", b->modes[0], b->modes[1], ratio);
    printf("|--------------------------|----------------|----------------|--------------------|\n");
    implementation = "imconv";
    for (int p = 0; p < paths; p++) {
        const char *unit = b->units[p][0] == '~' ? b->units[p] + 1 : b->units[p];
        double median[2];
        char text[2][32];
        for (int m = 0; m < 2; m++) {
            char metric[80];
            double *r = v + (m * paths + p) * rounds;
            snprintf(metric, sizeof metric, "%s_%s", b->modes[m], b->names[p]);
            report(metric, size, unit, r, (size_t)rounds);
            median[m] = percentile(r, (size_t)rounds, 0.5);
            snprintf(text[m], sizeof text[m], "%.3g %s", median[m], unit);
        }
        if (b->units[p][0] == '~')
            printf("| %-24s | %14s | %14s | %18s |\n", b->names[p], text[0], text[1], "(absolute)");
        else
            printf("| %-24s | %14s | %14s | %17.2fx |\n", b->names[p], text[0], text[1],
                   median[1] / median[0]);
    }
    for (long i = 0; i < size; i++) free(ids[i]);
    free(ids);
    free(v);
    free(one);
    fclose(results);
    return 0;
}

#endif
