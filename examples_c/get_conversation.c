/*
 * getConversation: look up one conversation by its ID.
 *
 *   get_conversation <data_dir>
 *
 * Opens the store of user "me" under <data_dir> (run import_conversations
 * first), looks up a stored conversation, one that is not stored (the answer
 * is a temporary conversation) and an invalid ID (the answer is an error).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imconv.h"

/* Callbacks run on the library's callback thread: the caller waits here. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} waiter;

static void waiter_init(waiter *w) {
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->done = 0;
}

static void waiter_signal(waiter *w) {
    pthread_mutex_lock(&w->lock);
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void waiter_wait(waiter *w) {
    pthread_mutex_lock(&w->lock);
    while (!w->done) pthread_cond_wait(&w->cond, &w->lock);
    w->done = 0;
    pthread_mutex_unlock(&w->lock);
}

static void print_conversation(const imconv_conversation *c) {
    printf("  %s (%s)%s\n", c->conversation_id,
           c->type == IMCONV_CONVERSATION_TYPE_C2C ? "one-to-one" : "group",
           c->is_stored ? "" : "  [temporary: not stored]");
    printf("    show_name:    %s\n", c->show_name);
    printf("    unread_count: %llu%s\n", (unsigned long long)c->unread_count,
           c->recv_opt == IMCONV_RECV_OPT_RECEIVE ? "" : "  (muted)");
    printf("    pinned:       %s\n", c->is_pinned ? "yes" : "no");
    if (c->last_message) {
        printf("    last message: %s from %s at %lld\n", c->last_message->msg_id,
               c->last_message->sender, (long long)c->last_message->timestamp);
    } else {
        printf("    last message: (none)\n");
    }
    if (c->draft_text[0] != '\0') printf("    draft:        \"%s\"\n", c->draft_text);
    for (size_t i = 0; i < c->group_at_info_count; i++) {
        printf("    @ mention:    seq %llu, type %d\n",
               (unsigned long long)c->group_at_info_list[i].seq, c->group_at_info_list[i].at_type);
    }
}

/* The view is valid only during the callback: use or copy it here. */
static void on_conversation(const imconv_conversation *conversation, void *user_data) {
    print_conversation(conversation);
    char *json = imconv_conversation_to_json(conversation); /* ours to free */
    if (json) {
        printf("    as JSON:      %.100s...\n", json);
        imconv_string_free(json);
    }
    waiter_signal(user_data);
}

static void on_error(int32_t code, const char *desc, void *user_data) {
    printf("  error %d (%s): %s\n", code, imconv_error_str(code), desc);
    waiter_signal(user_data);
}

/* Builds {"user_id":"me","data_dir":"<dir>"}, escaping the path for JSON. */
static char *config_for(const char *data_dir) {
    size_t n = strlen(data_dir);
    char *json = malloc(64 + 2 * n);
    if (!json) return NULL;
    char *p = json + sprintf(json, "{\"user_id\":\"me\",\"data_dir\":\"");
    for (size_t i = 0; i < n; i++) {
        if (data_dir[i] == '"' || data_dir[i] == '\\') *p++ = '\\';
        *p++ = data_dir[i];
    }
    strcpy(p, "\"}");
    return json;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <data_dir>\n", argv[0]);
        return 2;
    }
    char *config = config_for(argv[1]);
    imconv_sdk *sdk = NULL;
    char *error = NULL;
    int32_t rc = imconv_sdk_new(config, &sdk, &error);
    free(config);
    if (rc != IMCONV_OK) {
        fprintf(stderr, "imconv_sdk_new failed: %d %s\n", rc, error);
        imconv_string_free(error);
        return 1;
    }

    waiter w;
    waiter_init(&w);
    const char *ids[] = {"c2c_alice", "c2c_nobody", "alice"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        printf("getConversation(\"%s\"):\n", ids[i]);
        /* IMCONV_OK: exactly one of the two callbacks will run, once. */
        rc = imconv_get_conversation(sdk, ids[i], on_conversation, on_error, &w);
        if (rc != IMCONV_OK) {
            fprintf(stderr, "call refused: %d %s\n", rc, imconv_error_str(rc));
            break;
        }
        waiter_wait(&w);
    }

    imconv_sdk_free(sdk); /* delivers what is owed, joins the threads */
    return rc == IMCONV_OK ? 0 : 1;
}
