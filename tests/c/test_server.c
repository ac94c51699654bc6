/* What a server-driven host uses through the C ABI (0.3.0): reading up to a
 * message, millisecond time, the sync stages, the five conversation-group
 * events and unread subscriptions by filter. Run as
 *   test_server <path/to/libimconv.so> <scratch_dir>
 */
#include "testlib.h"


static const char *QUICK =
    "[{\"conversationID\":\"c2c_bob\",\"msgID\":\"q1\",\"timestampMs\":1700000000100},"
    "{\"conversationID\":\"c2c_bob\",\"msgID\":\"q2\",\"timestampMs\":1700000000200},"
    "{\"conversationID\":\"c2c_bob\",\"msgID\":\"q3\",\"timestampMs\":1700000000300}]";

/* A receipt on q1 reads q1 only, though q2 and q3 share its second. */
static void test_mark_read_by_message(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk, QUICK, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_mark_read(sdk, "c2c_bob", "q1", on_done, on_fail, &c)), IMCONV_OK);
    get_sync(sdk, "c2c_bob", &c);
    CHECK_INT(c.count, 1);
    CHECK_CONTAINS(c.jsons[0], "\"unreadCount\":2");
    CHECK_CONTAINS(c.jsons[0], "\"c2cReadTimestamp\":1700000000");
    CHECK_CONTAINS(c.jsons[0], "\"readTimestampMs\":1700000000100");
    CHECK_CONTAINS(c.jsons[0], "\"timestampMs\":1700000000300");

    /* An unknown message fails through on_error, naming it; so does a NULL
       one; a NULL instance is refused. */
    CHECK_INT(WRITE(&c, imconv_mark_read(sdk, "c2c_bob", "nope", on_done, on_fail, &c)),
              IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "\"nope\"");
    CHECK_INT(WRITE(&c, imconv_mark_read(sdk, "c2c_bob", NULL, on_done, on_fail, &c)),
              IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(WRITE(&c, imconv_mark_read(sdk, "c2c_nobody", "q1", on_done, on_fail, &c)),
              IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_mark_read(NULL, "c2c_bob", "q1", on_done, on_fail, &c), IMCONV_ERR_INVALID_PARAMETERS);
    imconv_sdk_free(sdk);
    call_destroy(&c);
}

/* ---- every 0.3.0 event, recorded as text ------------------------------ */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char event_log[2048];

static void note(const char *fmt, const char *a, const char *b, size_t n) {
    pthread_mutex_lock(&log_lock);
    size_t len = strlen(event_log);
    if (len) event_log[len++] = '|';
    snprintf(event_log + len, sizeof event_log - len, fmt, a, b, n);
    pthread_mutex_unlock(&log_lock);
}

static void take_log(char *out, size_t size) {
    pthread_mutex_lock(&log_lock);
    snprintf(out, size, "%s", event_log);
    event_log[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

static void ev_start(void *u) { (void)u; note("start", "", "", 0); }
static void ev_finish(void *u) { (void)u; note("finish", "", "", 0); }
static void ev_failed(void *u) { (void)u; note("failed", "", "", 0); }
static void ev_changed(const imconv_conversation *const *v, size_t n, void *u) {
    (void)u;
    note("changed %s%s", v[0]->conversation_id, n > 1 ? "+" : "", n);
}
static void ev_created(const char *name, const imconv_conversation *const *v, size_t n, void *u) {
    (void)u;
    note("created %s %s %zu", name, n ? v[0]->conversation_id : "-", n);
}
static void ev_added(const char *name, const imconv_conversation *const *v, size_t n, void *u) {
    (void)u;
    note("added %s %s %zu", name, n ? v[n - 1]->conversation_id : "-", n);
}
static void ev_removed(const char *name, const imconv_conversation *const *v, size_t n, void *u) {
    (void)u;
    note("removed %s %s %zu", name, n ? v[0]->conversation_id : "-", n);
}
static void ev_deleted_group(const char *name, void *u) { (void)u; note("deleted %s%s", name, "", 0); }
static void ev_renamed(const char *from, const char *to, void *u) { (void)u; note("renamed %s %s", from, to, 0); }

static uint64_t last_subscription, last_count;
static int last_type;
static char last_group[64];
static void ev_filtered(uint64_t id, const imconv_list_filter *f, uint64_t count, void *u) {
    (void)u;
    last_subscription = id;
    last_count = count;
    last_type = f->type;
    snprintf(last_group, sizeof last_group, "%s", f->group ? f->group : "(null)");
    note("count %s%s%zu", "", "", (size_t)count);
}

static uint64_t listen_all(imconv_sdk *sdk) {
    imconv_listener l;
    imconv_listener_init(&l);
    l.on_changed = ev_changed;
    l.on_sync_server_start = ev_start;
    l.on_sync_server_finish = ev_finish;
    l.on_sync_server_failed = ev_failed;
    l.on_conversation_group_created = ev_created;
    l.on_conversation_group_deleted = ev_deleted_group;
    l.on_conversation_group_name_changed = ev_renamed;
    l.on_conversations_added_to_group = ev_added;
    l.on_conversations_deleted_from_group = ev_removed;
    l.on_unread_count_changed_by_filter = ev_filtered;
    uint64_t id = 0;
    CHECK_INT(imconv_add_listener(sdk, &l, &id), IMCONV_OK);
    return id;
}

/* The stages come in order with the writes; each group call raises its
 * event after the conversations' own. */
static void test_sync_stages_and_group_events(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    import_sync(sdk, "[{\"conversationID\":\"c2c_a\"},{\"conversationID\":\"c2c_b\"}]", &c);
    listen_all(sdk);
    const char *a[] = {"c2c_a"}, *ab[] = {"c2c_a", "c2c_b"}, *b[] = {"c2c_b"};
    CHECK_INT(WRITE(&c, imconv_report_sync(sdk, IMCONV_SYNC_STARTED, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_create_group(sdk, "work", a, 1, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_add_to_group(sdk, "work", ab, 2, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_remove_from_group(sdk, "work", b, 1, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_rename_group(sdk, "work", "home", on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_delete_group(sdk, "home", on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_report_sync(sdk, IMCONV_SYNC_FINISHED, on_done, on_fail, &c)), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_report_sync(sdk, IMCONV_SYNC_FAILED, on_done, on_fail, &c)), IMCONV_OK);
    char log[2048];
    take_log(log, sizeof log);
    CHECK_STR(log, "start|changed c2c_a|created work c2c_a 1|changed c2c_b|added work c2c_b 1|"
                   "changed c2c_b|removed work c2c_b 1|changed c2c_a|renamed work home|"
                   "changed c2c_a|deleted home|finish|failed");
    CHECK_INT(WRITE(&c, imconv_report_sync(sdk, 9, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "got 9");
    take_log(log, sizeof log);
    CHECK_STR(log, "");
    imconv_sdk_free(sdk);
    call_destroy(&c);
}

/* A subscription hears its filter's count when it moves, with its ID and
 * its filter (the group name included). */
static void test_unread_subscriptions(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    import_sync(sdk, "[{\"conversationID\":\"group_g\",\"unreadCount\":2,\"conversationGroupList\":[\"team\"]},"
                     "{\"conversationID\":\"c2c_a\",\"unreadCount\":1}]", &c);
    listen_all(sdk);
    imconv_list_filter f;
    imconv_list_filter_init(&f);
    f.group = "team";
    uint64_t team = 0;
    CHECK_INT(imconv_subscribe_unread_count(sdk, &f, &team), IMCONV_OK);
    f.group = NULL;
    f.type = 7;
    uint64_t bad = 0;
    CHECK_INT(imconv_subscribe_unread_count(sdk, &f, &bad), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_subscribe_unread_count(sdk, NULL, NULL), IMCONV_ERR_INVALID_PARAMETERS);

    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk, "[{\"conversationID\":\"c2c_a\",\"msgID\":\"1\",\"timestamp\":5}]",
                                              on_done, on_fail, &c)),
              IMCONV_OK);
    char log[2048];
    take_log(log, sizeof log);
    CHECK_STR(log, "changed c2c_a"); /* not in the team: its count stays */
    CHECK_INT(WRITE(&c, imconv_apply_messages(sdk, "[{\"conversationID\":\"group_g\",\"msgID\":\"2\",\"timestamp\":5,\"seq\":1}]",
                                              on_done, on_fail, &c)),
              IMCONV_OK);
    take_log(log, sizeof log);
    CHECK_STR(log, "changed group_g|count 3");
    CHECK(last_subscription == team && last_count == 3 && last_type == 0);
    CHECK_STR(last_group, "team");

    CHECK_INT(imconv_unsubscribe_unread_count(sdk, team), IMCONV_OK);
    CHECK_INT(imconv_unsubscribe_unread_count(sdk, team), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(WRITE(&c, imconv_clean_unread(sdk, "group_g", 0, 0, on_done, on_fail, &c)), IMCONV_OK);
    take_log(log, sizeof log);
    CHECK_STR(log, "changed group_g");
    imconv_sdk_free(sdk);
    call_destroy(&c);
}

static uint64_t total_now;
static void on_total_now(uint64_t total, void *u) {
    total_now = total;
    call_finish(u, 1);
}

/* Issue 25, item 1, as the report found it through the C ABI: a NULL
 * filter, one message to each of three conversations issued back to back
 * (committed together), then a clear of everything. 0.3.0 said 3, 4, 5
 * and then 2; the subscription must say what imconv_get_total_unread says. */
static void test_subscriptions_stay_exact_when_writes_commit_together(void) {
    for (int round = 0; round < 20 && !current_failed; round++) {
        imconv_sdk *sdk = open_memory();
        listen_all(sdk);
        uint64_t all = 0;
        CHECK_INT(imconv_subscribe_unread_count(sdk, NULL, &all), IMCONV_OK);
        call cs[3];
        const char *msgs[3] = {
            "[{\"conversationID\":\"c2c_a\",\"msgID\":\"1\",\"timestamp\":5}]",
            "[{\"conversationID\":\"c2c_b\",\"msgID\":\"2\",\"timestamp\":6}]",
            "[{\"conversationID\":\"c2c_c\",\"msgID\":\"3\",\"timestamp\":7}]",
        };
        for (int i = 0; i < 3; i++) {
            call_init(&cs[i]);
            CHECK_INT(imconv_apply_messages(sdk, msgs[i], on_done, on_fail, &cs[i]), IMCONV_OK);
        }
        for (int i = 0; i < 3; i++) CHECK_INT(done_code(&cs[i]), IMCONV_OK);
        char log[2048];
        take_log(log, sizeof log);
        CHECK(last_subscription == all);
        CHECK(last_count == 3);
        call c;
        call_init(&c);
        CHECK_INT(WRITE(&c, imconv_clean_unread(sdk, NULL, 0, 0, on_done, on_fail, &c)), IMCONV_OK);
        call_reset(&c);
        CHECK_INT(imconv_get_total_unread(sdk, NULL, on_total_now, on_fail, &c), IMCONV_OK);
        call_wait(&c);
        CHECK(total_now == 0);
        CHECK(last_count == total_now);
        take_log(log, sizeof log);
        imconv_sdk_free(sdk);
        for (int i = 0; i < 3; i++) call_destroy(&cs[i]);
        call_destroy(&c);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir>\n", argv[0]);
        return 2;
    }
    RUN(test_mark_read_by_message);
    RUN(test_sync_stages_and_group_events);
    RUN(test_unread_subscriptions);
    RUN(test_subscriptions_stay_exact_when_writes_commit_together);
    return test_summary();
}
