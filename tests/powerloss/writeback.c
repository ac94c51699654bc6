/* A write-back cache between a process and the files under one folder, as
 * an LD_PRELOAD library: the model of a disk whose cache only reaches the
 * platter on fsync, for power-loss tests.
 *
 *   WRITEBACK_DIR=<folder>  the files under it are cached (but *-shm, which
 *                           SQLite maps and rebuilds after a crash)
 *   WRITEBACK_LOG=<file>    where creations and folder syncs are recorded
 *
 * - Writes to a cached file are held in memory, page by page; reads and
 *   fstat see them. fsync/fdatasync of any descriptor of the file writes
 *   them (and a truncation) to the real file and syncs it. A SIGKILL of
 *   the process is the power cut: what was not synced never reached the
 *   file.
 * - Directories, strictly: a file or folder created under the folder is
 *   logged ("C <path>"), and an fsync of a folder is logged ("D <path>").
 *   After the power cut, `powerloss_test` removes every creation whose
 *   parent folder was not synced after it (its entry never reached the
 *   disk). Removals and renames are not modelled (passed through).
 * - Every completed sync of a cached file is logged ("S <ms> <path>", the
 *   CLOCK_MONOTONIC time it began): what was written before it is durable.
 * - Not modelled: mmap of a cached file (SQLite maps only *-shm, unless
 *   mmap_size is set, which imconv does not do).
 *
 * One lock serializes every cached operation (SQLite writes from several
 * threads). `powerloss_test --self-check` tests this model against a plain
 * file before any store is tried.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define MAX_FD 4096
#define BUCKETS 4096

typedef struct page {
    off_t index;
    struct page *next;
    unsigned char data[PAGE];
} page;

typedef struct file {
    dev_t dev;
    ino_t ino;
    off_t size;  /* as the process sees it */
    off_t floor; /* the real file's bytes from here on read as zeros */
    page *pages[BUCKETS];
    struct file *next;
    char path[PATH_MAX]; /* to write it back through, whatever fd syncs */
} file;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static file *files;
static file *by_fd[MAX_FD];
static char *dir_of_fd[MAX_FD];
static char root[PATH_MAX];
static size_t root_len;
static char log_path[PATH_MAX];

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static off_t (*real_lseek)(int, off_t, int);
static int (*real_fstat)(int, struct stat *);
static int (*real_ftruncate)(int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_mkdir)(const char *, mode_t);

__attribute__((constructor)) static void init(void) {
    real_open = dlsym(RTLD_NEXT, "open");
    real_openat = dlsym(RTLD_NEXT, "openat");
    real_close = dlsym(RTLD_NEXT, "close");
    real_pread = dlsym(RTLD_NEXT, "pread");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_read = dlsym(RTLD_NEXT, "read");
    real_write = dlsym(RTLD_NEXT, "write");
    real_lseek = dlsym(RTLD_NEXT, "lseek");
    real_fstat = dlsym(RTLD_NEXT, "fstat");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_mkdir = dlsym(RTLD_NEXT, "mkdir");
    const char *d = getenv("WRITEBACK_DIR"), *l = getenv("WRITEBACK_LOG");
    if (d && l && realpath(d, root)) {
        root_len = strlen(root);
        snprintf(log_path, sizeof log_path, "%s", l);
    }
}

/* An absolute, normalized path for `path` (its folder must exist). */
static int absolute(const char *path, char *out) {
    char parent[PATH_MAX], resolved[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    const char *name = path;
    if (slash == parent) {
        strcpy(resolved, "/");
        name = slash + 1;
    } else if (slash) {
        *slash = '\0';
        name = slash + 1;
        if (!realpath(parent, resolved)) return 0;
    } else if (!getcwd(resolved, sizeof resolved)) {
        return 0;
    }
    if (strcmp(name, ".") == 0 || name[0] == '\0') {
        snprintf(out, PATH_MAX, "%s", resolved);
    } else {
        const char *base = strcmp(resolved, "/") ? resolved : "";
        if (strlen(base) + 1 + strlen(name) >= PATH_MAX) return 0;
        strcpy(out, base);
        strcat(out, "/");
        strcat(out, name);
    }
    return 1;
}

static int under_root(const char *abs) {
    return root_len && strncmp(abs, root, root_len) == 0 && (abs[root_len] == '/' || abs[root_len] == '\0');
}

static void log_line(char kind, const char *path) {
    int fd = real_open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) abort();
    char line[PATH_MAX + 64];
    int n = snprintf(line, sizeof line, "%c %s\n", kind, path);
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    if (real_write(fd, line, (size_t)n) != n) abort();
    real_close(fd);
}

static file *file_of(int fd) {
    return fd >= 0 && fd < MAX_FD ? by_fd[fd] : NULL;
}

static page *find_page(file *f, off_t index) {
    for (page *p = f->pages[index % BUCKETS]; p; p = p->next)
        if (p->index == index) return p;
    return NULL;
}

/* The page as the process sees it, made a cached page. */
static page *cached_page(file *f, int fd, off_t index) {
    page *p = find_page(f, index);
    if (p) return p;
    p = calloc(1, sizeof *p);
    if (!p) abort();
    p->index = index;
    off_t start = index * PAGE;
    if (start < f->floor) {
        size_t want = (size_t)(f->floor - start < PAGE ? f->floor - start : PAGE);
        ssize_t got = real_pread(fd, p->data, want, start);
        (void)got; /* short: zeros */
    }
    p->next = f->pages[index % BUCKETS];
    f->pages[index % BUCKETS] = p;
    return p;
}

static ssize_t cached_read(file *f, int fd, void *buf, size_t n, off_t off) {
    if (off >= f->size) return 0;
    if ((off_t)n > f->size - off) n = (size_t)(f->size - off);
    size_t done = 0;
    while (done < n) {
        off_t at = off + (off_t)done;
        off_t index = at / PAGE;
        size_t in = (size_t)(at % PAGE), take = PAGE - in;
        if (take > n - done) take = n - done;
        page *p = find_page(f, index);
        if (p) {
            memcpy((char *)buf + done, p->data + in, take);
        } else {
            memset((char *)buf + done, 0, take);
            if (at < f->floor) {
                size_t real = (size_t)(f->floor - at < (off_t)take ? f->floor - at : (off_t)take);
                ssize_t got = real_pread(fd, (char *)buf + done, real, at);
                (void)got;
            }
        }
        done += take;
    }
    return (ssize_t)n;
}

static ssize_t cached_write(file *f, int fd, const void *buf, size_t n, off_t off) {
    size_t done = 0;
    while (done < n) {
        off_t at = off + (off_t)done;
        size_t in = (size_t)(at % PAGE), take = PAGE - in;
        if (take > n - done) take = n - done;
        memcpy(cached_page(f, fd, at / PAGE)->data + in, (const char *)buf + done, take);
        done += take;
    }
    if (off + (off_t)n > f->size) f->size = off + (off_t)n;
    return (ssize_t)n;
}

static void cached_truncate(file *f, off_t size) {
    for (int b = 0; b < BUCKETS; b++) {
        page **link = &f->pages[b];
        while (*link) {
            page *p = *link;
            if (p->index * PAGE >= size) {
                *link = p->next;
                free(p);
            } else {
                if (p->index * PAGE + PAGE > size)
                    memset(p->data + (size - p->index * PAGE), 0, (size_t)(p->index * PAGE + PAGE - size));
                link = &p->next;
            }
        }
    }
    f->size = size;
    if (size < f->floor) f->floor = size;
}

/* What the process wrote reaches the real file, which is synced. An fsync
   of any descriptor does that, a read-only one too (as the kernel's page
   cache would): the data is written through a descriptor of its own. */
static int flush(file *f, int (*sync)(int)) {
    int fd = real_open(f->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = -1;
    for (int b = 0; b < BUCKETS; b++) {
        for (page *p = f->pages[b]; p;) {
            off_t start = p->index * PAGE;
            if (start < f->size) {
                size_t len = (size_t)(f->size - start < PAGE ? f->size - start : PAGE);
                if (real_pwrite(fd, p->data, len, start) != (ssize_t)len) goto out;
            }
            page *next = p->next;
            free(p);
            p = next;
        }
        f->pages[b] = NULL;
    }
    if (real_ftruncate(fd, f->size) != 0) goto out;
    f->floor = f->size;
    rc = sync(fd);
out:
    real_close(fd);
    return rc;
}

/* After a real open of `path` as `fd`: caches it when it is under the
   folder, logging a creation. */
static void track(int fd, const char *path, int existed) {
    char abs[PATH_MAX];
    if (fd < 0 || fd >= MAX_FD || !root_len || !absolute(path, abs) || !under_root(abs)) return;
    struct stat st;
    if (real_fstat(fd, &st) != 0) return;
    pthread_mutex_lock(&lock);
    if (!existed) log_line('C', abs);
    if (S_ISDIR(st.st_mode)) {
        free(dir_of_fd[fd]);
        dir_of_fd[fd] = strdup(abs);
    } else if (S_ISREG(st.st_mode)) {
        size_t len = strlen(abs);
        if (!(len > 4 && strcmp(abs + len - 4, "-shm") == 0)) {
            file *f = files;
            while (f && !(f->dev == st.st_dev && f->ino == st.st_ino)) f = f->next;
            if (f && !existed) {
                /* A new file on the inode of one removed: start over. */
                cached_truncate(f, 0);
                f->size = f->floor = st.st_size;
                snprintf(f->path, sizeof f->path, "%s", abs);
            }
            if (!f) {
                f = calloc(1, sizeof *f);
                if (!f) abort();
                f->dev = st.st_dev;
                f->ino = st.st_ino;
                f->size = f->floor = st.st_size;
                snprintf(f->path, sizeof f->path, "%s", abs);
                f->next = files;
                files = f;
            }
            by_fd[fd] = f;
        }
    }
    pthread_mutex_unlock(&lock);
}

/* The mode argument of open and openat: there with O_CREAT or O_TMPFILE. */
#define MODE_ARG(flags, mode)                       \
    mode_t mode = 0;                                \
    if ((flags) & (O_CREAT | O_TMPFILE)) {          \
        va_list ap;                                 \
        va_start(ap, flags);                        \
        mode = (mode_t)va_arg(ap, int);             \
        va_end(ap);                                 \
    }

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int open(const char *path, int flags, ...) {
    MODE_ARG(flags, mode);
    int existed = !(flags & O_CREAT) || exists(path);
    int fd = real_open(path, flags, mode);
    track(fd, path, existed);
    return fd;
}
int open64(const char *path, int flags, ...) {
    MODE_ARG(flags, mode);
    return open(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags, mode);
    int existed = !(flags & O_CREAT) || dirfd != AT_FDCWD || exists(path);
    int fd = real_openat(dirfd, path, flags, mode);
    if (dirfd == AT_FDCWD || path[0] == '/') track(fd, path, existed);
    return fd;
}
int openat64(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags, mode);
    return openat(dirfd, path, flags, mode);
}

int mkdir(const char *path, mode_t mode) {
    int rc = real_mkdir(path, mode);
    char abs[PATH_MAX];
    if (rc == 0 && root_len && absolute(path, abs) && under_root(abs)) {
        pthread_mutex_lock(&lock);
        log_line('C', abs);
        pthread_mutex_unlock(&lock);
    }
    return rc;
}

int close(int fd) {
    if (fd >= 0 && fd < MAX_FD) {
        pthread_mutex_lock(&lock);
        by_fd[fd] = NULL; /* its cached writes stay with the file */
        free(dir_of_fd[fd]);
        dir_of_fd[fd] = NULL;
        pthread_mutex_unlock(&lock);
    }
    return real_close(fd);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
    pthread_mutex_lock(&lock);
    file *f = file_of(fd);
    ssize_t r = f ? cached_read(f, fd, buf, n, off) : real_pread(fd, buf, n, off);
    pthread_mutex_unlock(&lock);
    return r;
}
ssize_t pread64(int fd, void *buf, size_t n, off64_t off) { return pread(fd, buf, n, (off_t)off); }

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    pthread_mutex_lock(&lock);
    file *f = file_of(fd);
    ssize_t r = f ? cached_write(f, fd, buf, n, off) : real_pwrite(fd, buf, n, off);
    pthread_mutex_unlock(&lock);
    return r;
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) { return pwrite(fd, buf, n, (off_t)off); }

ssize_t read(int fd, void *buf, size_t n) {
    pthread_mutex_lock(&lock);
    file *f = file_of(fd);
    ssize_t r;
    if (f) {
        off_t at = real_lseek(fd, 0, SEEK_CUR);
        r = cached_read(f, fd, buf, n, at);
        if (r > 0) real_lseek(fd, at + r, SEEK_SET);
    } else {
        r = real_read(fd, buf, n);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t write(int fd, const void *buf, size_t n) {
    pthread_mutex_lock(&lock);
    file *f = file_of(fd);
    ssize_t r;
    if (f) {
        off_t at = real_lseek(fd, 0, SEEK_CUR);
        r = cached_write(f, fd, buf, n, at);
        real_lseek(fd, at + r, SEEK_SET);
    } else {
        r = real_write(fd, buf, n);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

off_t lseek(int fd, off_t off, int whence) {
    pthread_mutex_lock(&lock);
    file *f = file_of(fd);
    off_t r = f && whence == SEEK_END ? real_lseek(fd, f->size + off, SEEK_SET) : real_lseek(fd, off, whence);
    pthread_mutex_unlock(&lock);
    return r;
}
off64_t lseek64(int fd, off64_t off, int whence) { return lseek(fd, (off_t)off, whence); }

int fstat(int fd, struct stat *st) {
    int rc = real_fstat(fd, st);
    pthread_mutex_lock(&lock);
    file *f = file_of(fd);
    if (rc == 0 && f) st->st_size = f->size;
    pthread_mutex_unlock(&lock);
    return rc;
}
/* x86-64 and the other 64-bit ABIs: struct stat64 is struct stat. */
int fstat64(int fd, struct stat64 *st) { return fstat(fd, (struct stat *)st); }

int ftruncate(int fd, off_t size) {
    pthread_mutex_lock(&lock);
    file *f = file_of(fd);
    int rc = 0;
    if (f) cached_truncate(f, size);
    else rc = real_ftruncate(fd, size);
    pthread_mutex_unlock(&lock);
    return rc;
}
int ftruncate64(int fd, off64_t size) { return ftruncate(fd, (off_t)size); }

static int synced(int fd, int (*sync)(int)) {
    pthread_mutex_lock(&lock);
    file *f = file_of(fd);
    int rc;
    if (f) {
        /* What was written before this moment is durable once it returns:
           the time lets the test judge each acknowledgement by the syncs
           that followed it, not by the clock. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        rc = flush(f, sync);
        if (rc == 0) {
            char line[PATH_MAX + 32];
            snprintf(line, sizeof line, "%lld %s", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000,
                     f->path);
            log_line('S', line);
        }
    } else {
        rc = sync(fd);
        if (rc == 0 && fd >= 0 && fd < MAX_FD && dir_of_fd[fd]) log_line('D', dir_of_fd[fd]);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int fsync(int fd) { return synced(fd, real_fsync); }
int fdatasync(int fd) { return synced(fd, real_fdatasync); }
