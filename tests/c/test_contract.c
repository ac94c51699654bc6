/* The C contract of imconv: results, error codes, NULL arguments, threads,
 * lifetime (exactly-once callbacks under concurrency and shutdown are in
 * test_concurrency.c). Run as
 *   test_contract <path/to/libimconv.so> <scratch_dir>
 */
#include <sys/wait.h>

#include "testlib.h"

#include "contract.h"

/* ---------------------------------------------------------------------- */

static void test_version_and_error_texts(void) {
    CHECK(imconv_version() != NULL && imconv_version()[0] >= '0' && imconv_version()[0] <= '9');
    /* The header's version macros are the library's version (both come
       from Cargo.toml; make check-header keeps the header current). */
    char version[64];
    snprintf(version, sizeof version, "%d.%d.%d", IMCONV_VERSION_MAJOR, IMCONV_VERSION_MINOR,
             IMCONV_VERSION_PATCH);
    CHECK_STR(imconv_version(), version);
    CHECK_STR(imconv_error_str(IMCONV_OK), "success");
    CHECK_STR(imconv_error_str(IMCONV_ERR_INVALID_PARAMETERS), "invalid parameters");
    CHECK_STR(imconv_error_str(IMCONV_ERR_INVALID_JSON), "invalid JSON");
    CHECK_STR(imconv_error_str(123456), "unknown error code");
    CHECK_STR(imconv_error_str(-1), "unknown error code");
    int32_t codes[] = {IMCONV_ERR_INVALID_PARAMETERS, IMCONV_ERR_DATABASE, IMCONV_ERR_IO,
                       IMCONV_ERR_INVALID_JSON, IMCONV_ERR_OUT_OF_MEMORY, IMCONV_ERR_SHUTDOWN,
                       IMCONV_ERR_STORE_LOCKED, IMCONV_ERR_WRONG_PROCESS, IMCONV_ERR_INTERNAL};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK(strcmp(imconv_error_str(codes[i]), "unknown error code") != 0);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(imconv_error_str(codes[i]), imconv_error_str(codes[j])) != 0);
    }
    CHECK_INT(IMCONV_ERR_INVALID_PARAMETERS, 6017);
    CHECK_INT(IMCONV_ERR_DATABASE, 6019);
    CHECK_INT(IMCONV_ERR_IO, 6022);
    CHECK_INT(IMCONV_ERR_INVALID_JSON, 6027);
    CHECK_INT(IMCONV_ERR_OUT_OF_MEMORY, 6028);
    CHECK_INT(IMCONV_ERR_SHUTDOWN, 6901);
    CHECK_INT(IMCONV_ERR_STORE_LOCKED, 6902);
    CHECK_INT(IMCONV_ERR_INTERNAL, 6999);
}

static void expect_new_error(const char *config, int32_t code, const char *needle) {
    imconv_sdk *sdk = (imconv_sdk *)&sdk; /* must be overwritten with NULL */
    char *error = NULL;
    CHECK_INT(imconv_sdk_new(config, &sdk, &error), code);
    CHECK(sdk == NULL);
    CHECK_CONTAINS(error, needle);
    imconv_string_free(error);
}

static void test_sdk_new_errors(void) {
    char *error = (char *)"stale";
    CHECK_INT(imconv_sdk_new("{\"user_id\":\"me\"}", NULL, &error), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(error, "out_sdk");
    imconv_string_free(error);
    expect_new_error(NULL, IMCONV_ERR_INVALID_PARAMETERS, "config_json is NULL");
    expect_new_error("{", IMCONV_ERR_INVALID_JSON, "malformed");
    expect_new_error("{}", IMCONV_ERR_INVALID_PARAMETERS, "user_id");
    expect_new_error("{\"user_id\":\"me\",\"dataDir\":\"/tmp\"}", IMCONV_ERR_INVALID_PARAMETERS,
                     "unknown key \"dataDir\"");
    expect_new_error("{\"user_id\":\"../etc\"}", IMCONV_ERR_INVALID_PARAMETERS, "'/'");
    expect_new_error("{\"user_id\":\"..\"}", IMCONV_ERR_INVALID_PARAMETERS, "..");
    expect_new_error("{\"user_id\":\"me\",\"durability\":\"extreme\"}",
                     IMCONV_ERR_INVALID_PARAMETERS, "durability");
    expect_new_error("{\"user_id\":\"me\",\"data_dir\":\"/proc/imconv-cannot-create\"}",
                     IMCONV_ERR_IO, "/proc/imconv-cannot-create");
    /* out_error may be NULL. */
    imconv_sdk *sdk = NULL;
    CHECK_INT(imconv_sdk_new("[]", &sdk, NULL), IMCONV_ERR_INVALID_JSON);
    CHECK(sdk == NULL);
    /* Success clears *out_error. */
    error = (char *)"stale";
    CHECK_INT(imconv_sdk_new("{\"user_id\":\"me\"}", &sdk, &error), IMCONV_OK);
    CHECK(error == NULL);
    imconv_sdk_free(sdk);
    imconv_sdk_free(NULL); /* a no-op */
}

static void test_store_locked_in_this_and_another_process(void) {
    imconv_sdk *first = open_dir("locked");
    char config[1024];
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s/locked\"}", scratch);
    expect_new_error(config, IMCONV_ERR_STORE_LOCKED, "already open");

    pid_t pid = fork();
    if (pid == 0) {
        imconv_sdk *sdk = NULL;
        int32_t rc = imconv_sdk_new(config, &sdk, NULL);
        _exit(rc == IMCONV_ERR_STORE_LOCKED ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    imconv_sdk_free(first);
    imconv_sdk *second = open_sdk(config); /* free released the lock */
    CHECK(second != NULL);
    imconv_sdk_free(second);
}

static int refused_callbacks;
static void count_one(const imconv_conversation *c, void *u) { (void)c; (void)u; refused_callbacks++; }
static void count_list(const imconv_conversation *const *c, size_t n, void *u) { (void)c; (void)n; (void)u; refused_callbacks++; }
static void count_done(void *u) { (void)u; refused_callbacks++; }
static void count_fail(int32_t code, const char *d, void *u) { (void)code; (void)d; (void)u; refused_callbacks++; }

static void test_undeliverable_calls_return_a_code_and_never_call_back(void) {
    imconv_sdk *sdk = open_memory();
    const char *ids[] = {"c2c_a"};
    refused_callbacks = 0;
    CHECK_INT(imconv_get_conversation(NULL, "c2c_a", count_one, count_fail, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_get_conversation(sdk, "c2c_a", NULL, count_fail, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_get_conversation(sdk, "c2c_a", count_one, NULL, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_get_conversation_list(NULL, ids, 1, count_list, count_fail, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_get_conversation_list(sdk, ids, 1, NULL, count_fail, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_get_conversation_list(sdk, ids, 1, count_list, NULL, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_import_conversations(NULL, "[]", count_done, count_fail, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_import_conversations(sdk, "[]", NULL, count_fail, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_import_conversations(sdk, "[]", count_done, NULL, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    /* A later accepted call's callback arrives; the refused ones never do. */
    call c;
    call_init(&c);
    get_sync(sdk, "c2c_a", &c);
    CHECK_INT(c.successes, 1);
    imconv_sdk_free(sdk);
    CHECK_INT(refused_callbacks, 0);
    call_destroy(&c);
}

static void test_get_stored_conversation(void) {
    imconv_sdk *sdk = open_with_sample();
    call c;
    call_init(&c);
    get_sync(sdk, "c2c_alice", &c);
    CHECK_INT(c.successes, 1);
    CHECK_INT(c.errors, 0);
    CHECK(!pthread_equal(c.thread, pthread_self()));
    CHECK_STR(c.jsons[0],
              "{\"conversationID\":\"c2c_alice\",\"type\":1,\"userID\":\"alice\",\"groupID\":\"\","
              "\"groupType\":\"\",\"showName\":\"Alice\",\"faceUrl\":\"https://a/1.png\","
              "\"unreadCount\":2,\"recvOpt\":0,\"lastMessage\":{\"msgID\":\"m-1\","
              "\"timestamp\":1700000300,\"sender\":\"alice\",\"seq\":12,\"status\":2,"
              "\"isSelf\":false,\"isRead\":false,\"text\":\"hi\"},\"groupAtInfoList\":[],\"draftText\":\"see you\","
              "\"draftTimestamp\":1700000400,\"isPinned\":true,\"orderKey\":99,\"markList\":[1,8],"
              "\"customData\":\"x\",\"conversationGroupList\":[\"Friends\"],"
              "\"c2cReadTimestamp\":1700000100,\"groupReadSequence\":0,\"readTimestampMs\":1700000100999}");
    get_sync(sdk, "group_g1", &c);
    CHECK_CONTAINS(c.jsons[0], "\"type\":2,\"userID\":\"\",\"groupID\":\"g1\",\"groupType\":\"Work\"");
    CHECK_CONTAINS(c.jsons[0], "\"groupAtInfoList\":[{\"seq\":40,\"atType\":1},{\"seq\":41,\"atType\":3}]");
    call_destroy(&c);
    imconv_sdk_free(sdk);
}

/* Checks the C view itself (not its JSON), inside the callback. */
typedef struct {
    call done;
    int ok;
} view_check;

static void check_alice_view(const imconv_conversation *v, void *user_data) {
    view_check *vc = user_data;
    int ok = 1;
    ok &= strcmp(v->conversation_id, "c2c_alice") == 0;
    ok &= v->type == IMCONV_CONVERSATION_TYPE_C2C;
    ok &= strcmp(v->user_id, "alice") == 0 && strcmp(v->group_id, "") == 0;
    ok &= strcmp(v->group_type, "") == 0 && strcmp(v->show_name, "Alice") == 0;
    ok &= strcmp(v->face_url, "https://a/1.png") == 0;
    ok &= v->unread_count == 2 && v->recv_opt == IMCONV_RECV_OPT_RECEIVE;
    ok &= v->last_message != NULL;
    if (v->last_message) {
        ok &= strcmp(v->last_message->msg_id, "m-1") == 0;
        ok &= strcmp(v->last_message->sender, "alice") == 0;
        ok &= v->last_message->timestamp == 1700000300 && v->last_message->seq == 12;
        ok &= v->last_message->status == 2 && !v->last_message->is_self && !v->last_message->is_read;
        ok &= strstr(v->last_message->json, "\"text\":\"hi\"") != NULL;
    }
    ok &= v->group_at_info_count == 0;
    ok &= strcmp(v->draft_text, "see you") == 0 && v->draft_timestamp == 1700000400;
    ok &= v->is_pinned && v->order_key == 99;
    ok &= v->mark_count == 2 && v->mark_list[0] == IMCONV_MARK_STAR && v->mark_list[1] == IMCONV_MARK_HIDE;
    ok &= strcmp(v->custom_data, "x") == 0;
    ok &= v->conversation_group_count == 1 && strcmp(v->conversation_group_list[0], "Friends") == 0;
    ok &= v->c2c_read_timestamp == 1700000100 && v->group_read_sequence == 0;
    ok &= v->is_stored;
    vc->ok = ok;
    call_finish(&vc->done, 1);
}

static void check_group_view(const imconv_conversation *v, void *user_data) {
    view_check *vc = user_data;
    int ok = 1;
    ok &= v->type == IMCONV_CONVERSATION_TYPE_GROUP;
    ok &= strcmp(v->user_id, "") == 0 && strcmp(v->group_id, "g1") == 0;
    ok &= v->recv_opt == IMCONV_RECV_OPT_NOT_NOTIFY && v->last_message == NULL;
    ok &= v->group_at_info_count == 2 && v->group_at_info_list[0].seq == 40 &&
          v->group_at_info_list[0].at_type == IMCONV_AT_ME && v->group_at_info_list[1].at_type == IMCONV_AT_ALL_AT_ME;
    ok &= v->mark_count == 0 && v->conversation_group_count == 0 && v->group_read_sequence == 39;
    ok &= strcmp(v->draft_text, "") == 0 && strcmp(v->custom_data, "") == 0;
    vc->ok = ok;
    call_finish(&vc->done, 1);
}

static void check_temporary_view(const imconv_conversation *v, void *user_data) {
    view_check *vc = user_data;
    int ok = 1;
    ok &= !v->is_stored;
    ok &= strcmp(v->conversation_id, "group_@TGS#_new") == 0 && v->type == IMCONV_CONVERSATION_TYPE_GROUP;
    ok &= strcmp(v->group_id, "@TGS#_new") == 0 && strcmp(v->user_id, "") == 0;
    ok &= strcmp(v->show_name, "@TGS#_new") == 0;
    ok &= strcmp(v->face_url, "") == 0 && strcmp(v->group_type, "") == 0 && strcmp(v->draft_text, "") == 0;
    ok &= v->unread_count == 0 && v->recv_opt == 0 && v->last_message == NULL && !v->is_pinned;
    ok &= v->order_key == 0 && v->group_at_info_count == 0 && v->mark_count == 0;
    ok &= v->conversation_group_count == 0 && strcmp(v->custom_data, "") == 0;
    vc->ok = ok;
    call_finish(&vc->done, 1);
}

static void expect_view(imconv_sdk *sdk, const char *id, imconv_conversation_callback check) {
    view_check vc;
    call_init(&vc.done);
    vc.ok = 0;
    CHECK_INT(imconv_get_conversation(sdk, id, check, on_fail, &vc), IMCONV_OK);
    call_wait(&vc.done);
    CHECK_INT(vc.done.successes, 1);
    CHECK(vc.ok);
    call_destroy(&vc.done);
}

static void test_views_from_c(void) {
    imconv_sdk *sdk = open_with_sample();
    expect_view(sdk, "c2c_alice", check_alice_view);
    expect_view(sdk, "group_g1", check_group_view);
    expect_view(sdk, "group_@TGS#_new", check_temporary_view);
    imconv_sdk_free(sdk);
}

static void test_temporary_conversation_is_not_saved(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    get_sync(sdk, "c2c_zed", &c);
    CHECK_INT(c.successes, 1);
    CHECK_CONTAINS(c.jsons[0], "\"conversationID\":\"c2c_zed\",\"type\":1,\"userID\":\"zed\",\"groupID\":\"\"");
    CHECK_CONTAINS(c.jsons[0], "\"showName\":\"zed\"");
    CHECK_CONTAINS(c.jsons[0], "\"lastMessage\":null");
    const char *ids[] = {"c2c_zed"};
    list_sync(sdk, ids, 1, &c); /* not stored: the list leaves it out */
    CHECK_INT(c.successes, 1);
    CHECK_INT(c.count, 0);
    call_destroy(&c);
    imconv_sdk_free(sdk);
}

static void expect_get_error(imconv_sdk *sdk, const char *id, const char *needle) {
    call c;
    call_init(&c);
    get_sync(sdk, id, &c);
    CHECK_INT(c.successes, 0);
    CHECK_INT(c.errors, 1);
    CHECK_INT(c.code, IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, needle);
    call_destroy(&c);
}

static void test_get_invalid_ids(void) {
    imconv_sdk *sdk = open_memory();
    expect_get_error(sdk, NULL, "conversation_id is NULL");
    expect_get_error(sdk, "alice", "\"alice\"");
    expect_get_error(sdk, "alice", "must start with");
    expect_get_error(sdk, "c2c_", "empty");
    expect_get_error(sdk, "group_", "empty");
    expect_get_error(sdk, "", "must start with");
    expect_get_error(sdk, "c2c_a\x01z", "control character");
    expect_get_error(sdk, "c2c_\xff\xfe", "UTF-8");
    char long_id[300];
    memset(long_id, 'x', sizeof long_id);
    memcpy(long_id, "c2c_", 4);
    long_id[4 + 257] = '\0';
    expect_get_error(sdk, long_id, "257 bytes");
    long_id[4 + 256] = '\0';
    call c;
    call_init(&c);
    get_sync(sdk, long_id, &c); /* 256 bytes is fine */
    CHECK_INT(c.successes, 1);
    call_destroy(&c);
    imconv_sdk_free(sdk);
}

static void test_list_order_duplicates_and_missing(void) {
    imconv_sdk *sdk = open_with_sample();
    call c;
    call_init(&c);
    const char *ids[] = {"group_g1", "c2c_bob", "c2c_missing", "c2c_bob", "c2c_alice", "group_g1"};
    list_sync(sdk, ids, 6, &c);
    CHECK_INT(c.successes, 1);
    CHECK_INT(c.count, 3);
    if (c.count == 3) {
        CHECK_CONTAINS(c.jsons[0], "\"conversationID\":\"group_g1\"");
        CHECK_CONTAINS(c.jsons[1], "\"conversationID\":\"c2c_bob\"");
        CHECK_CONTAINS(c.jsons[2], "\"conversationID\":\"c2c_alice\"");
    }
    /* The same request again is served from the cache, same answer. */
    list_sync(sdk, ids, 6, &c);
    CHECK_INT(c.count, 3);
    /* Empty requests. */
    list_sync(sdk, NULL, 0, &c);
    CHECK_INT(c.successes, 1);
    CHECK_INT(c.count, 0);
    list_sync(sdk, ids, 0, &c);
    CHECK_INT(c.count, 0);
    call_destroy(&c);
    imconv_sdk_free(sdk);
}

static void expect_list_error(imconv_sdk *sdk, const char *const *ids, size_t n, const char *needle) {
    call c;
    call_init(&c);
    list_sync(sdk, ids, n, &c);
    CHECK_INT(c.errors, 1);
    CHECK_INT(c.successes, 0);
    CHECK_INT(c.code, IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, needle);
    call_destroy(&c);
}

static void test_list_invalid_ids_fail_the_call(void) {
    imconv_sdk *sdk = open_with_sample();
    expect_list_error(sdk, NULL, 2, "conversation_ids is NULL but count is 2");
    const char *with_null[] = {"c2c_alice", NULL, "bad"};
    expect_list_error(sdk, with_null, 3, "conversation_ids[1] is NULL");
    const char *with_bad[] = {"c2c_alice", "group_g1", "g1", "nope"};
    expect_list_error(sdk, with_bad, 4, "conversation_ids[2]");
    expect_list_error(sdk, with_bad, 4, "\"g1\"");
    imconv_sdk_free(sdk);
}

static void test_list_of_100000_ids(void) {
    enum { STORED = 20000, ASKED = 100000 };
    imconv_sdk *sdk = open_memory();
    /* Import 20,000 conversations c2c_u0 .. c2c_u19999. */
    size_t cap = (size_t)STORED * 64 + 16, len = 0;
    char *json = malloc(cap);
    json[len++] = '[';
    for (int i = 0; i < STORED; i++) {
        len += (size_t)snprintf(json + len, cap - len, "%s{\"conversationID\":\"c2c_u%d\",\"unreadCount\":%d}",
                                i ? "," : "", i, i);
    }
    json[len++] = ']';
    json[len] = '\0';
    call c;
    call_init(&c);
    import_sync(sdk, json, &c);
    CHECK_INT(c.successes, 1);
    free(json);
    /* Ask for 100,000 IDs, newest first: every fifth is stored. */
    char **ids = malloc(ASKED * sizeof *ids);
    for (int i = 0; i < ASKED; i++) {
        ids[i] = malloc(24);
        if (i % 5 == 0) snprintf(ids[i], 24, "c2c_u%d", STORED - 1 - i / 5);
        else snprintf(ids[i], 24, "c2c_x%d", i);
    }
    list_sync(sdk, (const char *const *)ids, ASKED, &c);
    CHECK_INT(c.successes, 1);
    CHECK_INT(c.count, STORED);
    int in_order = 1;
    for (size_t i = 0; i < c.count; i++) {
        char expect[64];
        snprintf(expect, sizeof expect, "\"conversationID\":\"c2c_u%d\"", STORED - 1 - (int)i);
        if (!strstr(c.jsons[i], expect)) in_order = 0;
    }
    CHECK(in_order);
    /* Again, now all from the cache. */
    list_sync(sdk, (const char *const *)ids, ASKED, &c);
    CHECK_INT(c.count, STORED);
    for (int i = 0; i < ASKED; i++) free(ids[i]);
    free(ids);
    call_destroy(&c);
    imconv_sdk_free(sdk);
}

static void expect_import_error(imconv_sdk *sdk, const char *json, int32_t code, const char *needle) {
    call c;
    call_init(&c);
    import_sync(sdk, json, &c);
    CHECK_INT(c.successes, 0);
    CHECK_INT(c.errors, 1);
    CHECK_INT(c.code, code);
    CHECK_CONTAINS(c.desc, needle);
    call_destroy(&c);
}

static void test_import_validation_is_all_or_nothing(void) {
    imconv_sdk *sdk = open_memory();
    expect_import_error(sdk, NULL, IMCONV_ERR_INVALID_PARAMETERS, "json_array is NULL");
    expect_import_error(sdk, "[{", IMCONV_ERR_INVALID_JSON, "malformed");
    expect_import_error(sdk, "{\"conversationID\":\"c2c_a\"}", IMCONV_ERR_INVALID_JSON, "array");
    expect_import_error(sdk,
                        "[{\"conversationID\":\"c2c_a\"},{\"conversationID\":\"c2c_b\"},"
                        "{\"conversationID\":\"c2c_c\",\"recvOpt\":9}]",
                        IMCONV_ERR_INVALID_PARAMETERS, "element 2: field 'recvOpt'");
    expect_import_error(sdk, "[{\"conversationID\":\"c2c_a\",\"unreadCount\":\"3\"}]",
                        IMCONV_ERR_INVALID_JSON, "element 0: field 'unreadCount'");
    expect_import_error(sdk, "[{\"conversationID\":\"c2c_a\",\"showName\":\"a\\u0000b\"}]",
                        IMCONV_ERR_INVALID_PARAMETERS, "U+0000");
    expect_import_error(sdk, "[{\"conversationID\":\"c2c_a\",\"groupID\":\"g\"}]",
                        IMCONV_ERR_INVALID_PARAMETERS, "field 'groupID'");
    expect_import_error(sdk, "[{\"conversationID\":\"c2c_a\",\"type\":2}]",
                        IMCONV_ERR_INVALID_PARAMETERS, "field 'type'");
    expect_import_error(sdk, "[{\"conversationID\":\"c2c_a\",\"groupAtInfoList\":[{\"seq\":1,\"atType\":0}]}]",
                        IMCONV_ERR_INVALID_PARAMETERS, "groupAtInfoList[0].atType");
    expect_import_error(sdk, "[{\"showName\":\"x\"}]", IMCONV_ERR_INVALID_PARAMETERS,
                        "element 0: field 'conversationID' is required");
    /* Nothing of the failed imports was stored. */
    call c;
    call_init(&c);
    const char *ids[] = {"c2c_a", "c2c_b", "c2c_c"};
    list_sync(sdk, ids, 3, &c);
    CHECK_INT(c.count, 0);
    /* An empty array succeeds. */
    import_sync(sdk, "[]", &c);
    CHECK_INT(c.successes, 1);
    call_destroy(&c);
    imconv_sdk_free(sdk);
}

static void test_json_round_trip_and_snapshots(void) {
    imconv_sdk *a = open_with_sample();
    imconv_sdk *b = open_memory();
    call c, d;
    call_init(&c);
    call_init(&d);
    const char *names[] = {"c2c_alice", "group_g1", "c2c_bob"};
    for (int i = 0; i < 3; i++) {
        get_sync(a, names[i], &c);
        char doc[8192];
        snprintf(doc, sizeof doc, "[%s]", c.jsons[0]);
        import_sync(b, doc, &d);
        CHECK_INT(d.successes, 1);
        get_sync(b, names[i], &d);
        CHECK_STR(d.jsons[0], c.jsons[0]);
    }
    CHECK(imconv_conversation_to_json(NULL) == NULL);
    imconv_string_free(NULL);
    call_destroy(&c);
    call_destroy(&d);
    imconv_sdk_free(a);
    imconv_sdk_free(b);
}

/* retain/release: the view outlives its callback, and stays unchanged. */
typedef struct {
    call done;
    const imconv_conversation *kept;
} keeper;

static void keep_view(const imconv_conversation *v, void *user_data) {
    keeper *k = user_data;
    k->kept = imconv_conversation_retain(v);
    call_finish(&k->done, 1);
}

static void test_retain_release_after_callback(void) {
    imconv_sdk *sdk = open_with_sample();
    keeper k;
    call_init(&k.done);
    CHECK_INT(imconv_get_conversation(sdk, "c2c_alice", keep_view, on_fail, &k), IMCONV_OK);
    call_wait(&k.done);
    CHECK(k.kept != NULL);
    CHECK(imconv_conversation_retain(NULL) == NULL);
    imconv_conversation_release(NULL);
    /* Overwrite alice: the kept view is a snapshot and does not change. */
    call c;
    call_init(&c);
    import_sync(sdk, "[{\"conversationID\":\"c2c_alice\",\"showName\":\"Alice II\"}]", &c);
    get_sync(sdk, "c2c_alice", &c);
    CHECK_CONTAINS(c.jsons[0], "\"showName\":\"Alice II\"");
    CHECK_STR(k.kept->show_name, "Alice");
    CHECK(k.kept->last_message != NULL && strcmp(k.kept->last_message->msg_id, "m-1") == 0);
    /* Retained twice, released twice; valid after the instance is gone. */
    CHECK(imconv_conversation_retain(k.kept) == k.kept);
    imconv_conversation_release(k.kept);
    imconv_sdk_free(sdk);
    CHECK_STR(k.kept->conversation_id, "c2c_alice");
    CHECK(k.kept->conversation_group_count == 1 && strcmp(k.kept->conversation_group_list[0], "Friends") == 0);
    char *json = imconv_conversation_to_json(k.kept);
    CHECK_CONTAINS(json, "\"showName\":\"Alice\"");
    imconv_string_free(json);
    imconv_conversation_release(k.kept);
    call_destroy(&c);
    call_destroy(&k.done);
}

static void test_threads_are_named_and_joined(void) {
    CHECK_INT(library_threads(), 0);
    imconv_sdk *sdk = open_sdk("{\"user_id\":\"me\"}");
    /* The runtime's one worker and the callback thread (each names itself
       as it starts); the blocking pool's threads come and go with work. */
    int threads = 0;
    for (int i = 0; i < 200 && (threads = library_threads()) < 2; i++) sleep_ms(5);
    CHECK_INT(threads, 2);
    imconv_sdk_free(sdk);
    CHECK_INT(library_threads(), 0);
}

static void test_persistence_across_reopen(void) {
    imconv_sdk *sdk = open_dir("persist");
    call c, d;
    call_init(&c);
    call_init(&d);
    import_sync(sdk, SAMPLE, &c);
    get_sync(sdk, "group_g1", &c);
    imconv_sdk_free(sdk);
    sdk = open_dir("persist");
    get_sync(sdk, "group_g1", &d);
    CHECK_STR(d.jsons[0], c.jsons[0]);
    CHECK_CONTAINS(d.jsons[0], "\"showName\":\"Team\"");
    imconv_sdk_free(sdk);
    call_destroy(&c);
    call_destroy(&d);
}

static void test_calls_in_a_forked_child_are_refused(void) {
    imconv_sdk *sdk = open_with_sample();
    pid_t pid = fork();
    if (pid == 0) {
        int32_t rc = imconv_get_conversation(sdk, "c2c_alice", count_one, count_fail, NULL);
        imconv_sdk_free(sdk); /* a no-op in the child: must not hang */
        _exit(rc == IMCONV_ERR_WRONG_PROCESS ? 0 : 10);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
    call c; /* the parent's instance still works */
    call_init(&c);
    get_sync(sdk, "c2c_alice", &c);
    CHECK_INT(c.successes, 1);
    call_destroy(&c);
    imconv_sdk_free(sdk);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir>\n", argv[0]);
        return 2;
    }
    scratch = argv[2];
    RUN(test_version_and_error_texts);
    RUN(test_sdk_new_errors);
    RUN(test_store_locked_in_this_and_another_process);
    RUN(test_undeliverable_calls_return_a_code_and_never_call_back);
    RUN(test_get_stored_conversation);
    RUN(test_views_from_c);
    RUN(test_temporary_conversation_is_not_saved);
    RUN(test_get_invalid_ids);
    RUN(test_list_order_duplicates_and_missing);
    RUN(test_list_invalid_ids_fail_the_call);
    RUN(test_list_of_100000_ids);
    RUN(test_import_validation_is_all_or_nothing);
    RUN(test_json_round_trip_and_snapshots);
    RUN(test_retain_release_after_callback);
    RUN(test_threads_are_named_and_joined);
    RUN(test_persistence_across_reopen);
    RUN(test_calls_in_a_forked_child_are_refused);
    return test_summary();
}
