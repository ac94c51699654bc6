/*
 * The one helper of the reference's examples (docs/reference/): a call's
 * outcome, waited for on the calling thread. imconv answers every
 * asynchronous call on its callback thread; a real program carries on and
 * reacts in the callback, the examples wait so that they read top to
 * bottom. Each example is a region of the .c files of examples_c/reference between
 * an "example:" comment and an "end" comment; `make test` compiles the
 * files with -Wall -Wextra -Werror and runs them, plainly and under
 * ASan+UBSan, and each program checks what its examples did.
 */
#ifndef IMCONV_REFERENCE_EXAMPLE_H
#define IMCONV_REFERENCE_EXAMPLE_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imconv.h"

/* One call in flight: set up with CALL_INIT, pass &call as user_data. */
struct call {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int finished;
    int32_t code;      /* IMCONV_OK, or the code on_error received */
    char desc[512];    /* on_error's message, copied */
    uint64_t count;    /* what a count callback received */
    size_t n;          /* how many conversations or strings a list callback received */
    char text[512];    /* the first conversation's ID, or the first string */
};
#define CALL_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, "", 0, 0, ""}

static inline void call_finish(struct call *c, int32_t code, const char *desc) {
    pthread_mutex_lock(&c->lock);
    c->code = code;
    snprintf(c->desc, sizeof c->desc, "%s", desc ? desc : "");
    c->finished = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* imconv_done_callback */
static inline void call_done(void *user_data) { call_finish(user_data, IMCONV_OK, NULL); }

/* imconv_error_callback: desc is borrowed for the callback, so it is copied. */
static inline void call_failed(int32_t code, const char *desc, void *user_data) {
    call_finish(user_data, code, desc);
}

/* imconv_count_callback */
static inline void call_counted(uint64_t value, void *user_data) {
    struct call *c = user_data;
    c->count = value;
    call_finish(c, IMCONV_OK, NULL);
}

/* imconv_conversation_list_callback: keeps the count and the first ID. */
static inline void call_listed(const imconv_conversation *const *conversations, size_t count, void *user_data) {
    struct call *c = user_data;
    c->n = count;
    snprintf(c->text, sizeof c->text, "%s", count ? conversations[0]->conversation_id : "");
    call_finish(c, IMCONV_OK, NULL);
}

/* imconv_string_list_callback: keeps the count and the first string. */
static inline void call_strings(const char *const *strings, size_t count, void *user_data) {
    struct call *c = user_data;
    c->n = count;
    snprintf(c->text, sizeof c->text, "%s", count ? strings[0] : "");
    call_finish(c, IMCONV_OK, NULL);
}

/* Waits for the callback; returns IMCONV_OK or the error's code. */
static inline int32_t call_wait(struct call *c) {
    pthread_mutex_lock(&c->lock);
    while (!c->finished) pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    return c->code;
}

/* Starts nothing when rc is not IMCONV_OK (the call made no callback). */
static inline int32_t call_result(int32_t rc, struct call *c) {
    if (rc != IMCONV_OK) {
        snprintf(c->desc, sizeof c->desc, "%s", imconv_error_str(rc));
        return rc;
    }
    return call_wait(c);
}

/* What the checks of the example programs read of one conversation. */
struct seen {
    int found;
    uint64_t unread;
    int pinned;
    int recv_opt;
    size_t marks, groups;
    char show_name[128], draft[128], custom[128], last_msg[128];
    struct call call;
};

static inline void seen_copy(const imconv_conversation *c, void *user_data) {
    struct seen *s = user_data;
    s->found = c->is_stored;
    s->unread = c->unread_count;
    s->pinned = c->is_pinned;
    s->recv_opt = c->recv_opt;
    s->marks = c->mark_count;
    s->groups = c->conversation_group_count;
    snprintf(s->show_name, sizeof s->show_name, "%s", c->show_name);
    snprintf(s->draft, sizeof s->draft, "%s", c->draft_text);
    snprintf(s->custom, sizeof s->custom, "%s", c->custom_data);
    snprintf(s->last_msg, sizeof s->last_msg, "%s", c->last_message ? c->last_message->msg_id : "");
    call_finish(&s->call, IMCONV_OK, NULL);
}

static inline void seen_failed(int32_t code, const char *desc, void *user_data) {
    struct seen *s = user_data;
    call_finish(&s->call, code, desc);
}

/* Reads one conversation for a check (exits on a failed lookup). */
static inline struct seen *look(imconv_sdk *sdk, const char *id, struct seen *s) {
    struct seen empty = {0, 0, 0, 0, 0, 0, "", "", "", "", CALL_INIT};
    *s = empty;
    if (call_result(imconv_get_conversation(sdk, id, seen_copy, seen_failed, s), &s->call) != IMCONV_OK) {
        fprintf(stderr, "lookup of %s failed: %s\n", id, s->call.desc);
        exit(1);
    }
    return s;
}

/* A check of the example programs: names what went wrong and exits 1. */
#define EXPECT(cond)                                                              \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

/* Opens an instance on `dir` with `extra` config members (or none). */
static inline imconv_sdk *open_store(const char *dir, const char *extra) {
    char config[1024];
    snprintf(config, sizeof config, "{\"user_id\": \"me\", \"data_dir\": \"%s\"%s%s}", dir,
             extra ? ", " : "", extra ? extra : "");
    imconv_sdk *sdk = NULL;
    char *error = NULL;
    if (imconv_sdk_new(config, &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "open failed: %s\n", error);
        imconv_string_free(error);
        exit(1);
    }
    return sdk;
}

/* The store folder of an example program: <scratch folder>/<name>, from
   its one argument (exits with a usage line without it). */
static inline void scratch_dir(int argc, char **argv, const char *name, char *dir, size_t size) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <scratch folder>\n", argv[0]);
        exit(2);
    }
    snprintf(dir, size, "%s/%s", argv[1], name);
}

#endif
