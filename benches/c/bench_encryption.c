/* Encryption's cost (issue 27, item 6): the same work on a plain store and
 * on an encrypted one, in one run, alternating plain and encrypted rounds
 * so that the machine's noise falls on both alike. Per path, the median of
 * the rounds for each mode and their ratio (encrypted / plain: above 1 is
 * the cost).
 *   bench_encryption <scratch_dir> <size> <results.jsonl>
 * Paths: import (calls of 1,000), open to the first answered lookup,
 * lookups that miss the cache (a cache of 16 conversations: each reads the
 * store), the first page of 100 and every page to the end, apply_messages
 * (calls of 100 messages), and lookups from the cache (which never reach
 * the store: unchanged by design, measured to show it).
 */
#include "bench_calls.h"

#define KEY "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e0123456789abcdef0123456789abcdef"
#define KEY2 "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a0123456789abcdef0123456789abcdef"
enum { MODES = 2, PATHS = 8 };
static const char *path_names[PATHS] = {
    "import", "open_to_first_lookup", "uncached_lookup", "first_page_of_100",
    "all_pages_of_100", "apply_messages", "cached_lookup", "rekey_whole_store"};
static const char *path_units[PATHS] = {"ms", "ms", "us", "us", "ms", "ms", "us", "ms"};

static void open_store(const char *dir, int encrypted, long cache) {
    char config[1024], *error = NULL;
    snprintf(config, sizeof config,
             "{\"user_id\":\"bench\",\"data_dir\":\"%s/%s\",\"cache_capacity\":%ld%s}", dir,
             encrypted ? "encrypted" : "plain", cache,
             encrypted ? ",\"encryption_key\":\"" KEY "\"" : "");
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "imconv_sdk_new: %s\n", error);
        exit(1);
    }
}

/* One round of every path for one mode, into v[path]. */
static void round_of(const char *dir, int encrypted, double *v) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/%s'", dir, encrypted ? "encrypted" : "plain");
    if (system(cmd) != 0) exit(1);
    open_store(dir, encrypted, 2 * size + 1000);
    v[0] = import_all();
    imconv_sdk_free(sdk);

    double t0 = now_s();
    open_store(dir, encrypted, 16);
    get(ids[size / 2]);
    v[1] = (now_s() - t0) * 1e3;
    enum { MISSES = 4000 };
    double *lat = malloc(MISSES * sizeof *lat);
    for (int s = 0; s < MISSES; s++) {
        const char *id = ids[next_random() % (uint64_t)size];
        double t = now_s();
        get(id);
        lat[s] = (now_s() - t) * 1e6;
    }
    v[2] = percentile(lat, MISSES, 0.5);
    free(lat);
    cursor[0] = '\0';
    v[3] = page_once() * 1e6;
    double pages = 0;
    cursor[0] = '\0';
    do pages += page_once();
    while (!finished);
    v[4] = pages * 1e3;
    v[5] = apply_messages(size >= 100000 ? 200 : 50);
    imconv_sdk_free(sdk);

    open_store(dir, encrypted, 2 * size + 1000);
    for (long i = 0; i < size; i++) get(ids[i]);
    enum { HITS = 20000 };
    lat = malloc(HITS * sizeof *lat);
    for (int s = 0; s < HITS; s++) {
        const char *id = ids[next_random() % (uint64_t)size];
        double t = now_s();
        get(id);
        lat[s] = (now_s() - t) * 1e6;
    }
    v[6] = percentile(lat, HITS, 0.5);
    free(lat);
    /* A rekey of the whole store: to another key, or plain to encrypted. */
    long target = atomic_load(&completed) + 1;
    t0 = now_s();
    if (imconv_rekey(sdk, encrypted ? KEY2 : KEY, on_done, on_fail, NULL) != IMCONV_OK) exit(1);
    wait_for(target);
    v[7] = (now_s() - t0) * 1e3;
    imconv_sdk_free(sdk);
}

int main(int argc, char **argv) {
    two_modes bench = {"encryption's cost", {"plain", "encrypted"}, PATHS, ROUNDS,
                       path_names, path_units, round_of};
    return run_two_modes(&bench, argc, argv);
}
