/* Reliability of the store through the C ABI: the store lock across fork()
 * and against a deleted file, store folders for every valid user_id, file
 * permissions whatever the umask, stores that cannot be written, and
 * waiting for an instance freed from a callback. Run as
 *   test_reliability <path/to/libimconv.so> <scratch_dir>
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "testlib.h"

#ifdef AGAINST_0_1
#define IMCONV_ERR_READ_ONLY 6906
static int32_t imconv_wait_freed(uint32_t ms) { sleep_ms(ms > 500 ? 500 : ms); return IMCONV_OK; }
#endif

static const char *scratch;

static int32_t try_open(const char *config, imconv_sdk **out, char *why, size_t cap) {
    char *error = NULL;
    *out = NULL;
    int32_t rc = imconv_sdk_new(config, out, &error);
    if (why) snprintf(why, cap, "%s", error ? error : "");
    imconv_string_free(error);
    return rc;
}

static void config_for(char *out, size_t cap, const char *dir, const char *user, const char *extra) {
    snprintf(out, cap, "{\"user_id\":\"%s\",\"data_dir\":\"%s/%s\"%s}", user, scratch, dir, extra);
}

static int run_in_child(int (*body)(void *), void *arg) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(body(arg));
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* ---- 1. a forked child does not keep the store locked --------------- */

static void test_a_forked_child_does_not_keep_the_store_locked(void) {
    char config[1024], why[512];
    config_for(config, sizeof config, "fork", "me", "");
    imconv_sdk *sdk = NULL;
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    int ready[2], go[2];
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* A child without exec, alive while the parent frees and reopens;
           then it opens the store itself once the parent let it go. */
        char c = 1;
        if (write(ready[1], &c, 1) != 1) _exit(2);
        if (read(go[0], &c, 1) != 1) _exit(3);
        /* The store's lock is free for this child: it holds no copy. */
        char db[1100];
        snprintf(db, sizeof db, "%s/fork/me/conversations.db", scratch);
        int fd = open(db, O_RDWR);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) _exit(4);
        close(fd);
#ifndef __SANITIZE_ADDRESS__
        /* And the library opens it. (Not under ASan: a child forked while
           the parent's threads ran may inherit ASan's allocator locked.) */
        imconv_sdk *mine = NULL;
        int32_t rc = try_open(config, &mine, NULL, 0);
        if (rc == IMCONV_OK) imconv_sdk_free(mine);
        _exit(rc == IMCONV_OK ? 0 : 5);
#else
        _exit(0);
#endif
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    imconv_sdk_free(sdk);
    /* The parent can reopen its own store while the child lives. */
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    imconv_sdk_free(sdk);
    /* And the child can open it once the parent freed it. */
    CHECK(write(go[1], &c, 1) == 1);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]), close(ready[1]), close(go[0]), close(go[1]);
}

/* ---- 2. every valid user_id has a store of its own ------------------- */

static void test_every_valid_user_id_has_its_own_store(void) {
    char config[2048], why[512], user[300];
    /* 256 bytes: the longest valid user_id. */
    memset(user, 'u', 256);
    user[256] = '\0';
    config_for(config, sizeof config, "names", user, "");
    imconv_sdk *sdk = NULL;
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    call c;
    call_init(&c);
    if (sdk) {
        import_sync(sdk, "[{\"conversationID\":\"c2c_long\"}]", &c);
        CHECK_INT(c.successes, 1);
        imconv_sdk_free(sdk);
    }
    /* "Alice" and "alice" never share a store, on any file system: their
       folders differ even when compared without case. */
    const char *users[] = {"Alice", "alice", "ALICE"};
    for (int i = 0; i < 3; i++) {
        config_for(config, sizeof config, "names", users[i], "");
        CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
        if (!sdk) continue;
        char json[128];
        snprintf(json, sizeof json, "[{\"conversationID\":\"c2c_of_%d\",\"showName\":\"stored\"}]", i);
        import_sync(sdk, json, &c);
        imconv_sdk_free(sdk);
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/names", scratch);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    char names[16][300];
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < 16) {
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || e->d_name[1] == '.')) continue;
        snprintf(names[n], sizeof names[n], "%s", e->d_name);
        CHECK(strlen(names[n]) <= 255);
        for (char *p = names[n]; *p; p++) *p = (char)tolower((unsigned char)*p);
        n++;
    }
    if (d) closedir(d);
    CHECK_INT(n, 4);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) CHECK(strcmp(names[i], names[j]) != 0);
    /* Each reopens its own conversations. */
    for (int i = 0; i < 3; i++) {
        config_for(config, sizeof config, "names", users[i], "");
        CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
        if (!sdk) continue;
        char id[32];
        snprintf(id, sizeof id, "c2c_of_%d", i);
        /* Stored: imported as "stored"; temporary: named after its ID. */
        get_sync(sdk, id, &c);
        CHECK_CONTAINS(c.jsons[0], "\"showName\":\"stored\"");
        snprintf(id, sizeof id, "c2c_of_%d", (i + 1) % 3);
        get_sync(sdk, id, &c);
        CHECK_CONTAINS(c.jsons[0], "\"showName\":\"of_");
        imconv_sdk_free(sdk);
    }
    call_destroy(&c);
}

/* A store made by 0.1.0 under <data_dir>/<user_id> is still found. */
static void test_a_store_in_the_old_folder_is_still_found(void) {
    char config[1024], why[512], path[1024];
    /* Make a store the way 0.1.0 named it: the folder is the user_id. */
    config_for(config, sizeof config, "old", "Mixed.Case", "");
    imconv_sdk *sdk = NULL;
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    call c;
    call_init(&c);
    import_sync(sdk, "[{\"conversationID\":\"c2c_kept\",\"showName\":\"stored\"}]", &c);
    imconv_sdk_free(sdk);
    /* Move whatever folder it uses to the old name, as 0.1.0 left it. */
    snprintf(path, sizeof path, "%s/old", scratch);
    DIR *d = opendir(path);
    struct dirent *e;
    char found[300] = "";
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') snprintf(found, sizeof found, "%s", e->d_name);
    if (d) closedir(d);
    char from[1400], to[1400];
    snprintf(from, sizeof from, "%s/%s", path, found);
    snprintf(to, sizeof to, "%s/Mixed.Case", path);
    if (strcmp(found, "Mixed.Case") != 0) CHECK(rename(from, to) == 0);
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    if (sdk) {
        get_sync(sdk, "c2c_kept", &c);
        CHECK_CONTAINS(c.jsons[0], "\"showName\":\"stored\"");
        imconv_sdk_free(sdk);
    }
    call_destroy(&c);
}

/* ---- 3. deleting a file does not defeat the lock --------------------- */

/* Another process: this program again, run fresh, opening the store. */
static const char *self_path;

static int open_in_another_process(const char *config) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self_path, self_path, "--open", config, (char *)NULL);
        _exit(99);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

/* `--open <config>`: exits with 0 when the store is locked, 1 if it opened. */
static int open_mode(const char *config) {
    imconv_sdk *sdk = NULL;
    int32_t rc = try_open(config, &sdk, NULL, 0);
    if (rc == IMCONV_OK) imconv_sdk_free(sdk);
    return rc == IMCONV_ERR_STORE_LOCKED ? 0 : 1;
}

static void remove_lock_files(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char sub[1400], lock[1500];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        snprintf(lock, sizeof lock, "%s/LOCK", sub);
        unlink(lock);
    }
    if (d) closedir(d);
}

static void test_deleting_a_file_does_not_defeat_the_lock(void) {
    char config[1024], why[512], dir[1024];
    config_for(config, sizeof config, "lockfile", "me", "");
    imconv_sdk *sdk = NULL;
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    snprintf(dir, sizeof dir, "%s/lockfile", scratch);
    remove_lock_files(dir);
    CHECK_INT(open_in_another_process(config), 0);
    imconv_sdk *again = NULL;
    CHECK_INT(try_open(config, &again, why, sizeof why), IMCONV_ERR_STORE_LOCKED);
    imconv_sdk_free(sdk);
}

/* ---- 4. store files are private whatever the umask ------------------- */

static void check_private(const char *dir) {
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    struct dirent *e;
    int files = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[1400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if ((st.st_mode & 0777) != 0700) fprintf(stderr, "%s: mode %o\n", path, st.st_mode & 0777);
            CHECK((st.st_mode & 0777) == 0700);
            check_private(path);
        } else {
            if ((st.st_mode & 0777) != 0600) fprintf(stderr, "%s: mode %o\n", path, st.st_mode & 0777);
            CHECK((st.st_mode & 0777) == 0600);
            files++;
        }
    }
    if (d) closedir(d);
}

static void test_store_files_are_private_whatever_the_umask(void) {
    char config[1024], why[512], dir[1024];
    mode_t old = umask(0);
    config_for(config, sizeof config, "perm", "me", "");
    imconv_sdk *sdk = NULL;
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    call c;
    call_init(&c);
    if (sdk) import_sync(sdk, "[{\"conversationID\":\"c2c_a\",\"showName\":\"stored\"}]", &c);
    /* While open: the database, its -wal and -shm. */
    snprintf(dir, sizeof dir, "%s/perm", scratch);
    check_private(dir);
    imconv_sdk_free(sdk);
    /* An existing store opened up by someone is tightened on open. */
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char sub[1400], db[1500];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        snprintf(db, sizeof db, "%s/conversations.db", sub);
        chmod(sub, 0755);
        chmod(db, 0644);
    }
    if (d) closedir(d);
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    check_private(dir);
    imconv_sdk_free(sdk);
    umask(old);
    call_destroy(&c);
}

/* ---- 5. a store that cannot be written ------------------------------- */

static int open_as_nobody(void *arg) {
    const char *config = arg;
    if (setgid(65534) != 0 || setuid(65534) != 0) return 50;
    imconv_sdk *sdk = NULL;
    char why[512];
    int32_t rc = try_open(config, &sdk, why, sizeof why);
    if (rc == IMCONV_OK) imconv_sdk_free(sdk);
    if (rc != IMCONV_ERR_READ_ONLY) {
        fprintf(stderr, "open as nobody: %d %s\n", rc, why);
        return 1;
    }
    if (!strstr(why, "cannot be written")) {
        fprintf(stderr, "message: %s\n", why);
        return 2;
    }
    /* Asked for read-only: it opens, reads, and refuses writes. */
    char ro[1100];
    snprintf(ro, sizeof ro, "%.*s,\"read_only\":true}", (int)strlen(config) - 1, config);
    rc = try_open(ro, &sdk, why, sizeof why);
    if (rc != IMCONV_OK) {
        fprintf(stderr, "read-only open: %d %s\n", rc, why);
        return 3;
    }
    call c;
    call_init(&c);
    get_sync(sdk, "c2c_a", &c);
    int ok = c.count == 1 && strstr(c.jsons[0], "\"showName\":\"stored\"") != NULL;
    call_reset(&c);
    int32_t w = imconv_import_conversations(sdk, "[]", on_done, on_fail, &c);
    if (w == IMCONV_OK) call_wait(&c);
    ok = ok && (w == IMCONV_ERR_READ_ONLY || (w == IMCONV_OK && c.code == IMCONV_ERR_READ_ONLY));
    imconv_sdk_free(sdk);
    call_destroy(&c);
    return ok ? 0 : 4;
}

static void test_a_store_that_cannot_be_written_is_refused_at_open(void) {
    if (geteuid() != 0) {
        printf("     (skipped: needs root to open the store as another user)\n");
        return;
    }
    /* A folder "nobody" can reach: the scratch folder's parents may be
       closed to it (CI clones into a private temporary folder), and SQLite
       resolves every path from the root. */
    char base[] = "/tmp/imconv-readonly-XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    chmod(base, 0755);
    char config[1200], why[512], dir[512];
    snprintf(dir, sizeof dir, "%s/readonly", base);
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s\"}", dir);
    imconv_sdk *sdk = NULL;
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    call c;
    call_init(&c);
    if (sdk) import_sync(sdk, "[{\"conversationID\":\"c2c_a\",\"showName\":\"stored\"}]", &c);
    imconv_sdk_free(sdk);
    call_destroy(&c);
    /* Hand the store to "nobody", with a database it may only read. */
    CHECK(chown(dir, 65534, 65534) == 0);
    chmod(dir, 0755);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char sub[1400];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        CHECK(chown(sub, 65534, 65534) == 0);
        DIR *s = opendir(sub);
        struct dirent *f;
        while (s && (f = readdir(s)) != NULL) {
            if (f->d_name[0] == '.') continue;
            char file[1700];
            snprintf(file, sizeof file, "%s/%s", sub, f->d_name);
            CHECK(chown(file, 65534, 65534) == 0);
            if (strcmp(f->d_name, "conversations.db") == 0) chmod(file, 0400);
        }
        if (s) closedir(s);
    }
    if (d) closedir(d);
    CHECK_INT(run_in_child(open_as_nobody, config), 0);
    char rm[1200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", base);
    CHECK(system(rm) == 0);
}

/* A zero-length database is a new, empty store (documented). */
static void test_a_zero_length_database_is_a_new_store(void) {
    char config[1024], why[512], path[1024];
    config_for(config, sizeof config, "zero", "me", "");
    imconv_sdk *sdk = NULL;
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    imconv_sdk_free(sdk);
    snprintf(path, sizeof path, "%s/zero/me/conversations.db", scratch);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    call c;
    call_init(&c);
    if (sdk) {
        import_sync(sdk, "[{\"conversationID\":\"c2c_a\"}]", &c);
        CHECK_INT(c.successes, 1);
        imconv_sdk_free(sdk);
    }
    call_destroy(&c);
}

/* ---- an online backup is a whole store of its own -------------------- */

static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int ok = in && out;
    char buf[8192];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    if (in) fclose(in);
    if (out) fclose(out);
    return ok;
}

static void test_an_online_backup_is_a_whole_store(void) {
    char config[1024], why[512], copy[1024], missing[1024], restored[1024];
    config_for(config, sizeof config, "backup", "me", "");
    imconv_sdk *sdk = NULL;
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    if (!sdk) return;
    call c;
    call_init(&c);
    import_sync(sdk, "[{\"conversationID\":\"c2c_a\",\"showName\":\"A\",\"draftText\":\"d\"}]", &c);
    snprintf(copy, sizeof copy, "%s/backup-copy.db", scratch);
    CHECK_INT(WRITE(&c, imconv_backup(sdk, copy, on_done, on_fail, &c)), IMCONV_OK);
    struct stat st;
    CHECK_INT(stat(copy, &st), 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(st.st_size > 0);
    /* Refused: no path (through on_error, in order); a missing folder. */
    CHECK_INT(WRITE(&c, imconv_backup(sdk, NULL, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "path is NULL");
    snprintf(missing, sizeof missing, "%s/no-such-folder/copy.db", scratch);
    CHECK_INT(WRITE(&c, imconv_backup(sdk, missing, on_done, on_fail, &c)), IMCONV_ERR_IO);
    CHECK_CONTAINS(c.desc, "no-such-folder");
    imconv_sdk_free(sdk);
    /* In a fresh store folder, the copy is the user's store. */
    snprintf(restored, sizeof restored, "%s/restored", scratch);
    mkdir(restored, 0700);
    snprintf(restored, sizeof restored, "%s/restored/me", scratch);
    mkdir(restored, 0700);
    snprintf(restored, sizeof restored, "%s/restored/me/conversations.db", scratch);
    CHECK(copy_file(copy, restored));
    config_for(config, sizeof config, "restored", "me", "");
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    if (sdk) {
        get_sync(sdk, "c2c_a", &c);
        CHECK_INT(c.count, 1);
        if (c.count) {
            CHECK_CONTAINS(c.jsons[0], "\"showName\":\"A\"");
            CHECK_CONTAINS(c.jsons[0], "\"draftText\":\"d\"");
        }
        imconv_sdk_free(sdk);
    }
    call_destroy(&c);
}

/* ---- 5b. damage: a full check, refused at open, rebuilt -------------- */

static void on_ids(const char *const *ids, size_t n, void *user_data) {
    call *c = user_data;
    c->count = n;
    if (n) snprintf(c->desc, sizeof c->desc, "%s", ids[0]);
    call_finish(c, 1);
}

static void test_a_damaged_store_is_refused_or_rebuilt(void) {
    char config[1024], why[512], db[1024];
    config_for(config, sizeof config, "damaged", "me", "");
    imconv_sdk *sdk = NULL;
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    if (!sdk) return;
    call c;
    call_init(&c);
    import_sync(sdk, "[{\"conversationID\":\"c2c_a\",\"showName\":\"A\"},{\"conversationID\":\"c2c_b\"}]", &c);
    /* A sound store: the full check names nothing. */
    call_reset(&c);
    CHECK_INT(imconv_verify_store(sdk, on_ids, on_fail, &c), IMCONV_OK);
    CHECK_INT(done_code(&c), IMCONV_OK);
    CHECK_INT(c.count, 0);
    CHECK_INT(imconv_verify_store(NULL, on_ids, on_fail, &c), IMCONV_ERR_INVALID_PARAMETERS);
    imconv_sdk_free(sdk);
    /* Its header's schema version changed: damage. */
    snprintf(db, sizeof db, "%s/damaged/me/conversations.db", scratch);
    FILE *f = fopen(db, "r+b");
    CHECK(f != NULL);
    if (f) {
        const unsigned char version[4] = {0, 0, 8, 9};
        CHECK_INT(fseek(f, 60, SEEK_SET), 0);
        CHECK_INT((int)fwrite(version, 1, 4, f), 4);
        fclose(f);
    }
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_ERR_STORE_DAMAGED);
    CHECK_CONTAINS(why, "conversations.db");
    config_for(config, sizeof config, "damaged", "me", ",\"on_damage\":\"maybe\"");
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(why, "on_damage");
    config_for(config, sizeof config, "damaged", "me", ",\"on_damage\":\"rebuild\"");
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    if (sdk) {
        get_sync(sdk, "c2c_a", &c);
        CHECK_INT(c.count, 1);
        if (c.count) CHECK_CONTAINS(c.jsons[0], "\"showName\":\"A\"");
        imconv_sdk_free(sdk);
    }
    char aside[1100];
    snprintf(aside, sizeof aside, "%s.damaged", db);
    struct stat st;
    CHECK_INT(stat(aside, &st), 0);
    call_destroy(&c);
}

/* ---- 6. waiting for an instance freed from a callback --------------- */

typedef struct {
    imconv_sdk *sdk;
    atomic_int done;
} self_freeing;

static void free_myself(const imconv_conversation *conv, void *u) {
    (void)conv;
    self_freeing *s = u;
    imconv_sdk_free(s->sdk);
    atomic_store(&s->done, 1);
}

static void ignore_fail(int32_t code, const char *desc, void *u) {
    (void)code;
    (void)desc;
    (void)u;
}

static void test_an_instance_freed_from_a_callback_can_be_waited_for(void) {
    for (int round = 0; round < 20; round++) {
        CHECK_INT(library_threads(), 0);
        self_freeing s = {NULL, 0};
        char why[512];
        CHECK_INT(try_open("{\"user_id\":\"me\"}", &s.sdk, why, sizeof why), IMCONV_OK);
        CHECK_INT(imconv_get_conversation(s.sdk, "c2c_x", free_myself, ignore_fail, &s), IMCONV_OK);
        while (!atomic_load(&s.done)) sleep_ms(1);
        /* Every thread of every freed instance has exited when it returns. */
        CHECK_INT(imconv_wait_freed(10000), IMCONV_OK);
        CHECK_INT(library_threads(), 0);
    }
    /* Nothing pending: returns at once. */
    CHECK_INT(imconv_wait_freed(0), IMCONV_OK);
}

/* ---- the log --------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[8192];
static int log_lines;

static void on_log(int32_t level, const char *message, void *u) {
    (void)u;
    pthread_mutex_lock(&log_lock);
    size_t len = strlen(log_text);
    snprintf(log_text + len, sizeof log_text - len, "%d %s\n", level, message);
    log_lines++;
    pthread_mutex_unlock(&log_lock);
}

static void test_the_log_goes_to_the_host_callback(void) {
    CHECK_INT(imconv_set_log_callback(9, on_log, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_INT(imconv_set_log_callback(IMCONV_LOG_DEBUG, on_log, NULL), IMCONV_OK);
    char config[1024], why[512];
    config_for(config, sizeof config, "log", "me", "");
    imconv_sdk *sdk = NULL;
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    call c;
    call_init(&c);
    if (sdk) {
        import_sync(sdk, "[{\"conversationID\":\"c2c_a\",\"recvOpt\":9}]", &c);
        CHECK_INT(c.code, IMCONV_ERR_INVALID_PARAMETERS);
        call_destroy(&c);
        call_init(&c);
        get_sync(sdk, "c2c_", &c);
        CHECK_INT(c.code, IMCONV_ERR_INVALID_PARAMETERS);
        imconv_sdk_free(sdk);
    }
    /* A refused config is logged too, with the message the caller gets. */
    imconv_sdk *refused = NULL;
    CHECK_INT(imconv_sdk_new("{\"user_id\":\"me\",\"usr\":1}", &refused, NULL),
              IMCONV_ERR_INVALID_PARAMETERS);
    CHECK(refused == NULL);
    /* Off: nothing more arrives. */
    CHECK_INT(imconv_set_log_callback(IMCONV_LOG_DEBUG, NULL, NULL), IMCONV_OK);
    pthread_mutex_lock(&log_lock);
    int lines = log_lines;
    CHECK_CONTAINS(log_text, "3 opening the store");
    /* Refused input is logged once, at info, naming the problem. */
    CHECK_CONTAINS(log_text, "3 a call failed: element 0: field 'recvOpt'");
    CHECK_CONTAINS(log_text, "3 a call failed: invalid conversation id \"c2c_\"");
    CHECK_CONTAINS(log_text, "3 imconv_sdk_new failed: config: unknown key \"usr\"");
    CHECK(strstr(strstr(log_text, "field 'recvOpt'") + 1, "field 'recvOpt'") == NULL);
    pthread_mutex_unlock(&log_lock);
    CHECK_INT(try_open(config, &sdk, why, sizeof why), IMCONV_OK);
    imconv_sdk_free(sdk);
    CHECK_INT(log_lines, lines);
    call_destroy(&c);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--open") == 0) return open_mode(argv[2]);
    self_path = argv[0]; /* not /proc/self/exe: under valgrind that is valgrind */
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir>\n", argv[0]);
        return 2;
    }
    scratch = argv[2];
    alarm((unsigned)wait_seconds() * 8); /* 240 s; more under valgrind */
    RUN(test_a_forked_child_does_not_keep_the_store_locked);
    RUN(test_every_valid_user_id_has_its_own_store);
    RUN(test_a_store_in_the_old_folder_is_still_found);
    RUN(test_deleting_a_file_does_not_defeat_the_lock);
    RUN(test_store_files_are_private_whatever_the_umask);
    RUN(test_a_store_that_cannot_be_written_is_refused_at_open);
    RUN(test_a_zero_length_database_is_a_new_store);
    RUN(test_an_online_backup_is_a_whole_store);
    RUN(test_a_damaged_store_is_refused_or_rebuilt);
    RUN(test_an_instance_freed_from_a_callback_can_be_waited_for);
    RUN(test_the_log_goes_to_the_host_callback);
    return test_summary();
}
