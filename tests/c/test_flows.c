/* Real message flows through the C ABI: writes issued back to back commit
 * and call back in call order, sync intake, the write queue's bound,
 * listeners removed mid-batch, and no deadlock across instances (listener
 * removal and free from each other's callbacks). Run as
 *   test_flows <path/to/libimconv.so> <scratch_dir>
 * A hang fails the run: an alarm ends the process after 240 s.
 */
#include "testlib.h"


/* ---- 1. back-to-back writes ------------------------------------------ */

/* Completion order: each callback appends its tag. */
typedef struct {
    atomic_int next;
    int order[8];
    atomic_int errors;
} completions;

typedef struct {
    completions *into;
    int tag;
} tagged;

static void tag_done(void *user_data) {
    tagged *t = user_data;
    t->into->order[atomic_fetch_add(&t->into->next, 1)] = t->tag;
}

static void tag_fail(int32_t code, const char *desc, void *user_data) {
    (void)code;
    (void)desc;
    tagged *t = user_data;
    atomic_fetch_add(&t->into->errors, 1);
    t->into->order[atomic_fetch_add(&t->into->next, 1)] = t->tag;
}

static void test_back_to_back_writes_commit_and_call_back_in_order(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    import_sync(sdk, "[{\"conversationID\":\"c2c_a\"}]", &c);
    const char *a[] = {"c2c_a"};
    int wrong_state = 0, wrong_order = 0;
    for (int round = 0; round < 1000; round++) {
        completions done = {0};
        tagged tags[5];
        for (int i = 0; i < 5; i++) tags[i] = (tagged){&done, i};
        char draft[32];
        snprintf(draft, sizeof draft, "d%d", round);
        bool pinned_last = round % 2 == 0;
        CHECK_INT(imconv_pin_conversation(sdk, "c2c_a", true, tag_done, tag_fail, &tags[0]), IMCONV_OK);
        CHECK_INT(imconv_pin_conversation(sdk, "c2c_a", false, tag_done, tag_fail, &tags[1]), IMCONV_OK);
        CHECK_INT(imconv_set_draft(sdk, "c2c_a", draft, tag_done, tag_fail, &tags[2]), IMCONV_OK);
        CHECK_INT(imconv_pin_conversation(sdk, "c2c_a", pinned_last, tag_done, tag_fail, &tags[3]), IMCONV_OK);
        CHECK_INT(imconv_set_custom_data(sdk, a, 1, draft, tag_done, tag_fail, &tags[4]), IMCONV_OK);
        for (int i = 0; i < 6000 && atomic_load(&done.next) < 5; i++) sleep_ms(1);
        CHECK_INT(atomic_load(&done.next), 5);
        CHECK_INT(atomic_load(&done.errors), 0);
        for (int i = 0; i < 5; i++) wrong_order += done.order[i] != i;
        /* A lookup issued after the last on_success sees every write. */
        get_sync(sdk, "c2c_a", &c);
        char want_draft[64], want_pin[32];
        snprintf(want_draft, sizeof want_draft, "\"draftText\":\"%s\"", draft);
        snprintf(want_pin, sizeof want_pin, "\"isPinned\":%s", pinned_last ? "true" : "false");
        wrong_state += !strstr(c.jsons[0], want_draft) || !strstr(c.jsons[0], want_pin);
    }
    CHECK_INT(wrong_order, 0);
    CHECK_INT(wrong_state, 0);
    imconv_sdk_free(sdk);
    call_destroy(&c);
}

/* ---- 2. catch-up ordering and sync ----------------------------------- */

typedef struct {
    char ids[8][32];
    size_t n;
    call done;
} page_result;

static void on_page(const imconv_conversation *const *convs, size_t n, const char *next,
                    bool finished, void *user_data) {
    (void)next;
    (void)finished;
    page_result *p = user_data;
    p->n = n < 8 ? n : 8;
    for (size_t i = 0; i < p->n; i++)
        snprintf(p->ids[i], sizeof p->ids[i], "%s", convs[i]->conversation_id);
    call_finish(&p->done, 1);
}

static void page_fail(int32_t code, const char *desc, void *user_data) {
    page_result *p = user_data;
    on_fail(code, desc, &p->done);
}

static void first_page(imconv_sdk *sdk, page_result *p) {
    call_reset(&p->done);
    p->n = 0;
    CHECK_INT(imconv_get_conversation_page(sdk, NULL, NULL, 8, on_page, page_fail, p), IMCONV_OK);
    call_wait(&p->done);
}

static void test_catch_up_orders_by_time_and_sync_merges(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    page_result p;
    call_init(&p.done);
    /* A reconnect replays conversation by conversation: B's newer message first. */
    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk,
        "[{\"conversationID\":\"c2c_b\",\"msgID\":\"b1\",\"timestamp\":200}]", on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk,
        "[{\"conversationID\":\"c2c_a\",\"msgID\":\"a1\",\"timestamp\":100}]", on_done, on_fail, &c)), IMCONV_OK);
    first_page(sdk, &p);
    CHECK_INT(p.n, 2);
    CHECK_STR(p.ids[0], "c2c_b");
    CHECK_STR(p.ids[1], "c2c_a");

    /* Sync: merges named fields, keeps local ones, creates what is missing. */
    CHECK_INT(WRITE(&c, imconv_set_draft(sdk, "c2c_a", "local", on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_sync_conversations(sdk,
        "[{\"conversationID\":\"c2c_a\",\"showName\":\"Alice\",\"unreadCount\":7},"
        " {\"conversationID\":\"group_new\",\"showName\":\"New\",\"lastMessage\":{\"msgID\":\"n1\",\"timestamp\":50}}]",
        on_done, on_fail, &c)), IMCONV_OK);
    get_sync(sdk, "c2c_a", &c);
    CHECK_CONTAINS(c.jsons[0], "\"showName\":\"Alice\"");
    CHECK_CONTAINS(c.jsons[0], "\"unreadCount\":7");
    CHECK_CONTAINS(c.jsons[0], "\"draftText\":\"local\"");
    CHECK_CONTAINS(c.jsons[0], "\"msgID\":\"a1\"");
    get_sync(sdk, "group_new", &c);
    CHECK_CONTAINS(c.jsons[0], "\"showName\":\"New\"");
    CHECK_CONTAINS(c.jsons[0], "\"msgID\":\"n1\"");
    /* All or nothing: a bad element stores nothing of the call. */
    CHECK_INT(WRITE(&c, imconv_sync_conversations(sdk,
        "[{\"conversationID\":\"c2c_z\"},{\"conversationID\":\"c2c_y\",\"recvOpt\":9}]",
        on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "element 1: field 'recvOpt'");
    get_sync(sdk, "c2c_z", &c);
    CHECK_CONTAINS(c.jsons[0], "\"orderKey\":0");
    CHECK_INT(WRITE(&c, imconv_sync_conversations(sdk, NULL, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "json_array is NULL");
    CHECK_INT(imconv_sync_conversations(NULL, "[]", on_done, on_fail, &c), IMCONV_ERR_INVALID_PARAMETERS);
    imconv_sdk_free(sdk);
    call_destroy(&c);
    call_destroy(&p.done);
}

/* ---- 3. messages update in place, read positions, limits ------------- */

static void test_updates_positions_and_limits(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk,
        "[{\"conversationID\":\"c2c_a\",\"msgID\":\"m1\",\"timestamp\":30,\"status\":1}]", on_done, on_fail, &c)), IMCONV_OK);
    get_sync(sdk, "c2c_a", &c);
    const char *key_at = strstr(c.jsons[0], "\"orderKey\":");
    char key[40] = "";
    if (key_at) snprintf(key, sizeof key, "%.30s", key_at);
    /* sending -> sent: the last message changes; unread and order do not. */
    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk,
        "[{\"conversationID\":\"c2c_a\",\"msgID\":\"m1\",\"timestamp\":30,\"status\":2}]", on_done, on_fail, &c)), IMCONV_OK);
    get_sync(sdk, "c2c_a", &c);
    CHECK_CONTAINS(c.jsons[0], "\"status\":2");
    CHECK_CONTAINS(c.jsons[0], "\"unreadCount\":1");
    CHECK_CONTAINS(c.jsons[0], key);
    /* Read up to 30; a late message at 25 is not unread. */
    CHECK_INT(WRITE(&c, imconv_clean_unread(sdk, "c2c_a", 30, 0, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk,
        "[{\"conversationID\":\"c2c_a\",\"msgID\":\"late\",\"timestamp\":25}]", on_done, on_fail, &c)), IMCONV_OK);
    get_sync(sdk, "c2c_a", &c);
    CHECK_CONTAINS(c.jsons[0], "\"unreadCount\":0");
    CHECK_CONTAINS(c.jsons[0], "\"c2cReadTimestamp\":30");
    /* The position must be of the conversation's kind. */
    CHECK_INT(WRITE(&c, imconv_clean_unread(sdk, "c2c_a", 0, 5, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "timestamp, not a sequence");
    CHECK_INT(WRITE(&c, imconv_clean_unread(sdk, "", 5, 0, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    /* Limits. */
    char *big = malloc(IMCONV_MAX_DRAFT_BYTES + 2);
    memset(big, 'x', IMCONV_MAX_DRAFT_BYTES + 1);
    big[IMCONV_MAX_DRAFT_BYTES + 1] = '\0';
    CHECK_INT(WRITE(&c, imconv_set_draft(sdk, "c2c_a", big, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "draft_text is 16385 bytes");
    big[IMCONV_MAX_DRAFT_BYTES] = '\0';
    CHECK_INT(WRITE(&c, imconv_set_draft(sdk, "c2c_a", big, on_done, on_fail, &c)), IMCONV_OK);
    free(big);
    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk,
        "[{\"conversationID\":\"c2c_a\",\"msgID\":\"\",\"timestamp\":1}]", on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "msgID");
    CHECK_INT(WRITE(&c, imconv_create_group(sdk, "tab\there", NULL, 0, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "control character");
    imconv_sdk_free(sdk);
    call_destroy(&c);
}

/* ---- 4. the write queue is bounded ----------------------------------- */

static atomic_int bound_callbacks, bound_ok;

static void bound_done(void *u) {
    (void)u;
    atomic_fetch_add(&bound_ok, 1);
    atomic_fetch_add(&bound_callbacks, 1);
}

static void bound_fail(int32_t code, const char *desc, void *u) {
    (void)desc;
    (void)u;
    if (code != IMCONV_ERR_SHUTDOWN) fprintf(stderr, "unexpected failure %d\n", code);
    atomic_fetch_add(&bound_callbacks, 1);
}

static void test_a_full_queue_refuses_at_once(void) {
    imconv_sdk *sdk = open_memory();
    /* About 1 MiB a document: 1,000 of them are far more than the bound. */
    enum { ELEMENTS = 1000 };
    size_t size = ELEMENTS * 1100 + 16, len = 0;
    char *doc = malloc(size);
    doc[len++] = '[';
    for (int i = 0; i < ELEMENTS; i++) {
        len += (size_t)snprintf(doc + len, size - len, "%s{\"conversationID\":\"c2c_u%d\",\"faceUrl\":\"", i ? "," : "", i);
        memset(doc + len, 'f', 1000);
        len += 1000;
        doc[len++] = '"';
        doc[len++] = '}';
    }
    doc[len++] = ']';
    doc[len] = '\0';
    atomic_store(&bound_callbacks, 0);
    atomic_store(&bound_ok, 0);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 1000; i++) {
        int32_t rc = imconv_import_conversations(sdk, doc, bound_done, bound_fail, NULL);
        if (rc == IMCONV_ERR_QUEUE_FULL) {
            refused++;
            break;
        }
        CHECK_INT(rc, IMCONV_OK);
        accepted++;
    }
    CHECK_INT(refused, 1);
    CHECK_STR(imconv_error_str(IMCONV_ERR_QUEUE_FULL),
              "too many calls are waiting: the instance's write or read queue is full");
    /* Once the queue drains, writes are taken again. */
    for (int i = 0; i < 12000 && atomic_load(&bound_callbacks) < accepted; i++) sleep_ms(5);
    CHECK_INT(atomic_load(&bound_callbacks), accepted);
    CHECK_INT(imconv_import_conversations(sdk, doc, bound_done, bound_fail, NULL), IMCONV_OK);
    for (int i = 0; i < 12000 && atomic_load(&bound_callbacks) < accepted + 1; i++) sleep_ms(5);
    imconv_sdk_free(sdk);
    /* The refused call never called back; every accepted one did, once. */
    CHECK_INT(atomic_load(&bound_callbacks), accepted + 1);
    CHECK_INT(atomic_load(&bound_ok), accepted + 1);
    free(doc);
}

/* ---- 5. a listener removed mid-batch -------------------------------- */

typedef struct {
    imconv_sdk *sdk;
    uint64_t id;
    atomic_int news, totals;
} self_remover;

static void sr_new(const imconv_conversation *const *v, size_t n, void *u) {
    (void)v;
    (void)n;
    self_remover *s = u;
    atomic_fetch_add(&s->news, 1);
    CHECK_INT(imconv_remove_listener(s->sdk, s->id), IMCONV_OK);
}

static void sr_total(uint64_t total, void *u) {
    (void)total;
    self_remover *s = u;
    atomic_fetch_add(&s->totals, 1);
}

static void test_a_listener_removed_mid_batch_gets_nothing_more(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    self_remover s = {sdk, 0, 0, 0};
    imconv_listener l;
    imconv_listener_init(&l);
    l.on_new = sr_new;
    l.on_total_unread_changed = sr_total;
    l.user_data = &s;
    CHECK_INT(imconv_add_listener(sdk, &l, &s.id), IMCONV_OK);
    /* One batch: new c2c_a, then the total; the total must not arrive. */
    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk,
        "[{\"conversationID\":\"c2c_a\",\"msgID\":\"m\",\"timestamp\":1}]", on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(atomic_load(&s.news), 1);
    CHECK_INT(atomic_load(&s.totals), 0);
    imconv_sdk_free(sdk);
    call_destroy(&c);
}

/* A blocked callback does not hold up a removal from a host thread. */
static atomic_int release_blocker, blocker_entered;

static void blocking_lookup(const imconv_conversation *conv, void *u) {
    (void)conv;
    (void)u;
    atomic_store(&blocker_entered, 1);
    while (!atomic_load(&release_blocker)) sleep_ms(1);
}

static void count_fail(int32_t code, const char *desc, void *u) {
    (void)code;
    (void)desc;
    (void)u;
}

static void ignore_views(const imconv_conversation *const *v, size_t n, void *u) {
    (void)v;
    (void)n;
    (void)u;
}

static void test_removal_does_not_wait_behind_queued_callbacks(void) {
    imconv_sdk *sdk = open_memory();
    imconv_listener l;
    imconv_listener_init(&l);
    l.on_new = ignore_views;
    l.on_changed = ignore_views;
    uint64_t id = 0;
    CHECK_INT(imconv_add_listener(sdk, &l, &id), IMCONV_OK);
    atomic_store(&release_blocker, 0);
    atomic_store(&blocker_entered, 0);
    CHECK_INT(imconv_get_conversation(sdk, "c2c_x", blocking_lookup, count_fail, NULL), IMCONV_OK);
    while (!atomic_load(&blocker_entered)) sleep_ms(1);
    /* Would hang (until the alarm) if it waited behind the blocked callback. */
    CHECK_INT(imconv_remove_listener(sdk, id), IMCONV_OK);
    atomic_store(&release_blocker, 1);
    imconv_sdk_free(sdk);
}

/* ---- 6. no deadlock across instances --------------------------------- */

/* Two callbacks, one per instance, meet here before acting. */
static atomic_int met;

static void meet(void) {
    atomic_fetch_add(&met, 1);
    while (atomic_load(&met) < 2) sleep_ms(1);
}

typedef struct {
    imconv_sdk *other;
    uint64_t other_listener;
    atomic_int calls;
    int32_t rc;
} crosser;

static void cross_remove(const imconv_conversation *const *v, size_t n, void *u) {
    (void)v;
    (void)n;
    crosser *x = u;
    if (atomic_fetch_add(&x->calls, 1) == 0) {
        meet();
        x->rc = imconv_remove_listener(x->other, x->other_listener);
    }
}

static void test_instances_removing_each_others_listeners(void) {
    imconv_sdk *a = open_memory(), *b = open_memory();
    call ca, cb;
    call_init(&ca);
    call_init(&cb);
    crosser xa = {b, 0, 0, -1}, xb = {a, 0, 0, -1};
    imconv_listener la;
    imconv_listener_init(&la);
    la.on_new = cross_remove;
    la.user_data = &xa;
    imconv_listener lb;
    imconv_listener_init(&lb);
    lb.on_new = cross_remove;
    lb.user_data = &xb;
    uint64_t ida = 0, idb = 0;
    CHECK_INT(imconv_add_listener(a, &la, &ida), IMCONV_OK);
    CHECK_INT(imconv_add_listener(b, &lb, &idb), IMCONV_OK);
    xa.other_listener = idb;
    xb.other_listener = ida;
    atomic_store(&met, 0);
    const char *m = "[{\"conversationID\":\"c2c_x\",\"msgID\":\"1\",\"timestamp\":1}]";
    CHECK_INT(imconv_apply_messages(a, m, on_done, on_fail, &ca), IMCONV_OK);
    CHECK_INT(imconv_apply_messages(b, m, on_done, on_fail, &cb), IMCONV_OK);
    call_wait(&ca);
    call_wait(&cb);
    /* One waited for the other's callback; the other could not wait for it
       (that would close the cycle) and said so. Both are removed. */
    CHECK((xa.rc == IMCONV_OK && xb.rc == IMCONV_ERR_WOULD_DEADLOCK) ||
          (xb.rc == IMCONV_OK && xa.rc == IMCONV_ERR_WOULD_DEADLOCK));
    const char *m2 = "[{\"conversationID\":\"c2c_y\",\"msgID\":\"2\",\"timestamp\":2}]";
    CHECK_INT(WRITE(&ca, imconv_apply_messages(a, m2, on_done, on_fail, &ca)), IMCONV_OK);
    CHECK_INT(WRITE(&cb, imconv_apply_messages(b, m2, on_done, on_fail, &cb)), IMCONV_OK);
    CHECK_INT(atomic_load(&xa.calls), 1);
    CHECK_INT(atomic_load(&xb.calls), 1);
    imconv_sdk_free(a);
    imconv_sdk_free(b);
    call_destroy(&ca);
    call_destroy(&cb);
}

typedef struct {
    imconv_sdk *other;
    atomic_int returned;
} freer;

static void free_other(const imconv_conversation *conv, void *u) {
    (void)conv;
    freer *f = u;
    meet();
    imconv_sdk_free(f->other);
    atomic_store(&f->returned, 1);
}

static void test_instances_freeing_each_other_from_callbacks(void) {
    CHECK_INT(library_threads(), 0);
    imconv_sdk *a = open_memory(), *b = open_memory();
    freer fa = {b, 0}, fb = {a, 0};
    atomic_store(&met, 0);
    CHECK_INT(imconv_get_conversation(a, "c2c_x", free_other, count_fail, &fa), IMCONV_OK);
    CHECK_INT(imconv_get_conversation(b, "c2c_x", free_other, count_fail, &fb), IMCONV_OK);
    for (int i = 0; i < 6000 && !(atomic_load(&fa.returned) && atomic_load(&fb.returned)); i++) sleep_ms(5);
    CHECK(atomic_load(&fa.returned) && atomic_load(&fb.returned));
    /* Both instances are torn down and every library thread exits. */
    int threads = -1;
    for (int i = 0; i < 2000 && (threads = library_threads()) != 0; i++) sleep_ms(5);
    CHECK_INT(threads, 0);
}

/* Free of another instance from a callback, with no cycle: it waits. */
static void test_free_of_another_instance_from_a_callback(void) {
    imconv_sdk *a = open_memory(), *b = open_memory();
    freer fa = {b, 0};
    atomic_store(&met, 1); /* alone: no partner to meet */
    call c;
    call_init(&c);
    CHECK_INT(imconv_get_conversation(a, "c2c_x", free_other, count_fail, &fa), IMCONV_OK);
    for (int i = 0; i < 6000 && !atomic_load(&fa.returned); i++) sleep_ms(5);
    CHECK(atomic_load(&fa.returned));
    /* a still works; b is gone (its threads joined before free returned). */
    get_sync(a, "c2c_y", &c);
    CHECK_INT(c.successes, 1);
    imconv_sdk_free(a);
    CHECK_INT(library_threads(), 0);
    call_destroy(&c);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir>\n", argv[0]);
        return 2;
    }
    alarm((unsigned)wait_seconds() * 8); /* 240 s; more under valgrind */
    RUN(test_back_to_back_writes_commit_and_call_back_in_order);
    RUN(test_catch_up_orders_by_time_and_sync_merges);
    RUN(test_updates_positions_and_limits);
    RUN(test_a_full_queue_refuses_at_once);
    RUN(test_a_listener_removed_mid_batch_gets_nothing_more);
    RUN(test_removal_does_not_wait_behind_queued_callbacks);
    RUN(test_instances_removing_each_others_listeners);
    RUN(test_instances_freeing_each_other_from_callbacks);
    RUN(test_free_of_another_instance_from_a_callback);
    return test_summary();
}
