/* The hostile-input catalogue: each entry is one input a careless or
 * malicious caller might pass, the call that gets it, and the result it
 * must give (a return code, or the code of the one callback). After every
 * entry the instance still answers and holds exactly what it held.
 * Run as
 *   test_hostile <path/to/libimconv.so> <scratch_dir>
 * or with `--table` to print the catalogue as the README's Markdown table.
 */
#include <stdint.h>

#include "testlib.h"

static imconv_sdk *sdk;
static char *big;      /* 2 MiB + 1 of 'x', NUL-terminated */
static char *nested;   /* 100,000 nested arrays */
static char *huge_doc; /* a 65 MiB JSON document */

/* The result of one entry: how the call returned, and its callback. */
typedef struct {
    int32_t rc;
    call c;
} outcome;

static void done_cb(void *u) { call_finish(u, 1); }
static void fail_cb(int32_t code, const char *desc, void *u) { on_fail(code, desc, u); }
static void one_cb(const imconv_conversation *v, void *u) { on_one(v, u); }
static void list_cb(const imconv_conversation *const *v, size_t n, void *u) { on_list(v, n, u); }

#define W(expr) (o->rc = (expr))
static void e_null_sdk(outcome *o) { W(imconv_get_conversation(NULL, "c2c_a", one_cb, fail_cb, &o->c)); }
static void e_null_id(outcome *o) { W(imconv_get_conversation(sdk, NULL, one_cb, fail_cb, &o->c)); }
static void e_null_callbacks(outcome *o) { W(imconv_apply_messages(sdk, "[]", NULL, NULL, &o->c)); }
static void e_null_json(outcome *o) { W(imconv_import_conversations(sdk, NULL, done_cb, fail_cb, &o->c)); }
static void e_null_ids_with_count(outcome *o) { W(imconv_get_conversation_list(sdk, NULL, 3, list_cb, fail_cb, &o->c)); }
static void e_null_id_in_list(outcome *o) {
    const char *ids[] = {"c2c_a", NULL};
    W(imconv_get_conversation_list(sdk, ids, 2, list_cb, fail_cb, &o->c));
}
static void e_null_listener(outcome *o) {
    uint64_t id;
    W(imconv_add_listener(sdk, NULL, &id));
}
static void e_null_config(outcome *o) {
    imconv_sdk *s = NULL;
    W(imconv_sdk_new(NULL, &s, NULL));
}
static void e_bad_utf8_id(outcome *o) { W(imconv_get_conversation(sdk, "c2c_\xff\xfe", one_cb, fail_cb, &o->c)); }
static void e_bad_utf8_json(outcome *o) { W(imconv_import_conversations(sdk, "[{\"conversationID\":\"c2c_\xc3\"}]", done_cb, fail_cb, &o->c)); }
static void e_control_in_id(outcome *o) { W(imconv_get_conversation(sdk, "c2c_a\x01" "b", one_cb, fail_cb, &o->c)); }
static void e_control_in_group(outcome *o) { W(imconv_create_group(sdk, "a\nb", NULL, 0, done_cb, fail_cb, &o->c)); }
static void e_nul_escape(outcome *o) { W(imconv_import_conversations(sdk, "[{\"conversationID\":\"c2c_a\",\"showName\":\"a\\u0000b\"}]", done_cb, fail_cb, &o->c)); }
static void e_id_257(outcome *o) {
    char id[300] = "c2c_";
    memset(id + 4, 'a', 257);
    id[261] = '\0';
    W(imconv_get_conversation(sdk, id, one_cb, fail_cb, &o->c));
}
static void e_id_256(outcome *o) {
    char id[300] = "c2c_";
    memset(id + 4, 'a', 256);
    id[260] = '\0';
    W(imconv_get_conversation(sdk, id, one_cb, fail_cb, &o->c));
}
static void e_draft_2mib(outcome *o) { W(imconv_set_draft(sdk, "c2c_a", big, done_cb, fail_cb, &o->c)); }
static void e_msgid_2mib(outcome *o) {
    size_t n = strlen(big) + 100;
    char *doc = malloc(n);
    snprintf(doc, n, "[{\"conversationID\":\"c2c_a\",\"msgID\":\"%s\",\"timestamp\":1}]", big);
    W(imconv_apply_messages(sdk, doc, done_cb, fail_cb, &o->c));
    free(doc);
}
static void e_path_user(outcome *o) {
    imconv_sdk *s = NULL;
    W(imconv_sdk_new("{\"user_id\":\"../../etc\",\"data_dir\":\"/tmp\"}", &s, NULL));
}
static void e_dotdot_user(outcome *o) {
    imconv_sdk *s = NULL;
    W(imconv_sdk_new("{\"user_id\":\"..\",\"data_dir\":\"/tmp\"}", &s, NULL));
}
static void e_sql_meta(outcome *o) {
    W(imconv_import_conversations(sdk, "[{\"conversationID\":\"c2c_x'); DROP TABLE conversation;--\",\"showName\":\"%_'\\\"\"}]",
                                  done_cb, fail_cb, &o->c));
}
static void e_negative_count(outcome *o) { W(imconv_import_conversations(sdk, "[{\"conversationID\":\"c2c_a\",\"unreadCount\":-1}]", done_cb, fail_cb, &o->c)); }
static void e_u64_overflow(outcome *o) { W(imconv_import_conversations(sdk, "[{\"conversationID\":\"c2c_a\",\"orderKey\":18446744073709551616}]", done_cb, fail_cb, &o->c)); }
static void e_float_ts(outcome *o) { W(imconv_apply_messages(sdk, "[{\"conversationID\":\"c2c_a\",\"msgID\":\"m\",\"timestamp\":1.5}]", done_cb, fail_cb, &o->c)); }
static void e_recv_opt(outcome *o) {
    const char *ids[] = {"c2c_a"};
    W(imconv_set_recv_opt(sdk, ids, 1, 99, done_cb, fail_cb, &o->c));
}
static void e_huge_count(outcome *o) {
    const char *ids[] = {"c2c_a"};
    W(imconv_set_recv_opt(sdk, ids, (size_t)-1, 0, done_cb, fail_cb, &o->c));
}
static void e_nested(outcome *o) { W(imconv_import_conversations(sdk, nested, done_cb, fail_cb, &o->c)); }
static void e_huge_doc(outcome *o) { W(imconv_import_conversations(sdk, huge_doc, done_cb, fail_cb, &o->c)); }
static void e_million_ids(outcome *o) {
    enum { N = 1000000 };
    const char **ids = malloc(N * sizeof *ids);
    for (int i = 0; i < N; i++) ids[i] = i % 2 ? "c2c_a" : "group_nobody";
    W(imconv_get_conversation_list(sdk, ids, N, list_cb, fail_cb, &o->c));
    if (o->rc == IMCONV_OK) call_wait(&o->c);
    free(ids);
}
static void page_cb(const imconv_conversation *const *v, size_t n, const char *next, bool fin, void *u) {
    (void)next;
    (void)fin;
    on_list(v, n, u);
}
static void count_cb(uint64_t total, void *u) {
    (void)total;
    call_finish(u, 1);
}
static void groups_cb(const char *const *names, size_t n, void *u) {
    (void)names;
    (void)n;
    call_finish(u, 1);
}
static const imconv_listener null_listener = {.struct_size = sizeof(imconv_listener)};
static void e_bad_cursor(outcome *o) {
    W(imconv_get_conversation_page(sdk, NULL, "1:x:'; --", 10, page_cb, fail_cb, &o->c));
}
static void e_bad_filter(outcome *o) {
    imconv_list_filter f;
    imconv_list_filter_init(&f);
    f.type = 7;
    W(imconv_get_total_unread(sdk, &f, count_cb, fail_cb, &o->c));
}
static atomic_int flood_done;
static void flood_ok(void *u) { (void)u; atomic_fetch_add(&flood_done, 1); }
static void flood_fail(int32_t code, const char *desc, void *u) {
    (void)code;
    (void)desc;
    (void)u;
    atomic_fetch_add(&flood_done, 1);
}
static void e_flood(outcome *o) {
    /* 20,000 writes without waiting: the queue refuses past its bound,
       and every accepted one still calls back once. */
    int full = 0, accepted = 0;
    atomic_store(&flood_done, 0);
    for (int i = 0; i < 20000; i++) {
        int32_t rc = imconv_pin_conversation(sdk, "c2c_a", i % 2, flood_ok, flood_fail, NULL);
        if (rc == IMCONV_ERR_QUEUE_FULL) full = 1;
        else if (rc == IMCONV_OK) accepted++;
    }
    for (int i = 0; i < 30000 && atomic_load(&flood_done) < accepted; i++) sleep_ms(1);
    o->rc = full && atomic_load(&flood_done) == accepted ? IMCONV_ERR_QUEUE_FULL : -1;
}
/* ---- NULL in every pointer parameter of every export ----------------- */

static int null_mismatches;

/* One async call: its return value and, when accepted, its callback's code. */
static void expect_null(const char *what, int32_t rc, call *c, int32_t want_rc, int32_t want_cb) {
    int32_t got_cb = -1;
    if (rc == IMCONV_OK) {
        call_wait(c);
        got_cb = c->errors ? c->code : 0;
    }
    if (rc != want_rc || got_cb != want_cb) {
        fprintf(stderr, "  NULL sweep: %s: returned %d (want %d), callback %d (want %d)\n", what, rc,
                want_rc, got_cb, want_cb);
        null_mismatches++;
    }
    call_reset(c);
}

/* A synchronous export: its return value only. */
static void expect_rc(const char *what, int32_t rc, int32_t want) {
    if (rc != want) {
        fprintf(stderr, "  NULL sweep: %s: returned %d (want %d)\n", what, rc, want);
        null_mismatches++;
    }
}

#define ACCEPTED_FAILS IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS
#define REFUSED IMCONV_ERR_INVALID_PARAMETERS, -1
#define SUCCEEDS IMCONV_OK, 0

static void e_null_sweep(outcome *o) {
    call *c = &o->c;
    const char *one[] = {"c2c_a"};
    uint64_t lid = 0;
    null_mismatches = 0;
    /* The instance NULL: every export that takes one refuses the call. */
    expect_null("get_conversation sdk", imconv_get_conversation(NULL, "c2c_a", one_cb, fail_cb, c), c, REFUSED);
    expect_null("get_conversation_list sdk", imconv_get_conversation_list(NULL, one, 1, list_cb, fail_cb, c), c, REFUSED);
    expect_null("import sdk", imconv_import_conversations(NULL, "[]", done_cb, fail_cb, c), c, REFUSED);
    expect_null("sync sdk", imconv_sync_conversations(NULL, "[]", done_cb, fail_cb, c), c, REFUSED);
    expect_null("apply_messages sdk", imconv_apply_messages(NULL, "[]", done_cb, fail_cb, c), c, REFUSED);
    expect_null("clean_unread sdk", imconv_clean_unread(NULL, "", 0, 0, done_cb, fail_cb, c), c, REFUSED);
    expect_null("set_draft sdk", imconv_set_draft(NULL, "c2c_a", "d", done_cb, fail_cb, c), c, REFUSED);
    expect_null("pin sdk", imconv_pin_conversation(NULL, "c2c_a", true, done_cb, fail_cb, c), c, REFUSED);
    expect_null("recv_opt sdk", imconv_set_recv_opt(NULL, one, 1, 0, done_cb, fail_cb, c), c, REFUSED);
    expect_null("custom_data sdk", imconv_set_custom_data(NULL, one, 1, "x", done_cb, fail_cb, c), c, REFUSED);
    expect_null("mark sdk", imconv_mark_conversations(NULL, one, 1, 1, true, done_cb, fail_cb, c), c, REFUSED);
    expect_null("delete sdk", imconv_delete_conversations(NULL, one, 1, done_cb, fail_cb, c), c, REFUSED);
    expect_null("create_group sdk", imconv_create_group(NULL, "g", one, 1, done_cb, fail_cb, c), c, REFUSED);
    expect_null("rename_group sdk", imconv_rename_group(NULL, "g", "h", done_cb, fail_cb, c), c, REFUSED);
    expect_null("delete_group sdk", imconv_delete_group(NULL, "g", done_cb, fail_cb, c), c, REFUSED);
    expect_null("add_to_group sdk", imconv_add_to_group(NULL, "g", one, 1, done_cb, fail_cb, c), c, REFUSED);
    expect_null("remove_from_group sdk", imconv_remove_from_group(NULL, "g", one, 1, done_cb, fail_cb, c), c, REFUSED);
    expect_null("update_profiles sdk", imconv_update_profiles(NULL, "[]", done_cb, fail_cb, c), c, REFUSED);
    expect_null("page sdk", imconv_get_conversation_page(NULL, NULL, NULL, 10, page_cb, fail_cb, c), c, REFUSED);
    expect_null("total sdk", imconv_get_total_unread(NULL, NULL, count_cb, fail_cb, c), c, REFUSED);
    expect_null("groups sdk", imconv_get_groups(NULL, groups_cb, fail_cb, c), c, REFUSED);
    expect_rc("add_listener sdk", imconv_add_listener(NULL, &null_listener, &lid), IMCONV_ERR_INVALID_PARAMETERS);
    expect_rc("remove_listener sdk", imconv_remove_listener(NULL, 1), IMCONV_ERR_INVALID_PARAMETERS);
    expect_null("sync_snapshot sdk", imconv_sync_snapshot(NULL, "[]", done_cb, fail_cb, c), c, REFUSED);
    expect_null("mark_read sdk", imconv_mark_read(NULL, "c2c_a", "m", done_cb, fail_cb, c), c, REFUSED);
    expect_null("report_sync sdk", imconv_report_sync(NULL, IMCONV_SYNC_STARTED, done_cb, fail_cb, c), c, REFUSED);
    expect_rc("subscribe sdk", imconv_subscribe_unread_count(NULL, NULL, &lid), IMCONV_ERR_INVALID_PARAMETERS);
    expect_rc("unsubscribe sdk", imconv_unsubscribe_unread_count(NULL, 1), IMCONV_ERR_INVALID_PARAMETERS);
    /* Both callbacks NULL: refused, never called. */
    expect_null("import callbacks", imconv_import_conversations(sdk, "[]", NULL, NULL, c), c, REFUSED);
    expect_null("sync callbacks", imconv_sync_conversations(sdk, "[]", NULL, NULL, c), c, REFUSED);
    expect_null("clean_unread callbacks", imconv_clean_unread(sdk, "", 0, 0, NULL, NULL, c), c, REFUSED);
    expect_null("groups callbacks", imconv_get_groups(sdk, NULL, NULL, c), c, REFUSED);
    expect_null("page callbacks", imconv_get_conversation_page(sdk, NULL, NULL, 10, NULL, NULL, c), c, REFUSED);
    expect_null("mark_read callbacks", imconv_mark_read(sdk, "c2c_a", "m", NULL, NULL, c), c, REFUSED);
    expect_null("report_sync callbacks", imconv_report_sync(sdk, IMCONV_SYNC_STARTED, NULL, NULL, c), c, REFUSED);
    /* Required strings and arrays NULL: accepted, failing through on_error. */
    expect_null("sync json", imconv_sync_conversations(sdk, NULL, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("apply_messages json", imconv_apply_messages(sdk, NULL, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("update_profiles json", imconv_update_profiles(sdk, NULL, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("sync_snapshot json", imconv_sync_snapshot(sdk, NULL, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("mark_read id", imconv_mark_read(sdk, NULL, "m", done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("mark_read msg_id", imconv_mark_read(sdk, "c2c_a", NULL, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("set_draft id", imconv_set_draft(sdk, NULL, "d", done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("pin id", imconv_pin_conversation(sdk, NULL, true, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("recv_opt ids", imconv_set_recv_opt(sdk, NULL, 1, 0, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("custom_data ids", imconv_set_custom_data(sdk, NULL, 1, "x", done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("mark ids", imconv_mark_conversations(sdk, NULL, 1, 1, true, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("delete ids", imconv_delete_conversations(sdk, NULL, 1, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("create_group name", imconv_create_group(sdk, NULL, NULL, 0, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("rename_group old", imconv_rename_group(sdk, NULL, "h", done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("rename_group new", imconv_rename_group(sdk, "g", NULL, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("delete_group name", imconv_delete_group(sdk, NULL, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("add_to_group name", imconv_add_to_group(sdk, NULL, one, 1, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    expect_null("remove_from_group ids", imconv_remove_from_group(sdk, "g", NULL, 1, done_cb, fail_cb, c), c, ACCEPTED_FAILS);
    /* Optional pointers NULL: documented meanings, success. */
    expect_null("clean_unread id (all)", imconv_clean_unread(sdk, NULL, 0, 0, done_cb, fail_cb, c), c, SUCCEEDS);
    expect_null("set_draft text (clears)", imconv_set_draft(sdk, "c2c_a", NULL, done_cb, fail_cb, c), c, SUCCEEDS);
    expect_null("custom_data data (clears)", imconv_set_custom_data(sdk, one, 1, NULL, done_cb, fail_cb, c), c, SUCCEEDS);
    expect_null("create_group ids, count 0", imconv_create_group(sdk, "g-null", NULL, 0, done_cb, fail_cb, c), c, SUCCEEDS);
    expect_null("page filter and cursor", imconv_get_conversation_page(sdk, NULL, NULL, 10, page_cb, fail_cb, c), c, SUCCEEDS);
    expect_null("total filter", imconv_get_total_unread(sdk, NULL, count_cb, fail_cb, c), c, SUCCEEDS);
    /* Synchronous exports. */
    expect_rc("add_listener listener", imconv_add_listener(sdk, NULL, &lid), IMCONV_ERR_INVALID_PARAMETERS);
    expect_rc("add_listener out id", imconv_add_listener(sdk, &null_listener, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    expect_rc("subscribe out id", imconv_subscribe_unread_count(sdk, NULL, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    /* Structs not set up for this version (struct_size 0): refused. */
    imconv_listener unsized = null_listener;
    unsized.struct_size = 0;
    expect_rc("add_listener struct_size 0", imconv_add_listener(sdk, &unsized, &lid), IMCONV_ERR_INVALID_PARAMETERS);
    imconv_list_filter unsized_filter;
    imconv_list_filter_init(&unsized_filter);
    unsized_filter.struct_size = 0;
    expect_null("total filter struct_size 0", imconv_get_total_unread(sdk, &unsized_filter, count_cb, fail_cb, c), c,
                ACCEPTED_FAILS);
    imconv_listener_init(NULL);
    imconv_list_filter_init(NULL);
    imconv_sdk *s2 = NULL;
    expect_rc("sdk_new out_sdk", imconv_sdk_new("{\"user_id\":\"me\"}", NULL, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    expect_rc("sdk_new out_error NULL is fine", imconv_sdk_new("{\"user_id\":\"other\"}", &s2, NULL), IMCONV_OK);
    imconv_sdk_free(s2);
    imconv_sdk_free(NULL);
    imconv_string_free(NULL);
    imconv_conversation_release(NULL);
    if (imconv_conversation_retain(NULL) != NULL || imconv_conversation_to_json(NULL) != NULL) null_mismatches++;
    o->rc = null_mismatches == 0 ? IMCONV_OK : -1;
}

static void e_unknown_code(outcome *o) { o->rc = strcmp(imconv_error_str(123456), "unknown error code") == 0 ? IMCONV_OK : -1; }

typedef struct {
    const char *input;
    const char *call;
    void (*run)(outcome *);
    int32_t rc;       /* the return value */
    int32_t callback; /* the callback's code (0: on_success; -1: none) */
} entry;

static const entry CATALOGUE[] = {
    {"NULL instance", "get_conversation", e_null_sdk, IMCONV_ERR_INVALID_PARAMETERS, -1},
    {"NULL conversation ID", "get_conversation", e_null_id, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"NULL callbacks", "apply_messages", e_null_callbacks, IMCONV_ERR_INVALID_PARAMETERS, -1},
    {"NULL JSON", "import_conversations", e_null_json, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"NULL array with count 3", "get_conversation_list", e_null_ids_with_count, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"NULL inside the ID array", "get_conversation_list", e_null_id_in_list, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"NULL listener", "add_listener", e_null_listener, IMCONV_ERR_INVALID_PARAMETERS, -1},
    {"NULL config", "sdk_new", e_null_config, IMCONV_ERR_INVALID_PARAMETERS, -1},
    {"invalid UTF-8 in an ID", "get_conversation", e_bad_utf8_id, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"invalid UTF-8 in JSON", "import_conversations", e_bad_utf8_json, IMCONV_OK, IMCONV_ERR_INVALID_JSON},
    {"control character in an ID", "get_conversation", e_control_in_id, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"control character in a group name", "create_group", e_control_in_group, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"U+0000 escaped in a string", "import_conversations", e_nul_escape, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"ID of 257 bytes after the prefix", "get_conversation", e_id_257, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"ID of 256 bytes (the maximum)", "get_conversation", e_id_256, IMCONV_OK, 0},
    {"draft of 2 MiB", "set_draft", e_draft_2mib, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"msgID of 2 MiB", "apply_messages", e_msgid_2mib, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"user_id \"../../etc\"", "sdk_new", e_path_user, IMCONV_ERR_INVALID_PARAMETERS, -1},
    {"user_id \"..\"", "sdk_new", e_dotdot_user, IMCONV_ERR_INVALID_PARAMETERS, -1},
    {"SQL metacharacters in ID and name", "import_conversations", e_sql_meta, IMCONV_OK, 0},
    {"negative unreadCount", "import_conversations", e_negative_count, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"orderKey 2^64", "import_conversations", e_u64_overflow, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"fractional timestamp", "apply_messages", e_float_ts, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"receive option 99", "set_recv_opt", e_recv_opt, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"ID count SIZE_MAX", "set_recv_opt", e_huge_count, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"100,000 nested arrays", "import_conversations", e_nested, IMCONV_OK, IMCONV_ERR_INVALID_JSON},
    {"a 65 MiB document", "import_conversations", e_huge_doc, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"1,000,000 IDs in one list", "get_conversation_list", e_million_ids, IMCONV_OK, 0},
    {"a forged cursor", "get_conversation_page", e_bad_cursor, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"filter type 7", "get_total_unread", e_bad_filter, IMCONV_OK, IMCONV_ERR_INVALID_PARAMETERS},
    {"20,000 writes without waiting", "pin_conversation", e_flood, IMCONV_ERR_QUEUE_FULL, -1},
    {"an unknown error code", "error_str", e_unknown_code, IMCONV_OK, -1},
    {"NULL in every pointer parameter of every export (72 cases: the instance and both callbacks refuse the call; required strings and arrays fail it through on_error; optional ones keep their documented meaning)", "*", e_null_sweep, IMCONV_OK, -1},
};

static const char *code_name(int32_t code) {
    switch (code) {
    case -1: return "none";
    case 0: return "on_success";
    case IMCONV_ERR_INVALID_PARAMETERS: return "INVALID_PARAMETERS";
    case IMCONV_ERR_INVALID_JSON: return "INVALID_JSON";
    case IMCONV_ERR_QUEUE_FULL: return "QUEUE_FULL";
    default: return "other";
    }
}

int main(int argc, char **argv) {
    size_t n = sizeof CATALOGUE / sizeof *CATALOGUE;
    if (argc == 2 && strcmp(argv[1], "--table") == 0) {
        printf("| input | call | returns | callback |\n|---|---|---|---|\n");
        for (size_t i = 0; i < n; i++)
            printf("| %s | `imconv_%s` | %s | %s |\n", CATALOGUE[i].input, CATALOGUE[i].call,
                   CATALOGUE[i].rc == 0 ? "IMCONV_OK" : code_name(CATALOGUE[i].rc),
                   code_name(CATALOGUE[i].callback));
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir> | --table\n", argv[0]);
        return 2;
    }
    alarm((unsigned)wait_seconds() * 10);
    big = malloc(2 * 1024 * 1024 + 2);
    memset(big, 'x', 2 * 1024 * 1024 + 1);
    big[2 * 1024 * 1024 + 1] = '\0';
    nested = malloc(200002);
    for (int i = 0; i < 100000; i++) nested[i] = '[', nested[100000 + i] = ']';
    nested[200000] = '\0';
    size_t huge = (size_t)65 << 20;
    huge_doc = malloc(huge + 1);
    memset(huge_doc, ' ', huge);
    huge_doc[0] = '[';
    huge_doc[huge - 1] = ']';
    huge_doc[huge] = '\0';
    char *error = NULL;
    if (imconv_sdk_new("{\"user_id\":\"me\"}", &sdk, &error) != IMCONV_OK) return 1;
    call c;
    call_init(&c);
    import_sync(sdk, "[{\"conversationID\":\"c2c_a\",\"showName\":\"A\"}]", &c);
    for (size_t i = 0; i < n; i++) {
        const entry *e = &CATALOGUE[i];
        current_test = e->input;
        current_failed = 0;
        outcome o;
        call_init(&o.c);
        o.rc = -99;
        e->run(&o);
        CHECK_INT(o.rc, e->rc);
        if (e->callback >= 0 && o.rc == IMCONV_OK) {
            call_wait(&o.c);
            CHECK_INT(o.c.errors ? o.c.code : 0, e->callback);
            CHECK(o.c.errors == 0 || o.c.desc[0] != '\0');
        }
        /* Still answers, and holds what it held. */
        get_sync(sdk, "c2c_a", &c);
        CHECK(c.count == 1 && strstr(c.jsons[0], "\"showName\":\"A\""));
        if (current_failed) tests_failed++;
        else tests_passed++;
        printf("%s %s\n", current_failed ? "FAIL" : "ok  ", e->input);
        call_destroy(&o.c);
    }
    imconv_sdk_free(sdk);
    call_destroy(&c);
    free(big);
    free(nested);
    free(huge_doc);
    return test_summary();
}
