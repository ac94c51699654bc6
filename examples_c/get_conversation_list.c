/*
 * getConversationList: look up several conversations by their IDs.
 *
 *   get_conversation_list <data_dir>
 *
 * The answer holds the stored conversations among the IDs, in the order of
 * the request, each once: a repeated ID comes once, an ID that is not stored
 * is left out. The views are kept past the callback with
 * imconv_conversation_retain and printed by the main thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imconv.h"

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int32_t error_code;
    const imconv_conversation **kept; /* retained views, ours to release */
    size_t count;
} list_request;

static void finish(list_request *r) {
    pthread_mutex_lock(&r->lock);
    r->done = 1;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void on_list(const imconv_conversation *const *conversations, size_t count,
                    void *user_data) {
    list_request *r = user_data;
    /* The array is the library's, valid during this call: keep the views. */
    r->kept = calloc(count ? count : 1, sizeof *r->kept);
    for (size_t i = 0; r->kept && i < count; i++) {
        r->kept[i] = imconv_conversation_retain(conversations[i]);
    }
    r->count = r->kept ? count : 0;
    finish(r);
}

static void on_error(int32_t code, const char *desc, void *user_data) {
    list_request *r = user_data;
    fprintf(stderr, "error %d (%s): %s\n", code, imconv_error_str(code), desc);
    r->error_code = code;
    finish(r);
}

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

    /* "c2c_alice" twice, and one ID that is not stored. */
    const char *ids[] = {"group_@TGS#_project-apollo", "c2c_alice", "c2c_nobody",
                         "c2c_alice", "group_family"};
    size_t n = sizeof ids / sizeof ids[0];
    list_request r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL, 0};

    printf("getConversationList(%zu IDs):", n);
    for (size_t i = 0; i < n; i++) printf(" %s", ids[i]);
    printf("\n");
    rc = imconv_get_conversation_list(sdk, ids, n, on_list, on_error, &r);
    if (rc == IMCONV_OK) {
        pthread_mutex_lock(&r.lock);
        while (!r.done) pthread_cond_wait(&r.cond, &r.lock);
        pthread_mutex_unlock(&r.lock);
    }

    printf("%zu conversations:\n", r.count);
    for (size_t i = 0; i < r.count; i++) {
        const imconv_conversation *c = r.kept[i];
        printf("  %zu. %-28s %-20s unread %-3llu%s\n", i + 1, c->conversation_id, c->show_name,
               (unsigned long long)c->unread_count, c->is_pinned ? " pinned" : "");
        imconv_conversation_release(c); /* one release per retain */
    }
    free(r.kept);

    imconv_sdk_free(sdk);
    return rc == IMCONV_OK && r.error_code == 0 ? 0 : 1;
}
