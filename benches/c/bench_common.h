/* Shared by the imconv benchmark and its SQLite baseline: the data set,
 * timing, statistics and the JSON result lines. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p) {
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Resident memory of this process, in bytes. */
static double rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static FILE *results;
static const char *implementation;

/* One result line: the median, min and max of `n` rounds. */
static void report(const char *metric, long size, const char *unit, double *rounds, size_t n) {
    double sorted[64];
    memcpy(sorted, rounds, n * sizeof *rounds);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    fprintf(results,
            "{\"implementation\":\"%s\",\"metric\":\"%s\",\"size\":%ld,\"unit\":\"%s\","
            "\"median\":%.6g,\"min\":%.6g,\"max\":%.6g,\"rounds\":%zu}\n",
            implementation, metric, size, unit, median, sorted[0], sorted[n - 1], n);
    fflush(results);
    fprintf(stderr, "  %-10s %-28s %8ld  median %12.4g %s\n", implementation, metric, size, median, unit);
}

static void report_one(const char *metric, long size, const char *unit, double value) {
    report(metric, size, unit, &value, 1);
}

/* The data set: conversation i, half one-to-one and half groups. */
static void conversation_id(long i, char *out, size_t cap) {
    if (i % 2 == 0) snprintf(out, cap, "c2c_user%07ld", i);
    else snprintf(out, cap, "group_grp%07ld", i);
}

static void missing_id(long i, char *out, size_t cap) { snprintf(out, cap, "c2c_nobody%07ld", i); }

static const char *MESSAGE_TEXT =
    "See you at the station at half past eight, and bring the tickets for the early train.";

/* The fields, shared by both implementations. */
typedef struct {
    char id[40], show_name[40], face_url[64], group_type[16], last_message[320], marks[16], groups[16];
    long unread, recv_opt, pinned, order_key;
} record;

static void make_record(long i, record *r) {
    conversation_id(i, r->id, sizeof r->id);
    if (i % 2 == 0) {
        snprintf(r->show_name, sizeof r->show_name, "User %07ld", i);
        r->group_type[0] = '\0';
    } else {
        snprintf(r->show_name, sizeof r->show_name, "Group %07ld", i);
        snprintf(r->group_type, sizeof r->group_type, "Work");
    }
    snprintf(r->face_url, sizeof r->face_url, "https://cdn.example.com/avatars/%07ld.png", i);
    snprintf(r->last_message, sizeof r->last_message,
             "{\"elemType\":1,\"isRead\":false,\"isSelf\":false,\"msgID\":\"msg-%07ld-1700000000\","
             "\"sender\":\"user%07ld\",\"seq\":%ld,\"status\":2,\"textElem\":{\"text\":\"%s\"},"
             "\"timestamp\":%ld}",
             i, (i * 7) % 1000000, i, MESSAGE_TEXT, 1700000000 + i);
    snprintf(r->marks, sizeof r->marks, "%s", i % 7 == 0 ? "[1]" : "[]");
    snprintf(r->groups, sizeof r->groups, "%s", i % 3 == 0 ? "[\"Work\"]" : "[]");
    r->unread = i % 13;
    r->recv_opt = i % 5 == 0 ? 2 : 0;
    r->pinned = i % 100 == 0 && i < 5000; /* at most 50 pinned, as Tencent allows */
    r->order_key = i;
}

/* A deterministic pseudo-random sequence (xorshift). */
static uint64_t rng_state = 88172645463325252ULL;
static uint64_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#endif
