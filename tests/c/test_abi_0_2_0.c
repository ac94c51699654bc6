/* A caller compiled against 0.2.0's growable structs, run against this
 * library: imconv_listener and imconv_list_filter exactly as 0.2.0's
 * header declared them (copied here, so that this test keeps compiling the
 * old layout however the header grows). Any struct_size from 0.2.0's up is
 * taken; members past it read as absent (the bytes after the old struct are
 * poison here, and must never be read); a smaller one is refused. Run as
 *   test_abi_0_2_0 <path/to/libimconv.so> <scratch_dir>
 */
#include "testlib.h"

/* 0.2.0's declarations, verbatim but for the names. */
typedef struct {
    uintptr_t struct_size;
    imconv_conversation_list_callback on_new;
    imconv_conversation_list_callback on_changed;
    imconv_string_list_callback on_deleted;
    imconv_count_callback on_total_unread_changed;
    void *user_data;
} listener_0_2_0;

typedef struct {
    uintptr_t struct_size;
    int32_t type;
    uint64_t mark;
    const char *group;
    bool has_unread;
    bool has_at;
} filter_0_2_0;

/* The old struct, followed by what a newer member would occupy: poison. */
typedef struct {
    listener_0_2_0 old;
    unsigned char poison[256];
} listener_in_memory;

typedef struct {
    filter_0_2_0 old;
    unsigned char poison[256];
} filter_in_memory;

static atomic_int news, totals;
static void on_new(const imconv_conversation *const *c, size_t n, void *u) {
    (void)c;
    CHECK(u == &news);
    atomic_fetch_add(&news, (int)n);
}
static void on_total(uint64_t total, void *u) {
    (void)u;
    atomic_store(&totals, (int)total);
}
static uint64_t counted;
static void on_count(uint64_t value, void *user_data) {
    counted = value;
    call_finish(user_data, 1);
}

static void test_structs_of_0_2_0_work_against_this_version(void) {
    imconv_sdk *sdk = NULL;
    char *error = NULL;
    CHECK_INT(imconv_sdk_new("{\"user_id\":\"me\"}", &sdk, &error), IMCONV_OK);

    listener_in_memory l;
    memset(&l, 0xAB, sizeof l);
    l.old.struct_size = sizeof(listener_0_2_0);
    l.old.on_new = on_new;
    l.old.on_changed = NULL;
    l.old.on_deleted = NULL;
    l.old.on_total_unread_changed = on_total;
    l.old.user_data = &news;
    uint64_t id = 0;
    CHECK_INT(imconv_add_listener(sdk, (const imconv_listener *)&l, &id), IMCONV_OK);

    call c;
    call_init(&c);
    CHECK_INT(imconv_apply_messages(sdk,
                                    "[{\"conversationID\":\"c2c_a\",\"msgID\":\"m\",\"timestamp\":5},"
                                    "{\"conversationID\":\"group_g\",\"msgID\":\"n\",\"timestamp\":6}]",
                                    on_done, on_fail, &c),
              IMCONV_OK);
    call_wait(&c);
    CHECK_INT(c.successes, 1);
    CHECK_INT(atomic_load(&news), 2);
    CHECK_INT(atomic_load(&totals), 2);

    /* Events 0.3.0 added (sync stages, group events, a subscription's
       count) reach members past 0.2.0's struct: read as absent, never as
       the poison after it. */
    uint64_t sub = 0;
    CHECK_INT(imconv_subscribe_unread_count(sdk, NULL, &sub), IMCONV_OK);
    const char *ids[] = {"c2c_a"};
    call_reset(&c);
    CHECK_INT(imconv_report_sync(sdk, IMCONV_SYNC_STARTED, on_done, on_fail, &c), IMCONV_OK);
    call_wait(&c);
    call_reset(&c);
    CHECK_INT(imconv_create_group(sdk, "g", ids, 1, on_done, on_fail, &c), IMCONV_OK);
    call_wait(&c);
    call_reset(&c);
    CHECK_INT(imconv_apply_messages(sdk, "[{\"conversationID\":\"c2c_a\",\"msgID\":\"m2\",\"timestamp\":7}]",
                                    on_done, on_fail, &c),
              IMCONV_OK);
    call_wait(&c);
    CHECK_INT(c.successes, 1);
    CHECK_INT(atomic_load(&totals), 3);

    filter_in_memory f;
    memset(&f, 0xAB, sizeof f);
    f.old.struct_size = sizeof(filter_0_2_0);
    f.old.type = IMCONV_CONVERSATION_TYPE_GROUP;
    f.old.mark = 0;
    f.old.group = NULL;
    f.old.has_unread = false;
    f.old.has_at = false;
    call_reset(&c);
    CHECK_INT(imconv_get_total_unread(sdk, (const imconv_list_filter *)&f, on_count, on_fail, &c), IMCONV_OK);
    call_wait(&c);
    CHECK_INT(c.successes, 1);
    CHECK_INT(counted, 1);

    /* A caller compiled against a later header (a larger struct_size):
       its members up to this version's are read. */
    f.old.struct_size = sizeof(filter_0_2_0) + 64;
    memset(f.poison, 0, sizeof f.poison);
    call_reset(&c);
    CHECK_INT(imconv_get_total_unread(sdk, (const imconv_list_filter *)&f, on_count, on_fail, &c), IMCONV_OK);
    call_wait(&c);
    CHECK_INT(counted, 1);

    /* Below 0.2.0's size: not set up with _init, refused. */
    l.old.struct_size = sizeof(listener_0_2_0) - 1;
    CHECK_INT(imconv_add_listener(sdk, (const imconv_listener *)&l, &id), IMCONV_ERR_INVALID_PARAMETERS);
    f.old.struct_size = 8;
    call_reset(&c);
    CHECK_INT(imconv_get_total_unread(sdk, (const imconv_list_filter *)&f, on_count, on_fail, &c), IMCONV_OK);
    call_wait(&c);
    CHECK_INT(c.code, IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "struct_size is 8");

    imconv_sdk_free(sdk);
    call_destroy(&c);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    RUN(test_structs_of_0_2_0_work_against_this_version);
    return test_summary();
}
