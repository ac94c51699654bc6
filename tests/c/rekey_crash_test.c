/* Rekey under SIGKILL (issue 27, item 3): a child opens a store of N
 * conversations with its old key, makes one write, starts imconv_rekey to
 * a new key, and goes on writing (those writes wait for the rekey); each
 * acknowledgement goes over a pipe. The parent kills it at a random moment
 * (spread over the child's whole life: its open, the rekey, the writes
 * after), then checks that
 *   - the store opens with exactly one of the two keys, the other refused
 *     with IMCONV_ERR_WRONG_KEY (the new one whenever the rekey was
 *     acknowledged);
 *   - every acknowledged write is there, and the N conversations it began
 *     with (a sample of them, and their count by pages);
 *   - the rekey's work folder is gone once it is open.
 * Rounds cycle through the three kinds of rekey: plain -> A (migration),
 * A -> B (a new key), A -> plain (decrypting).
 *
 *   rekey_crash_test <scratch_dir> <rounds> <conversations>
 * The child is this program run again (`--child <dir> <old> <new>`).
 */
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testlib.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
enum { REKEY_ACK = 1 << 30, IN_FLIGHT = 4, MAX_ACKS = 1 << 20 };
static unsigned char acks[MAX_ACKS];

static void config_for(char *out, size_t n, const char *dir, const char *key) {
    if (strcmp(key, "-") == 0)
        snprintf(out, n, "{\"user_id\":\"me\",\"data_dir\":\"%s\"}", dir);
    else
        snprintf(out, n, "{\"user_id\":\"me\",\"data_dir\":\"%s\",\"encryption_key\":\"%s\"}", dir, key);
}

/* ---- the child ------------------------------------------------------- */

static atomic_int in_flight;

static void acked(void *user_data) {
    uint64_t n = (uint64_t)(uintptr_t)user_data;
    if (write(3, &n, sizeof n) != sizeof n) _exit(3);
    atomic_fetch_sub(&in_flight, 1);
}

static void failed(int32_t code, const char *desc, void *user_data) {
    fprintf(stderr, "child: call %llu failed: %d %s\n", (unsigned long long)(uintptr_t)user_data,
            code, desc);
    _exit(4);
}

static int32_t post(imconv_sdk *sdk, uint64_t n) {
    char doc[160];
    snprintf(doc, sizeof doc, "[{\"conversationID\":\"c2c_w%llu\",\"showName\":\"W%llu\"}]",
             (unsigned long long)n, (unsigned long long)n);
    atomic_fetch_add(&in_flight, 1);
    return imconv_import_conversations(sdk, doc, acked, failed, (void *)(uintptr_t)n);
}

static int child(const char *dir, const char *old_key, const char *new_key) {
    char config[512];
    config_for(config, sizeof config, dir, old_key);
    imconv_sdk *sdk = open_sdk(config);
    if (!sdk) _exit(5);
    if (post(sdk, 0) != IMCONV_OK) _exit(6);
    while (atomic_load(&in_flight) > 0) sleep_ms(1);
    atomic_fetch_add(&in_flight, 1);
    if (imconv_rekey(sdk, strcmp(new_key, "-") == 0 ? NULL : new_key, acked, failed,
                     (void *)(uintptr_t)REKEY_ACK) != IMCONV_OK)
        _exit(7);
    for (uint64_t n = 1;; n++) {
        while (atomic_load(&in_flight) >= IN_FLIGHT) sleep_ms(1);
        if (post(sdk, n) != IMCONV_OK) _exit(8);
    }
}

/* ---- the parent ------------------------------------------------------ */

static int32_t try_open(const char *dir, const char *key, imconv_sdk **out) {
    char config[512];
    config_for(config, sizeof config, dir, key);
    char *error = NULL;
    int32_t rc = imconv_sdk_new(config, out, &error);
    if (rc != IMCONV_OK && rc != IMCONV_ERR_WRONG_KEY)
        fprintf(stderr, "opening with key %.4s: %d %s\n", key, rc, error ? error : "");
    imconv_string_free(error);
    return rc;
}

static int exists(imconv_sdk *sdk, const char *id, call *c) {
    get_sync(sdk, id, c);
    return c->successes == 1;
}

typedef struct {
    call c;
    char cursor[256];
    int finished;
    size_t seen;
} pager;

static void page_cb(const imconv_conversation *const *convs, size_t n, const char *next,
                    bool finished, void *user_data) {
    (void)convs;
    pager *p = user_data;
    p->seen += n;
    snprintf(p->cursor, sizeof p->cursor, "%s", next);
    p->finished = finished;
    call_finish(&p->c, 1);
}

static size_t count_all(imconv_sdk *sdk) {
    pager p;
    memset(&p, 0, sizeof p);
    call_init(&p.c);
    do {
        call_reset(&p.c);
        if (imconv_get_conversation_page(sdk, NULL, p.cursor, 1000, page_cb, on_fail, &p) != IMCONV_OK)
            break;
        call_wait(&p.c);
    } while (!p.finished && p.c.errors == 0);
    size_t seen = p.c.errors ? 0 : p.seen;
    call_destroy(&p.c);
    return seen;
}

static void build_base(const char *dir, long n, const char *key) {
    char config[512];
    config_for(config, sizeof config, dir, "-");
    imconv_sdk *sdk = open_sdk(config);
    call c;
    call_init(&c);
    size_t cap = 1000 * 96 + 16;
    char *doc = malloc(cap);
    for (long at = 0; at < n;) {
        size_t len = 0;
        len += (size_t)snprintf(doc + len, cap - len, "[");
        for (int i = 0; i < 1000 && at < n; i++, at++)
            len += (size_t)snprintf(doc + len, cap - len, "%s{\"conversationID\":\"c2c_b%06ld\",\"unreadCount\":%ld}",
                                    i ? "," : "", at, at % 3);
        snprintf(doc + len, cap - len, "]");
        import_sync(sdk, doc, &c);
    }
    if (strcmp(key, "-") != 0) CHECK_INT(WRITE(&c, imconv_rekey(sdk, key, on_done, on_fail, &c)), IMCONV_OK);
    free(doc);
    call_destroy(&c);
    imconv_sdk_free(sdk);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--child") == 0) return child(argv[2], argv[3], argv[4]);
    if (argc < 4) {
        fprintf(stderr, "usage: %s <scratch_dir> <rounds> <conversations>\n", argv[0]);
        return 2;
    }
    const char *scratch = argv[1];
    int rounds = atoi(argv[2]);
    long n = atol(argv[3]);
    current_test = "rekey_crash_test";
    char base_plain[1024], base_a[1024], dir[1024], cmd[4096];
    snprintf(base_plain, sizeof base_plain, "%s/base-plain", scratch);
    snprintf(base_a, sizeof base_a, "%s/base-a", scratch);
    snprintf(dir, sizeof dir, "%s/round", scratch);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'", base_plain, base_a, dir);
    if (system(cmd) != 0) return 1;
    double t0 = now_ms();
    build_base(base_plain, n, "-");
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", base_plain, base_a);
    if (system(cmd) != 0) return 1;
    double t1 = now_ms();
    build_base(base_a, 0, KEY_A); /* A's base: the plain one, rekeyed */
    double rekey_ms = now_ms() - t1;
    printf("rekey crash test: %ld conversations (built in %.0f ms, rekeyed in %.0f ms)\n", n, t1 - t0,
           rekey_ms);
    if (current_failed) return 1;
    static const char *kinds[3][3] = {{"-", KEY_A, "plain -> A"}, {KEY_A, KEY_B, "A -> B"}, {KEY_A, "-", "A -> plain"}};
    int counts[3][2] = {{0}};
    double window_ms = 0;
    srand((unsigned)time(NULL));
    call c;
    call_init(&c);
    for (int round = 0; round < rounds; round++) {
        const char *old_key = kinds[round % 3][0], *new_key = kinds[round % 3][1];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", dir,
                 strcmp(old_key, "-") == 0 ? base_plain : base_a, dir);
        if (system(cmd) != 0) return 1;
        char *args[] = {argv[0], "--child", dir, (char *)old_key, (char *)new_key, NULL};
        int reports;
        double started = now_ms();
        pid_t pid = spawn_reporter(args, &reports);
        if (pid < 0) return 1;
        /* The first round of each kind is not cut short: it measures how
           long the child takes to finish its rekey; later rounds are
           killed at a random moment of 1.2 times that. */
        uint64_t m;
        int rekeyed = 0, posts = 0, highest = 0;
        memset(acks, 0, sizeof acks);
        if (round < 3) {
            while (read(reports, &m, sizeof m) == sizeof m) {
                if (m == REKEY_ACK) break;
            }
            double took = now_ms() - started;
            if (took > window_ms) window_ms = took;
        } else {
            sleep_ms((long)(rand() % (int)(window_ms * 1.2 + 1)));
        }
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        if (round < 3) rekeyed = 1;
        while (read(reports, &m, sizeof m) == sizeof m) {
            if (m == REKEY_ACK) rekeyed = 1;
            else if (m < MAX_ACKS) {
                acks[m] = 1;
                posts++;
                if ((int)m > highest) highest = (int)m;
            }
        }
        close(reports);
        if (WIFEXITED(status)) {
            fprintf(stderr, "round %d: the child exited by itself (%d)\n", round, WEXITSTATUS(status));
            return 1;
        }
        imconv_sdk *with_old = NULL, *with_new = NULL;
        int32_t rc_old = try_open(dir, old_key, &with_old);
        if (with_old) imconv_sdk_free(with_old);
        int32_t rc_new = try_open(dir, new_key, &with_new);
        imconv_sdk *sdk = with_new;
        if (!sdk) {
            if (rc_old == IMCONV_OK) try_open(dir, old_key, &sdk);
        }
        int ok = 1;
        if (!((rc_old == IMCONV_OK) ^ (rc_new == IMCONV_OK)) ||
            (rc_old != IMCONV_OK && rc_old != IMCONV_ERR_WRONG_KEY) ||
            (rc_new != IMCONV_OK && rc_new != IMCONV_ERR_WRONG_KEY)) {
            fprintf(stderr, "round %d (%s): old key %d, new key %d: not exactly one\n", round,
                    kinds[round % 3][2], rc_old, rc_new);
            ok = 0;
        }
        if (rekeyed && rc_new != IMCONV_OK) {
            fprintf(stderr, "round %d: the rekey was acknowledged, the new key does not open\n", round);
            ok = 0;
        }
        if (ok && sdk) {
            char id[64];
            for (int i = 0; i <= highest; i++) {
                snprintf(id, sizeof id, "c2c_w%d", i);
                if (acks[i] && !exists(sdk, id, &c)) {
                    fprintf(stderr, "round %d: acknowledged write %d lost\n", round, i);
                    ok = 0;
                }
            }
            for (int i = 0; i < 20; i++) {
                snprintf(id, sizeof id, "c2c_b%06ld", (long)(rand() % n));
                if (!exists(sdk, id, &c)) {
                    fprintf(stderr, "round %d: %s lost\n", round, id);
                    ok = 0;
                }
            }
            size_t all = count_all(sdk), least = (size_t)n + (size_t)posts;
            if (all < least || all > least + IN_FLIGHT + 1) {
                fprintf(stderr, "round %d: %zu conversations, %zu acknowledged\n", round, all, least);
                ok = 0;
            }
            char work[1200];
            snprintf(work, sizeof work, "%s/me/.rekeying", dir);
            struct stat st;
            if (stat(work, &st) == 0) {
                fprintf(stderr, "round %d: the rekey's work folder is left\n", round);
                ok = 0;
            }
        }
        if (sdk) imconv_sdk_free(sdk);
        if (!ok) return 1;
        counts[round % 3][rc_new == IMCONV_OK]++;
    }
    call_destroy(&c);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'", base_plain, base_a, dir);
    if (system(cmd) != 0) return 1;
    printf("rekey crash test: %d rounds (kill window %.0f ms); opened with the old key / the new:", rounds,
           window_ms * 1.2);
    for (int k = 0; k < 3; k++) printf(" %s %d/%d;", kinds[k][2], counts[k][0], counts[k][1]);
    printf("\n%d passed, 0 failed\n", rounds);
    return 0;
}
