/*
 * Load imconv at run time with dlopen, look up one conversation, unload.
 *
 *   dlopen_demo <path/to/libimconv.so> <data_dir>
 *
 * imconv_sdk_free joins every thread of the instance before it returns, so
 * dlclose right after it is safe.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imconv.h" /* only for the types and constants */

typedef int32_t (*sdk_new_fn)(const char *, imconv_sdk **, char **);
typedef void (*sdk_free_fn)(imconv_sdk *);
typedef int32_t (*get_fn)(imconv_sdk *, const char *, imconv_conversation_callback,
                          imconv_error_callback, void *);
typedef const char *(*version_fn)(void);
typedef void (*string_free_fn)(char *);

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} waiter;

static void signal_done(waiter *w) {
    pthread_mutex_lock(&w->lock);
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void on_conversation(const imconv_conversation *c, void *user_data) {
    printf("  %s: \"%s\", %llu unread\n", c->conversation_id, c->show_name,
           (unsigned long long)c->unread_count);
    signal_done(user_data);
}

static void on_error(int32_t code, const char *desc, void *user_data) {
    printf("  error %d: %s\n", code, desc);
    signal_done(user_data);
}

/* dlsym returns void *; C99 has no cast from it to a function pointer, so
 * copy the bits (POSIX guarantees they fit). */
static void *resolve(void *lib, const char *name, void *out_fn, size_t size) {
    void *sym = dlsym(lib, name);
    if (!sym) fprintf(stderr, "missing symbol %s: %s\n", name, dlerror());
    else memcpy(out_fn, &sym, size);
    return sym;
}

int main(int argc, char **argv) {
    if (argc != 3 || strchr(argv[2], '"') || strchr(argv[2], '\\')) {
        fprintf(stderr, "usage: %s <libimconv.so> <data_dir without quotes or backslashes>\n",
                argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    sdk_new_fn sdk_new;
    sdk_free_fn sdk_free;
    get_fn get_conversation;
    version_fn version;
    string_free_fn string_free;
    if (!resolve(lib, "imconv_sdk_new", &sdk_new, sizeof sdk_new) ||
        !resolve(lib, "imconv_sdk_free", &sdk_free, sizeof sdk_free) ||
        !resolve(lib, "imconv_get_conversation", &get_conversation, sizeof get_conversation) ||
        !resolve(lib, "imconv_version", &version, sizeof version) ||
        !resolve(lib, "imconv_string_free", &string_free, sizeof string_free)) {
        dlclose(lib);
        return 1;
    }
    printf("loaded imconv %s\n", version());

    char config[4096];
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s\"}", argv[2]);
    imconv_sdk *sdk = NULL;
    char *error = NULL;
    int32_t rc = sdk_new(config, &sdk, &error);
    if (rc != IMCONV_OK) {
        fprintf(stderr, "imconv_sdk_new failed: %d %s\n", rc, error);
        string_free(error);
        dlclose(lib);
        return 1;
    }
    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    rc = get_conversation(sdk, "group_@TGS#_project-apollo", on_conversation, on_error, &w);
    if (rc == IMCONV_OK) {
        pthread_mutex_lock(&w.lock);
        while (!w.done) pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
    }
    sdk_free(sdk);      /* joins the library's threads ... */
    if (dlclose(lib)) { /* ... so unloading it now is safe */
        fprintf(stderr, "dlclose: %s\n", dlerror());
        return 1;
    }
    printf("unloaded\n");
    return rc == IMCONV_OK ? 0 : 1;
}
