/* The conversation manager through the C ABI: writes, events, ordering,
 * stable paging, filters, unread totals, groups, limits. Run as
 *   test_manager <path/to/libimconv.so> <scratch_dir>
 */
#include "testlib.h"

static const char *scratch;


static int32_t apply(imconv_sdk *sdk, call *c, const char *json) {
    return WRITE(c, imconv_apply_messages(sdk, json, on_done, on_fail, c));
}

/* ---- the event recorder --------------------------------------------- */

typedef struct {
    pthread_mutex_t lock;
    char log[4096];
    int events;
} recorder;

static void record(recorder *r, const char *what, const char *const *names, size_t n) {
    pthread_mutex_lock(&r->lock);
    size_t len = strlen(r->log);
    len += (size_t)snprintf(r->log + len, sizeof r->log - len, "%s%s", len ? "|" : "", what);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(r->log + len, sizeof r->log - len, "%s%s", i ? "," : " ", names[i]);
    r->events++;
    pthread_mutex_unlock(&r->lock);
}

static void rec_views(recorder *r, const char *what, const imconv_conversation *const *v, size_t n) {
    const char *names[16];
    for (size_t i = 0; i < n && i < 16; i++) names[i] = v[i]->conversation_id;
    record(r, what, names, n < 16 ? n : 16);
}

static void ev_new(const imconv_conversation *const *v, size_t n, void *u) { rec_views(u, "new", v, n); }
static void ev_changed(const imconv_conversation *const *v, size_t n, void *u) { rec_views(u, "changed", v, n); }
static void ev_deleted(const char *const *ids, size_t n, void *u) { record(u, "deleted", ids, n); }
static void ev_total(uint64_t total, void *u) {
    char text[32];
    snprintf(text, sizeof text, "total %llu", (unsigned long long)total);
    record(u, text, NULL, 0);
}

/* Registers a recorder for new, changed and deleted events (and the total
 * when asked); returns the listener's ID. */
static uint64_t record_events(imconv_sdk *sdk, recorder *rec, int with_total) {
    memset(rec, 0, sizeof *rec);
    pthread_mutex_init(&rec->lock, NULL);
    imconv_listener l;
    imconv_listener_init(&l);
    l.on_new = ev_new;
    l.on_changed = ev_changed;
    l.on_deleted = ev_deleted;
    if (with_total) l.on_total_unread_changed = ev_total;
    l.user_data = rec;
    uint64_t listener_id = 0;
    CHECK_INT(imconv_add_listener(sdk, &l, &listener_id), IMCONV_OK);
    return listener_id;
}

static const char *MSG_FMT =
    "{\"conversationID\":\"%s\",\"msgID\":\"%s\",\"timestamp\":%d,\"seq\":%d,\"sender\":\"x\","
    "\"isSelf\":%s,\"isRead\":false,\"text\":\"hello\"}";

static char *msgs(int n, const char *const *conv, const char *const *ids, const int *ts, const int *self) {
    static char buf[8192];
    size_t len = 0;
    buf[len++] = '[';
    for (int i = 0; i < n; i++) {
        if (i) buf[len++] = ',';
        len += (size_t)snprintf(buf + len, sizeof buf - len, MSG_FMT, conv[i], ids[i], ts[i], ts[i],
                                self[i] ? "true" : "false");
    }
    buf[len++] = ']';
    buf[len] = '\0';
    return buf;
}

static void test_messages_and_exact_events(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    recorder rec;
    uint64_t listener_id = record_events(sdk, &rec, 1);
    CHECK_INT(imconv_add_listener(sdk, NULL, &listener_id), IMCONV_ERR_INVALID_PARAMETERS);

    const char *conv[] = {"c2c_a", "c2c_a", "c2c_b"};
    const char *ids[] = {"m1", "m2", "m3"};
    int ts[] = {100, 200, 50}, self[] = {0, 0, 1};
    CHECK_INT(apply(sdk, &c, msgs(3, conv, ids, ts, self)), IMCONV_OK);
    /* The same messages again: nothing changes, no event. */
    CHECK_INT(apply(sdk, &c, msgs(3, conv, ids, ts, self)), IMCONV_OK);
    get_sync(sdk, "c2c_a", &c);
    CHECK_CONTAINS(c.jsons[0], "\"unreadCount\":2");
    CHECK_CONTAINS(c.jsons[0], "\"msgID\":\"m2\"");
    get_sync(sdk, "c2c_b", &c);
    CHECK_CONTAINS(c.jsons[0], "\"unreadCount\":0");

    const char *a[] = {"c2c_a"}, *ab[] = {"c2c_a", "c2c_b"};
    CHECK_INT(WRITE(&c, imconv_pin_conversation(sdk, "c2c_b", true, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_clean_unread(sdk, "c2c_a", 0, 0, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_set_recv_opt(sdk, ab, 2, 0, on_done, on_fail, &c)), IMCONV_OK); /* no change */
    CHECK_INT(WRITE(&c, imconv_delete_conversations(sdk, a, 1, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(imconv_remove_listener(sdk, listener_id), IMCONV_OK);
    CHECK_INT(imconv_remove_listener(sdk, listener_id), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(WRITE(&c, imconv_pin_conversation(sdk, "c2c_b", false, on_done, on_fail, &c)), IMCONV_OK);
    imconv_sdk_free(sdk);
    CHECK_STR(rec.log, "new c2c_a,c2c_b|total 2|changed c2c_b|changed c2c_a|total 0|deleted c2c_a");
    call_destroy(&c);
}

static void test_writes_and_their_errors(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    import_sync(sdk, "[{\"conversationID\":\"c2c_a\",\"orderKey\":5},{\"conversationID\":\"group_g\",\"orderKey\":6}]", &c);
    const char *a[] = {"c2c_a"}, *bad[] = {"c2c_a", "nope"}, *unknown[] = {"c2c_zz"};
    CHECK_INT(WRITE(&c, imconv_set_draft(sdk, "c2c_a", "typing...", on_done, on_fail, &c)), IMCONV_OK);
    get_sync(sdk, "c2c_a", &c);
    CHECK_CONTAINS(c.jsons[0], "\"draftText\":\"typing...\"");
    CHECK_INT(WRITE(&c, imconv_set_draft(sdk, "c2c_a", NULL, on_done, on_fail, &c)), IMCONV_OK);
    get_sync(sdk, "c2c_a", &c);
    CHECK_CONTAINS(c.jsons[0], "\"draftText\":\"\",\"draftTimestamp\":0");
    CHECK_INT(WRITE(&c, imconv_set_custom_data(sdk, a, 1, "{\"k\":1}", on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_mark_conversations(sdk, a, 1, IMCONV_MARK_STAR, true, on_done, on_fail, &c)), IMCONV_OK);
    get_sync(sdk, "c2c_a", &c);
    CHECK_CONTAINS(c.jsons[0], "\"markList\":[1]");
    CHECK_CONTAINS(c.jsons[0], "\"customData\":\"{\\\"k\\\":1}\"");

    CHECK_INT(WRITE(&c, imconv_set_recv_opt(sdk, a, 1, 7, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "recv_opt");
    CHECK_INT(WRITE(&c, imconv_set_recv_opt(sdk, bad, 2, 1, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "conversation_ids[1]");
    CHECK_INT(WRITE(&c, imconv_set_recv_opt(sdk, NULL, 3, 1, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(WRITE(&c, imconv_pin_conversation(sdk, "c2c_zz", true, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "not stored");
    CHECK_INT(WRITE(&c, imconv_mark_conversations(sdk, unknown, 1, 1, true, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(WRITE(&c, imconv_set_draft(sdk, NULL, "x", on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk, "[{\"msgID\":\"x\"}]", on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "element 0");
    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk, "{", on_done, on_fail, &c)), IMCONV_ERR_INVALID_JSON);
    CHECK_INT(WRITE(&c, imconv_clean_unread(sdk, "", 5, 5, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);

    /* More than IMCONV_MAX_IDS_PER_CALL IDs. */
    const char *many[IMCONV_MAX_IDS_PER_CALL + 1];
    for (int i = 0; i <= IMCONV_MAX_IDS_PER_CALL; i++) many[i] = "c2c_a";
    CHECK_INT(WRITE(&c, imconv_delete_conversations(sdk, many, IMCONV_MAX_IDS_PER_CALL + 1, on_done, on_fail, &c)),
              IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "more than 100");
    get_sync(sdk, "c2c_a", &c);
    CHECK_CONTAINS(c.jsons[0], "\"markList\":[1]"); /* nothing was deleted */

    /* Undeliverable calls return a code. */
    CHECK_INT(imconv_pin_conversation(NULL, "c2c_a", true, on_done, on_fail, &c), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_pin_conversation(sdk, "c2c_a", true, NULL, on_fail, &c), IMCONV_ERR_INVALID_PARAMETERS);
    call_destroy(&c);
    imconv_sdk_free(sdk);
}

/* Page-collecting callback. */
typedef struct {
    call done;
    char ids[64][40];
    size_t n;
    char cursor[300];
    int finished;
} page_result;

static void on_page(const imconv_conversation *const *v, size_t n, const char *next, bool finished, void *u) {
    page_result *p = u;
    for (size_t i = 0; i < n && p->n < 64; i++) snprintf(p->ids[p->n++], 40, "%s", v[i]->conversation_id);
    snprintf(p->cursor, sizeof p->cursor, "%s", next);
    p->finished = finished;
    call_finish(&p->done, 1);
}

static void page_sync(imconv_sdk *sdk, const imconv_list_filter *f, const char *cursor, size_t count, page_result *p) {
    call_reset(&p->done);
    CHECK_INT(imconv_get_conversation_page(sdk, f, cursor, count, on_page, on_fail, p), IMCONV_OK);
    call_wait(&p->done);
}

static size_t list_all(imconv_sdk *sdk, const imconv_list_filter *f, page_result *p) {
    char cursor[300] = "";
    p->n = 0;
    do {
        page_sync(sdk, f, cursor, 3, p);
        snprintf(cursor, sizeof cursor, "%s", p->cursor);
    } while (!p->finished && !current_failed);
    return p->n;
}

static char group_names[256];
static void on_groups(const char *const *names, size_t n, void *u) {
    group_names[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(group_names, ",");
        strncat(group_names, names[i], 64);
    }
    call_finish(u, 1);
}

static void test_ordering_paging_filters_totals_groups(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    import_sync(sdk,
                "[{\"conversationID\":\"c2c_a\",\"orderKey\":1,\"unreadCount\":2},"
                "{\"conversationID\":\"c2c_b\",\"orderKey\":2,\"unreadCount\":50,\"recvOpt\":1},"
                "{\"conversationID\":\"group_c\",\"orderKey\":3,\"groupAtInfoList\":[{\"seq\":1,\"atType\":2}]},"
                "{\"conversationID\":\"c2c_d\",\"orderKey\":4,\"isPinned\":true},"
                "{\"conversationID\":\"c2c_e\",\"orderKey\":5},"
                "{\"conversationID\":\"c2c_f\",\"orderKey\":6}]",
                &c);
    page_result p;
    memset(&p, 0, sizeof p);
    call_init(&p.done);
    CHECK_INT(list_all(sdk, NULL, &p), 6);
    const char *expect[] = {"c2c_d", "c2c_f", "c2c_e", "group_c", "c2c_b", "c2c_a"};
    for (int i = 0; i < 6; i++) CHECK_STR(p.ids[i], expect[i]);

    /* Stable paging: take a page, move one seen and one unseen up, go on. */
    p.n = 0;
    page_sync(sdk, NULL, "", 2, &p); /* d, f */
    char cursor[300];
    snprintf(cursor, sizeof cursor, "%s", p.cursor);
    const char *conv[] = {"c2c_f", "c2c_a"}, *ids[] = {"x1", "x2"};
    int ts[] = {1, 2}, self[] = {1, 1};
    CHECK_INT(apply(sdk, &c, msgs(2, conv, ids, ts, self)), IMCONV_OK);
    p.n = 0;
    do {
        page_sync(sdk, NULL, cursor, 2, &p);
        snprintf(cursor, sizeof cursor, "%s", p.cursor);
    } while (!p.finished && !current_failed);
    CHECK_INT(p.n, 3);
    CHECK_STR(p.ids[0], "c2c_e");
    CHECK_STR(p.ids[1], "group_c");
    CHECK_STR(p.ids[2], "c2c_b");

    /* Filters. */
    imconv_list_filter groups;
    imconv_list_filter_init(&groups);
    groups.type = IMCONV_CONVERSATION_TYPE_GROUP;
    CHECK_INT(list_all(sdk, &groups, &p), 1);
    imconv_list_filter at;
    imconv_list_filter_init(&at);
    at.has_at = true;
    CHECK_INT(list_all(sdk, &at, &p), 1);
    imconv_list_filter unread;
    imconv_list_filter_init(&unread);
    unread.has_unread = true;
    CHECK_INT(list_all(sdk, &unread, &p), 2);
    imconv_list_filter bad;
    imconv_list_filter_init(&bad);
    bad.type = 9;
    call_reset(&p.done);
    CHECK_INT(imconv_get_conversation_page(sdk, &bad, NULL, 3, on_page, on_fail, &p), IMCONV_OK);
    call_wait(&p.done);
    CHECK_INT(p.done.code, IMCONV_ERR_INVALID_PARAMETERS);
    call_reset(&p.done);
    CHECK_INT(imconv_get_conversation_page(sdk, NULL, "not a cursor", 3, on_page, on_fail, &p), IMCONV_OK);
    call_wait(&p.done);
    CHECK_INT(p.done.code, IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(p.done.desc, "cursor");
    /* One page-size rule: 1 to IMCONV_MAX_PAGE, anything else refused. */
    size_t counts[] = {0, IMCONV_MAX_PAGE + 1};
    for (size_t i = 0; i < 2; i++) {
        call_reset(&p.done);
        CHECK_INT(imconv_get_conversation_page(sdk, NULL, NULL, counts[i], on_page, on_fail, &p), IMCONV_OK);
        call_wait(&p.done);
        CHECK_INT(p.done.code, IMCONV_ERR_INVALID_PARAMETERS);
        CHECK_CONTAINS(p.done.desc, "count must be 1 to 1000");
    }
    page_sync(sdk, NULL, NULL, IMCONV_MAX_PAGE, &p);
    CHECK_INT(p.finished, 1);

    /* Groups. */
    const char *members[] = {"c2c_a", "c2c_e"};
    CHECK_INT(WRITE(&c, imconv_create_group(sdk, "Friends", members, 2, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_create_group(sdk, "Friends", NULL, 0, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(WRITE(&c, imconv_rename_group(sdk, "Friends", "Pals", on_done, on_fail, &c)), IMCONV_OK);
    imconv_list_filter pals;
    imconv_list_filter_init(&pals);
    pals.group = "Pals";
    CHECK_INT(list_all(sdk, &pals, &p), 2);
    CHECK_INT(WRITE(&c, imconv_remove_from_group(sdk, "Pals", members, 1, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(list_all(sdk, &pals, &p), 1);
    CHECK_STR(p.ids[0], "c2c_e");
    call_reset(&c);
    CHECK_INT(imconv_get_groups(sdk, (imconv_string_list_callback)0, on_fail, &c), IMCONV_ERR_INVALID_PARAMETERS);
    group_names[0] = '\0';
    CHECK_INT(imconv_create_group(sdk, "Work", NULL, 0, on_done, on_fail, &c), IMCONV_OK);
    call_wait(&c);
    call_reset(&c);
    CHECK_INT(imconv_get_groups(sdk, on_groups, on_fail, &c), IMCONV_OK);
    call_wait(&c);
    CHECK_STR(group_names, "Pals,Work");
    CHECK_INT(WRITE(&c, imconv_delete_group(sdk, "Pals", on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(list_all(sdk, &pals, &p), 0);

    call_destroy(&p.done);
    call_destroy(&c);
    imconv_sdk_free(sdk);
}

static uint64_t got_total;
static void on_total(uint64_t v, void *u) {
    got_total = v;
    call_finish(u, 1);
}

static void test_unread_total_and_profiles_persist(void) {
    char config[1024];
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s/manager\"}", scratch);
    imconv_sdk *sdk = open_sdk(config);
    call c;
    call_init(&c);
    import_sync(sdk, "[{\"conversationID\":\"c2c_a\",\"unreadCount\":2},{\"conversationID\":\"c2c_m\",\"unreadCount\":9,\"recvOpt\":3}]", &c);
    CHECK_INT(WRITE(&c, imconv_update_profiles(sdk, "[{\"userID\":\"a\",\"showName\":\"Alice\"},{\"userID\":\"n\",\"showName\":\"Nora\",\"faceUrl\":\"n.png\"}]", on_done, on_fail, &c)), IMCONV_OK);
    imconv_sdk_free(sdk);
    sdk = open_sdk(config);
    call_reset(&c);
    CHECK_INT(imconv_get_total_unread(sdk, NULL, on_total, on_fail, &c), IMCONV_OK);
    call_wait(&c);
    CHECK_INT(got_total, 2);
    imconv_list_filter c2c;
    imconv_list_filter_init(&c2c);
    c2c.type = IMCONV_CONVERSATION_TYPE_C2C;
    call_reset(&c);
    CHECK_INT(imconv_get_total_unread(sdk, &c2c, on_total, on_fail, &c), IMCONV_OK);
    call_wait(&c);
    CHECK_INT(got_total, 2);
    get_sync(sdk, "c2c_a", &c);
    CHECK_CONTAINS(c.jsons[0], "\"showName\":\"Alice\"");
    get_sync(sdk, "c2c_n", &c); /* temporary, named from the profile */
    CHECK_CONTAINS(c.jsons[0], "\"showName\":\"Nora\",\"faceUrl\":\"n.png\"");
    call_destroy(&c);
    imconv_sdk_free(sdk);
}

static void count_done_noop(void *u) { (void)u; }
static void count_fail_noop(int32_t code, const char *d, void *u) {
    (void)code;
    (void)d;
    (void)u;
}

/* Removing a listener from another thread while events flow. */
static atomic_int after_removal, removed_flag;
static void ev_count(const imconv_conversation *const *v, size_t n, void *u) {
    (void)v;
    (void)n;
    (void)u;
    if (atomic_load(&removed_flag)) atomic_fetch_add(&after_removal, 1);
    sleep_ms(1); /* widen the window */
}

static void test_remove_listener_while_events_flow(void) {
    imconv_sdk *sdk = open_memory();
    imconv_listener l;
    imconv_listener_init(&l);
    l.on_new = ev_count;
    l.on_changed = ev_count;
    uint64_t id = 0;
    CHECK_INT(imconv_add_listener(sdk, &l, &id), IMCONV_OK);
    char json[200];
    for (int i = 0; i < 200; i++) {
        snprintf(json, sizeof json, "[{\"conversationID\":\"c2c_u%d\",\"msgID\":\"m%d\",\"timestamp\":%d}]", i % 7, i, i);
        CHECK_INT(imconv_apply_messages(sdk, json, count_done_noop, count_fail_noop, NULL), IMCONV_OK);
    }
    sleep_ms(20);
    CHECK_INT(imconv_remove_listener(sdk, id), IMCONV_OK);
    atomic_store(&removed_flag, 1);
    imconv_sdk_free(sdk);
    CHECK_INT(atomic_load(&after_removal), 0);
}

/* A listener that removes itself from inside its own event. */
typedef struct {
    imconv_sdk *sdk;
    uint64_t id;
    atomic_int calls;
    int32_t remove_rc;
} self_remover;

static void remove_me(const imconv_conversation *const *v, size_t n, void *u) {
    self_remover *r = u;
    (void)v;
    (void)n;
    if (atomic_fetch_add(&r->calls, 1) == 0) r->remove_rc = imconv_remove_listener(r->sdk, r->id);
}

static void test_listener_removes_itself_from_its_callback(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    self_remover r;
    memset(&r, 0, sizeof r);
    r.sdk = sdk;
    imconv_listener l;
    imconv_listener_init(&l);
    l.on_new = remove_me;
    l.on_changed = remove_me;
    l.user_data = &r;
    CHECK_INT(imconv_add_listener(sdk, &l, &r.id), IMCONV_OK);
    const char *conv[] = {"c2c_a"}, *ids1[] = {"m1"}, *ids2[] = {"m2"};
    int ts[] = {1}, self[] = {0};
    CHECK_INT(apply(sdk, &c, msgs(1, conv, ids1, ts, self)), IMCONV_OK);
    CHECK_INT(apply(sdk, &c, msgs(1, conv, ids2, ts, self)), IMCONV_OK);
    imconv_sdk_free(sdk);
    CHECK_INT(r.remove_rc, IMCONV_OK);
    CHECK_INT(atomic_load(&r.calls), 1); /* the second write's event did not reach it */
    call_destroy(&c);
}

/* imconv_sync_snapshot: the server's whole list; what it does not name goes,
 * in the same write (one on_deleted), and a failing element deletes nothing. */
static void test_sync_snapshot(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    import_sync(sdk, "[{\"conversationID\":\"c2c_a\"},{\"conversationID\":\"c2c_b\"},{\"conversationID\":\"group_g\"}]", &c);
    recorder rec;
    uint64_t listener_id = record_events(sdk, &rec, 0);
    CHECK_INT(WRITE(&c, imconv_sync_snapshot(sdk, "[{\"conversationID\":\"c2c_a\"},{\"conversationID\":\"bad\"}]",
                                             on_done, on_fail, &c)),
              IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "element 1");
    CHECK_INT(WRITE(&c, imconv_sync_snapshot(sdk, "[{\"conversationID\":\"c2c_a\",\"showName\":\"A\"},"
                                             "{\"conversationID\":\"c2c_n\"}]", on_done, on_fail, &c)),
              IMCONV_OK);
    CHECK_STR(rec.log, "new c2c_n|changed c2c_a|deleted c2c_b,group_g");
    const char *ids[] = {"group_g", "c2c_a", "c2c_b", "c2c_n"};
    list_sync(sdk, ids, 4, &c);
    CHECK_INT(c.count, 2);
    CHECK_INT(imconv_sync_snapshot(NULL, "[]", on_done, on_fail, &c), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_remove_listener(sdk, listener_id), IMCONV_OK);
    imconv_sdk_free(sdk);
    call_destroy(&c);
    pthread_mutex_destroy(&rec.lock);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir>\n", argv[0]);
        return 2;
    }
    scratch = argv[2];
    RUN(test_messages_and_exact_events);
    RUN(test_writes_and_their_errors);
    RUN(test_ordering_paging_filters_totals_groups);
    RUN(test_unread_total_and_profiles_persist);
    RUN(test_remove_listener_while_events_flow);
    RUN(test_listener_removes_itself_from_its_callback);
    RUN(test_sync_snapshot);
    return test_summary();
}
