/* LD_PRELOAD shim for the sync-failure test: while the file named by
 * FAILSYNC_FLAG exists, fsync and fdatasync fail with EIO (as a failing
 * disk makes them: the data written stays in the page cache, its sync
 * reports the error). Each failure appends a line to FAILSYNC_LOG. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int failing(void) {
    const char *flag = getenv("FAILSYNC_FLAG");
    struct stat st;
    if (!flag || stat(flag, &st) != 0) return 0;
    const char *log = getenv("FAILSYNC_LOG");
    if (log) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            (void)!write(fd, "EIO\n", 4);
            close(fd);
        }
    }
    return 1;
}

int fsync(int fd) {
    static int (*real)(int);
    if (failing()) {
        errno = EIO;
        return -1;
    }
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (failing()) {
        errno = EIO;
        return -1;
    }
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
    return real(fd);
}
