/* A callback that ends its thread with pthread_exit (a forced unwind: what
 * CPython does to a thread that enters a finalizing interpreter, what
 * pthread_cancel does) passes through the library: nothing catches it as
 * a panic (glibc aborts the process when a forced unwind is caught and not
 * rethrown), the thread ends, and the process goes on. Each case runs in a
 * child process, whose exit status is the verdict. */
#include <poll.h>
#include <sys/wait.h>

#include "testlib.h"

static const char *scratch;

static imconv_sdk *open_with_delivery(const char *delivery) {
    char config[256];
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"delivery\":\"%s\"}", delivery);
    imconv_sdk *sdk = NULL;
    if (imconv_sdk_new(config, &sdk, NULL) != IMCONV_OK) exit(10);
    return sdk;
}

static void exit_thread_from_callback(const imconv_conversation *c, void *user_data) {
    (void)c;
    (void)user_data;
    pthread_exit(NULL);
}

static void exit_thread_from_done(void *user_data) {
    (void)user_data;
    pthread_exit(NULL);
}

static void exit_thread_from_listener(const imconv_conversation *const *cs, size_t n, void *user_data) {
    (void)cs;
    (void)n;
    (void)user_data;
    pthread_exit(NULL);
}

/* The write whose listener ended the thread still gets its callback: on
 * the thread that frees the instance. */
static atomic_int write_done;
static void note_write_done(void *user_data) {
    (void)user_data;
    atomic_store(&write_done, 1);
}

/* Calls made behind the one whose callback ends the thread: each still
 * gets exactly one callback (an answer, or SHUTDOWN), from free. */
enum { BEHIND = 100 };
static atomic_int behind[BEHIND];
static void behind_one(const imconv_conversation *c, void *user_data) {
    (void)c;
    atomic_fetch_add(&behind[(intptr_t)user_data], 1);
}
static void behind_fail(int32_t code, const char *desc, void *user_data) {
    (void)code;
    (void)desc;
    atomic_fetch_add(&behind[(intptr_t)user_data], 1);
}

static void ignore_error(int32_t code, const char *desc, void *user_data) {
    (void)code;
    (void)desc;
    (void)user_data;
}

/* The same process still works: a fresh instance answers a lookup. */
static int still_works(const char *delivery) {
    imconv_sdk *sdk = open_with_delivery(delivery);
    call c;
    call_init(&c);
    CHECK_INT(imconv_get_conversation(sdk, "c2c_after", on_one, on_fail, &c), IMCONV_OK);
    if (strcmp(delivery, "host") == 0)
        while (c.successes + c.errors == 0) imconv_dispatch(sdk, 0);
    else
        call_wait(&c);
    int ok = c.successes == 1;
    call_destroy(&c);
    imconv_sdk_free(sdk);
    return ok;
}

/* Thread delivery: the instance's callback thread ends inside a callback
 * (a lookup's, a write's, a listener's); freeing the instance returns. */
static void thread_delivery(int which) {
    imconv_sdk *sdk = open_with_delivery("thread");
    if (which == 2) {
        imconv_listener l;
        imconv_listener_init(&l);
        l.on_new = exit_thread_from_listener;
        uint64_t id;
        if (imconv_add_listener(sdk, &l, &id) != IMCONV_OK) exit(11);
    }
    int32_t rc = which == 0 ? imconv_get_conversation(sdk, "c2c_a", exit_thread_from_callback, ignore_error, NULL)
               : which == 1 ? imconv_import_conversations(sdk, "[{\"conversationID\":\"c2c_a\"}]",
                                                         exit_thread_from_done, ignore_error, NULL)
                            : imconv_apply_messages(sdk, "[{\"conversationID\":\"c2c_a\",\"msgID\":\"m\",\"timestamp\":1}]",
                                                    note_write_done, ignore_error, NULL);
    if (rc != IMCONV_OK) exit(12);
    for (int i = 0; i < BEHIND; i++) {
        char id[32];
        snprintf(id, sizeof id, "c2c_behind%d", i);
        if (imconv_get_conversation(sdk, id, behind_one, behind_fail, (void *)(intptr_t)i) != IMCONV_OK) exit(12);
    }
    sleep_ms(200); /* the thread has most likely ended; if not, it ends during free: same verdict */
    imconv_sdk_free(sdk);
    if (which == 2 && !atomic_load(&write_done)) exit(15); /* a callback was lost */
    for (int i = 0; i < BEHIND; i++)
        if (atomic_load(&behind[i]) != 1) exit(16); /* lost, or delivered twice */
    exit(still_works("thread") ? 0 : 13);
}

static void *dispatching_thread(void *arg) {
    imconv_sdk *sdk = arg;
    struct pollfd fd = {imconv_event_fd(sdk), POLLIN, 0};
    for (;;) { /* until the callback ends this thread */
        poll(&fd, 1, 100);
        imconv_dispatch(sdk, 1);
    }
    return NULL;
}

/* Host delivery: a host thread ends inside imconv_dispatch; the host's
 * other threads dispatch and free the instance afterwards. */
static void host_delivery(void) {
    imconv_sdk *sdk = open_with_delivery("host");
    if (imconv_get_conversation(sdk, "c2c_a", exit_thread_from_callback, ignore_error, NULL) != IMCONV_OK)
        exit(12);
    pthread_t t;
    pthread_create(&t, NULL, dispatching_thread, sdk);
    pthread_join(t, NULL);
    call second;
    call_init(&second);
    if (imconv_get_conversation(sdk, "c2c_b", on_one, on_fail, &second) != IMCONV_OK) exit(12);
    while (second.successes + second.errors == 0) imconv_dispatch(sdk, 0);
    imconv_sdk_free(sdk);
    int ok = second.successes == 1;
    call_destroy(&second);
    exit(ok && still_works("host") ? 0 : 13);
}

static void expect_clean_exit(void (*body)(int), int arg) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        body(arg);
        exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) fprintf(stderr, "%s: the child died of signal %d\n", current_test, WTERMSIG(status));
    CHECK(WIFEXITED(status));
    CHECK_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
}

static void host_body(int unused) {
    (void)unused;
    host_delivery();
}

static void test_pthread_exit_in_a_lookup_callback(void) { expect_clean_exit(thread_delivery, 0); }
static void test_pthread_exit_in_a_write_callback(void) { expect_clean_exit(thread_delivery, 1); }
static void test_pthread_exit_in_a_listener(void) { expect_clean_exit(thread_delivery, 2); }
static void test_pthread_exit_inside_dispatch(void) { expect_clean_exit(host_body, 0); }

int main(int argc, char **argv) {
    (void)argc;
    scratch = argv[2];
    (void)scratch;
    RUN(test_pthread_exit_in_a_lookup_callback);
    RUN(test_pthread_exit_in_a_write_callback);
    RUN(test_pthread_exit_in_a_listener);
    RUN(test_pthread_exit_inside_dispatch);
    return test_summary();
}
