/* liballoc benchmark workloads (allocator-agnostic: run under LD_PRELOAD or
 * statically linked against any malloc).
 *   bench WORKLOAD [scale]
 * prints one line: "WORKLOAD time_s=X peak_kb=N final_kb=N [madvise=N munmap=N]"
 * Rss comes from /proc/self/smaps_rollup: peak is the maximum over ~100
 * checkpoints taken during the run, final is after everything was freed.
 * madvise/munmap deltas over the timed loop are printed when liballoc is the
 * allocator (found with dlsym; the static musl build has no dlsym use). */
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <dlfcn.h>
#endif
#include "liballoc.h"

static double scale = 1.0;
typedef int (*stats_fn)(struct la_stats *);
static stats_fn st;
static struct la_stats mark_a = { .version = LA_STATS_VERSION, .size = sizeof(struct la_stats) };

/* Start of the measured steady state for OS-call counting. */
static void mark(void)
{
	if (st)
		st(&mark_a);
}
static _Atomic long peak_kb;

static long rss_kb(void)
{
	char buf[4096];
	int fd = open("/proc/self/smaps_rollup", O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *r = strstr(buf, "\nRss:");
	return r ? strtol(r + 5, NULL, 10) : 0;
}

static void checkpoint(void)
{
	long r = rss_kb(), p = atomic_load(&peak_kb);
	while (r > p && !atomic_compare_exchange_weak(&peak_kb, &p, r))
		;
}

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ULL;
}

static inline void touch(void *p, size_t n)
{
	/* write first and last cache line, as real users do */
	((volatile char *)p)[0] = 1;
	if (n > 64)
		((volatile char *)p)[n - 1] = 1;
}

static long N(long base)
{
	long n = (long)(base * scale);
	return n < 1 ? 1 : n;
}

/* ---- larson-style server churn: threads replace random slots; every round
 * the slot arrays rotate between threads, so frees are cross-thread. ---- */
#define LT 2
#define LSLOTS 2000
static void *lslots[LT][LSLOTS];
static pthread_barrier_t lbar;

static void *larson_thread(void *arg)
{
	long id = (long)arg;
	uint64_t s = 12345 + (uint64_t)id;
	long rounds = N(16), per = 150000;
	for (long r = 0; r < rounds; r++) {
		void **sl = lslots[(id + r) % LT];
		for (long i = 0; i < per; i++) {
			unsigned k = (unsigned)(rnd(&s) % LSLOTS);
			size_t n = 16 + rnd(&s) % 1008;
			free(sl[k]);
			sl[k] = malloc(n);
			touch(sl[k], n);
		}
		if (id == 0)
			checkpoint();
		pthread_barrier_wait(&lbar);
	}
	return NULL;
}

static void w_larson(void)
{
	pthread_t t[LT];
	pthread_barrier_init(&lbar, NULL, LT);
	for (long i = 0; i < LT; i++)
		pthread_create(&t[i], NULL, larson_thread, (void *)i);
	for (int i = 0; i < LT; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < LT; i++)
		for (int k = 0; k < LSLOTS; k++)
			free(lslots[i][k]);
}

/* ---- producer/consumer: one thread allocates batches, another frees them.
 * Batches travel through a small mutex/condvar queue, so the result depends
 * on the allocator's cross-thread free path rather than on scheduling. ---- */
#define BATCH 256
#define QCAP 64
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void **b[QCAP];
	unsigned head, count;
	int done;
} pq = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *consumer(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&pq.mu);
		while (!pq.count && !pq.done)
			pthread_cond_wait(&pq.cv, &pq.mu);
		if (!pq.count) {
			pthread_mutex_unlock(&pq.mu);
			return NULL;
		}
		void **b = pq.b[pq.head];
		pq.head = (pq.head + 1) % QCAP;
		pq.count--;
		pthread_cond_broadcast(&pq.cv);
		pthread_mutex_unlock(&pq.mu);
		for (int i = 0; i < BATCH; i++)
			free(b[i]);
		free(b);
	}
}

static void w_prodcons(void)
{
	long batches = N(12000);
	pthread_t t;
	uint64_t s = 7;
	pthread_create(&t, NULL, consumer, NULL);
	for (long k = 0; k < batches; k++) {
		void **b = malloc(BATCH * sizeof *b);
		for (int i = 0; i < BATCH; i++) {
			size_t n = 16 + rnd(&s) % 240;
			b[i] = malloc(n);
			touch(b[i], n);
		}
		pthread_mutex_lock(&pq.mu);
		while (pq.count == QCAP)
			pthread_cond_wait(&pq.cv, &pq.mu);
		pq.b[(pq.head + pq.count++) % QCAP] = b;
		pthread_cond_broadcast(&pq.cv);
		pthread_mutex_unlock(&pq.mu);
		if ((k & 0xff) == 0)
			checkpoint();
	}
	pthread_mutex_lock(&pq.mu);
	pq.done = 1;
	pthread_cond_broadcast(&pq.cv);
	pthread_mutex_unlock(&pq.mu);
	pthread_join(t, NULL);
}

/* ---- 8..64 byte alloc/free loops ---- */
static void w_small(void)
{
	void *v[128];
	uint64_t s = 3;
	long rounds = N(150000);
	for (long r = 0; r < rounds; r++) {
		for (int i = 0; i < 128; i++) {
			v[i] = malloc(8 + (rnd(&s) & 56));
			*(volatile char *)v[i] = 0;
		}
		for (int i = 0; i < 128; i++)
			free(v[i]);
		for (int i = 0; i < 64; i++) { /* immediate pairs */
			void *p = malloc(8 + (size_t)(i & 7) * 8);
			*(volatile char *)p = 0;
			free(p);
		}
		if ((r & 0x3fff) == 0)
			checkpoint();
	}
}

/* ---- mixed sizes up to 1 MiB, log-uniform, working set of 2000 ---- */
static void w_mixed(void)
{
	static void *v[2000];
	uint64_t s = 11;
	long ops = N(600000);
	for (long i = 0; i < ops; i++) {
		unsigned k = (unsigned)(rnd(&s) % 2000);
		free(v[k]);
		unsigned sh = (unsigned)(rnd(&s) % 20); /* 2^0 .. 2^20 */
		size_t n = ((size_t)1 << sh) + rnd(&s) % ((size_t)1 << sh);
		if (n > (1 << 20))
			n = 1 << 20;
		v[k] = malloc(n);
		touch(v[k], n);
		if ((i & 0x1fff) == 0)
			checkpoint();
	}
	for (int k = 0; k < 2000; k++)
		free(v[k]);
}

/* ---- realloc growth: many buffers growing by small appends ---- */
static void w_realloc(void)
{
	uint64_t s = 5;
	long rounds = N(60);
	for (long r = 0; r < rounds; r++) {
		static char *b[64];
		static size_t len[64];
		for (int step = 0; step < 4000; step++) {
			for (int i = 0; i < 64; i++) {
				size_t add = 1 + rnd(&s) % 64;
				b[i] = realloc(b[i], len[i] + add);
				memset(b[i] + len[i], 'x', add);
				len[i] += add;
			}
		}
		checkpoint();
		for (int i = 0; i < 64; i++) {
			free(b[i]);
			b[i] = NULL;
			len[i] = 0;
		}
	}
}

/* ---- fragmentation: many small objects, free most at random, then allocate
 * a different size class; peak and final Rss show how holes are reused ---- */
static void w_frag(void)
{
	long n = N(400000);
	void **v = calloc((size_t)n, sizeof *v);
	uint64_t s = 9;
	for (int round = 0; round < 4; round++) {
		size_t sz = round % 2 ? 200 : 48;
		for (long i = 0; i < n; i++)
			if (!v[i]) {
				v[i] = malloc(sz);
				memset(v[i], 1, sz);
			}
		checkpoint();
		for (long i = 0; i < n; i++)
			if (rnd(&s) % 10 < 9) {
				free(v[i]);
				v[i] = NULL;
			}
		checkpoint();
	}
	for (long i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- steady state: fixed working set recycled; counts OS calls ---- */
static void w_steady(void)
{
	static void *v[1024];
	size_t sizes[] = { 16, 40, 100, 300, 1000, 5000, 30000, 200000 };
	uint64_t s = 1;
	long ops = N(2000000);
	for (long i = 0; i < ops; i++) {
		if (i == 50000)
			mark(); /* working set reached: from here no OS calls expected */
		unsigned k = (unsigned)(rnd(&s) % 1024);
		free(v[k]);
		v[k] = malloc(sizes[k % 8]);
		touch(v[k], sizes[k % 8]);
		if ((i & 0xffff) == 0)
			checkpoint();
	}
	for (int k = 0; k < 1024; k++)
		free(v[k]);
}

/* ---- thread churn: a server whose worker threads come and go. Each
 * generation starts LT threads that each take one of CSETS slot arrays,
 * replace random slots (freeing blocks allocated by threads that have
 * already exited) and exit. ---- */
#define CSETS 4
#define CSLOTS 2000
static void *cslots[CSETS][CSLOTS];

static void *churn_thread(void *arg)
{
	void **sl = arg;
	uint64_t s = (uint64_t)(uintptr_t)arg | 1;
	for (long i = 0; i < 20000; i++) {
		unsigned k = (unsigned)(rnd(&s) % CSLOTS);
		size_t n = 16 + rnd(&s) % 1008;
		free(sl[k]);
		sl[k] = malloc(n);
		touch(sl[k], n);
	}
	return NULL;
}

static void w_churn(void)
{
	long gens = N(100);
	for (long g = 0; g < gens; g++) {
		pthread_t t[LT];
		for (long i = 0; i < LT; i++)
			pthread_create(&t[i], NULL, churn_thread, cslots[(g * LT + i) % CSETS]);
		for (int i = 0; i < LT; i++)
			pthread_join(t[i], NULL);
		if ((g & 7) == 0)
			checkpoint();
	}
	for (int i = 0; i < CSETS; i++)
		for (int k = 0; k < CSLOTS; k++)
			free(cslots[i][k]);
}

/* ---- size switch after thread exit: 8 threads allocate 48-byte blocks and
 * exit; the main thread frees them all and then allocates the same bytes
 * in 4000-byte blocks. Peak Rss shows whether the emptied pages of exited
 * threads serve another size class. ---- */
#define SWT 8
static void *swap_thread(void *arg)
{
	void **v = arg;
	long n = N(100000);
	for (long i = 0; i < n; i++) {
		v[i] = malloc(48);
		memset(v[i], 1, 48);
	}
	return NULL;
}

static void w_sizeswap(void)
{
	long n = N(100000);
	void **v[SWT];
	pthread_t t[SWT];
	for (int i = 0; i < SWT; i++) {
		v[i] = calloc((size_t)n, sizeof(void *));
		pthread_create(&t[i], NULL, swap_thread, v[i]);
	}
	for (int i = 0; i < SWT; i++)
		pthread_join(t[i], NULL);
	checkpoint();
	for (int i = 0; i < SWT; i++)
		for (long k = 0; k < n; k++)
			free(v[i][k]);
	long big = SWT * n * 48 / 4000;
	void **b = calloc((size_t)big, sizeof *b);
	for (long k = 0; k < big; k++) {
		b[k] = malloc(4000);
		memset(b[k], 2, 4000);
		if ((k & 0x3ff) == 0)
			checkpoint();
	}
	checkpoint();
	for (long k = 0; k < big; k++)
		free(b[k]);
	for (int i = 0; i < SWT; i++)
		free(v[i]);
	free(b);
}

/* ---- huge-block churn: 5..25 MiB blocks, 4 live at a time, every page
 * written (as a buffer being filled is). ---- */
static void w_huge(void)
{
	void *v[4] = { 0 };
	uint64_t s = 13;
	long ops = N(100);
	for (long i = 0; i < ops; i++) {
		unsigned k = (unsigned)(rnd(&s) % 4);
		free(v[k]);
		size_t n = ((size_t)5 << 20) + rnd(&s) % ((size_t)20 << 20);
		char *p = malloc(n);
		for (size_t o = 0; o < n; o += 4096)
			p[o] = (char)o;
		v[k] = p;
		if ((i & 15) == 0)
			checkpoint();
	}
	for (int k = 0; k < 4; k++)
		free(v[k]);
}

/* ---- false sharing, two ways. thrash: each thread allocates small blocks
 * and writes each many times before freeing it; scratch: the main thread
 * allocates one block per thread, each thread frees it and then works on
 * blocks of the same size it allocates itself. An allocator that hands
 * neighbouring bytes of one cache line to different threads makes the
 * lines bounce between CPUs. ---- */
#define FST 2
static void *thrash_thread(void *arg)
{
	void *first = arg;
	free(first);
	long rounds = N(200000);
	for (long r = 0; r < rounds; r++) {
		volatile char *p = malloc(8);
		for (int j = 0; j < 500; j++)
			p[j & 7]++;
		free((void *)p);
	}
	return NULL;
}

static void run_fs(bool scratch)
{
	pthread_t t[FST];
	for (long i = 0; i < FST; i++)
		pthread_create(&t[i], NULL, thrash_thread, scratch ? malloc(8) : NULL);
	for (int i = 0; i < FST; i++)
		pthread_join(t[i], NULL);
	checkpoint();
}

static void w_thrash(void)
{
	run_fs(false);
}

static void w_scratch(void)
{
	run_fs(true);
}

/* ---- thread-pool request/response: a dispatcher allocates requests (small)
 * and hands them to a pool of workers; a worker frees the request and
 * allocates a response (small or medium) that the dispatcher frees. Every
 * block is freed by a thread other than its allocator. ---- */
#define POOLW 2
#define PQCAP 256
struct pmsg { void *req, *resp; size_t resp_n; };
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pmsg *todo[PQCAP], *done[PQCAP];
	unsigned todo_h, todo_n, done_h, done_n;
	int stop;
} pp = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *pool_worker(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg * 7919 + 1;
	pthread_mutex_lock(&pp.mu);
	for (;;) {
		while (!pp.todo_n && !pp.stop)
			pthread_cond_wait(&pp.cv, &pp.mu);
		if (!pp.todo_n)
			break;
		struct pmsg *m = pp.todo[pp.todo_h];
		pp.todo_h = (pp.todo_h + 1) % PQCAP;
		pp.todo_n--;
		pthread_mutex_unlock(&pp.mu);
		free(m->req);
		m->resp_n = rnd(&s) % 4 ? 64 + rnd(&s) % 448 : 4096 + rnd(&s) % 28672;
		m->resp = malloc(m->resp_n);
		memset(m->resp, 3, m->resp_n);
		pthread_mutex_lock(&pp.mu);
		while (pp.done_n == PQCAP)
			pthread_cond_wait(&pp.cv, &pp.mu);
		pp.done[(pp.done_h + pp.done_n++) % PQCAP] = m;
		pthread_cond_broadcast(&pp.cv);
	}
	pthread_mutex_unlock(&pp.mu);
	return NULL;
}

static void w_pool(void)
{
	pthread_t t[POOLW];
	uint64_t s = 17;
	long reqs = N(200000), sent = 0, got = 0;
	for (long i = 0; i < POOLW; i++)
		pthread_create(&t[i], NULL, pool_worker, (void *)(i + 1));
	while (got < reqs) {
		struct pmsg *back[PQCAP];
		unsigned nb = 0;
		pthread_mutex_lock(&pp.mu);
		while (sent < reqs && pp.todo_n < PQCAP) {
			struct pmsg *m = malloc(sizeof *m);
			size_t n = 32 + rnd(&s) % 480;
			m->req = malloc(n);
			memset(m->req, 4, n);
			pp.todo[(pp.todo_h + pp.todo_n++) % PQCAP] = m;
			sent++;
		}
		pthread_cond_broadcast(&pp.cv);
		while (!pp.done_n)
			pthread_cond_wait(&pp.cv, &pp.mu);
		while (pp.done_n) {
			back[nb++] = pp.done[pp.done_h];
			pp.done_h = (pp.done_h + 1) % PQCAP;
			pp.done_n--;
		}
		pthread_cond_broadcast(&pp.cv);
		pthread_mutex_unlock(&pp.mu);
		for (unsigned i = 0; i < nb; i++) {
			free(back[i]->resp);
			free(back[i]);
		}
		got += nb;
		if ((got & 0x3fff) < nb)
			checkpoint();
	}
	pthread_mutex_lock(&pp.mu);
	pp.stop = 1;
	pthread_cond_broadcast(&pp.cv);
	pthread_mutex_unlock(&pp.mu);
	for (int i = 0; i < POOLW; i++)
		pthread_join(t[i], NULL);
}

static const struct {
	const char *name;
	void (*fn)(void);
} workloads[] = {
	{ "larson", w_larson },	  { "prodcons", w_prodcons }, { "small", w_small },
	{ "mixed", w_mixed },	  { "realloc", w_realloc },   { "frag", w_frag },
	{ "steady", w_steady },	  { "churn", w_churn },	      { "sizeswap", w_sizeswap },
	{ "huge", w_huge },	  { "thrash", w_thrash },     { "scratch", w_scratch },
	{ "pool", w_pool },
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s WORKLOAD [scale]\n", argv[0]);
		return 2;
	}
	if (argc > 2)
		scale = atof(argv[2]);
#ifdef __GLIBC__
	st = (stats_fn)dlsym(RTLD_DEFAULT, "la_stats");
#endif
	for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
		if (strcmp(argv[1], workloads[i].name))
			continue;
		struct la_stats b = mark_a;
		checkpoint();
		mark();
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		workloads[i].fn();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (st)
			st(&b);
		struct la_stats a = mark_a;
		checkpoint();
		long fin = rss_kb();
		printf("%s time_s=%.4f peak_kb=%ld final_kb=%ld", argv[1],
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		       atomic_load(&peak_kb), fin);
		if (st)
			printf(" madvise=%llu munmap=%llu mmap=%llu",
			       (unsigned long long)(b.count_madvise - a.count_madvise),
			       (unsigned long long)(b.count_munmap - a.count_munmap),
			       (unsigned long long)(b.count_mmap - a.count_mmap));
		printf("\n");
		return 0;
	}
	fprintf(stderr, "unknown workload %s\n", argv[1]);
	return 2;
}
