/* Host-driven delivery ("delivery": "host"): no callback runs until the
 * host calls imconv_dispatch on its own thread; imconv_event_fd is readable
 * while callbacks wait, for a poll() loop; exactly once holds; free
 * delivers what is owed on the freeing thread. Run as
 *   test_host_delivery <path/to/libimconv.so> <scratch_dir>
 */
#include <poll.h>

#include "testlib.h"

static pthread_t host;
static atomic_int ran, off_host, errors_seen;

static void on_conv(const imconv_conversation *c, void *u) {
    (void)c;
    (void)u;
    if (!pthread_equal(pthread_self(), host)) atomic_fetch_add(&off_host, 1);
    atomic_fetch_add(&ran, 1);
}
static void on_ok(void *u) {
    (void)u;
    if (!pthread_equal(pthread_self(), host)) atomic_fetch_add(&off_host, 1);
    atomic_fetch_add(&ran, 1);
}
static void on_err(int32_t code, const char *desc, void *u) {
    (void)code;
    (void)desc;
    (void)u;
    atomic_fetch_add(&errors_seen, 1);
    atomic_fetch_add(&ran, 1);
}

static imconv_sdk *open_host(void) {
    imconv_sdk *sdk = NULL;
    char *error = NULL;
    if (imconv_sdk_new("{\"user_id\":\"me\",\"delivery\":\"host\"}", &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "%s\n", error);
        current_failed = 1;
    }
    imconv_string_free(error);
    return sdk;
}

/* A host-delivery instance holding c2c_a and c2c_b, both cached: a lookup
   of either completes inside the call, so every lookup a test makes waits
   before the test dispatches, and no verdict depends on how fast the
   blocking pool reads the store. */
static imconv_sdk *open_host_stored(void) {
    imconv_sdk *sdk = open_host();
    call c;
    call_init(&c);
    CHECK_INT(imconv_import_conversations(sdk, "[{\"conversationID\":\"c2c_a\"},{\"conversationID\":\"c2c_b\"}]",
                                          on_done, on_fail, &c),
              IMCONV_OK);
    struct pollfd p = {imconv_event_fd(sdk), POLLIN, 0};
    while (c.successes + c.errors == 0)
        if (poll(&p, 1, 100) > 0) imconv_dispatch(sdk, 0);
    CHECK_INT(c.successes, 1);
    call_destroy(&c);
    return sdk;
}

/* Polls the descriptor and dispatches until *flag is set (at most 30 s). */
static void loop_until_flag(imconv_sdk *sdk, atomic_int *flag) {
    struct pollfd p = {imconv_event_fd(sdk), POLLIN, 0};
    for (int i = 0; i < 3000 && !atomic_load(flag); i++) {
        if (poll(&p, 1, 10) > 0 && (p.revents & POLLIN)) imconv_dispatch(sdk, 0);
    }
}

/* Polls the descriptor and dispatches until `want` callbacks ran. */
static void loop_until(imconv_sdk *sdk, int want) {
    struct pollfd p = {imconv_event_fd(sdk), POLLIN, 0};
    for (int i = 0; i < 3000 && atomic_load(&ran) < want; i++) {
        if (poll(&p, 1, 10) > 0 && (p.revents & POLLIN)) imconv_dispatch(sdk, 0);
    }
}

static void test_callbacks_run_only_in_dispatch_on_the_host_thread(void) {
    host = pthread_self();
    atomic_store(&ran, 0);
    atomic_store(&off_host, 0);
    imconv_sdk *sdk = open_host();
    CHECK(imconv_event_fd(sdk) >= 0);
    CHECK_INT(imconv_import_conversations(sdk, "[{\"conversationID\":\"c2c_a\"}]", on_ok, on_err, NULL), IMCONV_OK);
    for (int i = 0; i < 100; i++)
        CHECK_INT(imconv_get_conversation(sdk, "c2c_a", on_conv, on_err, NULL), IMCONV_OK);
    /* Nothing runs by itself. */
    sleep_ms(100);
    CHECK_INT(atomic_load(&ran), 0);
    /* The descriptor is readable; one at a time with max 1. */
    struct pollfd p = {imconv_event_fd(sdk), POLLIN, 0};
    CHECK_INT(poll(&p, 1, 5000), 1);
    CHECK_INT(imconv_dispatch(sdk, 1), 1);
    CHECK_INT(atomic_load(&ran), 1);
    loop_until(sdk, 101);
    CHECK_INT(atomic_load(&ran), 101);
    CHECK_INT(atomic_load(&off_host), 0);
    CHECK_INT(atomic_load(&errors_seen), 0);
    /* Nothing waits: not readable, and dispatch runs none. */
    CHECK_INT(poll(&p, 1, 50), 0);
    CHECK_INT(imconv_dispatch(sdk, 0), 0);
    imconv_sdk_free(sdk);
    CHECK_INT(library_threads(), 0);
}

static void test_free_delivers_what_is_owed_on_the_freeing_thread(void) {
    host = pthread_self();
    atomic_store(&ran, 0);
    atomic_store(&off_host, 0);
    imconv_sdk *sdk = open_host();
    int accepted = 0;
    for (int i = 0; i < 500; i++) {
        char doc[128];
        snprintf(doc, sizeof doc, "[{\"conversationID\":\"c2c_u%d\"}]", i);
        accepted += imconv_import_conversations(sdk, doc, on_ok, on_err, NULL) == IMCONV_OK;
        accepted += imconv_get_conversation(sdk, "c2c_u1", on_conv, on_err, NULL) == IMCONV_OK;
    }
    imconv_sdk_free(sdk);
    /* Every accepted call called back once, all on this thread. */
    CHECK_INT(atomic_load(&ran), accepted);
    CHECK_INT(atomic_load(&off_host), 0);
}

typedef struct {
    imconv_sdk *sdk;
    atomic_int freed;
} freeing;

static void free_in_callback(const imconv_conversation *c, void *u) {
    (void)c;
    freeing *f = u;
    imconv_sdk_free(f->sdk);
    atomic_store(&f->freed, 1);
}

static void test_free_from_a_callback_inside_dispatch(void) {
    host = pthread_self();
    atomic_store(&ran, 0);
    freeing f = {open_host(), 0};
    CHECK_INT(imconv_get_conversation(f.sdk, "c2c_x", free_in_callback, on_err, &f), IMCONV_OK);
    for (int i = 0; i < 20; i++)
        CHECK_INT(imconv_get_conversation(f.sdk, "c2c_y", on_conv, on_err, NULL), IMCONV_OK);
    /* The dispatch that runs the freeing callback finishes the teardown:
       everything still owed is delivered before it returns, and the
       instance is gone (it must not be dispatched again). */
    struct pollfd p = {imconv_event_fd(f.sdk), POLLIN, 0};
    for (int i = 0; i < 3000 && !atomic_load(&f.freed); i++) {
        if (poll(&p, 1, 10) > 0) imconv_dispatch(f.sdk, 0);
    }
    CHECK(atomic_load(&f.freed));
    CHECK_INT(atomic_load(&ran), 20);
    CHECK_INT(library_threads(), 0);
}

/* --- nested loops: a callback that dispatches again ------------------- */

typedef struct {
    imconv_sdk *sdk;
    int style;          /* 0: Qt (dispatch all at once), 1: GLib (poll loop) */
    atomic_int nested;  /* callbacks run by the nested loop */
    atomic_int inside;  /* callbacks running now */
    atomic_int most;    /* the most that ever ran at once */
    atomic_int done;
} nesting;

static nesting *the_nest;

static void enter(nesting *n) {
    int now = atomic_fetch_add(&n->inside, 1) + 1;
    int most = atomic_load(&n->most);
    while (now > most && !atomic_compare_exchange_weak(&n->most, &most, now)) {}
}

static void counted(const imconv_conversation *c, void *u) {
    (void)c;
    (void)u;
    enter(the_nest);
    atomic_fetch_add(&the_nest->nested, 1);
    atomic_fetch_sub(&the_nest->inside, 1);
}

/* Runs a nested event loop until the 10 lookups queued after it ran. */
static void opens_a_modal_loop(const imconv_conversation *c, void *u) {
    (void)c;
    nesting *n = u;
    for (int i = 0; i < 10; i++)
        CHECK_INT(imconv_get_conversation(n->sdk, "c2c_b", counted, on_err, NULL), IMCONV_OK);
    /* This callback is still running: it does not count as inside. */
    if (n->style == 0) {
        /* Qt: QDialog::exec() processes events, the notifier calls dispatch. */
        for (int i = 0; i < 3000 && atomic_load(&n->nested) < 10; i++) {
            imconv_dispatch(n->sdk, 0);
            sleep_ms(1);
        }
    } else {
        /* GLib: a nested g_main_loop_run polls the descriptor. */
        struct pollfd p = {imconv_event_fd(n->sdk), POLLIN, 0};
        for (int i = 0; i < 3000 && atomic_load(&n->nested) < 10; i++)
            if (poll(&p, 1, 10) > 0 && (p.revents & POLLIN)) imconv_dispatch(n->sdk, 1);
    }
    atomic_store(&n->done, 1);
}

static void test_a_callback_may_run_a_nested_loop(void) {
    for (int style = 0; style < 2; style++) {
        nesting n = {open_host_stored(), style, 0, 0, 0, 0};
        the_nest = &n;
        CHECK_INT(imconv_get_conversation(n.sdk, "c2c_a", opens_a_modal_loop, on_err, &n), IMCONV_OK);
        loop_until_flag(n.sdk, &n.done);
        CHECK_INT(atomic_load(&n.done), 1);
        CHECK_INT(atomic_load(&n.nested), 10);
        CHECK_INT(atomic_load(&n.most), 1);
        imconv_sdk_free(n.sdk);
    }
}

/* --- free on one thread while another dispatches ------------------------ */

static void slow(const imconv_conversation *c, void *u) {
    (void)c;
    (void)u;
    enter(the_nest);
    sleep_ms(1); /* widens the window; the verdict does not depend on it */
    atomic_fetch_add(&the_nest->nested, 1);
    atomic_fetch_sub(&the_nest->inside, 1);
}

/* One dispatch of everything waiting (about 300 ms of slow callbacks). */
static void *dispatcher_thread(void *arg) {
    nesting *n = arg;
    imconv_dispatch(n->sdk, 0);
    return NULL;
}

static void test_free_beside_a_dispatching_thread_never_overlaps_callbacks(void) {
    nesting n = {open_host_stored(), 0, 0, 0, 0, 0};
    the_nest = &n;
    int accepted = 0;
    for (int i = 0; i < 300; i++)
        accepted += imconv_get_conversation(n.sdk, "c2c_a", slow, on_err, NULL) == IMCONV_OK;
    pthread_t t;
    pthread_create(&t, NULL, dispatcher_thread, &n);
    while (atomic_load(&n.nested) < 5) sleep_ms(1);
    /* The other thread is inside imconv_dispatch (which keeps the instance
       alive until it returns); free delivers what is left here, after it,
       never beside it. */
    imconv_sdk_free(n.sdk);
    CHECK_INT(atomic_load(&n.nested), accepted);
    pthread_join(t, NULL);
    CHECK_INT(atomic_load(&n.most), 1);
}

/* --- imconv_wait_freed inside the callback that freed its instance ------ */

static atomic_int waited;
static void free_and_wait(const imconv_conversation *c, void *u) {
    (void)c;
    freeing *f = u;
    imconv_sdk_free(f->sdk);
    /* Its threads stop once this callback returns: waiting here would
       wait for itself. */
    atomic_store(&waited, imconv_wait_freed(100));
    atomic_store(&f->freed, 1);
}

static void test_wait_freed_keeps_its_contract_with_host_delivery(void) {
    freeing f = {open_host_stored(), 0};
    CHECK_INT(imconv_get_conversation(f.sdk, "c2c_a", free_and_wait, on_err, &f), IMCONV_OK);
    loop_until_flag(f.sdk, &f.freed);
    CHECK_INT(atomic_load(&waited), IMCONV_ERR_WOULD_DEADLOCK);
    /* The dispatch finished the teardown: nothing is left to wait for. */
    CHECK_INT(imconv_wait_freed(0), IMCONV_OK);
    CHECK_INT(library_threads(), 0);
}

/* --- reads are bounded like writes -------------------------------------- */

static void test_reads_waiting_for_their_callbacks_are_bounded(void) {
    host = pthread_self();
    atomic_store(&ran, 0);
    atomic_store(&errors_seen, 0);
    imconv_sdk *sdk = open_host_stored();
    /* Nothing is dispatched, so every accepted lookup waits. */
    int accepted = 0, full = 0, other = 0;
    for (int i = 0; i < IMCONV_MAX_QUEUED_READS + 1000; i++) {
        int32_t rc = imconv_get_conversation(sdk, "c2c_a", on_conv, on_err, NULL);
        if (rc == IMCONV_OK) accepted++;
        else if (rc == IMCONV_ERR_QUEUE_FULL) full++;
        else other++;
    }
    CHECK_INT(accepted, IMCONV_MAX_QUEUED_READS);
    CHECK_INT(full, 1000);
    CHECK_INT(other, 0);
    const char *ids[] = {"c2c_a"};
    CHECK_INT(imconv_get_conversation_list(sdk, ids, 1, NULL, on_err, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_get_total_unread(sdk, NULL, NULL, on_err, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    /* Refused calls never call back; the accepted ones each once. */
    while (imconv_dispatch(sdk, 0) > 0) {}
    CHECK_INT(atomic_load(&ran), accepted);
    CHECK_INT(atomic_load(&errors_seen), 0);
    /* Once they called back, reads are taken again. */
    CHECK_INT(imconv_get_conversation(sdk, "c2c_a", on_conv, on_err, NULL), IMCONV_OK);
    loop_until(sdk, accepted + 1);
    CHECK_INT(atomic_load(&ran), accepted + 1);
    imconv_sdk_free(sdk);
}

static void test_thread_delivery_has_no_event_fd(void) {
    imconv_sdk *sdk = NULL;
    CHECK_INT(imconv_sdk_new("{\"user_id\":\"me\"}", &sdk, NULL), IMCONV_OK);
    CHECK_INT(imconv_event_fd(sdk), -1);
    CHECK_INT(imconv_dispatch(sdk, 0), 0);
    imconv_sdk_free(sdk);
    CHECK_INT(imconv_event_fd(NULL), -1);
    CHECK_INT(imconv_dispatch(NULL, 0), 0);
    imconv_sdk *bad = NULL;
    CHECK_INT(imconv_sdk_new("{\"user_id\":\"me\",\"delivery\":\"later\"}", &bad, NULL), IMCONV_ERR_INVALID_PARAMETERS);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir>\n", argv[0]);
        return 2;
    }
    alarm((unsigned)wait_seconds() * 4);
    RUN(test_callbacks_run_only_in_dispatch_on_the_host_thread);
    RUN(test_free_delivers_what_is_owed_on_the_freeing_thread);
    RUN(test_free_from_a_callback_inside_dispatch);
    RUN(test_a_callback_may_run_a_nested_loop);
    RUN(test_free_beside_a_dispatching_thread_never_overlaps_callbacks);
    RUN(test_wait_freed_keeps_its_contract_with_host_delivery);
    RUN(test_reads_waiting_for_their_callbacks_are_bounded);
    RUN(test_thread_delivery_has_no_event_fd);
    return test_summary();
}
