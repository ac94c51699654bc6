/* Where this machine put the benchmark's two CPUs: the round trip of one
 * cache line between CPU 0 and CPU 1, measured beside a figure it moves.
 *
 * On the 2-core virtual machines the benchmarks run on, the host places the
 * two virtual CPUs near each other (a round trip of 50-80 ns) or far apart
 * (300-500 ns), and moves them while a program runs. Every call with thread
 * delivery hands cache lines between the caller's CPU and the callback
 * thread's a few times, so a back-to-back lookup and the lookup throughput
 * follow that placement; printing it beside them tells the machine's state
 * from the library's. Also: on which CPU a thread last ran (the callback
 * thread sharing the caller's CPU is the other state that moves them).
 * Needs _GNU_SOURCE (CPU affinity) before any include.
 */
#ifndef BENCH_PLACEMENT_H
#define BENCH_PLACEMENT_H

#ifndef _GNU_SOURCE
#error "bench_placement.h needs _GNU_SOURCE defined before the first include"
#endif

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 20 batches of 1,000 round trips; the median batch is the figure, so
   that the start (the second thread moving to its CPU, that CPU waking up)
   and a preemption of either side do not count. */
enum { PLACEMENT_BATCHES = 20, PLACEMENT_BATCH = 1000 };
enum { PLACEMENT_ROUND_TRIPS = PLACEMENT_BATCHES * PLACEMENT_BATCH };

static _Alignas(64) atomic_long placement_ball;

static int placement_pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static int placement_cpus[2];

/* The second CPU's side: returns each odd value as the next even one (also
   when it could not be pinned, so that the other side never waits
   forever); returns non-NULL when it was pinned. */
static void *placement_partner(void *arg) {
    int pinned = placement_pin(placement_cpus[1]) == 0;
    for (long i = 0; i < PLACEMENT_ROUND_TRIPS; i++) {
        while (atomic_load_explicit(&placement_ball, memory_order_acquire) != 2 * i + 1) {
        }
        atomic_store_explicit(&placement_ball, 2 * i + 2, memory_order_release);
    }
    return pinned ? arg : NULL;
}

/* The round trip of a cache line between the first two CPUs this thread
   may run on, in ns (the median batch's mean), or -1 where two
   cannot be pinned (one CPU, or not allowed). The calling thread's own
   CPUs are restored. */
static double cpu_round_trip_ns(void) {
    cpu_set_t before;
    if (pthread_getaffinity_np(pthread_self(), sizeof before, &before) != 0) return -1;
    int found = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
        if (CPU_ISSET(cpu, &before)) placement_cpus[found++] = cpu;
    if (found < 2 || placement_pin(placement_cpus[0]) != 0) return -1;
    atomic_store(&placement_ball, 0);
    pthread_t partner;
    static char pinned_marker;
    double ns = -1;
    if (pthread_create(&partner, NULL, placement_partner, &pinned_marker) == 0) {
        double batch_ns[PLACEMENT_BATCHES];
        for (int b = 0; b < PLACEMENT_BATCHES; b++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (long i = (long)b * PLACEMENT_BATCH; i < (long)(b + 1) * PLACEMENT_BATCH; i++) {
                atomic_store_explicit(&placement_ball, 2 * i + 1, memory_order_release);
                while (atomic_load_explicit(&placement_ball, memory_order_acquire) != 2 * i + 2) {
                }
            }
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double spent = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
            batch_ns[b] = spent / PLACEMENT_BATCH;
        }
        void *pinned = NULL;
        pthread_join(partner, &pinned);
        if (pinned) {
            /* Insertion sort: 20 values. */
            for (int i = 1; i < PLACEMENT_BATCHES; i++)
                for (int j = i; j > 0 && batch_ns[j - 1] > batch_ns[j]; j--) {
                    double t = batch_ns[j];
                    batch_ns[j] = batch_ns[j - 1];
                    batch_ns[j - 1] = t;
                }
            ns = batch_ns[PLACEMENT_BATCHES / 2];
        }
    }
    pthread_setaffinity_np(pthread_self(), sizeof before, &before);
    return ns;
}

/* The ID of this process's first thread whose name starts with `prefix`
   (the instance's "imconv-callback"), or -1. */
static long thread_named(const char *prefix) {
    char path[300], name[32];
    long found = -1;
    DIR *tasks = opendir("/proc/self/task");
    struct dirent *e;
    while (found < 0 && tasks && (e = readdir(tasks))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(name, sizeof name, f) && strncmp(name, prefix, strlen(prefix)) == 0)
            found = atol(e->d_name);
        fclose(f);
    }
    if (tasks) closedir(tasks);
    return found;
}

/* The CPU a thread of this process last ran on (/proc's stat, field 39),
   or -1: whether the callback thread shares the caller's CPU. */
static int last_cpu(long tid) {
    char path[100], line[1024];
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int cpu = -1;
    if (fgets(line, sizeof line, f)) {
        const char *p = strrchr(line, ')'); /* the name may hold spaces */
        for (int field = 2; p && field < 39; field++) p = strchr(p + 1, ' ');
        if (p) cpu = atoi(p + 1);
    }
    fclose(f);
    return cpu;
}

#endif
