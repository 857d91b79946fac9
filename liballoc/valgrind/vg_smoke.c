/* Memcheck workout for liballoc built with -DLA_VALGRIND (src/vg.h), run by
 * `make valgrind` under valgrind --soname-synonyms=somalloc=nouserintercepts
 * (so liballoc, not valgrind, serves malloc): the malloc family across every
 * tier and across threads, la_stats and la_print_stats, the monitor (start,
 * every event type, a forked child with its own monitor) and option parsing
 * (re-executions with good and bad LIBALLOC_* values). Small on purpose:
 * memcheck runs it some 50 times slower.
 *
 * Usage: vg_smoke [all]          everything above; exit 0
 *        vg_smoke opts EXPECT    (internal) one option set, see options()
 *        vg_smoke uaf|dfree|leak|uninit
 *                                commit that error in a liballoc block on
 *                                purpose: memcheck must report it, which
 *                                proves it sees liballoc's blocks
 * A failed check of its own prints "vg_smoke: FAILED: ..." and exits 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/memnotify.h>
#include <malloc.h>
#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "liballoc.h"

extern char **environ;

#define CHECK(c)                                                                    \
	do {                                                                        \
		if (!(c)) {                                                         \
			fprintf(stderr, "vg_smoke: FAILED: %s:%d: %s\n", __FILE__, \
				__LINE__, #c);                                      \
			exit(1);                                                    \
		}                                                                   \
	} while (0)

#define MiB ((size_t)1 << 20)

/* Hide constants from the compiler's allocation-size checks. */
static size_t H(size_t x)
{
	volatile size_t v = x;
	return v;
}

static unsigned char pat(size_t i)
{
	return (unsigned char)(i * 7 + 1);
}

static struct la_stats stats(void)
{
	struct la_stats st;
	memset(&st, 0, sizeof st);
	st.version = LA_STATS_VERSION;
	st.size = sizeof st;
	CHECK(la_stats(&st) == 0);
	return st;
}

/* ---- the malloc family ---- */
static void api(void)
{
	char *z = malloc(0);
	CHECK(z != NULL);
	free(z);
	free(NULL);
	errno = 0;
	CHECK(malloc(H(SIZE_MAX)) == NULL && errno == ENOMEM);

	/* one block through every tier and back; bytes kept are compared */
	static const size_t steps[] = { 1, 100, 5000, 100000, 3 * MiB, 6 * MiB, 200000, 10 };
	unsigned char *b = NULL;
	size_t have = 0;
	for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
		size_t n = steps[s];
		b = realloc(b, n);
		CHECK(b != NULL);
		for (size_t i = 0; i < have && i < n; i++)
			CHECK(b[i] == pat(i));
		for (size_t i = have; i < n; i++)
			b[i] = pat(i);
		have = n;
	}
	errno = 0;
	CHECK(reallocarray(b, H(SIZE_MAX / 4), 8) == NULL && errno == ENOMEM);
	CHECK(b[9] == pat(9));
	free(b);

	/* calloc of every tier reads as zero (and as defined) */
	static const size_t csz[] = { 24, 3000, 70000, 300000, 3 * MiB };
	for (size_t s = 0; s < sizeof csz / sizeof *csz; s++) {
		unsigned char *c = calloc(1, csz[s]);
		CHECK(c != NULL);
		unsigned sum = 0;
		for (size_t i = 0; i < csz[s]; i++)
			sum |= c[i];
		CHECK(sum == 0);
		free(c);
	}

	/* the memalign family: aligned, and every byte writable */
	for (size_t a = 16; a <= 4 * MiB; a *= 8) {
		void *p[5] = { NULL };
		CHECK(posix_memalign(&p[0], a, 100) == 0);
		p[1] = aligned_alloc(a, a + 3);
		p[2] = memalign(a, 5000);
		p[3] = valloc(a);
		p[4] = pvalloc(a + 1);
		for (int k = 0; k < 5; k++) {
			CHECK(p[k] != NULL);
			CHECK(((uintptr_t)p[k] & ((k < 3 ? a : 4096) - 1)) == 0);
			memset(p[k], k, malloc_usable_size(p[k]));
		}
		for (int k = 0; k < 5; k++)
			free(p[k]);
	}
	void *bad = (void *)1;
	CHECK(posix_memalign(&bad, 24, 10) == EINVAL && bad == (void *)1);

	/* the usable size is the caller's to use */
	char *q = malloc(20);
	CHECK(q != NULL && malloc_usable_size(q) >= 20);
	memset(q, 'x', malloc_usable_size(q));
	free(q);
}

/* ---- threads: cross-thread frees and abandoned pages ---- */
#define NB 2000
static unsigned char *blocks[NB];

static void *make_and_leave(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < NB; i++) {
		size_t n = 16 + i % 2000;
		blocks[i] = malloc(n);
		CHECK(blocks[i] != NULL);
		memset(blocks[i], (int)(i & 0xff), n);
	}
	return NULL; /* exits holding them: its pages are abandoned */
}

static void *free_odd(void *arg)
{
	(void)arg;
	for (size_t i = 1; i < NB; i += 2) {
		CHECK(blocks[i][0] == (unsigned char)(i & 0xff));
		free(blocks[i]);
		blocks[i] = NULL;
	}
	return NULL;
}

static void threads(void)
{
	pthread_t t;
	CHECK(pthread_create(&t, NULL, make_and_leave, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(pthread_create(&t, NULL, free_odd, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	for (size_t i = 0; i < NB; i += 2) {
		CHECK(blocks[i][15] == (unsigned char)(i & 0xff));
		free(blocks[i]);
	}
	/* the other way round: this thread's blocks freed by another */
	for (size_t i = 0; i < NB; i++) {
		blocks[i] = malloc(64 + i);
		CHECK(blocks[i] != NULL);
		memset(blocks[i], (int)(i & 0xff), 64 + i);
	}
	CHECK(pthread_create(&t, NULL, free_odd, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	for (size_t i = 0; i < NB; i += 2)
		free(blocks[i]);
	la_flush_all();
}

/* ---- la_stats: every size a caller may pass, every field defined ---- */
static void stats_api(void)
{
	CHECK(la_stats(NULL) == -1);
	union {
		struct la_stats st;
		unsigned char b[sizeof(struct la_stats) + 32];
	} u;
	const uint32_t full = sizeof u.st;
	const uint32_t sizes[] = { 0, 4, 8, 16, 24, full / 2, full - 8, full, full + 32 };
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		memset(&u, 0xa5, sizeof u);
		u.st.version = LA_STATS_VERSION;
		u.st.size = sizes[k];
		int r = la_stats(&u.st);
		if (sizes[k] < 8) {
			CHECK(r == -1);
			continue;
		}
		uint32_t got = sizes[k] < full ? sizes[k] : full;
		CHECK(r == 0 && u.st.version == LA_STATS_VERSION && u.st.size == got);
		for (size_t i = got; i < sizeof u.b; i++)
			CHECK(u.b[i] == 0xa5);
	}
	/* branch on every field: memcheck reports any not written */
	struct la_stats st = stats();
	const uint64_t *f = (const uint64_t *)((const char *)&st + 8);
	uint64_t sum = 0;
	for (size_t i = 0; i < (sizeof st - 8) / 8; i++)
		sum += f[i];
	CHECK(sum != 0);
	la_print_stats();
}

/* ---- the monitor: every event, handled ---- */
static int inject_wait(uint32_t type, uint32_t level, uint64_t pages)
{
	uint64_t before = stats().monitor_events;
	if (la_monitor_inject(type, level, pages))
		return -1;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct timespec nap = { 0, 5000000 };
		nanosleep(&nap, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (stats().monitor_events > before)
			return 0;
	} while (t.tv_sec - t0.tv_sec < 60);
	return -1;
}

static void fill_caches(void)
{
	void *p[256];
	for (int i = 0; i < 256; i++)
		CHECK((p[i] = malloc(i % 2 ? 4000 : 100000)) != NULL);
	for (int i = 0; i < 256; i++)
		free(p[i]);
}

static void monitor(void)
{
	CHECK(la_monitor_start() >= LA_MONITOR_DECAY);
	static const struct { uint32_t type, level; uint64_t pages; } ev[] = {
		{ MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_LOW, 0 },
		{ MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_MEDIUM, 0 },
		{ MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_CRITICAL, 0 },
		{ MEMNOTIFY_EVENT_PRESSURE, 9, 0 },
		{ MEMNOTIFY_EVENT_RECLAIM, 0, 100 },
		{ MEMNOTIFY_EVENT_RECLAIM, 0, UINT64_MAX },
		{ MEMNOTIFY_EVENT_IDLE, 0, 0 },
		{ MEMNOTIFY_EVENT_ACTIVE, 0, 0 },
		{ 0x80, 0, 0 },
	};
	for (size_t i = 0; i < sizeof ev / sizeof *ev; i++) {
		fill_caches();
		CHECK(inject_wait(ev[i].type, ev[i].level, ev[i].pages) == 0);
	}
	CHECK(stats().monitor_events >= sizeof ev / sizeof *ev);
}

/* A child of a process with a running monitor starts its own. */
static void fork_child(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		fill_caches();
		CHECK(inject_wait(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_CRITICAL, 0) == 0);
		exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- options: each set in a fresh process (they are read once) ---- */

/* Child side: the effects EXPECT names must be visible. */
static int opts_child(const char *expect)
{
	if (!strcmp(expect, "huge64k")) {
		uint64_t before = stats().bytes_huge;
		void *p = malloc(100000);
		CHECK(p != NULL && stats().bytes_huge > before);
		free(p);
	} else if (!strcmp(expect, "off")) {
		CHECK(la_monitor_start() == 0);
		CHECK(la_monitor_inject(MEMNOTIFY_EVENT_IDLE, 0, 0) == -1);
		CHECK(stats().monitor_source == LA_MONITOR_NONE);
	} else if (!strcmp(expect, "verbose")) {
		/* a thread (and with it a wait method) only once asked for:
		 * this program is single-threaded */
		CHECK(stats().monitor_wait == LA_WAIT_NONE);
		CHECK(la_monitor_start() > 0);
		CHECK(inject_wait(MEMNOTIFY_EVENT_ACTIVE, 0, 0) == 0);
		CHECK(stats().monitor_wait == LA_WAIT_POLL);
		void *p = malloc(3 * MiB); /* the threshold is 4032K now */
		CHECK(p != NULL && stats().bytes_huge == 0);
		free(p);
	} else {
		CHECK(!"unknown EXPECT");
	}
	return 0;
}

/* Run this program as `opts expect` with env; its stderr must contain every
 * string of want and none of unwanted. */
static void run_opts(const char *self, const char *expect, char *const env[],
		     const char *const want[], const char *unwanted)
{
	int fd[2];
	CHECK(pipe(fd) == 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
	posix_spawn_file_actions_addclose(&fa, fd[0]);
	posix_spawn_file_actions_addclose(&fa, fd[1]);
	char *argv[] = { (char *)self, (char *)"opts", (char *)expect, NULL };
	/* the option set, plus LIBALLOC_URING as this process got it (make
	 * valgrind sets it, see run.sh) unless the set has its own */
	char *envp[16], uring[64];
	size_t n = 0;
	bool has_uring = false;
	for (; env[n]; n++) {
		CHECK(n < 14);
		envp[n] = env[n];
		has_uring |= !strncmp(env[n], "LIBALLOC_URING=", 15);
	}
	const char *u = getenv("LIBALLOC_URING");
	if (u && !has_uring) {
		snprintf(uring, sizeof uring, "LIBALLOC_URING=%s", u);
		envp[n++] = uring;
	}
	envp[n] = NULL;
	pid_t pid;
	CHECK(posix_spawn(&pid, self, &fa, NULL, argv, envp) == 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fd[1]);
	static char out[16384];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof out - 1 && (r = read(fd[0], out + len, sizeof out - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = 0;
	close(fd[0]);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "vg_smoke: FAILED: option set '%s': child status %#x, its stderr:\n%s",
			expect, status, out);
		exit(1);
	}
	for (size_t i = 0; want[i]; i++)
		if (!strstr(out, want[i])) {
			fprintf(stderr, "vg_smoke: FAILED: option set '%s': no \"%s\" in:\n%s",
				expect, want[i], out);
			exit(1);
		}
	if (unwanted && strstr(out, unwanted)) {
		fprintf(stderr, "vg_smoke: FAILED: option set '%s': \"%s\" in:\n%s", expect,
			unwanted, out);
		exit(1);
	}
}

static void options(const char *self)
{
	char *bad_env[] = {
		"LIBALLOC_HUGE_THRESHOLD=64k", "LIBALLOC_TCACHE_PAGES=abc",
		"LIBALLOC_LARGE_CACHE=99999999999999999999k", "LIBALLOC_MONITOR=bogus",
		"LIBALLOC_DECAY_MS=-2", "LIBALLOC_ADAPTIVE=2", "LIBALLOC_SHOW_STATS=1", NULL,
	};
	const char *bad_want[] = {
		"invalid LIBALLOC_TCACHE_PAGES='abc'",
		"invalid LIBALLOC_LARGE_CACHE='99999999999999999999k'",
		"invalid LIBALLOC_MONITOR='bogus'", "invalid LIBALLOC_DECAY_MS='-2'",
		"invalid LIBALLOC_ADAPTIVE='2'", "liballoc stats:", NULL,
	};
	run_opts(self, "huge64k", bad_env, bad_want, "LIBALLOC_HUGE_THRESHOLD");

	char *off_env[] = { "LIBALLOC_MONITOR=off", "LIBALLOC_HUGE_THRESHOLD=", NULL };
	const char *off_want[] = { "invalid LIBALLOC_HUGE_THRESHOLD=''", NULL };
	run_opts(self, "off", off_env, off_want, "monitor:");

	char *verbose_env[] = { "LIBALLOC_VERBOSE=1", "LIBALLOC_URING=0", "LIBALLOC_DECAY_MS=-1",
				"LIBALLOC_MONITOR=auto", "LIBALLOC_HUGE_THRESHOLD=4032K", NULL };
	const char *verbose_want[] = { "liballoc: monitor: wait poll",
				       "liballoc: monitor: event ACTIVE", NULL };
	run_opts(self, "verbose", verbose_env, verbose_want, "invalid");
}

/* ---- errors on purpose ---- */
static int commit_error(const char *what)
{
	volatile unsigned char *p = malloc(64);
	CHECK(p != NULL);
	if (!strcmp(what, "uaf")) {
		p[10] = 1;
		free((void *)p);
		return p[10]; /* read after free */
	}
	if (!strcmp(what, "dfree")) {
		free((void *)p);
		free((void *)p);
		return 0;
	}
	if (!strcmp(what, "leak")) {
		p = NULL; /* the only pointer to it */
		return 0;
	}
	if (!strcmp(what, "uninit")) {
		int r = p[5] == 3; /* never written */
		free((void *)p);
		if (r)
			puts("three");
		return 0;
	}
	CHECK(!"unknown error kind");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "opts"))
		return opts_child(argv[2]);
	if (argc == 2 && strcmp(argv[1], "all"))
		return commit_error(argv[1]);
	CHECK(argc <= 2);
	api();
	threads();
	stats_api();
	monitor();
	fork_child();
	options(argv[0]);
	return 0;
}
