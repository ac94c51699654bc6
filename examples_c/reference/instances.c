/*
 * The reference's examples of instances, host delivery, views, strings,
 * errors and the log (docs/reference/). Each example is the region
 * between its "example:" and "end" comments; main() runs them and checks
 * what each did.
 *
 *   build/reference/instances <scratch folder>
 */
#include <poll.h>

#include "example.h"

static imconv_sdk *new_example(const char *data_dir) {
    /* example: imconv_sdk_new */
    char config[600];
    snprintf(config, sizeof config, "{\"user_id\": \"alice\", \"data_dir\": \"%s\", \"durability\": \"full\"}",
             data_dir);
    imconv_sdk *sdk = NULL;
    char *error = NULL;
    int32_t rc = imconv_sdk_new(config, &sdk, &error);
    if (rc != IMCONV_OK) {
        fprintf(stderr, "cannot open the store (%d): %s\n", rc, error);
        imconv_string_free(error);
        return NULL;
    }
    /* end */
    return sdk;
}

static void free_example(imconv_sdk *sdk) {
    /* example: imconv_sdk_free */
    /* Blocks until every callback still owed has run (queued writes fail
       with IMCONV_ERR_SHUTDOWN, accepted reads are answered). */
    imconv_sdk_free(sdk);
    /* end */
}

static int wait_freed_example(void) {
    /* example: imconv_wait_freed */
    /* Before dlclose or process exit: every freed instance's teardown done. */
    if (imconv_wait_freed(5000) != IMCONV_OK) {
        fprintf(stderr, "instances still tearing down after 5 s\n");
        return 1;
    }
    /* end */
    return 0;
}

static int delete_store_example(const char *data_dir) {
    /* example: imconv_delete_store */
    /* The user logs out and asks to be forgotten (no instance may be open). */
    char config[600];
    snprintf(config, sizeof config, "{\"user_id\": \"alice\", \"data_dir\": \"%s\"}", data_dir);
    char *error = NULL;
    if (imconv_delete_store(config, &error) != IMCONV_OK) {
        fprintf(stderr, "delete failed: %s\n", error);
        imconv_string_free(error);
        return 1;
    }
    /* end */
    return 0;
}

static int suspend_example(imconv_sdk *sdk) {
    /* example: imconv_suspend */
    /* The app goes to the background: let go of every file and lock. */
    char *error = NULL;
    if (imconv_suspend(sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "suspend failed: %s\n", error);
        imconv_string_free(error);
        return 1;
    }
    /* end */
    return 0;
}

static int resume_example(imconv_sdk *sdk) {
    /* example: imconv_resume */
    char *error = NULL;
    if (imconv_resume(sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "resume failed: %s\n", error);
        imconv_string_free(error);
        return 1;
    }
    /* end */
    return 0;
}

static int version_example(void) {
    /* example: imconv_version */
    /* The library loaded at run time against the header compiled in. */
    printf("imconv %s (header %d.%d.%d)\n", imconv_version(), IMCONV_VERSION_MAJOR, IMCONV_VERSION_MINOR,
           IMCONV_VERSION_PATCH);
    /* end */
    return 0;
}

/* imconv_log_callback: any thread; must not call imconv_set_log_callback. */
static void log_line(int32_t level, const char *message, void *user_data) {
    int *lines = user_data;
    __atomic_add_fetch(lines, 1, __ATOMIC_RELAXED);
    fprintf(stderr, "[imconv %d] %s\n", level, message);
}

static int log_example(int *lines) {
    /* example: imconv_set_log_callback */
    /* Warnings and errors to the app's log; NULL turns it off again. */
    if (imconv_set_log_callback(IMCONV_LOG_WARN, log_line, lines) != IMCONV_OK) return 1;
    /* end */
    return 0;
}

static int error_str_example(imconv_sdk *sdk) {
    /* example: imconv_error_str */
    /* A code returned at once (no callback) has no message: name it. */
    int32_t rc = imconv_get_conversation(sdk, "c2c_alice", NULL, NULL, NULL);
    if (rc != IMCONV_OK) fprintf(stderr, "refused: %d %s\n", rc, imconv_error_str(rc));
    /* end */
    return rc == IMCONV_ERR_INVALID_PARAMETERS ? 0 : 1;
}

static int string_free_example(const imconv_conversation *conversation, char *out, size_t size) {
    /* example: imconv_string_free */
    /* Every string the library allocates for the caller goes back here. */
    char *json = imconv_conversation_to_json(conversation);
    if (json == NULL) return 1;
    snprintf(out, size, "%s", json);
    imconv_string_free(json);
    /* end */
    return 0;
}

/* Keeps one view past its callback (a UI model holding its rows). */
struct kept {
    struct call call;
    const imconv_conversation *view;
};

static void keep_view(const imconv_conversation *conversation, void *user_data) {
    struct kept *k = user_data;
    /* example: imconv_conversation_retain */
    /* Inside the callback: the view outlives it until released. */
    k->view = imconv_conversation_retain(conversation);
    /* end */
    call_finish(&k->call, IMCONV_OK, NULL);
}

static int retain_example(imconv_sdk *sdk, char *show_name, size_t size) {
    struct kept k = {CALL_INIT, NULL};
    if (call_result(imconv_get_conversation(sdk, "c2c_bob", keep_view, call_failed, &k), &k.call) != IMCONV_OK)
        return 1;
    snprintf(show_name, size, "%s", k.view->show_name); /* read after its callback returned */
    /* example: imconv_conversation_release */
    imconv_conversation_release(k.view); /* once per retain; NULL is a no-op */
    k.view = NULL;
    /* end */
    return 0;
}

/* The JSON of one conversation, made twice (by both examples below). */
struct json_pair {
    struct call call;
    char first[512], second[512];
};

static void json_view(const imconv_conversation *conversation, void *user_data) {
    struct json_pair *p = user_data;
    /* example: imconv_conversation_to_json */
    /* Tencent's V2TIMConversation JSON of a view (free it with imconv_string_free). */
    char *json = imconv_conversation_to_json(conversation);
    printf("%s\n", json);
    /* end */
    snprintf(p->first, sizeof p->first, "%s", json ? json : "");
    imconv_string_free(json);
    int failed = string_free_example(conversation, p->second, sizeof p->second);
    call_finish(&p->call, failed ? IMCONV_ERR_INTERNAL : IMCONV_OK, NULL);
}

static int to_json_example(imconv_sdk *sdk, char *out, size_t size) {
    struct json_pair p = {CALL_INIT, "", ""};
    if (call_result(imconv_get_conversation(sdk, "c2c_bob", json_view, call_failed, &p), &p.call) != IMCONV_OK)
        return 1;
    snprintf(out, size, "%s", p.first);
    return strcmp(p.first, p.second) == 0 ? 0 : 1; /* the same JSON twice */
}

static int host_example(const char *data_dir, uint64_t *unread) {
    char config[600];
    snprintf(config, sizeof config, "{\"user_id\": \"alice\", \"data_dir\": \"%s\", \"delivery\": \"host\"}",
             data_dir);
    imconv_sdk *sdk = NULL;
    if (imconv_sdk_new(config, &sdk, NULL) != IMCONV_OK) return 1;
    struct call c = CALL_INIT;
    if (imconv_get_total_unread(sdk, NULL, call_counted, call_failed, &c) != IMCONV_OK) return 1;
    /* example: imconv_event_fd */
    /* With "delivery": "host", callbacks wait for imconv_dispatch: wait for
       the descriptor in the app's own loop (poll, GLib, Qt, a game loop). */
    struct pollfd ready = {imconv_event_fd(sdk), POLLIN, 0};
    while (!c.finished && poll(&ready, 1, -1) >= 0) {
        imconv_dispatch(sdk, 0);
    }
    /* end */
    *unread = c.count;
    struct call second = CALL_INIT;
    if (imconv_get_total_unread(sdk, NULL, call_counted, call_failed, &second) != IMCONV_OK) return 1;
    /* example: imconv_dispatch */
    /* Runs the waiting callbacks on this thread (0: all waiting now). */
    size_t ran = 0;
    while (!second.finished) {
        poll(&ready, 1, -1);
        ran += imconv_dispatch(sdk, 0);
    }
    /* end */
    imconv_sdk_free(sdk);
    return ran >= 1 && second.count == *unread ? 0 : 1;
}

int main(int argc, char **argv) {
    char dir[512];
    scratch_dir(argc, argv, "instances", dir, sizeof dir);
    int log_lines = 0;
    EXPECT(log_example(&log_lines) == 0);
    EXPECT(version_example() == 0 && strlen(imconv_version()) > 0);
    imconv_sdk *sdk = new_example(dir);
    EXPECT(sdk != NULL);
    struct call c = CALL_INIT;
    EXPECT(call_result(imconv_import_conversations(
                           sdk, "[{\"conversationID\": \"c2c_bob\", \"showName\": \"Bob\", \"unreadCount\": 3}]",
                           call_done, call_failed, &c), &c) == IMCONV_OK);
    EXPECT(error_str_example(sdk) == 0);
    char name[64], json[512];
    EXPECT(retain_example(sdk, name, sizeof name) == 0 && !strcmp(name, "Bob"));
    EXPECT(to_json_example(sdk, json, sizeof json) == 0 && strstr(json, "\"conversationID\":\"c2c_bob\""));
    EXPECT(suspend_example(sdk) == 0);
    struct call refused = CALL_INIT;
    EXPECT(imconv_get_conversation(sdk, "c2c_bob", seen_copy, seen_failed, &refused) == IMCONV_ERR_SUSPENDED);
    EXPECT(resume_example(sdk) == 0);
    struct seen s;
    EXPECT(look(sdk, "c2c_bob", &s)->unread == 3);
    /* A second instance of the same store is refused while this one is open. */
    EXPECT(new_example(dir) == NULL);
    free_example(sdk);
    uint64_t unread = 0;
    EXPECT(host_example(dir, &unread) == 0 && unread == 3);
    EXPECT(wait_freed_example() == 0);
    EXPECT(delete_store_example(dir) == 0);
    sdk = new_example(dir); /* a new, empty store */
    EXPECT(sdk != NULL && !look(sdk, "c2c_bob", &s)->found);
    imconv_sdk_free(sdk);
    EXPECT(log_lines >= 1); /* the refused second open was logged as a warning */
    imconv_set_log_callback(IMCONV_LOG_WARN, NULL, NULL);
    printf("reference examples (instances): 15 examples ran and were checked\n");
    return 0;
}
