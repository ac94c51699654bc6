/* A program built against an installed imconv: it opens an in-memory
 * instance, imports a conversation, looks it up and prints it. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <imconv.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int done, ok;

static void finish(int success) {
    pthread_mutex_lock(&lock);
    done = 1;
    ok = success;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static void wait_done(void) {
    pthread_mutex_lock(&lock);
    while (!done) pthread_cond_wait(&cond, &lock);
    done = 0;
    pthread_mutex_unlock(&lock);
}

static void imported(void *u) { (void)u; finish(1); }
static void found(const imconv_conversation *c, void *u) {
    (void)u;
    printf("%s: %s\n", c->conversation_id, c->show_name);
    finish(c->is_stored && strcmp(c->show_name, "Alice") == 0);
}
static void failed(int32_t code, const char *desc, void *u) {
    (void)u;
    fprintf(stderr, "error %d: %s\n", code, desc);
    finish(0);
}

int main(void) {
    imconv_sdk *sdk = NULL;
    char *error = NULL;
    if (imconv_sdk_new("{\"user_id\":\"me\"}", &sdk, &error) != IMCONV_OK) {
        fprintf(stderr, "%s\n", error);
        return 1;
    }
    printf("imconv %s\n", imconv_version());
    imconv_import_conversations(sdk, "[{\"conversationID\":\"c2c_alice\",\"showName\":\"Alice\"}]",
                                imported, failed, NULL);
    wait_done();
    imconv_get_conversation(sdk, "c2c_alice", found, failed, NULL);
    wait_done();
    imconv_sdk_free(sdk);
    return ok ? 0 : 1;
}
