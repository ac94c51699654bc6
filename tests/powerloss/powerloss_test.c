/* Power-loss test: a child process writes to a fresh store through the
 * write-back cache of writeback.c (LD_PRELOAD: nothing reaches the files
 * but what is synced, no file or folder exists but what its parent folder
 * synced) and reports each acknowledged write over a pipe; the parent cuts
 * the power (SIGKILL, then drops the creations never made durable), reopens
 * the store and checks that
 *   - "full": every acknowledged write is there;
 *   - "normal": every write acknowledged before a sync of the WAL began is
 *     there (judged by the syncs the cache logged, not by the clock, so that
 *     a loaded machine cannot make the verdict flaky), some writes were
 *     synced at all, and the longest a write waited for its sync is
 *     reported (the window `sync_interval_ms` bounds, 1 s);
 *   - the database passes SQLite's integrity check (python3's sqlite3).
 * Run as
 *   powerloss_test <libimconv.so> <writeback.so> <scratch> <normal|full> [rounds]
 *   powerloss_test --self-check <writeback.so> <scratch>
 * The second checks the cache itself against a plain file first.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>

#include "../c/testlib.h"

enum { MAX_WRITES = 100000, MAX_SYNCS = 100000 };

/* The times (CLOCK_MONOTONIC ms) the WAL's syncs began in the last round. */
static long wal_syncs[MAX_SYNCS];
static int wal_sync_count;

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* Runs this program again as `self <what> <a> <b>` with writeback.c
   caching `dir` (logging to `log`); never returns. */
static void exec_cached(const char *self, const char *shim, const char *dir, const char *log,
                        const char *what, const char *a, const char *b) {
    char env_dir[1024], env_log[1024], env_pre[1024];
    snprintf(env_dir, sizeof env_dir, "WRITEBACK_DIR=%s", dir);
    snprintf(env_log, sizeof env_log, "WRITEBACK_LOG=%s", log);
    snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", shim);
    char *env[] = {env_dir, env_log, env_pre, NULL};
    execle(self, self, what, a, b, (char *)NULL, env);
    _exit(127);
}

/* ---- the power cut ---------------------------------------------------- */

/* Removes what writeback.c logged as created ("C") and not made durable by
   a sync of its parent folder ("D") afterwards. */
static int cut_power(const char *log) {
    static char created[4096][1024];
    int n = 0;
    wal_sync_count = 0;
    FILE *f = fopen(log, "r");
    if (!f) return 0; /* nothing was created */
    char line[1000];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == 'C' && n < 4096) {
            snprintf(created[n++], sizeof created[0], "%s", line + 2);
        } else if (line[0] == 'S') {
            long at = atol(line + 2);
            size_t len = strlen(line);
            if (len > 4 && strcmp(line + len - 4, "-wal") == 0 && wal_sync_count < MAX_SYNCS)
                wal_syncs[wal_sync_count++] = at;
        } else if (line[0] == 'D') {
            const char *dir = line + 2;
            size_t len = strlen(dir);
            for (int i = 0; i < n; i++) {
                const char *slash = strrchr(created[i], '/');
                if (slash && (size_t)(slash - created[i]) == len && strncmp(created[i], dir, len) == 0)
                    created[i][0] = '\0'; /* durable */
            }
        }
    }
    fclose(f);
    int lost = 0;
    for (int i = n - 1; i >= 0; i--) {
        if (!created[i][0]) continue;
        char cmd[1100];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", created[i]);
        if (system(cmd) != 0) return -1;
        lost++;
    }
    unlink(log);
    return lost;
}

/* ---- the self-check of the cache -------------------------------------- */

static int self_check_child(const char *dir, const char *plain) {
    char f_path[1024], g_path[1024];
    snprintf(f_path, sizeof f_path, "%s/f", dir);
    snprintf(g_path, sizeof g_path, "%s/g", dir);
    int f = open(f_path, O_CREAT | O_RDWR, 0600);
    int d = open(dir, O_RDONLY);
    if (f < 0 || d < 0 || fsync(d) != 0) return 10; /* f's entry is durable */
    if (pwrite(f, "durable!", 8, 0) != 8 || fsync(f) != 0) return 11;
    if (pwrite(f, "volatile and longer", 19, 0) != 19) return 12;
    char buf[32] = {0};
    struct stat st;
    if (pread(f, buf, sizeof buf, 0) != 19 || memcmp(buf, "volatile and longer", 19) != 0) return 13;
    if (fstat(f, &st) != 0 || st.st_size != 19) return 14;
    if (ftruncate(f, 4) != 0 || fstat(f, &st) != 0 || st.st_size != 4) return 15;
    int g = open(g_path, O_CREAT | O_RDWR, 0600); /* its folder is never synced again */
    if (g < 0 || write(g, "gone", 4) != 4 || fsync(g) != 0) return 16;
    int p = open(plain, O_CREAT | O_WRONLY | O_TRUNC, 0600); /* outside: not cached */
    if (p < 0 || write(p, "plain", 5) != 5) return 17;
    kill(getpid(), SIGKILL);
    return 18;
}

static int self_check(const char *self, const char *shim, const char *scratch) {
    char dir[600], log[600], plain[600];
    snprintf(dir, sizeof dir, "%s/cached", scratch);
    snprintf(log, sizeof log, "%s/self-check.log", scratch);
    snprintf(plain, sizeof plain, "%s/plain", scratch);
    mkdir(dir, 0700);
    pid_t pid = fork();
    if (pid == 0) exec_cached(self, shim, dir, log, "--self-check-child", dir, plain);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status)) {
        fprintf(stderr, "self-check: the child ended with %d before the cut\n", WEXITSTATUS(status));
        return 0;
    }
    if (cut_power(log) != 1) {
        fprintf(stderr, "self-check: expected one creation lost (g)\n");
        return 0;
    }
    char f_path[1024], g_path[1024], buf[32] = {0};
    snprintf(f_path, sizeof f_path, "%s/f", dir);
    snprintf(g_path, sizeof g_path, "%s/g", dir);
    int f = open(f_path, O_RDONLY);
    ssize_t n = f >= 0 ? read(f, buf, sizeof buf) : -1;
    if (f >= 0) close(f);
    int p = open(plain, O_RDONLY);
    char pbuf[8] = {0};
    ssize_t pn = p >= 0 ? read(p, pbuf, sizeof pbuf) : -1;
    if (p >= 0) close(p);
    int ok = n == 8 && memcmp(buf, "durable!", 8) == 0 && access(g_path, F_OK) != 0 && pn == 5 &&
             memcmp(pbuf, "plain", 5) == 0;
    if (!ok) fprintf(stderr, "self-check: f holds %zd bytes \"%s\", g %s, plain %zd bytes\n", n, buf,
                     access(g_path, F_OK) == 0 ? "survived" : "is gone", pn);
    return ok;
}

/* ---- the writing child ------------------------------------------------ */

static atomic_int acked_now;

static void on_ack(void *u) {
    (void)u;
    atomic_store(&acked_now, 1);
}
static void on_failed(int32_t code, const char *desc, void *u) {
    (void)u;
    fprintf(stderr, "child: a write failed: %d %s\n", code, desc);
    _exit(4);
}

static int writer(const char *data_dir, const char *mode) {
    char config[1024], *error = NULL;
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s\",\"durability\":\"%s\"}",
             data_dir, mode);
    imconv_sdk *sdk = NULL;
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "child: %s\n", error);
        return 2;
    }
    unsigned seed = (unsigned)getpid();
    for (uint64_t k = 0; k < MAX_WRITES; k++) {
        char doc[256];
        atomic_store(&acked_now, 0);
        int32_t rc;
        if (k % 2 == 0) {
            snprintf(doc, sizeof doc, "[{\"conversationID\":\"c2c_p%llu\",\"msgID\":\"m%llu\",\"timestamp\":%llu}]",
                     (unsigned long long)(k % 7), (unsigned long long)k, (unsigned long long)k + 1);
            rc = imconv_apply_messages(sdk, doc, on_ack, on_failed, NULL);
        } else {
            snprintf(doc, sizeof doc, "[{\"conversationID\":\"c2c_i%llu\",\"showName\":\"I\"}]", (unsigned long long)k);
            rc = imconv_import_conversations(sdk, doc, on_ack, on_failed, NULL);
        }
        if (rc != IMCONV_OK) return 5;
        while (!atomic_load(&acked_now)) sleep_ms(0);
        if (write(3, &k, sizeof k) != sizeof k) return 3;
        sleep_ms(rand_r(&seed) % 40); /* idle gaps, as a user's writes have */
    }
    imconv_sdk_free(sdk);
    return 0;
}

/* ---- the parent ------------------------------------------------------- */

static long acked_at[MAX_WRITES]; /* ms since the round began; 0: not acknowledged */

static int last_timestamp(imconv_sdk *sdk, const char *id, call *c) {
    get_sync(sdk, id, c);
    const char *ts = c->count ? strstr(c->jsons[0], "\"timestamp\":") : NULL;
    return ts ? atoi(ts + 12) : 0;
}

static int integrity_ok(const char *db) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0]; "
             "sys.exit(0 if r == 'ok' else print(r) or 1)\" '%s'",
             db);
    return system(cmd) == 0;
}

typedef struct {
    long acked, must_survive, survived_old, lost_old, lost_recent, creations_lost;
    long longest_wait; /* ms from an acknowledgement to the sync that covered it */
} figures;

/* The first WAL sync that began after `at` (CLOCK_MONOTONIC ms), or -1. */
static long first_sync_after(long at) {
    long first = -1;
    for (int i = 0; i < wal_sync_count; i++)
        if (wal_syncs[i] > at && (first < 0 || wal_syncs[i] < first)) first = wal_syncs[i];
    return first;
}

static int round_of(const char *self, const char *shim, const char *scratch, const char *mode, int r,
                    unsigned *seed, figures *fig) {
    char dir[600], log[600];
    snprintf(dir, sizeof dir, "%s/round%d", scratch, r);
    snprintf(log, sizeof log, "%s/round%d.log", scratch, r);
    char cmd[2600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && sync", dir, dir);
    if (system(cmd) != 0) return 0;
    int fds[2];
    if (pipe(fds) != 0) return 0;
    long cut_after = 1200 + (long)(rand_r(seed) % 1300);
    long start = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 3);
        exec_cached(self, shim, dir, log, "--child", dir, mode);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    memset(acked_at, 0, sizeof acked_at);
    uint64_t k, highest = 0;
    for (;;) {
        long t = now_ms() - start;
        if (t >= cut_after) break;
        ssize_t got = read(fds[0], &k, sizeof k);
        if (got == sizeof k && k < MAX_WRITES) {
            acked_at[k] = t > 0 ? t : 1;
            if (k + 1 > highest) highest = k + 1;
        } else {
            sleep_ms(1);
        }
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    /* Acknowledged before the cut, read after it: as at the cut. */
    while (read(fds[0], &k, sizeof k) == sizeof k)
        if (k < MAX_WRITES) {
            acked_at[k] = cut_after;
            if (k + 1 > highest) highest = k + 1;
        }
    close(fds[0]);
    if (WIFEXITED(status)) {
        fprintf(stderr, "round %d: the child exited with %d before the cut\n", r, WEXITSTATUS(status));
        return 0;
    }
    if (WTERMSIG(status) != SIGKILL) {
        fprintf(stderr, "round %d: the child died of signal %d before the cut\n", r, WTERMSIG(status));
        return 0;
    }
    int lost_files = cut_power(log);
    if (lost_files < 0) return 0;
    fig->creations_lost += lost_files;

    /* Reopen (recovery) without the cache, and check. */
    char config[1024], *error = NULL;
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s\"}", dir);
    imconv_sdk *sdk = NULL;
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "round %d: reopen: %s\n", r, error);
        imconv_string_free(error);
        return 0;
    }
    call c;
    call_init(&c);
    int ok = 1;
    int full = strcmp(mode, "full") == 0;
    for (uint64_t n = 0; n < highest; n++) {
        if (!acked_at[n]) continue;
        fig->acked++;
        /* Received after the acknowledgement, so a sync that began after
           the receipt began after the acknowledgement too. */
        long synced_at = first_sync_after(start + acked_at[n]);
        int old = full || synced_at >= 0;
        if (!full && synced_at >= 0 && synced_at - (start + acked_at[n]) > fig->longest_wait)
            fig->longest_wait = synced_at - (start + acked_at[n]);
        char id[64];
        int here;
        if (n % 2 == 0) {
            snprintf(id, sizeof id, "c2c_p%llu", (unsigned long long)(n % 7));
            here = last_timestamp(sdk, id, &c) >= (int)n + 1;
        } else {
            const char *ids[1];
            snprintf(id, sizeof id, "c2c_i%llu", (unsigned long long)n);
            ids[0] = id;
            list_sync(sdk, ids, 1, &c);
            here = c.count == 1;
        }
        if (old) {
            fig->must_survive++;
            if (here) {
                fig->survived_old++;
            } else {
                fig->lost_old++;
                if (ok)
                    fprintf(stderr, "round %d (%s): write %llu acknowledged at %ld ms, a sync at %ld ms, cut at %ld ms: lost\n",
                            r, mode, (unsigned long long)n, acked_at[n], synced_at - start, cut_after);
                ok = 0;
            }
        } else if (!here) {
            fig->lost_recent++;
        }
    }
    imconv_sdk_free(sdk);
    call_destroy(&c);
    char db[1024];
    snprintf(db, sizeof db, "%s/me/conversations.db", dir);
    if (access(db, F_OK) == 0 && !integrity_ok(db)) {
        fprintf(stderr, "round %d: the integrity check failed\n", r);
        ok = 0;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) ok = 0;
    return ok;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--child") == 0) return writer(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "--self-check-child") == 0) return self_check_child(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "--self-check") == 0) {
        int ok = self_check(argv[0], argv[2], argv[3]);
        printf("%s the write-back cache against a plain file\n", ok ? "ok  " : "FAIL");
        printf("%d passed, %d failed\n", ok, !ok);
        return ok ? 0 : 1;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: %s <libimconv.so> <writeback.so> <scratch> <normal|full> [rounds]\n", argv[0]);
        return 2;
    }
    const char *shim = argv[2], *scratch = argv[3], *mode = argv[4];
    int rounds = argc > 5 ? atoi(argv[5]) : 100;
    unsigned seed = (unsigned)time(NULL);
    figures fig = {0};
    int failed = 0;
    for (int r = 0; r < rounds; r++) {
        if (!round_of(argv[0], shim, scratch, mode, r, &seed, &fig)) failed++;
    }
    int full = strcmp(mode, "full") == 0;
    printf("%s: %d rounds, %ld writes acknowledged, %ld acknowledged %s: %ld there, %ld lost; "
           "%ld not yet synced lost (allowed); %ld creations never made durable",
           mode, rounds, fig.acked, fig.must_survive, full ? "(all must survive)" : "before a sync of the WAL began",
           fig.survived_old, fig.lost_old, fig.lost_recent, fig.creations_lost);
    if (!full) printf("; the longest a write waited for its sync: %ld ms", fig.longest_wait);
    printf("\n");
    if (!full && fig.must_survive == 0) {
        fprintf(stderr, "%s: no write was ever synced: the WAL is never synced\n", mode);
        failed++;
    }
    printf("%d passed, %d failed\n", rounds - failed, failed);
    return failed ? 1 : 0;
}
