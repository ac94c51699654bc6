/* Encryption at rest through the C ABI (issue 27): "encryption_key",
 * IMCONV_ERR_WRONG_KEY, imconv_rekey and imconv_delete_store, and that no
 * file of an encrypted store holds what was written. Run as
 *   test_encryption <path/to/libimconv.so> <scratch_dir>
 */
#include <dirent.h>
#include <sys/stat.h>

#include "testlib.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "FF0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"

static const char *scratch;

static void config_for(char *out, size_t cap, const char *key) {
    if (key)
        snprintf(out, cap, "{\"user_id\":\"me\",\"data_dir\":\"%s/enc\",\"encryption_key\":\"%s\"}",
                 scratch, key);
    else
        snprintf(out, cap, "{\"user_id\":\"me\",\"data_dir\":\"%s/enc\"}", scratch);
}

static int32_t try_open(const char *key, imconv_sdk **out, char *why, size_t cap) {
    char config[512];
    config_for(config, sizeof config, key);
    char *error = NULL;
    *out = NULL;
    int32_t rc = imconv_sdk_new(config, out, &error);
    snprintf(why, cap, "%s", error ? error : "");
    imconv_string_free(error);
    return rc;
}

/* Whether any file of the store folder holds `text`. */
static int store_holds(const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/enc/me", scratch);
    DIR *d = opendir(path);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    size_t n = strlen(text);
    while ((e = readdir(d)) && !found) {
        char file[2048];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        FILE *f = fopen(file, "rb");
        if (!f) continue;
        struct stat st;
        if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size >= n) {
            char *buf = malloc((size_t)st.st_size);
            if (buf && fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size)
                for (size_t i = 0; i + n <= (size_t)st.st_size && !found; i++)
                    found = memcmp(buf + i, text, n) == 0;
            free(buf);
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

static void test_a_keyed_store_is_unreadable_and_opens_only_with_its_key(void) {
    imconv_sdk *sdk;
    char why[1024];
    call c;
    call_init(&c);
    CHECK_INT(try_open(KEY_A, &sdk, why, sizeof why), IMCONV_OK);
    import_sync(sdk, "[{\"conversationID\":\"c2c_zed\",\"showName\":\"Zed Privatename\"}]", &c);
    imconv_sdk_free(sdk);
    CHECK(!store_holds("Privatename"));
    CHECK(!store_holds("c2c_zed"));
    CHECK_INT(try_open(NULL, &sdk, why, sizeof why), IMCONV_ERR_WRONG_KEY);
    CHECK(sdk == NULL);
    CHECK_CONTAINS(why, "is encrypted");
    CHECK_INT(try_open(KEY_B, &sdk, why, sizeof why), IMCONV_ERR_WRONG_KEY);
    CHECK(strstr(why, "0102030405") == NULL && strstr(why, "0A0B0C") == NULL);
    CHECK_CONTAINS(imconv_error_str(IMCONV_ERR_WRONG_KEY), "encryption key");
    CHECK_INT(try_open(KEY_A, &sdk, why, sizeof why), IMCONV_OK);
    get_sync(sdk, "c2c_zed", &c);
    CHECK_INT(c.successes, 1);
    if (c.count) CHECK_CONTAINS(c.jsons[0], "Zed Privatename");
    imconv_sdk_free(sdk);
    call_destroy(&c);
}

static void test_rekey_changes_the_key_and_decrypts(void) {
    imconv_sdk *sdk;
    char why[1024];
    call c;
    call_init(&c);
    CHECK_INT(try_open(KEY_A, &sdk, why, sizeof why), IMCONV_OK);
    /* A key that is not 64 hex digits: named, never echoed. */
    CHECK_INT(WRITE(&c, imconv_rekey(sdk, "0011zz", on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    CHECK_CONTAINS(c.desc, "new_key_hex must be 64");
    CHECK(strstr(c.desc, "0011zz") == NULL);
    CHECK_INT(WRITE(&c, imconv_rekey(sdk, KEY_B, on_done, on_fail, &c)), IMCONV_OK);
    import_sync(sdk, "[{\"conversationID\":\"c2c_after\",\"showName\":\"After Privatename\"}]", &c);
    imconv_sdk_free(sdk);
    CHECK(!store_holds("Privatename"));
    CHECK_INT(try_open(KEY_A, &sdk, why, sizeof why), IMCONV_ERR_WRONG_KEY);
    CHECK_INT(try_open(KEY_B, &sdk, why, sizeof why), IMCONV_OK);
    CHECK_INT(WRITE(&c, imconv_rekey(sdk, NULL, on_done, on_fail, &c)), IMCONV_OK);
    imconv_sdk_free(sdk);
    CHECK(store_holds("Privatename"));
    CHECK_INT(try_open(NULL, &sdk, why, sizeof why), IMCONV_OK);
    get_sync(sdk, "c2c_after", &c);
    CHECK_INT(c.successes, 1);
    imconv_sdk_free(sdk);
    /* A store in memory has nothing at rest. */
    sdk = open_memory();
    CHECK_INT(WRITE(&c, imconv_rekey(sdk, KEY_A, on_done, on_fail, &c)), IMCONV_ERR_INVALID_PARAMETERS);
    imconv_sdk_free(sdk);
    call_destroy(&c);
}

static void test_delete_store_waits_for_no_one_and_removes_everything(void) {
    imconv_sdk *sdk;
    char why[1024], config[512], *error = NULL;
    config_for(config, sizeof config, KEY_A);
    CHECK_INT(try_open(NULL, &sdk, why, sizeof why), IMCONV_OK);
    CHECK_INT(imconv_delete_store(config, &error), IMCONV_ERR_STORE_LOCKED);
    CHECK(error != NULL);
    if (error) CHECK_CONTAINS(error, "already open");
    imconv_string_free(error);
    imconv_sdk_free(sdk);
    CHECK_INT(imconv_delete_store(config, &error), IMCONV_OK);
    CHECK(error == NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/enc/me", scratch);
    struct stat st;
    CHECK(stat(path, &st) != 0);
    CHECK_INT(imconv_delete_store(config, NULL), IMCONV_OK); /* nothing left: still OK */
    CHECK_INT(imconv_delete_store("{\"user_id\":\"me\"}", &error), IMCONV_ERR_INVALID_PARAMETERS);
    if (error) CHECK_CONTAINS(error, "data_dir");
    imconv_string_free(error);
    CHECK_INT(imconv_delete_store(NULL, NULL), IMCONV_ERR_INVALID_PARAMETERS);
    /* The next open starts an empty store, encrypted with the key given. */
    CHECK_INT(try_open(KEY_A, &sdk, why, sizeof why), IMCONV_OK);
    imconv_sdk_free(sdk);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <libimconv.so> <scratch_dir>\n", argv[0]);
        return 2;
    }
    scratch = argv[2];
    RUN(test_a_keyed_store_is_unreadable_and_opens_only_with_its_key);
    RUN(test_rekey_changes_the_key_and_decrypts);
    RUN(test_delete_store_waits_for_no_one_and_removes_everything);
    return test_summary();
}
