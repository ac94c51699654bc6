/* The latency of one call at a time (issue 30), and the floor under it.
 *   bench_latency <scratch_dir> <size> <results.jsonl>
 *
 * The store holds <size> conversations, all cached. One call is in flight
 * at a time: a single lookup, or a batch of 100 stored IDs; issued back to
 * back (the next right after the previous callback) or after 1 ms of idle
 * (the instance's threads have gone to sleep); by a caller that spins on a
 * flag its callback sets (yielding every 64 turns, as the library's own
 * watch does), or one that blocks on a condition variable its
 * callback signals (what C++'s Future::get and Python's blocking Sdk do);
 * with thread delivery (the callback on the instance's callback thread) and
 * host delivery (the caller polls imconv_event_fd and runs
 * imconv_dispatch: blocking in poll, or spinning on imconv_dispatch).
 *
 * The floor, measured in the same run: the bare wake of a parked thread
 * (one condition-variable signal to a thread that then sets a flag the
 * caller spins on), back to back and after 1 ms idle; and the blocking
 * round trip (the same, the caller blocking on a condition variable the
 * woken thread signals: two wakes).
 *
 * Each figure is the median over rounds of one round's p50 or p99 of
 * SAMPLES calls; the rounds alternate which delivery goes first.
 */
#define _GNU_SOURCE /* bench_placement.h */
#include <dirent.h>
#include <poll.h>
#include <sys/resource.h>
#include <pthread.h>

#include "bench_calls.h"
#include "bench_placement.h"

enum { MAX_RUNS = 9, BATCH = 100 };
/* LATENCY_SAMPLES and LATENCY_RUNS (at most MAX_RUNS) change them: make
   test's short form runs a few calls once. */
static int SAMPLES = 2000, RUNS = 3;
enum caller { SPIN, BLOCK };
enum call { SINGLE, BATCH100 };
enum spacing { BACK_TO_BACK, IDLE_1MS };
enum delivery { THREAD, HOST };

static const char *caller_name[] = {"spin", "block"};
static const char *call_name[] = {"single", "batch100"};
static const char *spacing_name[] = {"b2b", "idle"};
static const char *delivery_name[] = {"thread", "host"};

/* A spinning wait's step: a pause, and every 64th a yield, as the
   library's own watch does, so that a thread the scheduler woke onto this
   core runs at once instead of after a whole time slice. */
static void cpu_relax(void) {
    static _Thread_local unsigned spins;
    if (++spins % 64 == 0) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void idle_1ms(void) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
}

/* The reply a callback hands its caller: a flag, and for a blocking caller
   a condition variable it signals. */
static struct {
    atomic_int ready;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int signalled;
    enum caller caller;
    size_t count; /* what the callback received, checked by the caller */
} reply = {0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, SPIN, 0};

static void answer(size_t count) {
    reply.count = count;
    if (reply.caller == SPIN) {
        atomic_store_explicit(&reply.ready, 1, memory_order_release);
        return;
    }
    pthread_mutex_lock(&reply.lock);
    reply.signalled = 1;
    pthread_cond_signal(&reply.cond);
    pthread_mutex_unlock(&reply.lock);
}

static void on_conversation(const imconv_conversation *c, void *u) {
    (void)u;
    answer(c && c->is_stored ? 1 : 0);
}
static void on_list(const imconv_conversation *const *c, size_t n, void *u) {
    (void)c, (void)u;
    answer(n);
}
static void on_error(int32_t code, const char *desc, void *u) {
    (void)u;
    fprintf(stderr, "callback error %d: %s\n", code, desc);
    exit(1);
}

/* Waits for the one callback of the call just made. */
static void await_reply(enum delivery d) {
    if (d == HOST) {
        int fd = imconv_event_fd(sdk);
        for (;;) {
            if (reply.caller == BLOCK) {
                struct pollfd p = {fd, POLLIN, 0};
                if (poll(&p, 1, -1) < 0) exit(1);
            }
            if (imconv_dispatch(sdk, 0) > 0) break;
            cpu_relax();
        }
        reply.signalled = 0;
        atomic_store_explicit(&reply.ready, 0, memory_order_relaxed);
        return;
    }
    if (reply.caller == SPIN) {
        while (!atomic_load_explicit(&reply.ready, memory_order_acquire)) cpu_relax();
        atomic_store_explicit(&reply.ready, 0, memory_order_relaxed);
        return;
    }
    pthread_mutex_lock(&reply.lock);
    while (!reply.signalled) pthread_cond_wait(&reply.cond, &reply.lock);
    reply.signalled = 0;
    pthread_mutex_unlock(&reply.lock);
}

/* Context switches of a thread of this process (the instance's callback
   thread, for profiling): voluntary (it slept) + involuntary (preempted)
   * 1e6. */
static long thread_switches(long tid) {
    char path[100], line[256];
    long total = 0;
    snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        long n;
        if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1) total += n;
        if (sscanf(line, "nonvoluntary_ctxt_switches: %ld", &n) == 1) total += n * 1000000;
    }
    fclose(f);
    return total;
}

/* Each thread's CPU time so far (ns, /proc/self/task/<tid>/schedstat) and
   name: which thread used the CPU of an idle second. */
enum { MAX_THREADS = 64 };
typedef struct {
    int count;
    long tid[MAX_THREADS];
    long long ns[MAX_THREADS];
    char name[MAX_THREADS][20];
} thread_times;

static void take_thread_times(thread_times *t) {
    char path[300];
    t->count = 0;
    DIR *tasks = opendir("/proc/self/task");
    struct dirent *e;
    while (tasks && (e = readdir(tasks)) && t->count < MAX_THREADS) {
        if (e->d_name[0] == '.') continue;
        int i = t->count;
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        int ok = fscanf(f, "%lld", &t->ns[i]) == 1;
        fclose(f);
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if (!ok || !(f = fopen(path, "r"))) continue;
        if (!fgets(t->name[i], sizeof t->name[i], f)) t->name[i][0] = 0;
        fclose(f);
        t->name[i][strcspn(t->name[i], "\n")] = 0;
        t->tid[i] = atol(e->d_name);
        t->count++;
    }
    if (tasks) closedir(tasks);
}

/* Prints the instance's threads that ran between two snapshots, and what
   of `total_ms` (the process's CPU in the window) none of them accounts
   for: the caller (whose own count holds the snapshots, so it is left out)
   and threads gone by `after`. */
static void print_busy_threads(const thread_times *before, const thread_times *after,
                               double total_ms) {
    double named = 0;
    for (int i = 0; i < after->count; i++) {
        if (after->tid[i] == (long)getpid()) continue;
        long long ns = after->ns[i];
        for (int j = 0; j < before->count; j++)
            if (before->tid[j] == after->tid[i]) ns -= before->ns[j];
        named += (double)ns * 1e-6;
        if (ns > 10000)
            printf("  %s (%ld): %.3f ms\n", after->name[i], after->tid[i], (double)ns * 1e-6);
    }
    printf("  the caller and threads gone since: %.3f ms\n", total_ms - named);
}

/* One timed call, in microseconds. */
static double one_call(enum delivery d, enum call c, enum spacing s, const char **batch) {
    if (s == IDLE_1MS) idle_1ms();
    int rc;
    size_t want = 1;
    if (c == SINGLE) {
        const char *id = ids[next_random() % (uint64_t)size];
        double t0 = now_s();
        rc = imconv_get_conversation(sdk, id, on_conversation, on_error, NULL);
        if (rc == IMCONV_OK) await_reply(d);
        double spent = (now_s() - t0) * 1e6;
        if (rc != IMCONV_OK || reply.count != want) exit(1);
        return spent;
    }
    for (int i = 0; i < BATCH; i++) batch[i] = ids[(next_random() % (uint64_t)(size / BATCH)) * BATCH + (uint64_t)i];
    want = BATCH; /* distinct by construction: one ID from each of 100 strides */
    double t0 = now_s();
    rc = imconv_get_conversation_list(sdk, batch, BATCH, on_list, on_error, NULL);
    if (rc == IMCONV_OK) await_reply(d);
    double spent = (now_s() - t0) * 1e6;
    if (rc != IMCONV_OK || reply.count != want) {
        fprintf(stderr, "a batch answered %zu of %zu\n", reply.count, want);
        exit(1);
    }
    return spent;
}

/* [delivery][caller][call][spacing][p50|p99][run] */
static double figures[2][2][2][2][2][MAX_RUNS];
/* The floor: [spinning waiter | blocking round trip][spacing][p50|p99][run] */
static double floor_figures[2][2][2][MAX_RUNS];

static void percentiles(double *lat, double *p50, double *p99) {
    *p50 = percentile(lat, (size_t)SAMPLES, 0.50);
    *p99 = percentile(lat, (size_t)SAMPLES, 0.99);
}

static void open_mode(const char *dir, enum delivery d) {
    char config[1024], *error = NULL;
    snprintf(config, sizeof config,
             "{\"user_id\":\"bench\",\"data_dir\":\"%s\",\"cache_capacity\":%ld,"
             "\"delivery\":\"%s\"}",
             dir, size + 1000, delivery_name[d]);
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "imconv_sdk_new: %s\n", error);
        exit(1);
    }
    /* Every conversation into the cache: batches of 1,000. */
    reply.caller = d == HOST ? SPIN : BLOCK;
    for (long start = 0; start < size; start += 1000) {
        long n = size - start < 1000 ? size - start : 1000;
        if (imconv_get_conversation_list(sdk, (const char *const *)ids + start, (size_t)n, on_list,
                                         on_error, NULL) != IMCONV_OK)
            exit(1);
        await_reply(d);
        if (reply.count != (size_t)n) exit(1);
    }
}

static void measure_mode(const char *dir, enum delivery d, int run, double *lat) {
    const char *batch[BATCH];
    open_mode(dir, d);
    for (int caller = 0; caller < 2; caller++)
        for (int c = 0; c < 2; c++)
            for (int s = 0; s < 2; s++) {
                reply.caller = (enum caller)caller;
                /* A few calls first, so that each series starts in its own
                   pattern (the thread's watch adapts to how calls come). */
                for (int i = 0; i < 50; i++) one_call(d, (enum call)c, (enum spacing)s, batch);
                for (int i = 0; i < SAMPLES; i++) lat[i] = one_call(d, (enum call)c, (enum spacing)s, batch);
                double *f = figures[d][caller][c][s][0];
                percentiles(lat, &f[run], &figures[d][caller][c][s][1][run]);
            }
    imconv_sdk_free(sdk);
    sdk = NULL;
}

/* The floor: a parked thread woken by one condition-variable signal. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond, back;
    int go, quit, answered;
    atomic_int woke;
} parked = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};

static void *parked_thread(void *arg) {
    (void)arg;
    pthread_mutex_lock(&parked.lock);
    for (;;) {
        while (!parked.go && !parked.quit) pthread_cond_wait(&parked.cond, &parked.lock);
        if (parked.quit) break;
        parked.go = 0;
        atomic_store_explicit(&parked.woke, 1, memory_order_release);
        parked.answered = 1;
        pthread_cond_signal(&parked.back);
    }
    pthread_mutex_unlock(&parked.lock);
    return NULL;
}

static double cpu_round_trips[MAX_RUNS];

static void measure_floor(int run, double *lat) {
    cpu_round_trips[run] = cpu_round_trip_ns();
    pthread_t t;
    parked.quit = 0;
    pthread_create(&t, NULL, parked_thread, NULL);
    for (int blocking = 0; blocking < 2; blocking++)
        for (int s = 0; s < 2; s++) {
            for (int i = 0; i < SAMPLES; i++) {
                if (s == IDLE_1MS) idle_1ms();
                double t0 = now_s();
                pthread_mutex_lock(&parked.lock);
                parked.go = 1;
                pthread_cond_signal(&parked.cond);
                if (blocking) {
                    while (!parked.answered) pthread_cond_wait(&parked.back, &parked.lock);
                    pthread_mutex_unlock(&parked.lock);
                } else {
                    pthread_mutex_unlock(&parked.lock);
                    while (!atomic_load_explicit(&parked.woke, memory_order_acquire)) cpu_relax();
                }
                lat[i] = (now_s() - t0) * 1e6;
                pthread_mutex_lock(&parked.lock);
                parked.answered = 0;
                atomic_store(&parked.woke, 0);
                pthread_mutex_unlock(&parked.lock);
            }
            percentiles(lat, &floor_figures[blocking][s][0][run], &floor_figures[blocking][s][1][run]);
        }
    pthread_mutex_lock(&parked.lock);
    parked.quit = 1;
    pthread_cond_signal(&parked.cond);
    pthread_mutex_unlock(&parked.lock);
    pthread_join(t, NULL);
}

static double median_of(double *runs) { return percentile(runs, (size_t)RUNS, 0.5); }

static void report_all(void) {
    char metric[96];
    const char *pct[] = {"p50", "p99"};
    printf("\nLatency of one call at a time, %ld conversations all cached, us: p50 / p99, "
           "median of %d rounds of %d calls\n\n",
           size, RUNS, SAMPLES);
    printf("| %-34s | %-17s | %-17s | %-17s | %-17s |\n", "delivery, caller",
           "single, b2b", "single, 1 ms idle", "batch 100, b2b", "batch 100, 1 ms idle");
    printf("|------------------------------------|-------------------|-------------------|"
           "-------------------|----------------------|\n");
    for (int d = 0; d < 2; d++)
        for (int caller = 0; caller < 2; caller++) {
            char row[64];
            snprintf(row, sizeof row, "%s, %s", delivery_name[d],
                     d == HOST ? (caller == SPIN ? "spinning on dispatch" : "blocking in poll")
                               : (caller == SPIN ? "spinning" : "blocking"));
            printf("| %-34s |", row);
            for (int c = 0; c < 2; c++)
                for (int s = 0; s < 2; s++) {
                    double m[2];
                    for (int p = 0; p < 2; p++) {
                        m[p] = median_of(figures[d][caller][c][s][p]);
                        snprintf(metric, sizeof metric, "latency_%s_%s_%s_%s_%s", call_name[c],
                                 delivery_name[d], caller_name[caller], spacing_name[s], pct[p]);
                        report(metric, size, "us", figures[d][caller][c][s][p], (size_t)RUNS);
                    }
                    printf(" %7.1f / %-7.1f |", m[0], m[1]);
                }
            printf("\n");
        }
    const char *floor_name[] = {"bare wake (spinning waiter)", "bare round trip (blocking)"};
    for (int b = 0; b < 2; b++) {
        printf("| %-34s |", floor_name[b]);
        for (int s = 0; s < 2; s++) {
            double m[2];
            for (int p = 0; p < 2; p++) {
                m[p] = median_of(floor_figures[b][s][p]);
                snprintf(metric, sizeof metric, "latency_floor_%s_%s_%s",
                         b ? "round_trip" : "wake", spacing_name[s], pct[p]);
                report(metric, size, "us", floor_figures[b][s][p], (size_t)RUNS);
            }
            printf(" %7.1f / %-7.1f |", m[0], m[1]);
        }
        printf(" %17s | %20s |\n", "", "");
    }
    if (cpu_round_trips[0] >= 0) {
        report("latency_floor_cpu_round_trip", size, "ns", cpu_round_trips, (size_t)RUNS);
        printf("\nA cache line between the two CPUs: %.0f ns round trip (bench_placement.h)\n",
               median_of(cpu_round_trips));
    }
}

/* The CPU the idle instance uses over 1 s, with thread delivery, right
   after a burst of back-to-back calls (no thread may keep spinning). */
static void measure_idle_cpu(const char *dir) {
    const char *batch[BATCH];
    double v[MAX_RUNS];
    open_mode(dir, THREAD);
    reply.caller = SPIN;
    for (int run = 0; run < RUNS; run++) {
        for (int i = 0; i < 2000; i++) one_call(THREAD, SINGLE, BACK_TO_BACK, batch);
        struct rusage u0, u1;
        thread_times before, after;
        take_thread_times(&before);
        getrusage(RUSAGE_SELF, &u0);
        double t0 = now_s();
        sleep(1);
        getrusage(RUSAGE_SELF, &u1);
        take_thread_times(&after);
        double cpu = (double)(u1.ru_utime.tv_sec - u0.ru_utime.tv_sec) +
                     (double)(u1.ru_utime.tv_usec - u0.ru_utime.tv_usec) * 1e-6 +
                     (double)(u1.ru_stime.tv_sec - u0.ru_stime.tv_sec) +
                     (double)(u1.ru_stime.tv_usec - u0.ru_stime.tv_usec) * 1e-6;
        v[run] = cpu / (now_s() - t0) * 1e3;
        printf("idle second %d: %.3f ms of CPU\n", run + 1, cpu * 1e3);
        print_busy_threads(&before, &after, cpu * 1e3);
    }
    imconv_sdk_free(sdk);
    sdk = NULL;
    report("latency_idle_cpu_after_burst", size, "ms/s", v, (size_t)RUNS);
    printf("\nCPU of the idle instance in the second after a burst of calls: %.3f ms per s\n",
           median_of(v));
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <scratch_dir> <size> <results.jsonl>\n", argv[0]);
        return 2;
    }
    size = atol(argv[2]);
    if (size < BATCH) size = BATCH;
    if (getenv("LATENCY_SAMPLES")) SAMPLES = atoi(getenv("LATENCY_SAMPLES"));
    if (getenv("LATENCY_RUNS")) RUNS = atoi(getenv("LATENCY_RUNS"));
    if (SAMPLES < 1 || RUNS < 1 || RUNS > MAX_RUNS) {
        fprintf(stderr, "LATENCY_SAMPLES >= 1 and LATENCY_RUNS in 1..%d\n", MAX_RUNS);
        return 2;
    }
    results = fopen(argv[3], "a");
    implementation = "imconv";
    ids = malloc((size_t)size * sizeof *ids);
    for (long i = 0; i < size; i++) {
        char buf[40];
        conversation_id(i, buf, sizeof buf);
        ids[i] = strdup(buf);
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/latency", argv[1]);
    char config[1200], *error = NULL;
    snprintf(config, sizeof config, "{\"user_id\":\"bench\",\"data_dir\":\"%s\"}", dir);
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "imconv_sdk_new: %s\n", error);
        return 1;
    }
    import_all();
    imconv_sdk_free(sdk);
    double *lat = malloc((size_t)SAMPLES * sizeof *lat);
    /* LATENCY_SERIES="thread spin single b2b" (for profiling): that one
       series, 10 times, printed. */
    const char *only = getenv("LATENCY_SERIES");
    if (only) {
        char dn[16], cn[16], kn[16], sn[16];
        if (sscanf(only, "%15s %15s %15s %15s", dn, cn, kn, sn) != 4) return 2;
        enum delivery d = strcmp(dn, "host") == 0 ? HOST : THREAD;
        const char *batch[BATCH];
        open_mode(dir, d);
        reply.caller = strcmp(cn, "block") == 0 ? BLOCK : SPIN;
        enum call c = strcmp(kn, "batch100") == 0 ? BATCH100 : SINGLE;
        enum spacing sp = strcmp(sn, "idle") == 0 ? IDLE_1MS : BACK_TO_BACK;
        long callback = thread_named("imconv-callback");
        for (int r = 0; r < 10; r++) {
            double p50, p99;
            long sw = thread_switches(callback);
            /* Where the two threads run: every 100th call, whether the
               callback thread last ran on the caller's CPU. */
            int same = 0, looks = 0;
            for (int i = 0; i < SAMPLES; i++) {
                lat[i] = one_call(d, c, sp, batch);
                if (i % 100 == 99) same += last_cpu(callback) == sched_getcpu(), looks++;
            }
            sw = thread_switches(callback) - sw;
            percentiles(lat, &p50, &p99);
            printf("%s: p50 %.2f us, p99 %.2f us; callback thread slept %ld times, preempted %ld, "
                   "on the caller's CPU %d of %d looks; a cache line between the CPUs %.0f ns\n",
                   only, p50, p99, sw % 1000000, sw / 1000000, same, looks, cpu_round_trip_ns());
        }
        imconv_sdk_free(sdk);
        return 0;
    }
    for (int run = 0; run < RUNS; run++) {
        measure_floor(run, lat);
        for (int k = 0; k < 2; k++) measure_mode(dir, (enum delivery)((run + k) % 2), run, lat);
    }
    free(lat);
    report_all();
    measure_idle_cpu(dir);
    for (long i = 0; i < size; i++) free(ids[i]);
    free(ids);
    fclose(results);
    return 0;
}
