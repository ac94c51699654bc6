/* A host with its own SQLite (the system's) that also links libimconv.a:
 * its sqlite3_* calls must reach its own SQLite, whatever the link order,
 * and imconv must still work with the SQLite it bundles. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include <imconv.h>

int main(void) {
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
    sqlite3_close(db);
    imconv_sdk *sdk = NULL;
    if (imconv_sdk_new("{\"user_id\":\"me\"}", &sdk, NULL) != IMCONV_OK) return 2;
    imconv_sdk_free(sdk);
    if (strcmp(sqlite3_libversion(), SQLITE_VERSION) != 0) {
        printf("sqlite3_libversion() is %s, the header says %s\n", sqlite3_libversion(), SQLITE_VERSION);
        return 3;
    }
    printf("imconv works, sqlite3_libversion() is the system's (%s)\n", sqlite3_libversion());
    return 0;
}
