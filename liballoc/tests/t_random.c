/* Random operation sequences over all APIs with pattern-filled contents,
 * verified on every free and realloc, single- and multi-threaded (with blocks
 * migrating between threads through a shared exchange array). */
#include <pthread.h>
#include <stdatomic.h>
#include "common.h"

#define SLOTS 2048

struct blk {
	unsigned char *p;
	size_t n;
	uint64_t tag;
};

static size_t pick_size(uint64_t *s)
{
	uint64_t r = rnd(s);
	switch (r % 100) {
	case 0 ... 59: return 1 + (r >> 8) % 128;
	case 60 ... 84: return 1 + (r >> 8) % 2048;
	case 85 ... 95: return 1 + (r >> 8) % 70000;
	case 96 ... 98: return 1 + (r >> 8) % (1 << 20);
	default: return 1 + (r >> 8) % (3 << 20);
	}
}

/* One random op on slot b. Returns 0 on a detected corruption. */
static int op(struct blk *b, uint64_t *s, uint64_t *tagc)
{
	uint64_t r = rnd(s);
	if (b->p) {
		if (!pat_check(b->p, b->n, b->tag))
			return 0;
		if (r % 3 == 0) { /* realloc */
			size_t n = pick_size(s);
			unsigned char *q = realloc(b->p, n);
			if (!q)
				return 0;
			if (!pat_check(q, n < b->n ? n : b->n, b->tag))
				return 0;
			b->p = q;
			b->n = n;
			b->tag = ++*tagc;
			pat_fill(q, n, b->tag);
		} else {
			free(b->p);
			b->p = NULL;
		}
		return 1;
	}
	size_t n = pick_size(s);
	switch (r % 5) {
	case 0: {
		b->p = calloc(1, n);
		if (!b->p)
			return 0;
		for (size_t i = 0; i < n; i += 61)
			if (b->p[i])
				return 0;
		break;
	}
	case 1: {
		size_t a = (size_t)1 << (3 + (r >> 10) % 14);
		void *p = NULL;
		if (posix_memalign(&p, a, n) || !is_aligned(p, a))
			return 0;
		b->p = p;
		break;
	}
	default:
		b->p = malloc(n);
		if (!b->p)
			return 0;
	}
	if (malloc_usable_size(b->p) < n)
		return 0;
	b->n = n;
	b->tag = ++*tagc;
	pat_fill(b->p, n, b->tag);
	return 1;
}

TEST(single_thread_random_ops)
{
	static struct blk slots[SLOTS];
	uint64_t s = 0x1234567, tags = 0;
	long i;
	int ok = 1;
	double end = now_s() + LA_TEST_BUDGET_S;
	/* At least 10000 operations whatever the time (a debug kernel under
	 * TCG managed 7000 in the budget), then as many as the budget allows. */
	for (i = 0; i < 150000 && ok; i++) {
		ok = op(&slots[rnd(&s) % SLOTS], &s, &tags);
		if ((i & 1023) == 0 && i >= 10000 && now_s() > end)
			break;
	}
	ASSERT_TRUE(ok) TH_LOG("corruption detected at op %ld", i);
	for (int i = 0; i < SLOTS; i++) {
		if (slots[i].p) {
			ASSERT_TRUE(pat_check(slots[i].p, slots[i].n, slots[i].tag));
			free(slots[i].p);
		}
	}
}

/* Shared exchange: threads swap blocks in and out under a per-slot spinlock,
 * so blocks are freed/realloc'ed by threads other than their allocator. */
static struct blk shared[SLOTS];
static pthread_mutex_t locks[SLOTS];
static atomic_int failures;

struct targ {
	uint64_t seed;
	long ops;
};

static void *worker(void *arg)
{
	struct targ *t = arg;
	uint64_t s = t->seed, tags = t->seed << 40;
	double end = now_s() + LA_TEST_BUDGET_S;
	for (long i = 0; i < t->ops; i++) {
		if ((i & 1023) == 0 && now_s() > end)
			break;
		unsigned k = (unsigned)(rnd(&s) % SLOTS);
		pthread_mutex_lock(&locks[k]);
		int ok = op(&shared[k], &s, &tags);
		pthread_mutex_unlock(&locks[k]);
		if (!ok) {
			atomic_fetch_add(&failures, 1);
			break;
		}
	}
	return NULL;
}

TEST(multi_thread_random_ops)
{
	enum { N = 4 };
	pthread_t th[N];
	for (int i = 0; i < SLOTS; i++)
		pthread_mutex_init(&locks[i], NULL);
	struct targ a[N];
	for (int i = 0; i < N; i++) {
		a[i].seed = 0x9876 + (uint64_t)i * 7919;
		a[i].ops = 60000;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, worker, &a[i]));
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(0, atomic_load(&failures));
	for (int i = 0; i < SLOTS; i++) {
		if (shared[i].p) {
			ASSERT_TRUE(pat_check(shared[i].p, shared[i].n, shared[i].tag));
			free(shared[i].p);
			shared[i].p = NULL;
		}
	}
	/* everything came back: nothing in use beyond this thread's few blocks */
	la_flush_all();
	struct la_stats st = stats_now();
	ASSERT_LT(st.bytes_in_use, 256 << 10) TH_LOG("in use after all freed: %llu",
						      (unsigned long long)st.bytes_in_use);
}

TEST_HARNESS_MAIN
