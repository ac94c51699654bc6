/*
 * Import conversations from a JSON file (Tencent's V2 field names).
 *
 *   import_conversations <data_dir> <file.json>
 *
 * The import is all or nothing: on success every conversation is committed
 * to the store of user "me" under <data_dir>; on error nothing is, and the
 * message names the element and the field at fault.
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
} import_request;

static void finish(import_request *r, int32_t code) {
    pthread_mutex_lock(&r->lock);
    r->code = code;
    r->done = 1;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void on_imported(void *user_data) { finish(user_data, IMCONV_OK); }

static void on_error(int32_t code, const char *desc, void *user_data) {
    fprintf(stderr, "import failed: %d (%s): %s\n", code, imconv_error_str(code), desc);
    finish(user_data, code);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (text && fread(text, 1, (size_t)size, f) == (size_t)size) {
        text[size] = '\0';
    } else {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
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
    if (argc != 3) {
        fprintf(stderr, "usage: %s <data_dir> <file.json>\n", argv[0]);
        return 2;
    }
    char *document = read_file(argv[2]);
    if (!document) {
        perror(argv[2]);
        return 1;
    }
    char *config = config_for(argv[1]);
    imconv_sdk *sdk = NULL;
    char *error = NULL;
    int32_t rc = imconv_sdk_new(config, &sdk, &error);
    free(config);
    if (rc != IMCONV_OK) {
        fprintf(stderr, "imconv_sdk_new failed: %d %s\n", rc, error);
        imconv_string_free(error);
        free(document);
        return 1;
    }

    import_request r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    rc = imconv_import_conversations(sdk, document, on_imported, on_error, &r);
    free(document); /* the library copied it */
    if (rc == IMCONV_OK) {
        pthread_mutex_lock(&r.lock);
        while (!r.done) pthread_cond_wait(&r.cond, &r.lock);
        pthread_mutex_unlock(&r.lock);
        rc = r.code;
    }
    if (rc == IMCONV_OK) printf("imported %s into %s/me/\n", argv[2], argv[1]);

    imconv_sdk_free(sdk);
    return rc == IMCONV_OK ? 0 : 1;
}
