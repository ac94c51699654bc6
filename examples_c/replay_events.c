/*
 * The conversation manager: replay a recorded event stream, then print the
 * conversation list page by page, as a chat app's first screen would.
 *
 *   replay_events <data_dir> <event_stream.txt>
 *
 * A listener prints what each event changed. Every call is asynchronous;
 * this program waits for each one before the next, as a simple client
 * would (a real one keeps going and reacts in the callbacks).
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
    int32_t code;
} waiter;

static waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void finish(int32_t code) {
    pthread_mutex_lock(&w.lock);
    w.code = code;
    w.done = 1;
    pthread_cond_signal(&w.cond);
    pthread_mutex_unlock(&w.lock);
}

static void on_done(void *user_data) {
    (void)user_data;
    finish(IMCONV_OK);
}

static void on_error(int32_t code, const char *desc, void *user_data) {
    (void)user_data;
    fprintf(stderr, "  error %d (%s): %s\n", code, imconv_error_str(code), desc);
    finish(code);
}

/* Waits for the callback of an accepted call; returns its code. */
static int32_t wait_for(int32_t rc) {
    if (rc != IMCONV_OK) return rc;
    pthread_mutex_lock(&w.lock);
    while (!w.done) pthread_cond_wait(&w.cond, &w.lock);
    w.done = 0;
    pthread_mutex_unlock(&w.lock);
    return w.code;
}

/* ---- the listener: what the UI would redraw ---------------------------- */

static void print_ids(const char *what, const imconv_conversation *const *c, size_t n) {
    printf("    event: %s", what);
    for (size_t i = 0; i < n; i++) printf(" %s", c[i]->conversation_id);
    printf("\n");
}
static void on_new(const imconv_conversation *const *c, size_t n, void *u) {
    (void)u;
    print_ids("new", c, n);
}
static void on_changed(const imconv_conversation *const *c, size_t n, void *u) {
    (void)u;
    print_ids("changed", c, n);
}
static void on_deleted(const char *const *ids, size_t n, void *u) {
    (void)u;
    printf("    event: deleted");
    for (size_t i = 0; i < n; i++) printf(" %s", ids[i]);
    printf("\n");
}
static void on_total(uint64_t total, void *u) {
    (void)u;
    printf("    event: total unread %llu\n", (unsigned long long)total);
}

/* ---- replay -------------------------------------------------------------- */

static int32_t replay(imconv_sdk *sdk, char *line) {
    char *args = strchr(line, ' ');
    if (!args) return IMCONV_ERR_INVALID_PARAMETERS;
    *args++ = '\0';
    if (strcmp(line, "messages") == 0)
        return wait_for(imconv_apply_messages(sdk, args, on_done, on_error, NULL));
    if (strcmp(line, "profiles") == 0)
        return wait_for(imconv_update_profiles(sdk, args, on_done, on_error, NULL));
    if (strcmp(line, "sync") == 0) /* what the server sends after a reconnect */
        return wait_for(imconv_sync_conversations(sdk, args, on_done, on_error, NULL));
    char *id = strtok(args, " ");
    char *rest = strtok(NULL, "");
    if (strcmp(line, "pin") == 0)
        return wait_for(imconv_pin_conversation(sdk, id, true, on_done, on_error, NULL));
    if (strcmp(line, "draft") == 0)
        return wait_for(imconv_set_draft(sdk, id, rest, on_done, on_error, NULL));
    if (strcmp(line, "read") == 0)
        return wait_for(imconv_clean_unread(sdk, id, 0, 0, on_done, on_error, NULL));
    const char *ids[IMCONV_MAX_IDS_PER_CALL] = {id};
    if (strcmp(line, "recv_opt") == 0)
        return wait_for(imconv_set_recv_opt(sdk, ids, 1, rest ? atoi(rest) : 0, on_done, on_error, NULL));
    if (strcmp(line, "mark") == 0)
        return wait_for(imconv_mark_conversations(sdk, ids, 1, rest ? strtoull(rest, NULL, 0) : 0, true,
                                                  on_done, on_error, NULL));
    if (strcmp(line, "delete") == 0)
        return wait_for(imconv_delete_conversations(sdk, ids, 1, on_done, on_error, NULL));
    if (strcmp(line, "group") == 0) { /* group <name> <id> <id> ... */
        size_t n = 0;
        for (char *t = strtok(rest, " "); t && n < IMCONV_MAX_IDS_PER_CALL; t = strtok(NULL, " ")) ids[n++] = t;
        return wait_for(imconv_create_group(sdk, id, ids, n, on_done, on_error, NULL));
    }
    fprintf(stderr, "  unknown event '%s'\n", line);
    return IMCONV_ERR_INVALID_PARAMETERS;
}

/* ---- the list, page by page ---------------------------------------------- */

static char next_cursor[512];
static int finished;

static void on_page(const imconv_conversation *const *c, size_t n, const char *next, bool is_finished,
                    void *u) {
    (void)u;
    for (size_t i = 0; i < n; i++) {
        const imconv_conversation *v = c[i];
        printf("  %-6s %-22s %-14s unread %-3llu %s%s%s\n", v->is_pinned ? "[pin]" : "",
               v->show_name, v->conversation_id, (unsigned long long)v->unread_count,
               v->last_message ? v->last_message->msg_id : "-",
               v->draft_text[0] ? "  draft: " : "", v->draft_text);
    }
    snprintf(next_cursor, sizeof next_cursor, "%s", next); /* copy: valid only here */
    finished = is_finished;
    finish(IMCONV_OK);
}

static uint64_t total_unread;
static void on_count(uint64_t value, void *u) {
    (void)u;
    total_unread = value;
    finish(IMCONV_OK);
}

int main(int argc, char **argv) {
    if (argc != 3 || strchr(argv[1], '"') || strchr(argv[1], '\\')) {
        fprintf(stderr, "usage: %s <data_dir> <event_stream.txt>\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    char config[1024];
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s\"}", argv[1]);
    imconv_sdk *sdk = NULL;
    char *error = NULL;
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "imconv_sdk_new: %s\n", error);
        imconv_string_free(error);
        fclose(f);
        return 1;
    }
    imconv_listener listener;
    imconv_listener_init(&listener);
    listener.on_new = on_new;
    listener.on_changed = on_changed;
    listener.on_deleted = on_deleted;
    listener.on_total_unread_changed = on_total;
    uint64_t listener_id = 0;
    imconv_add_listener(sdk, &listener, &listener_id);

    char line[8192];
    int failed = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') continue;
        printf("%.90s%s\n", line, strlen(line) > 90 ? "..." : "");
        if (replay(sdk, line) != IMCONV_OK) failed = 1;
    }
    fclose(f);
    imconv_remove_listener(sdk, listener_id);

    printf("\nConversation list (pinned first, then newest), 3 per page:\n");
    next_cursor[0] = '\0';
    int page = 0;
    do {
        printf(" page %d\n", ++page);
        if (wait_for(imconv_get_conversation_page(sdk, NULL, next_cursor, 3, on_page, on_error, NULL)) != IMCONV_OK) {
            failed = 1;
            break;
        }
    } while (!finished);
    if (wait_for(imconv_get_total_unread(sdk, NULL, on_count, on_error, NULL)) == IMCONV_OK)
        printf("Total unread (muted conversations left out): %llu\n", (unsigned long long)total_unread);

    imconv_sdk_free(sdk);
    return failed;
}
