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
    RUN(test_thread_delivery_has_no_event_fd);
    return test_summary();
}
