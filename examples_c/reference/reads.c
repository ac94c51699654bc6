/*
 * The reference's examples of the reads and the listeners
 * (docs/reference/): lookups, pages, filters, totals, groups, the store
 * check, listeners and unread-count subscriptions. Each example is the
 * region between its "example:" and "end" comments; main() runs them on
 * one store and checks what each answered.
 *
 *   build/reference/reads <scratch folder>
 */
#include "example.h"

static int get_example(imconv_sdk *sdk, struct seen *alice) {
    /* example: imconv_get_conversation */
    /* seen_copy (example.h) copies what it needs: the view is valid only
       until it returns (imconv_conversation_retain keeps it longer). */
    if (call_result(imconv_get_conversation(sdk, "c2c_alice", seen_copy, seen_failed, alice),
                    &alice->call) != IMCONV_OK) {
        fprintf(stderr, "lookup failed: %s\n", alice->call.desc);
        return 1;
    }
    printf("%s: %llu unread, stored: %d\n", alice->show_name, (unsigned long long)alice->unread, alice->found);
    /* end */
    return 0;
}

static int list_example(imconv_sdk *sdk, struct call *c) {
    /* example: imconv_get_conversation_list */
    /* The stored ones among the IDs, in the order asked (c2c_nobody is not
       stored and is left out); call_listed (example.h) keeps the count. */
    const char *ids[] = {"c2c_bob", "c2c_nobody", "c2c_alice"};
    int32_t rc = imconv_get_conversation_list(sdk, ids, 3, call_listed, call_failed, c);
    if (call_result(rc, c) != IMCONV_OK) {
        fprintf(stderr, "lookup failed: %s\n", c->desc);
        return 1;
    }
    printf("%zu of 3 stored, the first: %s\n", c->n, c->text);
    /* end */
    return 0;
}

/* Counts every page's conversations (what a list UI would show). */
struct paging {
    struct call call;
    size_t seen;
    char cursor[256];
    bool finished;
};

static void page_arrived(const imconv_conversation *const *conversations, size_t count,
                         const char *next_cursor, bool is_finished, void *user_data) {
    struct paging *p = user_data;
    for (size_t i = 0; i < count; i++) printf("  %s\n", conversations[i]->conversation_id);
    p->seen += count;
    snprintf(p->cursor, sizeof p->cursor, "%s", next_cursor);
    p->finished = is_finished;
    call_finish(&p->call, IMCONV_OK, NULL);
}

static int page_example(imconv_sdk *sdk, size_t *total) {
    /* example: imconv_get_conversation_page */
    /* The whole list, pinned first then newest first, 2 at a time: each page
       starts at the cursor the previous one returned ("" for the first). */
    struct paging p = {CALL_INIT, 0, "", false};
    while (!p.finished) {
        struct call fresh = CALL_INIT;
        p.call = fresh;
        if (call_result(imconv_get_conversation_page(sdk, NULL, p.cursor, 2, page_arrived, call_failed, &p),
                        &p.call) != IMCONV_OK) {
            fprintf(stderr, "page failed: %s\n", p.call.desc);
            return 1;
        }
    }
    /* end */
    *total = p.seen;
    return 0;
}

static int filter_example(imconv_sdk *sdk, struct call *c) {
    /* example: imconv_list_filter_init */
    /* Only one-to-one conversations with unread messages: init, then set the
       members used by name (the struct can grow in later versions). */
    imconv_list_filter filter;
    imconv_list_filter_init(&filter);
    filter.type = IMCONV_CONVERSATION_TYPE_C2C;
    filter.has_unread = true;
    int32_t rc = imconv_get_total_unread(sdk, &filter, call_counted, call_failed, c);
    /* end */
    return call_result(rc, c) == IMCONV_OK ? 0 : 1;
}

static int total_example(imconv_sdk *sdk, struct call *c) {
    /* example: imconv_get_total_unread */
    /* NULL: every conversation (muted ones do not count). */
    if (call_result(imconv_get_total_unread(sdk, NULL, call_counted, call_failed, c), c) != IMCONV_OK) {
        fprintf(stderr, "total failed: %s\n", c->desc);
        return 1;
    }
    printf("unread in all: %llu\n", (unsigned long long)c->count);
    /* end */
    return 0;
}

static int groups_example(imconv_sdk *sdk, struct call *c) {
    /* example: imconv_get_groups */
    /* The conversation groups' names, in creation order. */
    if (call_result(imconv_get_groups(sdk, call_strings, call_failed, c), c) != IMCONV_OK) {
        fprintf(stderr, "get_groups failed: %s\n", c->desc);
        return 1;
    }
    printf("%zu groups, the first: %s\n", c->n, c->text);
    /* end */
    return 0;
}

static int verify_example(imconv_sdk *sdk, struct call *c) {
    /* example: imconv_verify_store */
    /* A full check in the background; answers the IDs of damaged
       conversations (none for a sound store). */
    if (call_result(imconv_verify_store(sdk, call_strings, call_failed, c), c) != IMCONV_OK) {
        fprintf(stderr, "verify failed: %s\n", c->desc);
        return 1;
    }
    if (c->n) printf("%zu damaged conversations, e.g. %s\n", c->n, c->text);
    /* end */
    return 0;
}

/* What the listener heard: the last total and how many changed events. */
struct heard {
    pthread_mutex_t lock;
    uint64_t total, filtered;
    int changed;
};

static void on_changed(const imconv_conversation *const *conversations, size_t count, void *user_data) {
    struct heard *h = user_data;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < count; i++) printf("changed: %s\n", conversations[i]->conversation_id);
    h->changed += (int)count;
    pthread_mutex_unlock(&h->lock);
}

static void on_total(uint64_t total, void *user_data) {
    struct heard *h = user_data;
    pthread_mutex_lock(&h->lock);
    h->total = total;
    pthread_mutex_unlock(&h->lock);
}

static void on_filtered(uint64_t subscription_id, const imconv_list_filter *filter, uint64_t count,
                        void *user_data) {
    struct heard *h = user_data;
    (void)subscription_id;
    (void)filter;
    pthread_mutex_lock(&h->lock);
    h->filtered = count;
    pthread_mutex_unlock(&h->lock);
}

static int listener_example(imconv_sdk *sdk, struct heard *heard, uint64_t *id) {
    /* example: imconv_listener_init */
    imconv_listener listener;
    imconv_listener_init(&listener); /* sets struct_size, clears every member */
    listener.on_changed = on_changed;
    listener.on_total_unread_changed = on_total;
    listener.on_unread_count_changed_by_filter = on_filtered;
    listener.user_data = heard;
    /* end */
    /* example: imconv_add_listener */
    /* The callbacks run on the callback thread for every later write, until
       imconv_remove_listener; the struct is copied, heard must stay valid. */
    uint64_t listener_id = 0;
    if (imconv_add_listener(sdk, &listener, &listener_id) != IMCONV_OK) return 1;
    /* end */
    *id = listener_id;
    return 0;
}

static int subscribe_example(imconv_sdk *sdk, uint64_t *subscription) {
    /* example: imconv_subscribe_unread_count */
    /* The unread count of the starred conversations, told to every
       listener's on_unread_count_changed_by_filter when it moves. */
    imconv_list_filter starred;
    imconv_list_filter_init(&starred);
    starred.mark = IMCONV_MARK_STAR;
    uint64_t subscription_id = 0;
    if (imconv_subscribe_unread_count(sdk, &starred, &subscription_id) != IMCONV_OK) return 1;
    /* end */
    *subscription = subscription_id;
    return 0;
}

static int unsubscribe_example(imconv_sdk *sdk, uint64_t subscription_id) {
    /* example: imconv_unsubscribe_unread_count */
    if (imconv_unsubscribe_unread_count(sdk, subscription_id) != IMCONV_OK) return 1;
    /* end */
    return 0;
}

static int remove_example(imconv_sdk *sdk, uint64_t listener_id) {
    /* example: imconv_remove_listener */
    /* When it returns, none of the listener's callbacks runs any more (from
       inside one of them it returns IMCONV_ERR_WOULD_DEADLOCK instead). */
    if (imconv_remove_listener(sdk, listener_id) != IMCONV_OK) return 1;
    /* end */
    return 0;
}

static void store_write(imconv_sdk *sdk, int32_t (*start)(imconv_sdk *, const char *, imconv_done_callback,
                                                     imconv_error_callback, void *), const char *json) {
    struct call c = CALL_INIT;
    EXPECT(call_result(start(sdk, json, call_done, call_failed, &c), &c) == IMCONV_OK);
}

int main(int argc, char **argv) {
    char dir[512];
    scratch_dir(argc, argv, "reads", dir, sizeof dir);
    imconv_sdk *sdk = open_store(dir, NULL);
    store_write(sdk, imconv_import_conversations,
          "[{\"conversationID\": \"c2c_alice\", \"showName\": \"Alice\", \"unreadCount\": 2, \"markList\": [1]},"
          " {\"conversationID\": \"c2c_bob\", \"showName\": \"Bob\", \"unreadCount\": 3},"
          " {\"conversationID\": \"group_team\", \"showName\": \"Team\", \"unreadCount\": 4,"
          "  \"conversationGroupList\": [\"work\"]}]");

    struct seen alice;
    struct seen empty = {0, 0, 0, 0, 0, 0, "", "", "", "", CALL_INIT};
    alice = empty;
    EXPECT(get_example(sdk, &alice) == 0 && alice.found && alice.unread == 2 && !strcmp(alice.show_name, "Alice"));
    struct call list = CALL_INIT, filtered = CALL_INIT, total = CALL_INIT, groups = CALL_INIT,
                verify = CALL_INIT;
    EXPECT(list_example(sdk, &list) == 0 && list.n == 2 && !strcmp(list.text, "c2c_bob"));
    size_t paged = 0;
    EXPECT(page_example(sdk, &paged) == 0 && paged == 3);
    EXPECT(filter_example(sdk, &filtered) == 0 && filtered.count == 5);
    EXPECT(total_example(sdk, &total) == 0 && total.count == 9);
    EXPECT(groups_example(sdk, &groups) == 0 && groups.n == 1 && !strcmp(groups.text, "work"));
    EXPECT(verify_example(sdk, &verify) == 0 && verify.n == 0);

    struct heard heard = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    uint64_t listener_id = 0, subscription_id = 0;
    EXPECT(listener_example(sdk, &heard, &listener_id) == 0);
    EXPECT(subscribe_example(sdk, &subscription_id) == 0);
    /* A write's events come before its own callback. */
    store_write(sdk, imconv_sync_conversations, "[{\"conversationID\": \"c2c_alice\", \"unreadCount\": 7}]");
    pthread_mutex_lock(&heard.lock);
    EXPECT(heard.changed == 1 && heard.total == 14 && heard.filtered == 7);
    pthread_mutex_unlock(&heard.lock);
    EXPECT(unsubscribe_example(sdk, subscription_id) == 0);
    EXPECT(remove_example(sdk, listener_id) == 0);
    store_write(sdk, imconv_sync_conversations, "[{\"conversationID\": \"c2c_alice\", \"unreadCount\": 1}]");
    EXPECT(heard.changed == 1 && heard.total == 14); /* removed: heard nothing more */
    imconv_sdk_free(sdk);
    printf("reference examples (reads): 12 examples ran and were checked\n");
    return 0;
}
