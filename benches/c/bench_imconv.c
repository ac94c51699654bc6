/* imconv through its public C ABI, the way users call it.
 *   bench_imconv <scratch_dir> <size> <results.jsonl>
 */
#define _GNU_SOURCE /* bench_placement.h */
#include <malloc.h>
#include <sys/resource.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench_common.h"
#include "bench_placement.h"
#include "imconv.h"

static imconv_sdk *sdk;
static char **ids;    /* stored IDs, by index */
static char **misses; /* IDs that are not stored */
static long size;
/* Misses are drawn from this many IDs that are not stored. */
#define MISS_POOL 1000

static atomic_long completed;
static atomic_int failed;

static void on_one(const imconv_conversation *c, void *u) {
    (void)c;
    (void)u;
    atomic_fetch_add_explicit(&completed, 1, memory_order_release);
}
static void on_list(const imconv_conversation *const *c, size_t n, void *u) {
    (void)c;
    (void)n;
    (void)u;
    atomic_fetch_add_explicit(&completed, 1, memory_order_release);
}
static void on_done(void *u) {
    (void)u;
    atomic_fetch_add_explicit(&completed, 1, memory_order_release);
}
static void on_fail(int32_t code, const char *desc, void *u) {
    (void)u;
    fprintf(stderr, "callback error %d: %s\n", code, desc);
    atomic_store(&failed, 1);
    atomic_fetch_add_explicit(&completed, 1, memory_order_release);
}

static void wait_completed(long target) {
    /* Spin, but yield: on 2 cores a pure spin would starve the library. */
    while (atomic_load_explicit(&completed, memory_order_acquire) < target) {
        if (atomic_load(&failed)) exit(1);
        sched_yield();
    }
}

static void open_sdk(const char *dir) {
    char config[1024], *error = NULL;
    snprintf(config, sizeof config,
             "{\"user_id\":\"bench\",\"data_dir\":\"%s\",\"cache_capacity\":%ld}", dir,
             2 * size + 1000); /* room for every conversation and as many misses */
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "imconv_sdk_new: %s\n", error);
        exit(1);
    }
}

/* The import document of conversations [start, end), as JSON, in `doc`
   (at least 900 bytes per conversation); returns its length. */
static size_t build_document(char *doc, size_t cap, long start, long end) {
    size_t len = 0;
    record r;
    doc[len++] = '[';
    for (long i = start; i < end; i++) {
        make_record(i, &r);
        len += (size_t)snprintf(
            doc + len, cap - len,
            "%s{\"conversationID\":\"%s\",\"showName\":\"%s\",\"faceUrl\":\"%s\","
            "\"groupType\":\"%s\",\"unreadCount\":%ld,\"recvOpt\":%ld,\"isPinned\":%s,"
            "\"orderKey\":%ld,\"markList\":%s,\"conversationGroupList\":%s,\"lastMessage\":%s}",
            i > start ? "," : "", r.id, r.show_name, r.face_url, r.group_type, r.unread,
            r.recv_opt, r.pinned ? "true" : "false", r.order_key, r.marks, r.groups,
            r.last_message);
    }
    doc[len++] = ']';
    doc[len] = '\0';
    return len;
}

/* 4. Import in batches of 1,000. */
static void bench_import(void) {
    enum { BATCH = 1000 };
    size_t cap = BATCH * 900;
    char *doc = malloc(cap);
    /* Five consecutive parts, each a round: the median of their rates. */
    double spent = 0, part_rate[ROUNDS];
    long part = (size + ROUNDS - 1) / ROUNDS, part_start = 0;
    int parts = 0;
    for (long start = 0; start < size; start += BATCH) {
        long end = start + BATCH < size ? start + BATCH : size;
        build_document(doc, cap, start, end);
        long target = atomic_load(&completed) + 1;
        double t0 = now_s();
        if (imconv_import_conversations(sdk, doc, on_done, on_fail, NULL) != IMCONV_OK) exit(1);
        wait_completed(target);
        spent += now_s() - t0;
        if (end - part_start >= part || end == size) {
            part_rate[parts++] = (double)(end - part_start) / spent;
            part_start = end;
            spent = 0;
        }
    }
    free(doc);
    report("import", size, "conversations/s", part_rate, (size_t)parts);
}

/* 4b. The whole data set as one document, into an empty store (a user of
   its own per round), at up to 100,000 conversations (a document of a
   million would be 900 MB): the large import that is parsed beside the
   writer and builds the order index once. */
enum { DOCUMENT_MAX = 100000, DOCUMENT_ROUNDS = 3 };
static void bench_import_document(const char *dir) {
    if (size > DOCUMENT_MAX) return;
    long n = size;
    size_t cap = (size_t)n * 900 + 2;
    char *doc = malloc(cap);
    build_document(doc, cap, 0, n);
    double rate[DOCUMENT_ROUNDS];
    for (int round = 0; round < DOCUMENT_ROUNDS; round++) {
        char config[1024], *error = NULL;
        snprintf(config, sizeof config, "{\"user_id\":\"document%d\",\"data_dir\":\"%s\"}", round, dir);
        imconv_sdk *fresh;
        if (imconv_sdk_new(config, &fresh, &error) != IMCONV_OK) {
            fprintf(stderr, "imconv_sdk_new: %s\n", error);
            exit(1);
        }
        long target = atomic_load(&completed) + 1;
        double t0 = now_s();
        if (imconv_import_conversations(fresh, doc, on_done, on_fail, NULL) != IMCONV_OK) exit(1);
        wait_completed(target);
        rate[round] = (double)n / (now_s() - t0);
        imconv_sdk_free(fresh);
    }
    free(doc);
    report("import_one_document", n, "conversations/s", rate, DOCUMENT_ROUNDS);
}

/* 1. One call at a time: call to callback. */
static void bench_latency(void) {
    enum { SAMPLES = 20000 };
    double p50[ROUNDS], p99[ROUNDS];
    double *lat = malloc(SAMPLES * sizeof *lat);
    for (int round = 0; round < ROUNDS; round++) {
        for (int s = 0; s < SAMPLES; s++) {
            const char *id = ids[next_random() % (uint64_t)size];
            long target = atomic_load(&completed) + 1;
            double t0 = now_s();
            imconv_get_conversation(sdk, id, on_one, on_fail, NULL);
            wait_completed(target);
            lat[s] = (now_s() - t0) * 1e6;
            if (s % 64 == 0) sched_yield();
        }
        p50[round] = percentile(lat, SAMPLES, 0.50);
        p99[round] = percentile(lat, SAMPLES, 0.99);
    }
    free(lat);
    report("lookup_latency_p50", size, "us", p50, ROUNDS);
    report("lookup_latency_p99", size, "us", p99, ROUNDS);
}

/* 2. Many calls in flight from `threads` host threads. */
enum { WINDOW = 4096, CALLS = 400000 };
static atomic_long issued;

static void *issue_calls(void *arg) {
    long n = (long)(intptr_t)arg;
    uint64_t x = (uint64_t)n * 2654435761u + 1;
    for (long k = 0; k < n; k++) {
        while (atomic_load_explicit(&issued, memory_order_relaxed) -
                   atomic_load_explicit(&completed, memory_order_acquire) >= WINDOW) {
            sched_yield();
        }
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        atomic_fetch_add_explicit(&issued, 1, memory_order_relaxed);
        /* A refused call is owed no callback: stop rather than wait for it. */
        int32_t rc = imconv_get_conversation(sdk, ids[x % (uint64_t)size], on_one, on_fail, NULL);
        if (rc != IMCONV_OK) {
            fprintf(stderr, "imconv_get_conversation refused: %d (%s)\n", rc, imconv_error_str(rc));
            exit(1);
        }
    }
    return NULL;
}

static void bench_throughput(int threads, const char *metric) {
    double rate[ROUNDS], round_trip[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        round_trip[round] = cpu_round_trip_ns();
        atomic_store(&issued, atomic_load(&completed));
        long target = atomic_load(&completed) + CALLS;
        pthread_t t[2];
        double t0 = now_s();
        for (int i = 0; i < threads; i++)
            pthread_create(&t[i], NULL, issue_calls, (void *)(intptr_t)(CALLS / threads));
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        wait_completed(target);
        rate[round] = CALLS / (now_s() - t0);
        /* The host may move the CPUs during a round: measured again after. */
        printf("  %s round %d: %.2f M/s; a cache line between the CPUs: %.0f ns round trip before, "
               "%.0f after\n",
               metric, round + 1, rate[round] * 1e-6, round_trip[round], cpu_round_trip_ns());
    }
    report(metric, size, "lookups/s", rate, ROUNDS);
    /* The placement of the two CPUs (bench_placement.h) beside the
       figure it moves most. */
    if (threads == 1 && round_trip[0] >= 0) report("cpu_round_trip", size, "ns", round_trip, ROUNDS);
}

/* 3. getConversationList of `n` IDs, a fifth of them not stored. */
static void bench_batch(int n, const char *metric) {
    int batches = n >= 1000 ? 300 : 2000;
    const char **batch = malloc((size_t)n * sizeof *batch);
    double per_batch[ROUNDS];
    long callback = thread_named("imconv-callback");
    for (int round = 0; round < ROUNDS; round++) {
        double spent = 0;
        int same = 0;
        for (int b = 0; b < batches; b++) {
            if (b % 100 == 99) same += last_cpu(callback) == sched_getcpu();
            for (int i = 0; i < n; i++) {
                uint64_t r = next_random();
                batch[i] = i % 5 == 4 ? misses[r % MISS_POOL] : ids[r % (uint64_t)size];
            }
            long target = atomic_load(&completed) + 1;
            double t0 = now_s();
            imconv_get_conversation_list(sdk, batch, (size_t)n, on_list, on_fail, NULL);
            wait_completed(target);
            spent += now_s() - t0;
        }
        per_batch[round] = spent / batches * 1e6;
        printf("  %s round %d: %.1f us; the callback thread on the caller's CPU in %d of %d looks; "
               "a cache line between the CPUs: %.0f ns round trip after\n",
               metric, round + 1, per_batch[round], same, batches / 100, cpu_round_trip_ns());
    }
    free(batch);
    report(metric, size, "us/batch", per_batch, ROUNDS);
}

/* Touches every conversation (fills the cache) with batches of 1,000. */
static void touch_all(void) {
    for (long start = 0; start < size; start += 1000) {
        long n = size - start < 1000 ? size - start : 1000;
        long target = atomic_load(&completed) + 1;
        imconv_get_conversation_list(sdk, (const char *const *)ids + start, (size_t)n, on_list, on_fail, NULL);
        wait_completed(target);
    }
}

/* CPU time of this process, in seconds. */
static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec * 1e-6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec * 1e-6;
}

/* 9. CPU an instance uses, in percent of one core: with nothing to do, and
   serving one lookup every millisecond (sparse work). */
static void bench_idle(void) {
    double idle[ROUNDS], sparse[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        usleep(100000);
        double c0 = cpu_s(), t0 = now_s();
        usleep(400000);
        idle[round] = (cpu_s() - c0) / (now_s() - t0) * 100;
        c0 = cpu_s(), t0 = now_s();
        for (int i = 0; i < 400; i++) {
            long target = atomic_load(&completed) + 1;
            imconv_get_conversation(sdk, ids[next_random() % (uint64_t)size], on_one, on_fail, NULL);
            while (atomic_load_explicit(&completed, memory_order_acquire) < target) usleep(50);
            usleep(1000);
        }
        sparse[round] = (cpu_s() - c0) / (now_s() - t0) * 100;
    }
    report("idle_cpu", size, "% of a core", idle, ROUNDS);
    report("cpu_at_1000_lookups_per_s", size, "% of a core", sparse, ROUNDS);
}

/* 6. The manager: ordered pages and message application. */
static char cursor[512];
static int page_finished;
static void on_page(const imconv_conversation *const *c, size_t n, const char *next, bool finished, void *u) {
    (void)c;
    (void)n;
    (void)u;
    snprintf(cursor, sizeof cursor, "%s", next);
    page_finished = finished;
    atomic_fetch_add_explicit(&completed, 1, memory_order_release);
}

static void get_page(const char *from) {
    long target = atomic_load(&completed) + 1;
    imconv_get_conversation_page(sdk, NULL, from, 100, on_page, on_fail, NULL);
    wait_completed(target);
}

static void bench_pages(void) {
    double first[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        enum { N = 200 };
        double t0 = now_s();
        for (int i = 0; i < N; i++) get_page("");
        first[round] = (now_s() - t0) / N * 1e6;
    }
    report("first_page_of_100", size, "us", first, ROUNDS);
    double t0 = now_s();
    char from[512] = "";
    do {
        get_page(from);
        snprintf(from, sizeof from, "%s", cursor);
    } while (!page_finished);
    report_one("whole_list_paged_by_100", size, "ms", (now_s() - t0) * 1e3);
}

/* A batch of `n` new messages to random conversations, as JSON. */
static long next_msg = 0;
static void message_batch(char *doc, int n) {
    size_t len = 0;
    doc[len++] = '[';
    for (int i = 0; i < n; i++, next_msg++) {
        len += (size_t)sprintf(doc + len,
                               "%s{\"conversationID\":\"%s\",\"msgID\":\"bench-%ld\",\"timestamp\":%ld,"
                               "\"seq\":%ld,\"sender\":\"peer\",\"isSelf\":false,\"isRead\":false,"
                               "\"textElem\":{\"text\":\"%s\"}}",
                               i ? "," : "", ids[next_random() % (uint64_t)size], next_msg,
                               1800000000 + next_msg, next_msg, MESSAGE_TEXT);
    }
    doc[len++] = ']';
    doc[len] = '\0';
}

/* 7. Messages in batches of 100, one call at a time. */
static void bench_messages(void) {
    enum { BATCH = 100, BATCHES = 200 };
    char *doc = malloc(BATCH * 400);
    double rate[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        double spent = 0;
        for (int b = 0; b < BATCHES; b++) {
            message_batch(doc, BATCH);
            long target = atomic_load(&completed) + 1;
            double t0 = now_s();
            imconv_apply_messages(sdk, doc, on_done, on_fail, NULL);
            wait_completed(target);
            spent += now_s() - t0;
        }
        rate[round] = BATCH * BATCHES / spent;
    }
    free(doc);
    report("apply_messages", size, "messages/s", rate, ROUNDS);
}

/* 8. Messages as a client receives them: one message a call, issued back to
   back without waiting, then every callback awaited. */
static void bench_messages_pipelined(void) {
    enum { BATCH = 1, BATCHES = 2000 };
    char *doc = malloc(BATCH * 400);
    double rate[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        long target = atomic_load(&completed) + BATCHES;
        double t0 = now_s();
        for (int b = 0; b < BATCHES; b++) {
            message_batch(doc, BATCH);
            if (imconv_apply_messages(sdk, doc, on_done, on_fail, NULL) != IMCONV_OK) exit(1);
        }
        wait_completed(target);
        rate[round] = BATCH * BATCHES / (now_s() - t0);
    }
    free(doc);
    report("apply_messages_pipelined", size, "messages/s", rate, ROUNDS);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <scratch_dir> <size> <results.jsonl>\n", argv[0]);
        return 2;
    }
    size = atol(argv[2]);
    results = fopen(argv[3], "a");
    /* BENCH_LABEL names the library in the results (make bench-writes runs
       this program against an earlier build too); BENCH_ONLY=writes runs
       only the write paths (import, then messages), BENCH_ONLY=import only
       the imports, BENCH_ONLY=document only the import of one document. */
    implementation = getenv("BENCH_LABEL") ? getenv("BENCH_LABEL") : "imconv";
    const char *only = getenv("BENCH_ONLY");
    int writes_only = only && strcmp(only, "writes") == 0;
    ids = malloc((size_t)size * sizeof *ids);
    misses = malloc((size_t)size * sizeof *misses);
    for (long i = 0; i < size; i++) {
        char buf[40];
        conversation_id(i, buf, sizeof buf);
        ids[i] = strdup(buf);
        missing_id(i, buf, sizeof buf);
        misses[i] = strdup(buf);
    }

    /* The text a conversation holds (its strings), for memory per conversation. */
    double text = 0;
    for (long i = 0; i < 1000; i++) {
        record r;
        make_record(i, &r);
        text += (double)(strlen(r.id) * 2 + strlen(r.show_name) + strlen(r.face_url) +
                         strlen(r.group_type) + strlen(r.last_message) + 40 /* msgID, sender */);
    }
    report_one("text_per_conversation", size, "bytes", text / 1000);

    if (only && strcmp(only, "document") == 0) {
        bench_import_document(argv[1]);
        fclose(results);
        return 0;
    }
    open_sdk(argv[1]);
    bench_import();
    imconv_sdk_free(sdk);
    if (!only || writes_only || strcmp(only, "import") == 0) bench_import_document(argv[1]);
    if (only && strcmp(only, "import") == 0) {
        fclose(results);
        return 0;
    }
    if (writes_only) {
        open_sdk(argv[1]);
        bench_messages();
        bench_messages_pipelined();
        imconv_sdk_free(sdk);
        fclose(results);
        return 0;
    }

    /* 5. Open an existing store: time to the first answered lookup. Memory
       the import freed goes back to the system first, so that what the
       lookups load shows as growth instead of reusing those pages. */
    malloc_trim(0);
    double rss_before = rss_bytes();
    long target = atomic_load(&completed) + 1;
    double t0 = now_s();
    open_sdk(argv[1]);
    imconv_get_conversation(sdk, ids[size / 2], on_one, on_fail, NULL);
    wait_completed(target);
    report_one("open_to_first_lookup", size, "ms", (now_s() - t0) * 1e3);
    double rss_open = rss_bytes();
    touch_all();
    double rss_touched = rss_bytes();
    report_one("rss_after_open", size, "MiB", (rss_open - rss_before) / 1048576.0);
    report_one("rss_after_touching_all", size, "MiB", (rss_touched - rss_before) / 1048576.0);
    report_one("memory_per_conversation", size, "bytes", (rss_touched - rss_open) / (double)size);

    /* BENCH_ONLY=lookups|batches|pages|messages|idle runs one part (for
       profiling); unset, everything. */
    if (!only || strcmp(only, "lookups") == 0) {
        bench_latency();
        bench_throughput(1, "lookup_throughput_1_thread");
        bench_throughput(2, "lookup_throughput_2_threads");
    }
    if (!only || strcmp(only, "batches") == 0) {
        bench_batch(100, "batch_100");
        bench_batch(1000, "batch_1000");
    }
    if (!only || strcmp(only, "pages") == 0) bench_pages();
    if (!only || strcmp(only, "messages") == 0) {
        bench_messages();
        bench_messages_pipelined();
    }
    if (!only || strcmp(only, "idle") == 0) bench_idle();

    imconv_sdk_free(sdk);
    for (long i = 0; i < size; i++) free(ids[i]), free(misses[i]);
    free(ids);
    free(misses);
    fclose(results);
    return 0;
}
