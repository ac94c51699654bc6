/* A minimal test harness for the C tests: checks, a runner, and a
 * "call" record that the callbacks fill in and the test thread waits on. */
#ifndef IMCONV_TESTLIB_H
#define IMCONV_TESTLIB_H

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imconv.h"

static int tests_passed, tests_failed, current_failed;
static const char *current_test = "";

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,           \
                    current_test, #cond);                                                   \
            current_failed = 1;                                                             \
        }                                                                                   \
    } while (0)

#define CHECK_INT(a, b)                                                                     \
    do {                                                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b);                                 \
        if (a_ != b_) {                                                                     \
            fprintf(stderr, "%s:%d: %s: %s == %lld, expected %s == %lld\n", __FILE__,       \
                    __LINE__, current_test, #a, a_, #b, b_);                                \
            current_failed = 1;                                                             \
        }                                                                                   \
    } while (0)

#define CHECK_STR(a, b)                                                                     \
    do {                                                                                    \
        const char *a_ = (a), *b_ = (b);                                                    \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                            \
            fprintf(stderr, "%s:%d: %s: %s == \"%s\", expected \"%s\"\n", __FILE__,         \
                    __LINE__, current_test, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");    \
            current_failed = 1;                                                             \
        }                                                                                   \
    } while (0)

#define CHECK_CONTAINS(haystack, needle)                                                    \
    do {                                                                                    \
        const char *h_ = (haystack);                                                        \
        if (!h_ || !strstr(h_, (needle))) {                                                 \
            fprintf(stderr, "%s:%d: %s: \"%s\" does not contain \"%s\"\n", __FILE__,        \
                    __LINE__, current_test, h_ ? h_ : "(null)", (needle));                  \
            current_failed = 1;                                                             \
        }                                                                                   \
    } while (0)

#define RUN(fn)                                                                             \
    do {                                                                                    \
        current_test = #fn;                                                                 \
        current_failed = 0;                                                                 \
        fn();                                                                               \
        if (current_failed) tests_failed++;                                                 \
        else tests_passed++;                                                                \
        printf("%s %s\n", current_failed ? "FAIL" : "ok  ", #fn);                           \
        fflush(stdout);                                                                     \
    } while (0)

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed ? 1 : 0;
}

/* Starts `args[0]` (this program, run fresh: args is NULL-terminated)
   with a pipe's write end as its descriptor 3, where it reports; returns
   its pid (-1: no pipe or fork) and the read end in `*read_fd`. */
static inline pid_t spawn_reporter(char *const args[], int *read_fd) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* Descriptor 3 may be the read end itself: close that first. */
        close(fds[0]);
        if (fds[1] != 3) {
            dup2(fds[1], 3);
            close(fds[1]);
        }
        execv(args[0], args);
        _exit(99);
    }
    close(fds[1]);
    *read_fd = fds[0];
    return pid;
}

static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* What one call delivered. The callbacks copy everything they are lent. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int successes;
    int errors;
    int32_t code;
    char desc[1024];
    size_t count;      /* conversations delivered */
    char **jsons;      /* imconv_conversation_to_json of each, in order */
    pthread_t thread;  /* the thread the callback ran on */
} call;

static inline void call_init(call *c) {
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
}

static inline void call_reset(call *c) {
    for (size_t i = 0; i < c->count; i++) free(c->jsons[i]);
    free(c->jsons);
    c->jsons = NULL;
    c->count = 0;
    c->successes = c->errors = 0;
    c->code = 0;
    c->desc[0] = '\0';
}

static inline void call_destroy(call *c) {
    call_reset(c);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
}

static inline char *dup_json(const imconv_conversation *conv) {
    char *lent = imconv_conversation_to_json(conv);
    char *copy = lent ? strdup(lent) : NULL;
    imconv_string_free(lent);
    return copy;
}

static inline void call_finish(call *c, int success) {
    pthread_mutex_lock(&c->lock);
    c->thread = pthread_self();
    if (success) c->successes++;
    else c->errors++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static inline void on_one(const imconv_conversation *conv, void *user_data) {
    call *c = user_data;
    c->jsons = calloc(1, sizeof *c->jsons);
    c->jsons[0] = dup_json(conv);
    c->count = 1;
    call_finish(c, 1);
}

static inline void on_list(const imconv_conversation *const *convs, size_t n, void *user_data) {
    call *c = user_data;
    c->jsons = calloc(n ? n : 1, sizeof *c->jsons);
    for (size_t i = 0; i < n; i++) c->jsons[i] = dup_json(convs[i]);
    c->count = n;
    call_finish(c, 1);
}

static inline void on_done(void *user_data) { call_finish(user_data, 1); }

static inline void on_fail(int32_t code, const char *desc, void *user_data) {
    call *c = user_data;
    c->code = code;
    snprintf(c->desc, sizeof c->desc, "%s", desc);
    call_finish(c, 0);
}

/* Seconds a test waits for one callback: 30, or IMCONV_TEST_TIMEOUT_S
   (valgrind runs everything tens of times slower). */
static inline long wait_seconds(void) {
    const char *s = getenv("IMCONV_TEST_TIMEOUT_S");
    return s && atol(s) > 0 ? atol(s) : 30;
}

/* Waits for the call's one callback; fails the test after wait_seconds(). */
static inline int call_wait(call *c) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += wait_seconds();
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    while (c->successes + c->errors == 0 && rc == 0) {
        rc = pthread_cond_timedwait(&c->cond, &c->lock, &deadline);
    }
    pthread_mutex_unlock(&c->lock);
    if (rc != 0) {
        fprintf(stderr, "%s: timed out waiting for a callback\n", current_test);
        current_failed = 1;
        return 0;
    }
    return 1;
}

/* Synchronous wrappers: make the call, wait for its callback. */
static inline void get_sync(imconv_sdk *sdk, const char *id, call *c) {
    call_reset(c);
    if (imconv_get_conversation(sdk, id, on_one, on_fail, c) != IMCONV_OK) {
        fprintf(stderr, "%s: call refused\n", current_test);
        current_failed = 1;
        return;
    }
    call_wait(c);
}

static inline void list_sync(imconv_sdk *sdk, const char *const *ids, size_t n, call *c) {
    call_reset(c);
    if (imconv_get_conversation_list(sdk, ids, n, on_list, on_fail, c) != IMCONV_OK) {
        fprintf(stderr, "%s: call refused\n", current_test);
        current_failed = 1;
        return;
    }
    call_wait(c);
}

/* Opens an instance; a failure fails the current test and returns NULL. */
static inline imconv_sdk *open_sdk(const char *config) {
    imconv_sdk *sdk = NULL;
    char *error = NULL;
    int32_t rc = imconv_sdk_new(config, &sdk, &error);
    if (rc != IMCONV_OK) {
        fprintf(stderr, "%s: imconv_sdk_new(%s) failed: %d %s\n", current_test, config, rc, error);
        current_failed = 1;
    }
    imconv_string_free(error);
    return sdk;
}

static inline imconv_sdk *open_memory(void) { return open_sdk("{\"user_id\":\"me\"}"); }

/* Waits for a done/error callback and returns the error code (0: success). */
static inline int32_t done_code(call *c) {
    call_wait(c);
    return c->errors ? c->code : IMCONV_OK;
}

/* Runs a write call and returns its outcome: the code its callback gave
 * (0: success), or -1 when the call was refused. */
#define WRITE(c, expr) (call_reset(c), ((expr) == IMCONV_OK ? done_code(c) : -1))

static inline void import_sync(imconv_sdk *sdk, const char *json, call *c) {
    call_reset(c);
    if (imconv_import_conversations(sdk, json, on_done, on_fail, c) != IMCONV_OK) {
        fprintf(stderr, "%s: call refused\n", current_test);
        current_failed = 1;
        return;
    }
    call_wait(c);
}

/* Threads of this process whose name starts with "imconv-". */
static inline int library_threads(void) {
    DIR *dir = opendir("/proc/self/task");
    if (!dir) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[300], name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(name, sizeof name, f) && strncmp(name, "imconv-", 7) == 0) n++;
        fclose(f);
    }
    closedir(dir);
    return n;
}

#endif
