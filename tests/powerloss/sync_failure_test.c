/* Sync-failure test (fail-stop): a child writes to a store through
 * failsync.c (LD_PRELOAD: while a flag file exists, fsync and fdatasync
 * fail with EIO) and checks, for "full" and "normal" durability, that
 *   - "full": the write whose commit sync fails gets IMCONV_ERR_STORE_FAILED;
 *     "normal": the periodic WAL sync's failure is told;
 *   - on_store_error fires once, with IMCONV_ERR_STORE_FAILED;
 *   - every later write is refused with IMCONV_ERR_STORE_FAILED, also once
 *     syncs work again, while reads go on working.
 * The child then crashes (SIGKILL) or frees the instance; the parent
 * reopens the store without the shim and checks that what was acknowledged
 * is there, that the write reported as failed is either there or not (its
 * outcome was unknown), and that no refused write is there.
 * Run as
 *   sync_failure_test <failsync.so> <scratch>
 */
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../c/testlib.h"

static atomic_int store_errors, store_error_code;

static void on_store_error(int32_t code, const char *message, const char *const *ids, size_t n,
                           void *u) {
    (void)ids;
    (void)u;
    fprintf(stderr, "child: on_store_error %d (%zu IDs): %s\n", code, n, message);
    atomic_store(&store_error_code, code);
    atomic_fetch_add(&store_errors, 1);
}

static int32_t apply(imconv_sdk *sdk, call *c, const char *name) {
    char doc[256];
    snprintf(doc, sizeof doc,
             "[{\"conversationID\":\"c2c_%s\",\"msgID\":\"m%s\",\"timestamp\":1000}]", name, name);
    return WRITE(c, imconv_apply_messages(sdk, doc, on_done, on_fail, c));
}

/* The child: returns its exit status (0: every check held), or does not
   return (crash). */
static int child(const char *mode, const char *ending, const char *dir, const char *flag) {
    char config[1024];
    snprintf(config, sizeof config,
             "{\"user_id\":\"me\",\"data_dir\":\"%s\",\"durability\":\"%s\",\"sync_interval_ms\":20}",
             dir, mode);
    imconv_sdk *sdk = open_sdk(config);
    if (!sdk) return 2;
    imconv_listener l;
    imconv_listener_init(&l);
    l.on_store_error = on_store_error;
    uint64_t id;
    if (imconv_add_listener(sdk, &l, &id) != IMCONV_OK) return 3;
    call c;
    call_init(&c);
    if (apply(sdk, &c, "a") != IMCONV_OK) return 10;
    FILE *f = fopen(flag, "w"); /* from here on every sync fails */
    if (!f) return 4;
    fclose(f);
    int full = strcmp(mode, "full") == 0;
    int32_t b = apply(sdk, &c, "b");
    if (full && b != IMCONV_ERR_STORE_FAILED) {
        fprintf(stderr, "child: the write whose sync failed answered %d: %s\n", b, c.desc);
        return 11;
    }
    if (!full) {
        if (b != IMCONV_OK) return 12; /* acknowledged: its sync comes later */
        for (long waited = 0; atomic_load(&store_errors) == 0; waited += 5) {
            if (waited > wait_seconds() * 1000) return 13; /* the failed sync was never told */
            sleep_ms(5);
        }
    }
    if (atomic_load(&store_errors) != 1 || atomic_load(&store_error_code) != IMCONV_ERR_STORE_FAILED)
        return 14;
    if (apply(sdk, &c, "c") != IMCONV_ERR_STORE_FAILED) return 15;
    unlink(flag); /* syncs work again: writes stay refused */
    if (apply(sdk, &c, "d") != IMCONV_ERR_STORE_FAILED) return 16;
    get_sync(sdk, "c2c_a", &c);
    if (c.count != 1 || !strstr(c.jsons[0], "\"ma\"")) return 17; /* reads work */
    if (atomic_load(&store_errors) != 1) return 18; /* told once */
    call_destroy(&c);
    if (strcmp(ending, "crash") == 0) kill(getpid(), SIGKILL);
    imconv_sdk_free(sdk);
    return 0;
}

/* Whether conversation `name` holds its message after reopening. */
static int stored(imconv_sdk *sdk, const char *name) {
    char id[64], msg[64];
    snprintf(id, sizeof id, "c2c_%s", name);
    snprintf(msg, sizeof msg, "\"m%s\"", name);
    call c;
    call_init(&c);
    get_sync(sdk, id, &c);
    int found = c.count == 1 && c.jsons[0] && strstr(c.jsons[0], msg) != NULL;
    call_destroy(&c);
    return found;
}

static int round_trip(const char *self, const char *shim, const char *scratch, const char *mode,
                      const char *ending, int *b_stored) {
    char dir[600], flag[600], log[600], cmd[2000];
    snprintf(dir, sizeof dir, "%s/store-%s-%s", scratch, mode, ending);
    snprintf(flag, sizeof flag, "%s/failing", scratch);
    snprintf(log, sizeof log, "%s/failures.log", scratch);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'", dir, flag, log);
    if (system(cmd) != 0) return 0;
    pid_t pid = fork();
    if (pid == 0) {
        char env_pre[1024], env_flag[1024], env_log[1024];
        snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", shim);
        snprintf(env_flag, sizeof env_flag, "FAILSYNC_FLAG=%s", flag);
        snprintf(env_log, sizeof env_log, "FAILSYNC_LOG=%s", log);
        char *env[] = {env_pre, env_flag, env_log, NULL};
        execle(self, self, "--child", mode, ending, dir, flag, (char *)NULL, env);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int crashed = strcmp(ending, "crash") == 0;
    if (crashed ? !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
                : !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        fprintf(stderr, "%s/%s: the child failed check %d\n", mode, ending,
                WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
        return 0;
    }
    struct stat st;
    if (stat(log, &st) != 0 || st.st_size == 0) {
        fprintf(stderr, "%s/%s: no sync failed (the shim was not in the way)\n", mode, ending);
        return 0;
    }
    char config[1024];
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s\"}", dir);
    imconv_sdk *sdk = open_sdk(config);
    if (!sdk) return 0;
    int a = stored(sdk, "a"), b = stored(sdk, "b"), c = stored(sdk, "c"), d = stored(sdk, "d");
    imconv_sdk_free(sdk);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'", dir, flag, log);
    if (system(cmd) != 0) return 0;
    *b_stored = b;
    /* "normal" acknowledged b (only its sync failed; the process, not the
       power, went): it is there. "full" failed it: either way. */
    int ok = a && !c && !d && (strcmp(mode, "normal") != 0 || b);
    printf("%s/%s: acknowledged write %s, failed write %s, refused writes %s\n", mode, ending,
           a ? "kept" : "LOST", b ? "stored" : "absent", c || d ? "STORED" : "absent");
    return ok;
}

int main(int argc, char **argv) {
    if (argc == 6 && strcmp(argv[1], "--child") == 0) {
        current_test = "child";
        return child(argv[2], argv[3], argv[4], argv[5]);
    }
    if (argc != 3) {
        fprintf(stderr, "usage: %s <failsync.so> <scratch>\n", argv[0]);
        return 2;
    }
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 2;
    self[n] = '\0';
    int failed = 0;
    const char *modes[] = {"full", "normal"}, *endings[] = {"crash", "free"};
    for (int m = 0; m < 2; m++) {
        for (int e = 0; e < 2; e++) {
            int b = 0;
            current_test = modes[m];
            if (!round_trip(self, argv[1], argv[2], modes[m], endings[e], &b)) failed++;
        }
    }
    printf("sync failure: %d of 4 rounds failed\n", failed);
    return failed ? 1 : 0;
}
