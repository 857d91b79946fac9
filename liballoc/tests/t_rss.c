/* Memory really goes back to the OS when asked (Rss from
 * /proc/self/smaps_rollup), and never in a steady-state loop. */
#include <pthread.h>
#include <semaphore.h>
#include "common.h"

#define MB (1024L * 1024)
#define NBLK 12000

static void *blk[NBLK];

/* ~48 MiB in 4 KiB blocks, touched; then freed. */
static void fill_and_free(void)
{
	for (int i = 0; i < NBLK; i++) {
		blk[i] = malloc(4000);
		memset(blk[i], 0x7f, 4000);
	}
	for (int i = 0; i < NBLK; i++)
		free(blk[i]);
}

TEST(trim_lowers_rss)
{
	long base = rss_kb();
	ASSERT_GT(base, 0);
	fill_and_free();
	long high = rss_kb();
	ASSERT_GT(high, base + 40 * 1024) TH_LOG("base %ld high %ld", base, high);
	/* freeing alone returns nothing to the OS */
	struct la_stats st = stats_now();
	ASSERT_GT(st.bytes_pool_dirty + st.bytes_thread_cached[1], 40 * MB);
	size_t rel = la_trim(0);
	long low = rss_kb();
	ASSERT_GT(rel, 40 * MB);
	ASSERT_LT(low, high - 40 * 1024) TH_LOG("high %ld after trim %ld", high, low);
	st = stats_now();
	ASSERT_LT(st.bytes_pool_dirty, 1 * MB);
}

TEST(trim_to_target_stops_early)
{
	fill_and_free();
	la_flush_thread();
	struct la_stats st = stats_now();
	uint64_t res = st.bytes_resident;
	ASSERT_GT(res, 40 * MB);
	size_t rel = la_trim(res - 8 * MB);
	ASSERT_GE(rel, 8 * MB);
	ASSERT_LT(rel, 20 * MB);
	la_trim(0);
}

TEST(malloc_trim_lowers_rss)
{
	fill_and_free();
	long high = rss_kb();
	ASSERT_EQ(1, malloc_trim(0));
	long low = rss_kb();
	ASSERT_LT(low, high - 40 * 1024) TH_LOG("high %ld after malloc_trim %ld", high, low);
}

/* A worker caches memory, then sleeps; la_flush_all from main releases the
 * global part now and the worker's own cache on its next operation. */
static sem_t go, done, again, done2;
static struct la_stats worker_after;

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < NBLK; i++) {
		blk[i] = malloc(4000);
		memset(blk[i], 0x11, 4000);
	}
	for (int i = 0; i < NBLK; i++)
		free(blk[i]);
	void *keep = malloc(100); /* the thread keeps a page of its own */
	sem_post(&done);
	sem_wait(&again);
	free(malloc(32)); /* next operation honours the flush request */
	worker_after = stats_now();
	free(keep);
	sem_post(&done2);
	sem_wait(&go);
	return NULL;
}

TEST(flush_all_reaches_other_threads)
{
	pthread_t t;
	sem_init(&go, 0, 0);
	sem_init(&done, 0, 0);
	sem_init(&again, 0, 0);
	sem_init(&done2, 0, 0);
	la_trim(0);
	long base = rss_kb();
	ASSERT_EQ(0, pthread_create(&t, NULL, worker, NULL));
	sem_wait(&done);
	long high = rss_kb();
	ASSERT_GT(high, base + 40 * 1024);
	struct la_stats st = stats_now();
	ASSERT_GT(st.bytes_thread_cached[1], 0); /* worker retains a 4 KiB-class page */
	size_t rel = la_flush_all();
	long low = rss_kb();
	ASSERT_GT(rel, 30 * MB);
	ASSERT_LT(low, high - 30 * 1024) TH_LOG("high %ld after flush_all %ld", high, low);
	sem_post(&again);
	sem_wait(&done2);
	/* the worker dropped its cached 4000-byte page when it honoured the flag */
	ASSERT_EQ(0, worker_after.bytes_thread_cached[1]);
	ASSERT_GE(worker_after.count_flush_requests, 1);
	sem_post(&go);
	pthread_join(t, NULL);
}

/* Above LIBALLOC_HUGE_CACHE (64 MiB) a freed huge block is unmapped at once. */
TEST(huge_free_unmaps)
{
	long base = rss_kb();
	char *p = malloc(64 * MB);
	memset(p, 1, 64 * MB);
	ASSERT_GT(rss_kb(), base + 60 * 1024);
	free(p);
	ASSERT_LT(rss_kb(), base + 4 * 1024);
	EXPECT_EQ(0, stats_now().bytes_huge_cached);
}

/* A freed huge block serves the next one that fits: no mmap, no fault. */
TEST(huge_cache_reuses)
{
	char *p = malloc(8 * MB);
	memset(p, 1, 8 * MB);
	free(p);
	struct la_stats a = stats_now();
	EXPECT_GE(a.bytes_huge_cached, 8 * MB);
	EXPECT_EQ(0, a.bytes_huge);
	char *q = malloc(7 * MB); /* less than twice: the whole mapping */
	struct la_stats b = stats_now();
	EXPECT_EQ(a.count_mmap, b.count_mmap);
	EXPECT_EQ(a.count_munmap, b.count_munmap);
	EXPECT_EQ(0, b.bytes_huge_cached);
	EXPECT_GE(b.bytes_huge, 8 * MB);
	free(q);
	q = malloc(3 * MB); /* under half: the tail goes back */
	b = stats_now();
	EXPECT_EQ(a.count_mmap, b.count_mmap);
	EXPECT_EQ(a.count_munmap + 1, b.count_munmap);
	EXPECT_LT(b.bytes_huge, 4 * MB);
	free(q);
}

/* calloc never hands out a reused huge block's old bytes. */
TEST(huge_cache_calloc_zeroes)
{
	size_t n = 8 * MB;
	unsigned char *p = malloc(n);
	memset(p, 0xab, n);
	free(p);
	uint64_t maps = stats_now().count_mmap;
	unsigned char *q = calloc(1, n);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(maps, stats_now().count_mmap); /* it was the cached block */
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += q[i] != 0;
	EXPECT_EQ(0, bad);
	free(q);
}

/* Bounded (8 blocks, LIBALLOC_HUGE_CACHE bytes) and emptied by any release. */
TEST(huge_cache_bounded_and_released)
{
	char *v[10];
	long base = rss_kb();
	for (int i = 0; i < 10; i++) {
		v[i] = malloc((size_t)(5 + i) * MB);
		memset(v[i], 1, (size_t)(5 + i) * MB);
	}
	for (int i = 0; i < 10; i++)
		free(v[i]);
	struct la_stats a = stats_now();
	EXPECT_LE(a.bytes_huge_cached, 64 * MB);
	EXPECT_GT(a.bytes_huge_cached, 32 * MB);
	EXPECT_GT(rss_kb(), base + 30 * 1024);
	EXPECT_GE(malloc_trim(0), 1);
	EXPECT_EQ(0, stats_now().bytes_huge_cached);
	EXPECT_LT(rss_kb(), base + 8 * 1024);
}

TEST(steady_state_makes_no_syscalls)
{
	static void *v[512];
	uint64_t s = 5;
	size_t sizes[] = { 16, 48, 200, 1000, 5000, 40000, 200000, 1 << 20 };
	/* warm up: reach the working set, then the measured pattern for a
	 * while: the switch from one to the other grows the pool once, and a
	 * single-threaded program hands such growth to the kernel (MADV_FREE) */
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < 512; i++) {
			free(v[i]);
			v[i] = malloc(sizes[rnd(&s) % 8]);
		}
	for (int r = 0; r < 50; r++)
		for (int i = 0; i < 512; i++) {
			free(v[i]);
			v[i] = malloc(sizes[i % 8]);
		}
	struct la_stats a = stats_now();
	for (int r = 0; r < 200; r++)
		for (int i = 0; i < 512; i++) {
			free(v[i]);
			v[i] = malloc(sizes[i % 8]);
		}
	struct la_stats b = stats_now();
	ASSERT_EQ(a.count_madvise, b.count_madvise);
	ASSERT_EQ(a.count_munmap, b.count_munmap);
	ASSERT_EQ(a.count_mmap, b.count_mmap);
	for (int i = 0; i < 512; i++)
		free(v[i]);
}

TEST_HARNESS_MAIN
