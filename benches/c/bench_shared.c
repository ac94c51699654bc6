/* What sharing a store costs (issue 28, item 5): the same work on an
 * instance opened alone and on one opened "shared" (whose every call
 * first compares the mapped change counter, and whose every write logs
 * its changes and publishes them), in one run, alternating the two modes
 * round by round. Per path, the median of the rounds for each and their
 * ratio (shared / alone: above 1 is the cost).
 *   bench_shared <scratch_dir> <size> <results.jsonl>
 * Paths: importing the data set (calls of 1,000); a cached single lookup;
 * the same with host delivery (answered in the call and run by
 * imconv_dispatch on the caller's thread: the call's own cost, without a
 * thread's wake-up, whose noise swamps one atomic load); a cached batch of
 * 100 the same two ways (the hot path: one atomic load more); apply_messages (calls of 100
 * messages); one write per call (a draft); and the CPU an idle instance
 * with a listener uses in one second (with "shared": its watcher thread
 * sleeping on the counter).
 */
#include <sys/resource.h>

#include "bench_calls.h"

/* More rounds than the other benches: a one-write or one-lookup path moves
   by 10-20% from round to round on a shared machine. */
enum { MODES = 2, PATHS = 8, RUNS = 9 };
static const char *path_names[PATHS] = {"import",
                                        "cached_lookup",
                                        "cached_lookup_host",
                                        "cached_batch_of_100_host",
                                        "cached_batch_of_100",
                                        "apply_messages",
                                        "one_write_per_call",
                                        "idle_cpu_per_second"};
/* "~": an absolute figure, printed without a ratio. */
static const char *path_units[PATHS] = {"ms", "us", "us", "us", "us", "ms", "us", "~ms"};

static void open_store(const char *dir, int shared, long cache, const char *delivery) {
    char config[1024], *error = NULL;
    snprintf(config, sizeof config,
             "{\"user_id\":\"bench\",\"data_dir\":\"%s/%s\",\"cache_capacity\":%ld,"
             "\"shared\":%s,\"delivery\":\"%s\"}",
             dir, shared ? "shared" : "alone", cache, shared ? "true" : "false", delivery);
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "imconv_sdk_new: %s\n", error);
        exit(1);
    }
}

/* Host delivery: the callbacks run here, in imconv_dispatch. */
static int here;

static void await_call(long target) {
    if (!here) {
        wait_for(target);
        return;
    }
    while (atomic_load_explicit(&completed, memory_order_acquire) < target) imconv_dispatch(sdk, 1);
}

static void lookup(const char *id) {
    long target = atomic_load(&completed) + 1;
    if (imconv_get_conversation(sdk, id, on_one, on_fail, NULL) != IMCONV_OK) exit(1);
    await_call(target);
}

static void on_list(const imconv_conversation *const *c, size_t n, void *u) {
    (void)c, (void)n, (void)u;
    atomic_fetch_add_explicit(&completed, 1, memory_order_release);
}
static void on_new(const imconv_conversation *const *c, size_t n, void *u) { (void)c, (void)n, (void)u; }

static double cpu_seconds(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec / 1e6 +
           (double)r.ru_stime.tv_sec + (double)r.ru_stime.tv_usec / 1e6;
}

enum { HITS = 20000, BATCHES = 2000 };

/* Opens the mode's store with the delivery `here` says; every
   conversation looked up once, so that the cache holds them all. */
static void open_cached(const char *dir, int shared) {
    open_store(dir, shared, 2 * size + 1000, here ? "host" : "thread");
    for (long i = 0; i < size; i++) lookup(ids[i]);
}

static double lookup_median(double *lat) {
    for (int s = 0; s < HITS; s++) {
        const char *id = ids[next_random() % (uint64_t)size];
        double t = now_s();
        lookup(id);
        lat[s] = (now_s() - t) * 1e6;
    }
    return percentile(lat, HITS, 0.5);
}

static double batch_median(double *lat) {
    const char *batch[100];
    for (int s = 0; s < BATCHES; s++) {
        for (int k = 0; k < 100; k++) batch[k] = ids[next_random() % (uint64_t)size];
        long target = atomic_load(&completed) + 1;
        double t = now_s();
        if (imconv_get_conversation_list(sdk, batch, 100, on_list, on_fail, NULL) != IMCONV_OK)
            exit(1);
        await_call(target);
        lat[s] = (now_s() - t) * 1e6;
    }
    return percentile(lat, BATCHES, 0.5);
}

/* One round of every path for one mode, into v[path]. */
static void round_of(const char *dir, int shared, double *v) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/%s'", dir, shared ? "shared" : "alone");
    if (system(cmd) != 0) exit(1);
    here = 0;
    open_store(dir, shared, 2 * size + 1000, "thread");
    v[0] = import_all();
    imconv_sdk_free(sdk);
    double *lat = malloc(HITS * sizeof *lat);
    here = 1;
    open_cached(dir, shared);
    v[2] = lookup_median(lat);
    v[3] = batch_median(lat);
    imconv_sdk_free(sdk);
    here = 0;
    open_cached(dir, shared);
    v[1] = lookup_median(lat);
    v[4] = batch_median(lat);
    v[5] = apply_messages(50);
    enum { WRITES = 2000 };
    for (int s = 0; s < WRITES; s++) {
        long target = atomic_load(&completed) + 1;
        char draft[32];
        snprintf(draft, sizeof draft, "draft %d", s);
        double t = now_s();
        if (imconv_set_draft(sdk, ids[s % size], draft, on_done, on_fail, NULL) != IMCONV_OK)
            exit(1);
        wait_for(target);
        lat[s] = (now_s() - t) * 1e6;
    }
    v[6] = percentile(lat, WRITES, 0.5);
    free(lat);
    imconv_listener listener;
    imconv_listener_init(&listener);
    listener.on_new = on_new;
    uint64_t id;
    imconv_add_listener(sdk, &listener, &id);
    /* After the last write's upkeep ("normal" durability syncs the WAL
       up to 1 s after it). */
    usleep(1500 * 1000);
    double cpu = cpu_seconds(), t0 = now_s();
    usleep(1000 * 1000);
    v[7] = (cpu_seconds() - cpu) / (now_s() - t0) * 1e3;
    imconv_sdk_free(sdk);
}

int main(int argc, char **argv) {
    two_modes bench = {"sharing's cost", {"alone", "shared"}, PATHS, RUNS,
                       path_names, path_units, round_of};
    return run_two_modes(&bench, argc, argv);
}
