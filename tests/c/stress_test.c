/* Stress: 8 host threads make random calls (lookups, lists, imports,
 * messages, pins, pages, totals, listener changes) on two instances while
 * a ninth frees and re-creates them under their feet, for a set time.
 * Every accepted call must get exactly one callback; a refused one none.
 * Run as
 *   stress_test <path/to/libimconv.so> <scratch_dir> [seconds]
 */
#include <stdint.h>

#include "testlib.h"

enum { THREADS = 8, SLOTS = 2, MAX_TICKETS = 1 << 24 };

static const char *scratch;
static atomic_uchar *callbacks; /* per ticket: callbacks received */
static atomic_uchar *accepted;  /* per ticket: 1 when the call was accepted */
static atomic_long next_ticket, refused, refused_unexpectedly, stop;

typedef struct {
    pthread_rwlock_t lock; /* read: calling; write: freeing and re-creating */
    imconv_sdk *sdk;
    int generation;
} slot;

static slot slots[SLOTS];

static void *tag(long t) { return (void *)(intptr_t)t; }
static long ticket_of(void *u) { return (long)(intptr_t)u; }

static void got(void *u) {
    long t = ticket_of(u);
    if (atomic_fetch_add(&callbacks[t], 1) != 0) fprintf(stderr, "ticket %ld called back twice\n", t);
}
static void on_conv(const imconv_conversation *c, void *u) { (void)c; got(u); }
static void on_convs(const imconv_conversation *const *c, size_t n, void *u) { (void)c; (void)n; got(u); }
static void on_ok(void *u) { got(u); }
static void on_err(int32_t code, const char *desc, void *u) { (void)code; (void)desc; got(u); }
static void on_count(uint64_t v, void *u) { (void)v; got(u); }
static void on_page(const imconv_conversation *const *c, size_t n, const char *next, bool fin, void *u) {
    (void)c; (void)n; (void)next; (void)fin; got(u);
}
static void ev_views(const imconv_conversation *const *c, size_t n, void *u) { (void)c; (void)n; (void)u; }

static imconv_sdk *create(int index, int generation) {
    char config[1024];
    if (generation % 2)
        snprintf(config, sizeof config, "{\"user_id\":\"s%d\",\"data_dir\":\"%s/stress\"}", index, scratch);
    else
        snprintf(config, sizeof config, "{\"user_id\":\"s%d\"}", index);
    imconv_sdk *sdk = NULL;
    char *error = NULL;
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "create: %s\n", error);
        imconv_string_free(error);
    }
    return sdk;
}

static int32_t random_call(imconv_sdk *sdk, unsigned *seed, long t) {
    char id[32], doc[256];
    snprintf(id, sizeof id, "c2c_u%u", rand_r(seed) % 50);
    const char *ids[] = {id, "group_g1", "c2c_u3"};
    switch (rand_r(seed) % 9) {
    case 0: return imconv_get_conversation(sdk, id, on_conv, on_err, tag(t));
    case 1: return imconv_get_conversation_list(sdk, ids, 3, on_convs, on_err, tag(t));
    case 2:
        snprintf(doc, sizeof doc, "[{\"conversationID\":\"%s\",\"showName\":\"x%ld\"}]", id, t);
        return imconv_import_conversations(sdk, doc, on_ok, on_err, tag(t));
    case 3:
        snprintf(doc, sizeof doc, "[{\"conversationID\":\"%s\",\"msgID\":\"m%ld\",\"timestamp\":%ld}]", id, t, t);
        return imconv_apply_messages(sdk, doc, on_ok, on_err, tag(t));
    case 4: return imconv_pin_conversation(sdk, id, t % 2, on_ok, on_err, tag(t));
    case 5: return imconv_get_conversation_page(sdk, NULL, NULL, 20, on_page, on_err, tag(t));
    case 6: return imconv_get_total_unread(sdk, NULL, on_count, on_err, tag(t));
    case 7: return imconv_sync_conversations(sdk, "[{\"conversationID\":\"group_g1\",\"unreadCount\":1}]", on_ok, on_err, tag(t));
    default: { /* a listener that lives for one call */
        imconv_listener l;
        imconv_listener_init(&l);
        l.on_new = ev_views;
        l.on_changed = ev_views;
        uint64_t lid = 0;
        if (imconv_add_listener(sdk, &l, &lid) == IMCONV_OK) imconv_remove_listener(sdk, lid);
        return imconv_delete_conversations(sdk, ids, 1, on_ok, on_err, tag(t));
    }
    }
}

static void *caller(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
    while (!atomic_load(&stop)) {
        long t = atomic_fetch_add(&next_ticket, 1);
        if (t >= MAX_TICKETS) break;
        slot *s = &slots[rand_r(&seed) % SLOTS];
        pthread_rwlock_rdlock(&s->lock);
        int32_t rc = s->sdk ? random_call(s->sdk, &seed, t) : IMCONV_ERR_SHUTDOWN;
        pthread_rwlock_unlock(&s->lock);
        if (rc == IMCONV_OK) {
            atomic_store(&accepted[t], 1);
        } else {
            /* The only refusals a well-formed call may get: the write queue
               or read queue is full (8 threads call without waiting). */
            atomic_fetch_add(&refused, 1);
            if (rc != IMCONV_ERR_QUEUE_FULL && atomic_fetch_add(&refused_unexpectedly, 1) == 0)
                fprintf(stderr, "unexpected refusal %d\n", rc);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir> [seconds]\n", argv[0]);
        return 2;
    }
    scratch = argv[2];
    double seconds = argc > 3 ? atof(argv[3]) : 30;
    current_test = "stress_test";
    callbacks = calloc(MAX_TICKETS, 1);
    accepted = calloc(MAX_TICKETS, 1);
    for (int i = 0; i < SLOTS; i++) {
        pthread_rwlock_init(&slots[i].lock, NULL);
        slots[i].sdk = create(i, 0);
    }
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, caller, (void *)(uintptr_t)i);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int recycled = 0;
    for (;;) {
        sleep_ms(20);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) * 1e-9 > seconds) break;
        /* Free one instance with calls in flight and create it again. */
        slot *s = &slots[recycled % SLOTS];
        pthread_rwlock_wrlock(&s->lock);
        imconv_sdk_free(s->sdk);
        s->sdk = create(recycled % SLOTS, ++s->generation);
        pthread_rwlock_unlock(&s->lock);
        recycled++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < SLOTS; i++) imconv_sdk_free(slots[i].sdk);
    long calls = atomic_load(&next_ticket), wrong = 0, ok = 0;
    if (calls > MAX_TICKETS) calls = MAX_TICKETS;
    for (long t = 0; t < calls; t++) {
        int want = atomic_load(&accepted[t]) ? 1 : 0;
        if (atomic_load(&callbacks[t]) != want) wrong++;
        ok += want;
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(atomic_load(&refused_unexpectedly), 0);
    CHECK_INT(library_threads(), 0);
    printf("stress: %ld calls from %d threads (%ld accepted, %ld refused as the write queue was full), %d instances recycled, "
           "%ld without exactly one callback\n",
           calls, THREADS, ok, atomic_load(&refused), recycled, wrong);
    printf("%d passed, %d failed\n", current_failed ? 0 : 1, current_failed ? 1 : 0);
    return current_failed;
}
