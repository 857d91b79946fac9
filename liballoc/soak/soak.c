/* Threaded soak of liballoc as the process allocator (linked with
 * liballoc.a): workers allocate, free and realloc random sizes through every
 * API, fill each block with a pattern of its own and verify it on every
 * free, realloc and hand-over; blocks travel between threads through queues,
 * so many frees are cross-thread. Workers end after a random number of
 * iterations and are replaced, the replacement inheriting their blocks (so
 * abandoned pages are freed into and adopted). A controller thread calls
 * la_flush_all, la_trim, malloc_trim and injects PRESSURE LOW/MEDIUM/
 * CRITICAL, RECLAIM and IDLE events into the monitor at random intervals.
 *
 * Usage: soak SECONDS THREADS [SEED] [MEM_MB]
 * Every ~10 s and at the end: operations (allocator calls: allocations,
 * reallocs, frees), operations/s, Rss and Private_Dirty from
 * /proc/self/smaps_rollup, la_stats figures. Exit status 0; 1 on any
 * content mismatch, bad alignment, short usable size, failed allocation,
 * bytes left in use after everything was freed, or injected events the
 * monitor did not handle; 2 on bad arguments. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/memnotify.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "liballoc.h"
#include "../tests/pattern.h"

#define MAX_THREADS 64
#define SLOTS 1024          /* blocks a worker holds */
#define QCAP 1024           /* blocks waiting in a worker's inbound queue */
#define MiB ((size_t)1 << 20)

struct blk {
	unsigned char *p;
	size_t n;
	uint64_t tag;
};

/* A worker's state outlives the thread: its replacement takes it over. */
struct worker {
	struct blk slot[SLOTS];
	size_t live;                    /* bytes held in slot[] */
	pthread_mutex_t qlock;          /* guards q, qn */
	struct blk q[QCAP];
	unsigned qn;
	_Atomic(uint64_t) ops;          /* allocator calls made (alloc, realloc, free) */
	_Atomic(int) finished;          /* the thread returned; join and replace */
	uint64_t rng;
	unsigned incarnation;
	pthread_t tid;
} __attribute__((aligned(64)));

static struct worker *workers;
static __thread struct worker *me; /* the worker running on this thread */
static unsigned nthreads;
static size_t mem_per_thread;
static _Atomic(int) stop;
static _Atomic(uint64_t) tag_seq, respawns, injected, inject_failed, flushes;

static __attribute__((noreturn, format(printf, 1, 2))) void fail(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(buf, sizeof buf, "soak: FAILED: ");
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	if (write(2, buf, (size_t)n) < 0)
		_exit(1);
	_exit(1);
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ULL;
}

/* One allocator call made by this thread (only its owner writes ops). */
static void count_op(void)
{
	if (me)
		atomic_store_explicit(&me->ops, atomic_load_explicit(&me->ops, memory_order_relaxed) + 1,
				      memory_order_relaxed);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Mostly small, some medium and large, a few huge (> 2 MiB). */
static size_t rnd_size(uint64_t *r)
{
	uint64_t x = rnd(r), k = x % 1000;
	x >>= 10;
	if (k < 700)
		return 1 + x % 256;
	if (k < 920)
		return 257 + x % 8000;
	if (k < 990)
		return 8192 + x % (256 * 1024);
	if (k < 998)
		return 256 * 1024 + x % (2 * MiB);
	return 2 * MiB + x % (6 * MiB);
}

static void check(const struct blk *b, size_t upto, const char *when)
{
	size_t bad = lapat_check(b->p, 0, upto, b->tag);
	if (bad != SIZE_MAX)
		fail("%s: block %p (%zu bytes, tag %#llx) differs at offset %zu", when, (void *)b->p,
		     b->n, (unsigned long long)b->tag, bad);
}

static void take_block(struct blk *b, void *p, size_t n, size_t align, const char *what)
{
	if (!p)
		fail("%s(%zu) failed: %s", what, n, strerror(errno));
	if ((uintptr_t)p & (align - 1))
		fail("%s(%zu) = %p, not aligned to %zu", what, n, p, align);
	if (malloc_usable_size(p) < n)
		fail("%s(%zu): usable size %zu", what, n, malloc_usable_size(p));
	b->p = p;
	b->n = n;
	b->tag = atomic_fetch_add_explicit(&tag_seq, 1, memory_order_relaxed) + 1;
}

/* A new block through one of the allocation calls. */
static void alloc_block(struct blk *b, uint64_t *r)
{
	size_t n = rnd_size(r);
	void *p = NULL;
	size_t align = n > 8 ? 16 : 8, a;
	switch (rnd(r) % 8) {
	case 0: {
		size_t nm = 1 + n % 7, sz = n / nm + 1;
		n = nm * sz;
		p = calloc(nm, sz);
		take_block(b, p, n, align, "calloc");
		for (size_t k = 0; k < n; k++)
			if (b->p[k])
				fail("calloc(%zu, %zu): byte %zu not zero", nm, sz, k);
		break;
	}
	case 1:
		a = (size_t)8 << rnd(r) % 14; /* 8 B .. 64 KiB */
		if (posix_memalign(&p, a, n))
			p = NULL;
		take_block(b, p, n, a > align ? a : align, "posix_memalign");
		break;
	case 2:
		a = (size_t)1 << rnd(r) % 22; /* 1 B .. 2 MiB */
		p = aligned_alloc(a, n);
		take_block(b, p, n, a > align ? a : align, "aligned_alloc");
		break;
	case 3:
		p = realloc(NULL, n);
		take_block(b, p, n, align, "realloc(NULL)");
		break;
	default:
		p = malloc(n);
		take_block(b, p, n, align, "malloc");
		break;
	}
	lapat_fill(b->p, 0, n, b->tag);
	count_op();
}

static void free_block(struct blk *b, const char *when)
{
	check(b, b->n, when);
	free(b->p);
	b->p = NULL;
	count_op();
}

static void realloc_block(struct blk *b, uint64_t *r)
{
	check(b, b->n, "before realloc");
	size_t n = rnd(r) % 4 ? rnd_size(r) : b->n + rnd(r) % 64; /* some grow by a bit */
	unsigned char *q = realloc(b->p, n);
	if (!q)
		fail("realloc(%zu -> %zu) failed", b->n, n);
	count_op();
	if ((uintptr_t)q & ((n > 8 ? 16 : 8) - 1))
		fail("realloc(%zu) = %p, misaligned", n, (void *)q);
	if (malloc_usable_size(q) < n)
		fail("realloc(%zu): usable size %zu", n, malloc_usable_size(q));
	size_t keep = b->n < n ? b->n : n;
	b->p = q;
	check(b, keep, "after realloc");
	lapat_fill(q, keep, n, b->tag);
	b->n = n;
}

/* Hand b to another worker's queue; false if that queue is full. */
static bool send_block(struct worker *self, struct blk *b, uint64_t *r)
{
	struct worker *to = &workers[rnd(r) % nthreads];
	if (to == self && nthreads > 1)
		to = &workers[(unsigned)(self - workers + 1) % nthreads];
	pthread_mutex_lock(&to->qlock);
	bool ok = to->qn < QCAP;
	if (ok)
		to->q[to->qn++] = *b;
	pthread_mutex_unlock(&to->qlock);
	if (ok)
		b->p = NULL;
	return ok;
}

/* Blocks other workers sent: verify each, then free it here or keep it. */
static void drain_queue(struct worker *w, uint64_t *r)
{
	struct blk in[64];
	unsigned n;
	pthread_mutex_lock(&w->qlock);
	n = w->qn < 64 ? w->qn : 64;
	w->qn -= n;
	memcpy(in, w->q + w->qn, n * sizeof *in);
	pthread_mutex_unlock(&w->qlock);
	for (unsigned k = 0; k < n; k++) {
		struct blk *s = &w->slot[rnd(r) % SLOTS];
		if (rnd(r) % 4 == 0 && !s->p && w->live + in[k].n <= mem_per_thread) {
			check(&in[k], in[k].n, "on receipt");
			*s = in[k];
			w->live += s->n;
		} else {
			free_block(&in[k], "freeing a received block");
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t *r = &w->rng;
	me = w;
	uint64_t life = 20000 + rnd(r) % 400000, done = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed) && done < life) {
		struct blk *b = &w->slot[rnd(r) % SLOTS];
		unsigned op = (unsigned)(rnd(r) % 100);
		if (!b->p) {
			if (op < 60) {
				alloc_block(b, r);
				w->live += b->n;
				if (w->live > mem_per_thread) {
					w->live -= b->n;
					free_block(b, "over budget");
				}
			}
		} else if (op < 40) {
			w->live -= b->n;
			free_block(b, "before free");
		} else if (op < 60) {
			w->live -= b->n;
			realloc_block(b, r);
			w->live += b->n;
			if (w->live > mem_per_thread) {
				w->live -= b->n;
				free_block(b, "over budget");
			}
		} else if (op < 80) {
			size_t n = b->n;
			check(b, n, "before sending");
			if (send_block(w, b, r))
				w->live -= n;
		} else {
			check(b, b->n, "on a periodic check");
		}
		if ((done & 15) == 0)
			drain_queue(w, r);
		done++;
	}
	atomic_store_explicit(&w->finished, 1, memory_order_release);
	return NULL; /* the heap detaches; pages with live blocks are abandoned */
}

static void spawn(struct worker *w, uint64_t seed)
{
	w->rng = seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)((w - workers) * 1000 + w->incarnation + 1));
	if (!w->rng)
		w->rng = 1;
	w->incarnation++;
	atomic_store(&w->finished, 0);
	if (pthread_create(&w->tid, NULL, worker_main, w))
		fail("pthread_create: %s", strerror(errno));
}

/* The controller: the monitor's events and the release calls, at random
 * intervals of 20-500 ms. It never allocates. */
static void *controller_main(void *arg)
{
	uint64_t r = *(uint64_t *)arg | 1;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct timespec ts = { 0, (long)(20 + rnd(&r) % 480) * 1000000L };
		nanosleep(&ts, NULL);
		unsigned k = (unsigned)(rnd(&r) % 9);
		int rc = 0;
		switch (k) {
		case 0: la_flush_all(); break;
		case 1: la_trim(rnd(&r) % 2 ? 0 : (size_t)(rnd(&r) % 256) * MiB); break;
		case 2: malloc_trim(0); break;
		case 3: rc = la_monitor_inject(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_LOW, 0); break;
		case 4: rc = la_monitor_inject(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_MEDIUM, 0); break;
		case 5: rc = la_monitor_inject(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_CRITICAL, 0); break;
		case 6: rc = la_monitor_inject(MEMNOTIFY_EVENT_RECLAIM, 0, 1 + rnd(&r) % 65536); break;
		case 7: rc = la_monitor_inject(MEMNOTIFY_EVENT_IDLE, 0, 0); break;
		default: rc = la_monitor_inject(MEMNOTIFY_EVENT_ACTIVE, 0, 0); break;
		}
		if (k < 3)
			atomic_fetch_add(&flushes, 1);
		else if (rc == 0)
			atomic_fetch_add(&injected, 1);
		else
			atomic_fetch_add(&inject_failed, 1);
	}
	return NULL;
}

/* Rss and Private_Dirty of this process in KiB (-1 if unreadable). */
static void smaps_rollup(long *rss, long *dirty)
{
	char buf[4096];
	*rss = *dirty = -1;
	int fd = open("/proc/self/smaps_rollup", O_RDONLY);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	char *s = strstr(buf, "\nRss:");
	if (s)
		*rss = strtol(s + 5, NULL, 10);
	s = strstr(buf, "\nPrivate_Dirty:");
	if (s)
		*dirty = strtol(s + 15, NULL, 10);
}

static struct la_stats stats(void)
{
	struct la_stats st;
	memset(&st, 0, sizeof st);
	st.version = LA_STATS_VERSION;
	st.size = sizeof st;
	la_stats(&st);
	return st;
}

static uint64_t total_ops(void)
{
	uint64_t s = 0;
	for (unsigned i = 0; i < nthreads; i++)
		s += atomic_load_explicit(&workers[i].ops, memory_order_relaxed);
	return s;
}

static void report(const char *what, double t, uint64_t ops, double rate)
{
	long rss, dirty;
	smaps_rollup(&rss, &dirty);
	struct la_stats st = stats();
	uint64_t cached = st.bytes_pool_dirty;
	for (unsigned k = 0; k < LA_TIER_COUNT; k++)
		cached += st.bytes_thread_cached[k] + st.bytes_abandoned_cached[k];
	printf("soak: %s %4.0f s: %llu ops (%.0f/s) | Rss %.1f MiB, Private_Dirty %.1f MiB | "
	       "la_stats in use %.1f MiB, cached %.1f MiB, mapped %.1f MiB, %llu threads, "
	       "%llu monitor events, %llu flushes, %llu respawns\n",
	       what, t, (unsigned long long)ops, rate, rss / 1024.0, dirty / 1024.0,
	       st.bytes_in_use / (double)MiB, cached / (double)MiB, st.bytes_mapped / (double)MiB,
	       (unsigned long long)st.threads, (unsigned long long)st.monitor_events,
	       (unsigned long long)atomic_load(&flushes), (unsigned long long)atomic_load(&respawns));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: soak SECONDS THREADS [SEED] [MEM_MB]\n");
		return 2;
	}
	double secs = strtod(argv[1], NULL);
	long nt = strtol(argv[2], NULL, 10);
	uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 0) : 1;
	long mem_mb = argc > 4 ? strtol(argv[4], NULL, 10) : 256;
	if (secs <= 0 || nt < 1 || nt > MAX_THREADS || mem_mb < 16) {
		fprintf(stderr, "soak: need SECONDS > 0, 1 <= THREADS <= %d, MEM_MB >= 16\n",
			MAX_THREADS);
		return 2;
	}
	nthreads = (unsigned)nt;
	mem_per_thread = (size_t)mem_mb * MiB / nthreads;
	workers = aligned_alloc(64, nthreads * sizeof *workers);
	if (!workers)
		fail("aligned_alloc workers");
	memset(workers, 0, nthreads * sizeof *workers);
	int src = la_monitor_start();
	printf("soak: %u threads, %.0f s, seed %llu, %ld MiB of blocks at most, monitor source %d\n",
	       nthreads, secs, (unsigned long long)seed, mem_mb, src);
	fflush(stdout);
	uint64_t in_use_before = stats().bytes_in_use;
	uint64_t events_before = stats().monitor_events;

	for (unsigned i = 0; i < nthreads; i++) {
		pthread_mutex_init(&workers[i].qlock, NULL);
		spawn(&workers[i], seed);
	}
	pthread_t ctl;
	uint64_t ctl_seed = seed * 7919;
	if (pthread_create(&ctl, NULL, controller_main, &ctl_seed))
		fail("pthread_create controller");

	double t0 = now_s(), last = t0;
	uint64_t last_ops = 0;
	while (now_s() - t0 < secs) {
		struct timespec ts = { 0, 100000000L };
		nanosleep(&ts, NULL);
		for (unsigned i = 0; i < nthreads; i++) {
			if (!atomic_load_explicit(&workers[i].finished, memory_order_acquire))
				continue;
			pthread_join(workers[i].tid, NULL);
			atomic_fetch_add(&respawns, 1);
			spawn(&workers[i], seed);
		}
		double t = now_s();
		if (t - last >= 10.0) {
			uint64_t ops = total_ops();
			report("at", t - t0, ops, (double)(ops - last_ops) / (t - last));
			last = t;
			last_ops = ops;
		}
	}
	atomic_store(&stop, 1);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(workers[i].tid, NULL);
	pthread_join(ctl, NULL);
	double elapsed = now_s() - t0;
	uint64_t ops = total_ops();
	report("end", elapsed, ops, (double)ops / elapsed);

	/* Everything still held, in slots and queues, is checked and freed here
	 * (another thread than most of their owners); then nothing may remain. */
	for (unsigned i = 0; i < nthreads; i++) {
		struct worker *w = &workers[i];
		for (unsigned k = 0; k < SLOTS; k++)
			if (w->slot[k].p)
				free_block(&w->slot[k], "at the end");
		for (unsigned k = 0; k < w->qn; k++)
			free_block(&w->q[k], "at the end (queued)");
		w->qn = 0;
	}
	la_flush_all();
	struct la_stats st = stats();
	long rss, dirty;
	smaps_rollup(&rss, &dirty);
	printf("soak: all freed, la_flush_all: Rss %.1f MiB, Private_Dirty %.1f MiB, in use %llu B "
	       "(%llu B before the workers), mapped %.1f MiB\n", rss / 1024.0, dirty / 1024.0,
	       (unsigned long long)st.bytes_in_use, (unsigned long long)in_use_before,
	       st.bytes_mapped / (double)MiB);
	/* glibc keeps a little of its own (thread stacks' TLS vectors) */
	if (st.bytes_in_use > in_use_before + MiB)
		fail("%llu bytes still in use after freeing everything (%llu before)",
		     (unsigned long long)st.bytes_in_use, (unsigned long long)in_use_before);
	uint64_t want = events_before + atomic_load(&injected);
	double tw = now_s();
	while (stats().monitor_events < want && now_s() - tw < 5.0)
		usleep(10000);
	st = stats();
	if (st.monitor_events < want)
		fail("the monitor handled %llu of %llu injected events",
		     (unsigned long long)(st.monitor_events - events_before),
		     (unsigned long long)atomic_load(&injected));
	if (src && atomic_load(&inject_failed))
		fail("%llu event injections failed with the monitor running",
		     (unsigned long long)atomic_load(&inject_failed));
	printf("soak: OK: %llu ops in %.0f s (%.0f/s), %llu events injected and handled, "
	       "%llu flushes, %llu thread respawns\n", (unsigned long long)ops, elapsed,
	       (double)ops / elapsed, (unsigned long long)atomic_load(&injected),
	       (unsigned long long)atomic_load(&flushes), (unsigned long long)atomic_load(&respawns));
	free(workers);
	return 0;
}
