/* The C contract under concurrency and shutdown: exactly-once callbacks
 * from 4 host threads, never concurrent and never inline; a callback that
 * starts another call; freeing with 10,000 calls in flight and from inside
 * a callback; reads accepted before a free all complete. Run as
 *   test_concurrency <path/to/libimconv.so> <scratch_dir>
 */
#include "testlib.h"

#include "contract.h"

/* ---- concurrency: exactly once, never concurrent, never inline -------- */

enum { HOST_THREADS = 4, CALLS_PER_THREAD = 10000 };

static atomic_int slots[HOST_THREADS * CALLS_PER_THREAD];
static atomic_int delivered, in_callback, overlaps, wrong_result;
static _Thread_local int inside_call; /* set while this thread is inside an imconv call */
static atomic_int inline_callbacks;
static pthread_t callback_thread;
static atomic_int callback_thread_set, callback_thread_changed;

static void note_callback(void *user_data) {
    if (inside_call) atomic_fetch_add(&inline_callbacks, 1);
    if (atomic_exchange(&in_callback, 1)) atomic_fetch_add(&overlaps, 1);
    if (!atomic_exchange(&callback_thread_set, 1)) callback_thread = pthread_self();
    else if (!pthread_equal(callback_thread, pthread_self())) atomic_fetch_add(&callback_thread_changed, 1);
    atomic_fetch_add((atomic_int *)user_data, 1);
    atomic_store(&in_callback, 0);
    atomic_fetch_add(&delivered, 1);
}

static void stress_one(const imconv_conversation *v, void *u) {
    if (!v || !v->conversation_id) atomic_fetch_add(&wrong_result, 1);
    note_callback(u);
}
static void stress_list(const imconv_conversation *const *v, size_t n, void *u) {
    if (n != 2 || strcmp(v[0]->conversation_id, "group_g1") != 0) atomic_fetch_add(&wrong_result, 1);
    note_callback(u);
}
static void stress_fail(int32_t code, const char *d, void *u) {
    if (code != IMCONV_ERR_INVALID_PARAMETERS && code != IMCONV_ERR_SHUTDOWN) atomic_fetch_add(&wrong_result, 1);
    (void)d;
    note_callback(u);
}

typedef struct {
    imconv_sdk *sdk;
    int index;
    int accepted;
} host;

static void *host_thread(void *arg) {
    host *h = arg;
    const char *list_ids[] = {"group_g1", "c2c_alice", "group_g1"};
    char id[32];
    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        atomic_int *slot = &slots[h->index * CALLS_PER_THREAD + i];
        int32_t rc;
        inside_call = 1;
        switch (i % 4) {
        case 0: rc = imconv_get_conversation(h->sdk, "c2c_alice", stress_one, stress_fail, slot); break;
        case 1:
            snprintf(id, sizeof id, "c2c_t%d_%d", h->index, i); /* a miss, then a temporary */
            rc = imconv_get_conversation(h->sdk, id, stress_one, stress_fail, slot);
            break;
        case 2: rc = imconv_get_conversation_list(h->sdk, list_ids, 3, stress_list, stress_fail, slot); break;
        default: rc = imconv_get_conversation(h->sdk, "bad id", stress_one, stress_fail, slot); break;
        }
        inside_call = 0;
        if (rc == IMCONV_OK) h->accepted++;
        else atomic_store(slot, 100); /* refused: must never be called back */
    }
    return NULL;
}

static void reset_counters(void) {
    for (size_t i = 0; i < HOST_THREADS * CALLS_PER_THREAD; i++) atomic_store(&slots[i], 0);
    atomic_store(&delivered, 0);
    atomic_store(&overlaps, 0);
    atomic_store(&wrong_result, 0);
    atomic_store(&inline_callbacks, 0);
    atomic_store(&callback_thread_set, 0);
    atomic_store(&callback_thread_changed, 0);
}

static int wait_delivered(int expected) {
    for (int i = 0; i < 6000 && atomic_load(&delivered) < expected; i++) sleep_ms(5);
    return atomic_load(&delivered);
}

static void test_exactly_once_from_4_threads(void) {
    imconv_sdk *sdk = open_with_sample();
    reset_counters();
    host hosts[HOST_THREADS];
    pthread_t threads[HOST_THREADS];
    for (int t = 0; t < HOST_THREADS; t++) {
        hosts[t] = (host){sdk, t, 0};
        pthread_create(&threads[t], NULL, host_thread, &hosts[t]);
    }
    for (int t = 0; t < HOST_THREADS; t++) {
        pthread_join(threads[t], NULL);
        CHECK_INT(hosts[t].accepted, CALLS_PER_THREAD);
    }
    CHECK_INT(wait_delivered(HOST_THREADS * CALLS_PER_THREAD), HOST_THREADS * CALLS_PER_THREAD);
    sleep_ms(50); /* nothing more may arrive */
    imconv_sdk_free(sdk);
    CHECK_INT(atomic_load(&delivered), HOST_THREADS * CALLS_PER_THREAD);
    int not_once = 0;
    for (size_t i = 0; i < HOST_THREADS * CALLS_PER_THREAD; i++) not_once += atomic_load(&slots[i]) != 1;
    CHECK_INT(not_once, 0);
    CHECK_INT(atomic_load(&overlaps), 0);
    CHECK_INT(atomic_load(&inline_callbacks), 0);
    CHECK_INT(atomic_load(&callback_thread_changed), 0);
    CHECK_INT(atomic_load(&wrong_result), 0);
    for (int t = 0; t < HOST_THREADS; t++) CHECK(!pthread_equal(callback_thread, threads[t]));
    CHECK(!pthread_equal(callback_thread, pthread_self()));
}

/* A callback that starts the next lookup, 200 deep. */
typedef struct {
    imconv_sdk *sdk;
    int remaining;
    int refused;
    call done;
} chain;

static void chain_step(const imconv_conversation *v, void *user_data) {
    chain *ch = user_data;
    (void)v;
    if (--ch->remaining == 0) {
        call_finish(&ch->done, 1);
        return;
    }
    inside_call = 1;
    int32_t rc = ch->remaining % 2
                     ? imconv_get_conversation(ch->sdk, "c2c_alice", chain_step, on_fail, ch)
                     : imconv_get_conversation(ch->sdk, "c2c_someone_new", chain_step, on_fail, ch);
    inside_call = 0;
    if (rc != IMCONV_OK) {
        ch->refused++;
        call_finish(&ch->done, 0);
    }
}

static void test_callback_may_start_another_lookup(void) {
    imconv_sdk *sdk = open_with_sample();
    chain ch;
    memset(&ch, 0, sizeof ch);
    ch.sdk = sdk;
    ch.remaining = 200;
    call_init(&ch.done);
    atomic_store(&inline_callbacks, 0);
    CHECK_INT(imconv_get_conversation(sdk, "c2c_alice", chain_step, on_fail, &ch), IMCONV_OK);
    call_wait(&ch.done);
    CHECK_INT(ch.remaining, 0);
    CHECK_INT(ch.refused, 0);
    CHECK_INT(ch.done.successes, 1);
    call_destroy(&ch.done);
    imconv_sdk_free(sdk);
}

static void test_free_with_10000_calls_in_flight(void) {
    enum { N = 10000 };
    imconv_sdk *sdk = open_dir("in-flight");
    call c;
    call_init(&c);
    import_sync(sdk, SAMPLE, &c);
    call_destroy(&c);
    reset_counters();
    char id[32];
    const char *list_ids[] = {"group_g1", "c2c_alice"};
    int accepted = 0;
    for (int i = 0; i < N; i++) {
        int32_t rc;
        snprintf(id, sizeof id, "c2c_f%d", i); /* cache misses: store work in flight */
        if (i % 3 == 0) rc = imconv_get_conversation(sdk, id, stress_one, stress_fail, &slots[i]);
        else if (i % 3 == 1) rc = imconv_get_conversation_list(sdk, list_ids, 2, stress_list, stress_fail, &slots[i]);
        else rc = imconv_import_conversations(sdk, "[{\"conversationID\":\"c2c_w\"}]", note_callback, stress_fail, &slots[i]);
        accepted += rc == IMCONV_OK;
    }
    CHECK_INT(accepted, N);
    imconv_sdk_free(sdk);
    /* Every call had its one callback before free returned, none after. */
    CHECK_INT(atomic_load(&delivered), N);
    sleep_ms(100);
    CHECK_INT(atomic_load(&delivered), N);
    int not_once = 0;
    for (int i = 0; i < N; i++) not_once += atomic_load(&slots[i]) != 1;
    CHECK_INT(not_once, 0);
    CHECK_INT(atomic_load(&overlaps), 0);
    CHECK_INT(atomic_load(&wrong_result), 0);
    CHECK_INT(library_threads(), 0);
}

/* imconv_sdk_free from inside a callback of the same instance. */
typedef struct {
    imconv_sdk *sdk;
    int32_t after_free_rc;
    atomic_int returned;
} self_free;

static void free_from_callback(const imconv_conversation *v, void *user_data) {
    self_free *sf = user_data;
    (void)v;
    imconv_sdk_free(sf->sdk); /* returns at once */
    sf->after_free_rc = imconv_get_conversation(sf->sdk, "c2c_alice", stress_one, stress_fail, &slots[0]);
    atomic_store(&sf->returned, 1);
}

static void test_free_from_inside_a_callback(void) {
    enum { N = 2000 };
    imconv_sdk *sdk = open_with_sample();
    reset_counters();
    self_free sf = {sdk, 0, 0};
    CHECK_INT(imconv_get_conversation(sdk, "c2c_alice", free_from_callback, on_fail, &sf), IMCONV_OK);
    int accepted = 0;
    for (int i = 1; i <= N; i++) {
        int32_t rc = imconv_get_conversation(sdk, "c2c_bob", stress_one, stress_fail, &slots[i]);
        if (rc != IMCONV_OK) break; /* the callback has freed it: stop using the handle */
        accepted++;
    }
    for (int i = 0; i < 6000 && (!atomic_load(&sf.returned) || atomic_load(&delivered) < accepted); i++) sleep_ms(5);
    CHECK(atomic_load(&sf.returned));
    CHECK_INT(sf.after_free_rc, IMCONV_ERR_SHUTDOWN);
    CHECK_INT(atomic_load(&delivered), accepted);
    int not_once = 0;
    for (int i = 1; i <= accepted; i++) not_once += atomic_load(&slots[i]) != 1;
    CHECK_INT(not_once, 0);
    CHECK_INT(atomic_load(&slots[0]), 0);
    /* The instance tears itself down on its callback thread, which exits. */
    int threads = -1;
    for (int i = 0; i < 2000 && (threads = library_threads()) != 0; i++) sleep_ms(5);
    CHECK_INT(threads, 0);
}

/* Reads accepted before imconv_sdk_free complete: free answers them (it
 * does not fail them with SHUTDOWN), in both delivery modes. Each round
 * reopens the store, so every read misses the cache and needs the store. */
static void on_page_done(const imconv_conversation *const *convs, size_t n, const char *next,
                         bool finished, void *user_data) {
    (void)next;
    (void)finished;
    on_list(convs, n, user_data);
}
static void on_count_done(uint64_t value, void *user_data) {
    ((call *)user_data)->code = (int32_t)value; /* the value, in a field that owns nothing */
    call_finish(user_data, 1);
}
static void on_groups_done(const char *const *names, size_t n, void *user_data) {
    (void)names;
    ((call *)user_data)->code = (int32_t)n;
    call_finish(user_data, 1);
}

static void reads_then_free(const char *delivery) {
    char config[1024];
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s/free-reads\"}", scratch);
    imconv_sdk *sdk = open_sdk(config);
    call c;
    call_init(&c);
    import_sync(sdk, SAMPLE, &c);
    call_destroy(&c);
    imconv_sdk_free(sdk);
    snprintf(config, sizeof config,
             "{\"user_id\":\"me\",\"data_dir\":\"%s/free-reads\",\"delivery\":\"%s\"}", scratch, delivery);
    for (int round = 0; round < 20; round++) {
        sdk = open_sdk(config);
        call get, list, page, total, groups;
        call_init(&get), call_init(&list), call_init(&page), call_init(&total), call_init(&groups);
        const char *ids[] = {"c2c_bob", "group_g1"};
        CHECK_INT(imconv_get_conversation(sdk, "c2c_alice", on_one, on_fail, &get), IMCONV_OK);
        CHECK_INT(imconv_get_conversation_list(sdk, ids, 2, on_list, on_fail, &list), IMCONV_OK);
        CHECK_INT(imconv_get_conversation_page(sdk, NULL, "", 10, on_page_done, on_fail, &page), IMCONV_OK);
        CHECK_INT(imconv_get_total_unread(sdk, NULL, on_count_done, on_fail, &total), IMCONV_OK);
        CHECK_INT(imconv_get_groups(sdk, on_groups_done, on_fail, &groups), IMCONV_OK);
        imconv_sdk_free(sdk);
        call *all[] = {&get, &list, &page, &total, &groups};
        for (int i = 0; i < 5; i++) {
            if (all[i]->successes != 1)
                fprintf(stderr, "%s round %d read %d: %d successes, error %d %s\n", delivery, round, i,
                        all[i]->successes, all[i]->code, all[i]->desc);
            CHECK_INT(all[i]->successes + all[i]->errors, 1);
            CHECK_INT(all[i]->successes, 1);
        }
        CHECK_INT(get.count, 1);
        CHECK_INT(list.count, 2);
        CHECK_INT(page.count, 3);
        CHECK_INT(total.code, 2); /* group_g1 is muted (recvOpt 2): left out */
        CHECK_INT(groups.code, 1);
        for (int i = 0; i < 5; i++) call_destroy(all[i]);
        if (current_failed) break;
    }
}

static void test_reads_accepted_before_free_complete(void) {
    reads_then_free("thread");
    reads_then_free("host");
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir>\n", argv[0]);
        return 2;
    }
    scratch = argv[2];
    RUN(test_exactly_once_from_4_threads);
    RUN(test_callback_may_start_another_lookup);
    RUN(test_free_with_10000_calls_in_flight);
    RUN(test_free_from_inside_a_callback);
    RUN(test_reads_accepted_before_free_complete);
    return test_summary();
}
