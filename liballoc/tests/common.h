/* Shared helpers for liballoc tests (kselftest harness). Everything here works
 * in a static musl binary with no shell and only /proc, /sys, /dev, /tmp. */
#ifndef LA_TEST_COMMON_H
#define LA_TEST_COMMON_H
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <malloc.h>
#include "liballoc.h"
#include "kselftest_harness.h"

#ifndef __GLIBC__
/* musl's headers lack these; liballoc defines them anyway. */
void *pvalloc(size_t n);
int malloc_trim(size_t pad);
#endif

/* xorshift64*: deterministic per-thread randomness. */
static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ULL;
}

/* Fill/verify n bytes with a pattern derived from tag; byte i depends only on
 * (tag, i), so any prefix of a filled block verifies. A block that was
 * corrupted or handed out twice is detected on free/realloc. */
static inline uint64_t pat_word(uint64_t tag, size_t w)
{
	return (tag + w) * 0x9E3779B97F4A7C15ULL + (w >> 3);
}

static inline void pat_fill(void *p, size_t n, uint64_t tag)
{
	unsigned char *c = p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v = pat_word(tag, i >> 3);
		memcpy(c + i, &v, 8);
	}
	if (i < n) {
		uint64_t v = pat_word(tag, i >> 3);
		memcpy(c + i, &v, n - i);
	}
}

static inline int pat_check(const void *p, size_t n, uint64_t tag)
{
	const unsigned char *c = p;
	size_t i = 0;
	uint64_t v, w;
	for (; i + 8 <= n; i += 8) {
		v = pat_word(tag, i >> 3);
		memcpy(&w, c + i, 8);
		if (w != v)
			return 0;
	}
	if (i < n) {
		v = pat_word(tag, i >> 3);
		w = 0;
		memcpy(&w, c + i, n - i);
		if (memcmp(&w, &v, n - i))
			return 0;
	}
	return 1;
}

/* Rss of this process in KiB from /proc/self/smaps_rollup (-1 if absent). */
static inline long rss_kb(void)
{
	char buf[4096];
	int fd = open("/proc/self/smaps_rollup", O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *r = strstr(buf, "\nRss:");
	return r ? strtol(r + 5, NULL, 10) : -1;
}

static inline struct la_stats stats_now(void)
{
	struct la_stats st;
	memset(&st, 0, sizeof st);
	st.version = LA_STATS_VERSION;
	st.size = sizeof st;
	la_stats(&st);
	return st;
}

/* Heavy loops stop at their op count or after this many seconds, whichever
 * comes first, so the suite stays inside the harness's 30 s per-test timeout
 * on slow emulated machines (QEMU TCG) while doing full work on real ones. */
#define LA_TEST_BUDGET_S 8.0
#include <time.h>
static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int is_aligned(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}
#endif
