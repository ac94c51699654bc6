/* Load, use, free and unload the library 50 times:
 *   test_dlopen <path/to/libimconv.so> <scratch_dir>
 * imconv_sdk_free must leave no thread behind, or a later cycle (or the
 * process exit) would run unmapped code. */
#include <dlfcn.h>

#include "testlib.h"

typedef int32_t (*sdk_new_fn)(const char *, imconv_sdk **, char **);
typedef void (*sdk_free_fn)(imconv_sdk *);
typedef int32_t (*get_fn)(imconv_sdk *, const char *, imconv_conversation_callback,
                          imconv_error_callback, void *);
typedef int32_t (*import_fn)(imconv_sdk *, const char *, imconv_done_callback,
                             imconv_error_callback, void *);

static const char *library;

typedef struct {
    call done;
    char show_name[64];
    int stored;
} answer;

static void on_answer(const imconv_conversation *c, void *user_data) {
    answer *a = user_data;
    snprintf(a->show_name, sizeof a->show_name, "%s", c->show_name);
    a->stored = c->is_stored;
    call_finish(&a->done, 1);
}

static void *sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (!p) {
        fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
        current_failed = 1;
    }
    return p;
}

static void test_dlopen_dlclose_50_cycles(void) {
    for (int cycle = 0; cycle < 50 && !current_failed; cycle++) {
        void *lib = dlopen(library, RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            current_failed = 1;
            return;
        }
        sdk_new_fn sdk_new;
        sdk_free_fn sdk_free;
        get_fn get;
        import_fn import;
        void *p;
        p = sym(lib, "imconv_sdk_new"); memcpy(&sdk_new, &p, sizeof p);
        p = sym(lib, "imconv_sdk_free"); memcpy(&sdk_free, &p, sizeof p);
        p = sym(lib, "imconv_get_conversation"); memcpy(&get, &p, sizeof p);
        p = sym(lib, "imconv_import_conversations"); memcpy(&import, &p, sizeof p);
        if (current_failed) return;

        imconv_sdk *sdk = NULL;
        CHECK_INT(sdk_new("{\"user_id\":\"me\"}", &sdk, NULL), IMCONV_OK);
        char doc[128];
        snprintf(doc, sizeof doc, "[{\"conversationID\":\"c2c_peer\",\"showName\":\"cycle %d\"}]", cycle);
        call imported;
        call_init(&imported);
        CHECK_INT(import(sdk, doc, on_done, on_fail, &imported), IMCONV_OK);
        call_wait(&imported);
        CHECK_INT(imported.successes, 1);
        call_destroy(&imported);

        answer a;
        call_init(&a.done);
        CHECK_INT(get(sdk, "c2c_peer", on_answer, on_fail, &a), IMCONV_OK);
        call_wait(&a.done);
        char expect[64];
        snprintf(expect, sizeof expect, "cycle %d", cycle);
        CHECK_STR(a.show_name, expect);
        CHECK(a.stored);
        call_destroy(&a.done);

        sdk_free(sdk);
        CHECK_INT(library_threads(), 0);
        CHECK_INT(dlclose(lib), 0);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir>\n", argv[0]);
        return 2;
    }
    library = argv[1];
    RUN(test_dlopen_dlclose_50_cycles);
    return test_summary();
}
