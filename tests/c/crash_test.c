/* Crash test: a child process writes to a store with several writes in
 * flight (imports, messages, syncs, deletes, drafts) and reports each
 * on_success over a pipe; the parent kills it with SIGKILL at a random
 * moment, reopens the store and checks that
 *   - every acknowledged write is there, with the right values;
 *   - no write is there in part (each imports three conversations: all or
 *     none of them exist);
 *   - acknowledged deletes stay deleted;
 *   - the unread total equals a recount of the conversations.
 * Run as
 *   crash_test <path/to/libimconv.so> <scratch_dir> [rounds] [writers]
 * The child is this program run again (`--child <dir> <first> <shared>`),
 * so it starts from a fresh process image.
 *
 * With writers > 1 (a "shared" store, issue 28) each round starts two or
 * three writing children on one store, each with writes of its own (and
 * messages to the same 20 conversations), kills one of them at a random
 * moment, checks that every other goes on acknowledging writes (a kill
 * never blocks another), then kills the rest and checks every child's
 * writes as above.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "testlib.h"

enum { IN_FLIGHT = 8, PER_ROUND = 100000, SLICE = 50000 };

/* ---- the child ------------------------------------------------------- */

static int ack_fd;
static atomic_int in_flight;

static void acked(void *user_data) {
    uint64_t n = (uint64_t)(uintptr_t)user_data;
    if (write(ack_fd, &n, sizeof n) != sizeof n) _exit(3);
    atomic_fetch_sub(&in_flight, 1);
}

static void failed(int32_t code, const char *desc, void *user_data) {
    fprintf(stderr, "child: write %llu failed: %d %s\n",
            (unsigned long long)(uintptr_t)user_data, code, desc);
    _exit(4);
}

/* Write n: what it is follows from n alone, so the parent can check it. */
static int32_t issue(imconv_sdk *sdk, uint64_t n) {
    char doc[1024], id[64];
    void *tag = (void *)(uintptr_t)n;
    switch (n % 5) {
    case 0: /* three conversations, all or nothing */
        snprintf(doc, sizeof doc,
                 "[{\"conversationID\":\"c2c_i%llu_a\",\"showName\":\"I%llu\",\"unreadCount\":%llu},"
                 "{\"conversationID\":\"c2c_i%llu_b\",\"showName\":\"I%llu\",\"unreadCount\":1},"
                 "{\"conversationID\":\"c2c_i%llu_c\",\"showName\":\"I%llu\"}]",
                 (unsigned long long)n, (unsigned long long)n, (unsigned long long)(n % 7),
                 (unsigned long long)n, (unsigned long long)n, (unsigned long long)n,
                 (unsigned long long)n);
        return imconv_import_conversations(sdk, doc, acked, failed, tag);
    case 1: /* two messages to one of 20 conversations */
        snprintf(doc, sizeof doc,
                 "[{\"conversationID\":\"c2c_m%llu\",\"msgID\":\"m%llu\",\"timestamp\":%llu},"
                 "{\"conversationID\":\"c2c_m%llu\",\"msgID\":\"n%llu\",\"timestamp\":%llu,\"isSelf\":true}]",
                 (unsigned long long)(n % 20), (unsigned long long)n, (unsigned long long)n,
                 (unsigned long long)(n % 20), (unsigned long long)n, (unsigned long long)n);
        return imconv_apply_messages(sdk, doc, acked, failed, tag);
    case 2: /* a sync creating three conversations */
        snprintf(doc, sizeof doc,
                 "[{\"conversationID\":\"group_s%llu_a\",\"showName\":\"S%llu\",\"unreadCount\":2},"
                 "{\"conversationID\":\"group_s%llu_b\",\"showName\":\"S%llu\"},"
                 "{\"conversationID\":\"group_s%llu_c\",\"showName\":\"S%llu\"}]",
                 (unsigned long long)n, (unsigned long long)n, (unsigned long long)n,
                 (unsigned long long)n, (unsigned long long)n, (unsigned long long)n);
        return imconv_sync_conversations(sdk, doc, acked, failed, tag);
    case 3: { /* delete what write n-3 imported */
        char a[64], b[64], c[64];
        snprintf(a, sizeof a, "c2c_i%llu_a", (unsigned long long)(n - 3));
        snprintf(b, sizeof b, "c2c_i%llu_b", (unsigned long long)(n - 3));
        snprintf(c, sizeof c, "c2c_i%llu_c", (unsigned long long)(n - 3));
        const char *ids[] = {a, b, c};
        return imconv_delete_conversations(sdk, ids, 3, acked, failed, tag);
    }
    default: /* a draft on what write n-2 synced */
        snprintf(id, sizeof id, "group_s%llu_a", (unsigned long long)(n - 2));
        snprintf(doc, sizeof doc, "D%llu", (unsigned long long)n);
        return imconv_set_draft(sdk, id, doc, acked, failed, tag);
    }
}

static void store_config(char *config, size_t size, const char *dir, int shared) {
    snprintf(config, size, "{\"user_id\":\"me\",\"data_dir\":\"%s\",\"shared\":%s}", dir,
             shared ? "true" : "false");
}

static int child(const char *dir, uint64_t first, int shared) {
    ack_fd = 3;
    char config[1024], *error = NULL;
    store_config(config, sizeof config, dir, shared);
    imconv_sdk *sdk = NULL;
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "child: %s\n", error);
        return 2;
    }
    uint64_t count = shared ? SLICE - 2 * IN_FLIGHT : PER_ROUND;
    for (uint64_t n = first; n < first + count; n++) {
        while (atomic_load(&in_flight) >= IN_FLIGHT) sleep_ms(0);
        atomic_fetch_add(&in_flight, 1);
        if (issue(sdk, n) != IMCONV_OK) return 5;
    }
    /* Beside other writers, its slice done: it waits to be killed. */
    while (shared) pause();
    imconv_sdk_free(sdk);
    return 0;
}

/* ---- the parent ------------------------------------------------------ */

typedef struct {
    call c;
    uint64_t total;
    size_t pages;
    uint64_t unread_sum;
    int finished;
    char cursor[512];
} pager;

static void page_cb(const imconv_conversation *const *convs, size_t n, const char *next,
                    bool finished, void *u) {
    pager *p = u;
    for (size_t i = 0; i < n; i++) p->unread_sum += convs[i]->unread_count;
    snprintf(p->cursor, sizeof p->cursor, "%s", next);
    p->finished = finished;
    call_finish(&p->c, 1);
}

static void page_fail(int32_t code, const char *desc, void *u) {
    pager *p = u;
    on_fail(code, desc, &p->c);
}

static void total_cb(uint64_t total, void *u) {
    pager *p = u;
    p->total = total;
    call_finish(&p->c, 1);
}

static int exists(imconv_sdk *sdk, const char *id, call *c) {
    const char *list[] = {id};
    list_sync(sdk, list, 1, c);
    return c->count == 1;
}

/* Checks writes [from, upto) against what the store holds now. */
/* acked[n]: write n was acknowledged; issued[n]: it may have been issued
   (and so may have committed without its acknowledgement arriving). */
static int shared_store; /* writers > 1: every instance is "shared" */

static imconv_sdk *reopen(const char *dir) {
    char config[1024], *error = NULL;
    store_config(config, sizeof config, dir, shared_store);
    imconv_sdk *sdk = NULL;
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "reopen: %s\n", error);
        imconv_string_free(error);
        return NULL;
    }
    return sdk;
}

static int check_writes(imconv_sdk *sdk, const uint8_t *acked, const uint8_t *issued, uint64_t from,
                        uint64_t upto, long *checks) {
    call c;
    call_init(&c);
    int ok = 1;
    char id[64], want[64];
    for (uint64_t n = from; n < upto && ok; n++) {
        switch (n % 5) {
        case 0: {
            /* All three or none; acknowledged: all three, unless an
               acknowledged delete (n+3) removed them. */
            int here = 0;
            for (const char *s = "abc"; *s; s++) {
                snprintf(id, sizeof id, "c2c_i%llu_%c", (unsigned long long)n, *s);
                here += exists(sdk, id, &c);
            }
            int deleted = acked[n + 3];
            int maybe_deleted = issued[n + 3];
            if (here != 0 && here != 3) {
                fprintf(stderr, "write %llu is there in part (%d of 3)\n", (unsigned long long)n, here);
                ok = 0;
            }
            if (deleted && here) {
                fprintf(stderr, "acknowledged delete %llu undone\n", (unsigned long long)n + 3);
                ok = 0;
            }
            if (acked[n] && !maybe_deleted && here != 3) {
                fprintf(stderr, "acknowledged import %llu lost\n", (unsigned long long)n);
                ok = 0;
            }
            if (here == 3) {
                snprintf(id, sizeof id, "c2c_i%llu_a", (unsigned long long)n);
                get_sync(sdk, id, &c);
                snprintf(want, sizeof want, "\"unreadCount\":%llu,", (unsigned long long)(n % 7));
                if (!strstr(c.jsons[0], want)) {
                    fprintf(stderr, "import %llu: wrong values %s\n", (unsigned long long)n, c.jsons[0]);
                    ok = 0;
                }
            }
            (*checks)++;
            break;
        }
        case 1:
            if (acked[n]) {
                /* The conversation exists and its last message is this
                   one or a newer one. */
                snprintf(id, sizeof id, "c2c_m%llu", (unsigned long long)(n % 20));
                get_sync(sdk, id, &c);
                const char *ts = c.count ? strstr(c.jsons[0], "\"timestamp\":") : NULL;
                unsigned long long last = ts ? strtoull(ts + 12, NULL, 10) : 0;
                if (!exists(sdk, id, &c) || last < n) {
                    fprintf(stderr, "acknowledged messages %llu lost (last %llu)\n",
                            (unsigned long long)n, last);
                    ok = 0;
                }
                (*checks)++;
            }
            break;
        case 2: {
            int here = 0;
            for (const char *s = "abc"; *s; s++) {
                snprintf(id, sizeof id, "group_s%llu_%c", (unsigned long long)n, *s);
                here += exists(sdk, id, &c);
            }
            if ((here != 0 && here != 3) || (acked[n] && here != 3)) {
                fprintf(stderr, "sync %llu: %d of 3 there (acknowledged: %d)\n",
                        (unsigned long long)n, here, acked[n]);
                ok = 0;
            }
            (*checks)++;
            break;
        }
        case 3:
            break; /* checked with the import it deletes */
        default:
            if (acked[n]) {
                snprintf(id, sizeof id, "group_s%llu_a", (unsigned long long)(n - 2));
                get_sync(sdk, id, &c);
                snprintf(want, sizeof want, "\"draftText\":\"D%llu\"", (unsigned long long)n);
                if (!c.count || !strstr(c.jsons[0], want)) {
                    fprintf(stderr, "acknowledged draft %llu lost\n", (unsigned long long)n);
                    ok = 0;
                }
                (*checks)++;
            }
        }
    }
    call_destroy(&c);
    return ok;
}

/* The unread total equals a recount. */
static int check_total(imconv_sdk *sdk) {
    int ok = 1;
    pager p;
    memset(&p, 0, sizeof p);
    call_init(&p.c);
    do {
        call_reset(&p.c);
        if (imconv_get_conversation_page(sdk, NULL, p.cursor, 1000, page_cb, page_fail, &p) != IMCONV_OK) break;
        call_wait(&p.c);
    } while (!p.finished && p.c.errors == 0);
    call_reset(&p.c);
    if (imconv_get_total_unread(sdk, NULL, total_cb, page_fail, &p) == IMCONV_OK) call_wait(&p.c);
    if (p.total != p.unread_sum) {
        fprintf(stderr, "unread total %llu, recount %llu\n", (unsigned long long)p.total,
                (unsigned long long)p.unread_sum);
        ok = 0;
    }
    call_destroy(&p.c);
    return ok;
}

static int check_store(const char *dir, const uint8_t *acked, const uint8_t *issued, uint64_t from,
                       uint64_t upto, long *checks) {
    imconv_sdk *sdk = reopen(dir);
    if (!sdk) return 0;
    int ok = check_writes(sdk, acked, issued, from, upto, checks) && check_total(sdk);
    imconv_sdk_free(sdk);
    return ok;
}

/* ---- several writers on one shared store ----------------------------- */

typedef struct {
    pid_t pid;
    int fd; /* the read end of its acknowledgements, non-blocking */
    uint64_t first, highest, acks;
} writer;

static pid_t start_writer(const char *self, const char *dir, uint64_t first, int *read_fd) {
    char from[32];
    snprintf(from, sizeof from, "%llu", (unsigned long long)first);
    char *args[] = {(char *)self, "--child", (char *)dir, from, "1", NULL};
    pid_t pid = spawn_reporter(args, read_fd);
    if (pid > 0) fcntl(*read_fd, F_SETFL, O_NONBLOCK);
    return pid;
}

/* Reads what a writer acknowledged so far. */
static void drain_acks(writer *w, uint8_t *acked, uint64_t cap, long *total) {
    uint64_t n;
    while (read(w->fd, &n, sizeof n) == sizeof n) {
        if (n >= cap) continue;
        acked[n] = 1;
        w->acks++;
        (*total)++;
        if (n + 1 > w->highest) w->highest = n + 1;
    }
}

static int shared_rounds(const char *self, const char *scratch, int rounds, int most) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/crash", scratch);
    shared_store = 1;
    enum { CAP = 1 << 24, MOST = 3 };
    if (most > MOST) most = MOST;
    uint8_t *acked = calloc(CAP, 1), *issued = calloc(CAP, 1);
    uint64_t (*ranges)[2] = calloc((size_t)rounds * MOST, sizeof *ranges);
    size_t nranges = 0;
    uint64_t next = 0;
    long writes_acked = 0, checks = 0, kills = 0;
    srand((unsigned)time(NULL));
    current_test = "crash_test (shared)";
    for (int round = 0; round < rounds; round++) {
        int count = 2 + round % (most - 1); /* two, then three, ... */
        if (next + (uint64_t)count * SLICE > CAP) break;
        writer w[MOST];
        memset(w, 0, sizeof w);
        for (int k = 0; k < count; k++) {
            w[k].first = w[k].highest = next + (uint64_t)k * SLICE;
            w[k].pid = start_writer(self, dir, w[k].first, &w[k].fd);
            if (w[k].pid < 0) return 1;
        }
        sleep_ms(20 + rand() % 200);
        int victim = rand() % count;
        kill(w[victim].pid, SIGKILL);
        waitpid(w[victim].pid, NULL, 0);
        kills++;
        /* Every other writer goes on: one more acknowledgement each. */
        for (int k = 0; k < count; k++) {
            if (k == victim) continue;
            drain_acks(&w[k], acked, CAP, &writes_acked);
            uint64_t before = w[k].acks;
            for (int waited = 0; w[k].acks == before; waited++) {
                int status = 0;
                if (waitpid(w[k].pid, &status, WNOHANG) == w[k].pid) {
                    fprintf(stderr, "round %d: writer %d ended (%d) after another was killed\n",
                            round, k, status);
                    return 1;
                }
                if (waited > 60000) {
                    fprintf(stderr, "round %d: writer %d acknowledged nothing in 60 s after "
                                    "another was killed\n", round, k);
                    return 1;
                }
                sleep_ms(1);
                drain_acks(&w[k], acked, CAP, &writes_acked);
            }
        }
        for (int k = 0; k < count; k++) {
            if (k != victim) {
                kill(w[k].pid, SIGKILL);
                waitpid(w[k].pid, NULL, 0);
            }
        }
        /* One instance checks every writer's writes and the total (the
           recount reads the whole store: once per round, not per writer). */
        imconv_sdk *sdk = reopen(dir);
        if (!sdk) return 1;
        for (int k = 0; k < count; k++) {
            drain_acks(&w[k], acked, CAP, &writes_acked);
            close(w[k].fd);
            uint64_t upto = w[k].highest + IN_FLIGHT;
            for (uint64_t i = w[k].first; i < upto; i++) issued[i] = 1;
            ranges[nranges][0] = w[k].first;
            ranges[nranges][1] = upto;
            nranges++;
            if (!check_writes(sdk, acked, issued, w[k].first, upto, &checks)) {
                fprintf(stderr, "round %d: writer %d's writes are wrong after the kills\n", round, k);
                return 1;
            }
        }
        if (!check_total(sdk)) {
            fprintf(stderr, "round %d: the unread total is wrong after the kills\n", round);
            return 1;
        }
        imconv_sdk_free(sdk);
        next += (uint64_t)count * SLICE;
    }
    /* Everything once more: later crashes lost nothing acknowledged. */
    imconv_sdk *sdk = reopen(dir);
    if (!sdk) return 1;
    for (size_t r = 0; r < nranges; r++) {
        if (!check_writes(sdk, acked, issued, ranges[r][0], ranges[r][1], &checks)) {
            fprintf(stderr, "final check: the store is wrong\n");
            return 1;
        }
    }
    imconv_sdk_free(sdk);
    printf("shared crash test: %d rounds of 2-%d writers, %ld kills, %ld writes acknowledged, "
           "%ld checks passed\n", rounds, most, kills, writes_acked, checks);
    printf("%d passed, 0 failed\n", rounds);
    free(acked);
    free(issued);
    free(ranges);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--child") == 0)
        return child(argv[2], strtoull(argv[3], NULL, 10), atoi(argv[4]));
    if (argc > 4 && atoi(argv[4]) > 1) return shared_rounds(argv[0], argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc < 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir> [rounds]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 100;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/crash", argv[2]);
    enum { CAP = 1 << 22 };
    uint8_t *acked = calloc(CAP, 1), *issued = calloc(CAP, 1);
    uint64_t next = 0;
    long writes_acked = 0, checks = 0;
    srand((unsigned)time(NULL));
    current_test = "crash_test";
    for (int round = 0; round < rounds; round++) {
        if (next + PER_ROUND > CAP) break;
        char first[32];
        snprintf(first, sizeof first, "%llu", (unsigned long long)next);
        /* The acknowledgements come on `acks`. */
        char *args[] = {argv[0], "--child", dir, first, "0", NULL};
        int acks;
        pid_t pid = spawn_reporter(args, &acks);
        if (pid < 0) return 1;
        /* Let it start and write for 20-220 ms, then kill it. */
        sleep_ms(20 + rand() % 200);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        uint64_t n, highest = next;
        while (read(acks, &n, sizeof n) == sizeof n) {
            if (n >= CAP) break;
            acked[n] = 1;
            writes_acked++;
            if (n + 1 > highest) highest = n + 1;
        }
        close(acks);
        if (WIFEXITED(status)) {
            fprintf(stderr, "round %d: the child exited by itself (%d)\n", round, WEXITSTATUS(status));
            return 1;
        }
        /* Writes after the highest acknowledged one may have been in
           flight: they are checked too (all or nothing). The next round
           starts after every write this one may have issued. */
        uint64_t issued_upto = highest + IN_FLIGHT;
        for (uint64_t i = next; i < issued_upto; i++) issued[i] = 1;
        if (!check_store(dir, acked, issued, next, issued_upto, &checks)) {
            fprintf(stderr, "round %d: the store is wrong after a kill\n", round);
            return 1;
        }
        next = issued_upto + (5 - issued_upto % 5); /* keep n % 5 aligned */
    }
    /* Everything once more: later crashes lost nothing acknowledged. */
    if (!check_store(dir, acked, issued, 0, next, &checks)) {
        fprintf(stderr, "final check: the store is wrong\n");
        return 1;
    }
    printf("crash test: %d rounds survived, %ld writes acknowledged, %ld checks passed\n", rounds,
           writes_acked, checks);
    printf("%d passed, 0 failed\n", rounds);
    free(acked);
    free(issued);
    return 0;
}
