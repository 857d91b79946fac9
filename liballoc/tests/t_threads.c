/* Cross-thread frees (producer/consumer storms), many short-lived threads,
 * thread exit with live blocks (abandon + adopt), and no memory lost. */
#include <pthread.h>
#include <stdatomic.h>
#include "common.h"

/* Bounded MPMC ring guarded by a mutex/condvars: simple and obviously right;
 * the allocator is what is under test. */
#define RING 4096
static struct {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	void *p[RING];
	size_t n[RING];
	uint64_t tag[RING];
	unsigned head, count;
	int producers_left;
} q = { .mu = PTHREAD_MUTEX_INITIALIZER, .not_empty = PTHREAD_COND_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER };
static atomic_int bad;

static void q_put(void *p, size_t n, uint64_t tag)
{
	pthread_mutex_lock(&q.mu);
	while (q.count == RING)
		pthread_cond_wait(&q.not_full, &q.mu);
	unsigned i = (q.head + q.count++) % RING;
	q.p[i] = p;
	q.n[i] = n;
	q.tag[i] = tag;
	pthread_cond_signal(&q.not_empty);
	pthread_mutex_unlock(&q.mu);
}

/* Takes up to max items; returns 0 when producers are done and q is empty. */
static unsigned q_take(void **p, size_t *n, uint64_t *tag, unsigned max)
{
	pthread_mutex_lock(&q.mu);
	while (q.count == 0 && q.producers_left)
		pthread_cond_wait(&q.not_empty, &q.mu);
	unsigned k = 0;
	while (q.count && k < max) {
		p[k] = q.p[q.head];
		n[k] = q.n[q.head];
		tag[k] = q.tag[q.head];
		q.head = (q.head + 1) % RING;
		q.count--;
		k++;
	}
	pthread_cond_broadcast(&q.not_full);
	pthread_mutex_unlock(&q.mu);
	return k;
}

static void *producer(void *arg)
{
	uint64_t s = (uintptr_t)arg * 1000003 + 17;
	double end = now_s() + LA_TEST_BUDGET_S;
	for (int i = 0; i < 150000; i++) {
		if ((i & 1023) == 0 && now_s() > end)
			break;
		uint64_t r = rnd(&s);
		size_t n = r % 8 ? 8 + (r >> 16) % 120 : 8 + (r >> 16) % 8000;
		void *p = malloc(n);
		if (!p) {
			atomic_fetch_add(&bad, 1);
			break;
		}
		pat_fill(p, n, r);
		q_put(p, n, r);
	}
	pthread_mutex_lock(&q.mu);
	q.producers_left--;
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.mu);
	return NULL;
}

static void *consumer(void *arg)
{
	void *p[64];
	size_t n[64];
	uint64_t t[64];
	unsigned k;
	(void)arg;
	while ((k = q_take(p, n, t, 64)) != 0) {
		for (unsigned i = 0; i < k; i++) {
			if (!pat_check(p[i], n[i], t[i]))
				atomic_fetch_add(&bad, 1);
			free(p[i]);
		}
	}
	return NULL;
}

TEST(producer_consumer_storm)
{
	enum { P = 2, C = 2 };
	pthread_t tp[P], tc[C];
	struct la_stats before = stats_now();
	q.producers_left = P;
	for (int i = 0; i < C; i++)
		ASSERT_EQ(0, pthread_create(&tc[i], NULL, consumer, NULL));
	for (int i = 0; i < P; i++)
		ASSERT_EQ(0, pthread_create(&tp[i], NULL, producer, (void *)(uintptr_t)(i + 1)));
	for (int i = 0; i < P; i++)
		pthread_join(tp[i], NULL);
	for (int i = 0; i < C; i++)
		pthread_join(tc[i], NULL);
	ASSERT_EQ(0, atomic_load(&bad));
	la_flush_all();
	struct la_stats after = stats_now();
	/* every block was freed remotely: nothing may stay in use */
	ASSERT_LE(after.bytes_in_use, before.bytes_in_use + 64 * 1024)
	TH_LOG("in use before %llu after %llu", (unsigned long long)before.bytes_in_use,
	       (unsigned long long)after.bytes_in_use);
	ASSERT_LE(after.threads, 1);
	/* the pool got the pages back and flush released them */
	ASSERT_LT(after.bytes_abandoned_cached[0] + after.bytes_abandoned_cached[1], 64 * 1024);
}

/* Each short-lived thread allocates, frees half locally and leaves the other
 * half to the main thread, which frees them after the thread has exited. */
#define LEFT 64
struct shortlived {
	void *left[LEFT];
	size_t n[LEFT];
};

static void *short_thread(void *arg)
{
	struct shortlived *s = arg;
	uint64_t seed = (uintptr_t)arg;
	void *mine[LEFT];
	for (int i = 0; i < LEFT; i++) {
		size_t n = 16 + rnd(&seed) % 3000;
		mine[i] = malloc(n);
		s->n[i] = n;
		s->left[i] = malloc(n);
		if (!mine[i] || !s->left[i]) {
			atomic_fetch_add(&bad, 1);
			return NULL;
		}
		pat_fill(s->left[i], n, (uintptr_t)s + (uint64_t)i);
		memset(mine[i], 1, n);
	}
	for (int i = 0; i < LEFT; i++)
		free(mine[i]);
	return NULL;
}

TEST(hundreds_of_threads)
{
	enum { TOTAL = 400, BATCH = 50 };
	static struct shortlived st[BATCH];
	pthread_t th[BATCH];
	for (int round = 0; round < TOTAL / BATCH; round++) {
		for (int i = 0; i < BATCH; i++)
			ASSERT_EQ(0, pthread_create(&th[i], NULL, short_thread, &st[i]));
		for (int i = 0; i < BATCH; i++)
			ASSERT_EQ(0, pthread_join(th[i], NULL));
		for (int i = 0; i < BATCH; i++)
			for (int k = 0; k < LEFT; k++) {
				ASSERT_TRUE(pat_check(st[i].left[k], st[i].n[k], (uintptr_t)&st[i] + (uint64_t)k));
				free(st[i].left[k]);
			}
	}
	ASSERT_EQ(0, atomic_load(&bad));
	struct la_stats s = stats_now();
	ASSERT_LE(s.threads, 1) TH_LOG("%llu heaps still attached", (unsigned long long)s.threads);
	la_flush_all();
	s = stats_now();
	ASSERT_LT(s.bytes_in_use, 256 * 1024);
	/* heaps are recycled, so 400 threads did not leave 400 segments behind */
	ASSERT_LT(s.segments, 8);
}

/* Abandoned pages are adopted by a later thread allocating the same class. */
static void *leave_blocks(void *arg)
{
	void **v = arg;
	for (int i = 0; i < 4096; i++)
		v[i] = malloc(48);
	return NULL;
}

static void *alloc_48(void *arg)
{
	void **v = arg;
	for (int i = 0; i < 2048; i++)
		v[i] = malloc(48);
	return NULL;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

TEST(abandoned_pages_adopted)
{
	static void *v[4096], *w[2048], *holes[2048];
	pthread_t t;
	/* The monitor thread starts when a second thread allocates, and the
	 * libc blocks of its creation (thread control data) live as long as it
	 * does, on the starting thread's pages: start it here, so that they
	 * are not on the exited thread's pages this test counts. */
	la_monitor_start();
	ASSERT_EQ(0, pthread_create(&t, NULL, leave_blocks, v));
	pthread_join(t, NULL);
	for (int i = 0; i < 4096; i += 2) { /* free half from another thread */
		holes[i / 2] = v[i];
		free(v[i]);
	}
	qsort(holes, 2048, sizeof(void *), cmp_ptr);
	struct la_stats a = stats_now();
	ASSERT_GT(a.bytes_abandoned_cached[0] + 2048 * 48, 0);
	ASSERT_EQ(0, pthread_create(&t, NULL, alloc_48, w));
	pthread_join(t, NULL);
	/* the new thread adopted the exited thread's pages and reused the holes */
	int reused = 0;
	for (int i = 0; i < 2048; i++)
		reused += bsearch(&w[i], holes, 2048, sizeof(void *), cmp_ptr) != NULL;
	ASSERT_GT(reused, 1500) TH_LOG("only %d of 2048 blocks reused abandoned holes", reused);
	for (int i = 1; i < 4096; i += 2)
		free(v[i]);
	for (int i = 0; i < 2048; i++)
		free(w[i]);
	la_flush_all();
	struct la_stats b = stats_now();
	ASSERT_LT(b.bytes_in_use, 64 * 1024);
	ASSERT_EQ(0, b.bytes_abandoned_cached[0]);
}

/* A page whose blocks were all freed by another thread after its owner
 * exited serves any size class: 48-byte blocks left by an exited thread,
 * all freed by this thread, then 4000-byte blocks of the same bytes take
 * the same 64 KiB pages (they went back to the pool as free spans). */
#define SWAP_N (8 * 1365) /* eight 64 KiB pages of 48-byte blocks */
static void *leave_48(void *arg)
{
	void **v = arg;
	for (int i = 0; i < SWAP_N; i++) {
		v[i] = malloc(48);
		if (v[i])
			memset(v[i], 7, 48);
	}
	return NULL;
}

TEST(emptied_abandoned_pages_serve_other_class)
{
	static void *v[SWAP_N], *big[SWAP_N * 48 / 4000];
	static uintptr_t pages[SWAP_N];
	enum { NB = SWAP_N * 48 / 4000 };
	pthread_t t;
	la_monitor_start(); /* its thread's blocks stay off the pages counted */
	ASSERT_EQ(0, pthread_create(&t, NULL, leave_48, v));
	pthread_join(t, NULL);
	for (int i = 0; i < SWAP_N; i++) {
		ASSERT_NE(NULL, v[i]);
		pages[i] = (uintptr_t)v[i] >> 16;
	}
	qsort(pages, SWAP_N, sizeof pages[0], cmp_ptr);
	int npages = 0;
	for (int i = 0; i < SWAP_N; i++)
		if (!i || pages[i] != pages[npages - 1])
			pages[npages++] = pages[i];
	for (int i = 0; i < SWAP_N; i++)
		free(v[i]);
	struct la_stats a = stats_now();
	int hits = 0;
	for (int i = 0; i < NB; i++) {
		big[i] = malloc(4000);
		ASSERT_NE(NULL, big[i]);
		memset(big[i], 9, 4000);
		uintptr_t pg = (uintptr_t)big[i] >> 16;
		hits += bsearch(&pg, pages, (size_t)npages, sizeof pages[0], cmp_ptr) != NULL;
	}
	struct la_stats b = stats_now();
	/* 4000-byte pages are 64 KiB too: most of them must be the emptied
	 * 48-byte pages (the first may still come from this thread's cache) */
	ASSERT_GE(hits, NB / 2) TH_LOG("%d of %d 4000-byte blocks on the %d emptied pages", hits,
				       NB, npages);
	ASSERT_LE(b.segments, a.segments) TH_LOG("segments %llu -> %llu",
						 (unsigned long long)a.segments,
						 (unsigned long long)b.segments);
	for (int i = 0; i < NB; i++)
		free(big[i]);
}

/* Many threads exit with live blocks while others free those blocks and
 * yet others adopt their pages: nothing is lost, nothing crashes. */
#define EX_SLOTS 4096
static _Atomic(void *) ex_slot[EX_SLOTS];
static atomic_int ex_stop;

static void *exiting_thread(void *arg)
{
	uint64_t s = (uintptr_t)arg * 7919 + 1;
	for (int i = 0; i < 300; i++) {
		size_t n = 8 + rnd(&s) % (rnd(&s) % 8 ? 512 : 20000);
		void *p = malloc(n);
		if (!p) {
			atomic_fetch_add(&bad, 1);
			return NULL;
		}
		memset(p, 0x5a, n < 64 ? n : 64);
		p = atomic_exchange(&ex_slot[rnd(&s) % EX_SLOTS], p);
		free(p); /* often a block of a thread that already exited */
	}
	return NULL;
}

static void *slot_freer(void *arg)
{
	uint64_t s = (uintptr_t)arg;
	/* yield now and then: under valgrind, which runs one thread at a time,
	 * a pure spinner would starve the exiting threads */
	for (unsigned i = 0; !atomic_load(&ex_stop); i++) {
		free(atomic_exchange(&ex_slot[rnd(&s) % EX_SLOTS], NULL));
		if (i % 64 == 0)
			sched_yield();
	}
	return NULL;
}

TEST(threads_exit_while_others_free)
{
	enum { F = 2, BATCH = 16, ROUNDS = 40 };
	pthread_t fr[F], th[BATCH];
	atomic_store(&ex_stop, 0);
	for (int i = 0; i < F; i++)
		ASSERT_EQ(0, pthread_create(&fr[i], NULL, slot_freer, (void *)(uintptr_t)(i + 3)));
	double end = now_s() + LA_TEST_BUDGET_S;
	for (int r = 0; r < ROUNDS && (r < 2 || now_s() < end); r++) {
		for (int i = 0; i < BATCH; i++)
			ASSERT_EQ(0, pthread_create(&th[i], NULL, exiting_thread,
						    (void *)(uintptr_t)(r * BATCH + i + 1)));
		for (int i = 0; i < BATCH; i++)
			pthread_join(th[i], NULL);
	}
	atomic_store(&ex_stop, 1);
	for (int i = 0; i < F; i++)
		pthread_join(fr[i], NULL);
	for (int i = 0; i < EX_SLOTS; i++)
		free(atomic_exchange(&ex_slot[i], NULL));
	ASSERT_EQ(0, atomic_load(&bad));
	la_flush_all();
	struct la_stats st = stats_now();
	ASSERT_LT(st.bytes_in_use, 256 * 1024) TH_LOG("%llu bytes still in use",
						      (unsigned long long)st.bytes_in_use);
	/* what stays abandoned holds the C library's own blocks of exited
	 * threads, a few pages at most */
	ASSERT_LT(st.bytes_abandoned_cached[0] + st.bytes_abandoned_cached[1], 256 * 1024);
	for (int t = 0; t < LA_TIER_COUNT; t++)
		ASSERT_EQ(st.counter_abandoned_cached[t], st.bytes_abandoned_cached[t]);
}

TEST_HARNESS_MAIN
