/* Several instances on one store through the C ABI (issue 28): "shared",
 * each instance sees the others' writes, imconv_suspend closes every file
 * and lock of the store (checked through /proc), imconv_resume catches up
 * and the listener hears what was written meanwhile. Run as
 *   test_shared <path/to/libimconv.so> <scratch_dir>
 * (also under ASan/UBSan).
 */
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

static const char *scratch;

static imconv_sdk *open_shared(void) {
    char config[1024];
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s/shared\",\"shared\":true}",
             scratch);
    return open_sdk(config);
}

/* The store's folder (data_dir/<user>). */
static void store_dir(char *out, size_t cap) { snprintf(out, cap, "%s/shared/me", scratch); }

/* How many of this process's descriptors name a file in the store's
   folder. */
static int descriptors_in_store(void) {
    char dir[1024], real_dir[PATH_MAX];
    store_dir(dir, sizeof dir);
    if (!realpath(dir, real_dir)) return -1;
    size_t n = strlen(real_dir);
    int count = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        char link[300], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0) continue;
        target[len] = '\0';
        if (strncmp(target, real_dir, n) == 0 && (target[n] == '/' || target[n] == '\0')) count++;
    }
    closedir(d);
    return count;
}

/* How many lines of /proc/locks name a file of the store's folder (by
   inode: the database, the counter file, the folder itself). */
static int locks_on_store(void) {
    char dir[1024], path[1200];
    store_dir(dir, sizeof dir);
    const char *names[] = {"", "/conversations.db", "/conversations.db-changes"};
    unsigned long inodes[3];
    for (int i = 0; i < 3; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s%s", dir, names[i]);
        inodes[i] = stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
    }
    FILE *f = fopen("/proc/locks", "r");
    if (!f) return -1;
    int count = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        /* "1: FLOCK  ADVISORY  READ 1234 08:01:5678 0 EOF" */
        char *field = strtok(line, " ");
        for (int i = 1; field && i < 6; i++) field = strtok(NULL, " ");
        const char *colon = field ? strrchr(field, ':') : NULL;
        if (!colon) continue;
        unsigned long inode = strtoul(colon + 1, NULL, 10);
        for (int i = 0; i < 3; i++)
            if (inodes[i] && inode == inodes[i]) count++;
    }
    fclose(f);
    return count;
}

/* A listener that records the conversations it heard of and the last
   unread total. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char heard[16][64];
    int count;
    uint64_t total;
    int totals;
} recorder;

static void heard_new(const imconv_conversation *const *convs, size_t n, void *u) {
    recorder *r = u;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < n && r->count < 16; i++) {
        char *json = imconv_conversation_to_json(convs[i]);
        const char *id = json ? strstr(json, "\"conversationID\":\"") : NULL;
        if (id) {
            id += strlen("\"conversationID\":\"");
            size_t len = strcspn(id, "\"");
            snprintf(r->heard[r->count++], sizeof r->heard[0], "%.*s", (int)len, id);
        }
        imconv_string_free(json);
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void heard_total(uint64_t total, void *u) {
    recorder *r = u;
    pthread_mutex_lock(&r->lock);
    r->total = total;
    r->totals++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Waits (up to the test's bound) until the recorder heard `id` and a total
   of `total`; whether it did. */
static int wait_heard(recorder *r, const char *id, uint64_t total) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_seconds();
    pthread_mutex_lock(&r->lock);
    int found = 0;
    for (;;) {
        found = 0;
        for (int i = 0; i < r->count; i++) found |= strcmp(r->heard[i], id) == 0;
        if ((found && r->totals > 0 && r->total == total) ||
            pthread_cond_timedwait(&r->cond, &r->lock, &until) != 0)
            break;
    }
    int ok = found && r->totals > 0 && r->total == total;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static void apply_sync(imconv_sdk *sdk, const char *json, call *c) {
    call_reset(c);
    CHECK_INT(imconv_apply_messages(sdk, json, on_done, on_fail, c), IMCONV_OK);
    call_wait(c);
    CHECK_INT(c->successes, 1);
}

static void total_cb(uint64_t total, void *u) {
    call *c = u;
    c->code = (int32_t)total;
    call_finish(c, 1);
}

static uint64_t total_sync(imconv_sdk *sdk, call *c) {
    call_reset(c);
    CHECK_INT(imconv_get_total_unread(sdk, NULL, total_cb, on_fail, c), IMCONV_OK);
    call_wait(c);
    CHECK_INT(c->successes, 1);
    return (uint64_t)c->code;
}

static void test_each_instance_sees_the_others_writes_at_once(void) {
    imconv_sdk *app = open_shared(), *extension = open_shared();
    CHECK(app && extension);
    if (!app || !extension) return;
    call c;
    call_init(&c);
    CHECK_INT(total_sync(app, &c), 0);
    get_sync(app, "c2c_push", &c); /* not stored (and cached as such) */
    CHECK_INT(c.count, 1);
    if (c.count) CHECK_CONTAINS(c.jsons[0], "\"unreadCount\":0,");
    apply_sync(extension,
               "[{\"conversationID\":\"c2c_push\",\"msgID\":\"p1\",\"timestamp\":10}]", &c);
    /* Acknowledged in the extension: the app's next calls return it. */
    get_sync(app, "c2c_push", &c);
    CHECK_INT(c.count, 1);
    if (c.count) CHECK_CONTAINS(c.jsons[0], "\"unreadCount\":1,");
    CHECK_INT(total_sync(app, &c), 1);
    /* The same message applied by the app counts once. */
    apply_sync(app, "[{\"conversationID\":\"c2c_push\",\"msgID\":\"p1\",\"timestamp\":10}]", &c);
    CHECK_INT(total_sync(extension, &c), 1);
    CHECK_INT(total_sync(app, &c), 1);
    imconv_sdk_free(extension);
    imconv_sdk_free(app);
    call_destroy(&c);
}

static void test_suspend_closes_every_file_and_resume_catches_up(void) {
    recorder rec;
    memset(&rec, 0, sizeof rec);
    pthread_mutex_init(&rec.lock, NULL);
    pthread_cond_init(&rec.cond, NULL);
    imconv_sdk *app = open_shared();
    CHECK(app != NULL);
    if (!app) return;
    imconv_listener l;
    imconv_listener_init(&l);
    l.on_new = heard_new;
    l.on_total_unread_changed = heard_total;
    l.user_data = &rec;
    uint64_t listener = 0;
    CHECK_INT(imconv_add_listener(app, &l, &listener), IMCONV_OK);
    call c;
    call_init(&c);
    uint64_t before = total_sync(app, &c);

    CHECK(descriptors_in_store() > 0);
    CHECK(locks_on_store() > 0);
    char *error = NULL;
    CHECK_INT(imconv_suspend(app, &error), IMCONV_OK);
    CHECK(error == NULL);
    CHECK_INT(imconv_suspend(app, NULL), IMCONV_OK); /* again: nothing to do */
    CHECK_INT(descriptors_in_store(), 0);
    CHECK_INT(locks_on_store(), 0);
    /* Calls that need the store are refused while suspended. */
    CHECK_INT(imconv_get_conversation(app, "c2c_push", on_one, on_fail, &c), IMCONV_ERR_SUSPENDED);
    CHECK_INT(imconv_apply_messages(app, "[]", on_done, on_fail, &c), IMCONV_ERR_SUSPENDED);
    CHECK_CONTAINS(imconv_error_str(IMCONV_ERR_SUSPENDED), "suspended");

    /* Another instance writes meanwhile (here in this process; the Rust
       and Python tests do it from another process). */
    imconv_sdk *extension = open_shared();
    CHECK(extension != NULL);
    if (extension) {
        apply_sync(extension,
                   "[{\"conversationID\":\"c2c_while\",\"msgID\":\"w1\",\"timestamp\":20},"
                   "{\"conversationID\":\"c2c_while\",\"msgID\":\"w2\",\"timestamp\":21}]",
                   &c);
        imconv_sdk_free(extension);
    }

    CHECK_INT(imconv_resume(app, &error), IMCONV_OK);
    CHECK(error == NULL);
    CHECK_INT(imconv_resume(app, NULL), IMCONV_OK); /* not suspended: nothing to do */
    CHECK(descriptors_in_store() > 0);
    /* The listener hears what was written while the app was suspended. */
    CHECK(wait_heard(&rec, "c2c_while", before + 2));
    get_sync(app, "c2c_while", &c);
    CHECK_INT(c.count, 1);
    if (c.count) CHECK_CONTAINS(c.jsons[0], "\"unreadCount\":2,");
    CHECK_INT(total_sync(app, &c), before + 2);
    CHECK_INT(imconv_remove_listener(app, listener), IMCONV_OK);
    imconv_sdk_free(app);
    call_destroy(&c);
    pthread_mutex_destroy(&rec.lock);
    pthread_cond_destroy(&rec.cond);
}

static void test_bad_arguments_get_a_code_and_a_message(void) {
    char *error = NULL;
    CHECK_INT(imconv_suspend(NULL, &error), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK(error != NULL);
    if (error) CHECK_CONTAINS(error, "sdk");
    imconv_string_free(error);
    error = NULL;
    CHECK_INT(imconv_resume(NULL, &error), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK(error != NULL);
    imconv_string_free(error);
    CHECK_INT(imconv_resume(NULL, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    /* "shared" needs a folder. */
    imconv_sdk *sdk = NULL;
    error = NULL;
    CHECK_INT(imconv_sdk_new("{\"user_id\":\"me\",\"shared\":true}", &sdk, &error),
              IMCONV_ERR_INVALID_PARAMETERS);
    CHECK(sdk == NULL);
    if (error) CHECK_CONTAINS(error, "data_dir");
    imconv_string_free(error);
    /* A store opened shared refuses an instance that is not. */
    imconv_sdk *shared = open_shared();
    char config[1024];
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s/shared\"}", scratch);
    error = NULL;
    CHECK_INT(imconv_sdk_new(config, &sdk, &error), IMCONV_ERR_STORE_LOCKED);
    imconv_string_free(error);
    imconv_sdk_free(shared);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir>\n", argv[0]);
        return 2;
    }
    scratch = argv[2];
    RUN(test_each_instance_sees_the_others_writes_at_once);
    RUN(test_suspend_closes_every_file_and_resume_catches_up);
    RUN(test_bad_arguments_get_a_code_and_a_message);
    return test_summary();
}
