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

#endif
