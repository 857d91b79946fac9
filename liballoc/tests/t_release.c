/* The release path: the cached-byte counters that releases and the monitor
 * use agree with la_stats' walk after random multi-threaded workloads
 * (threads that exit, threads that sleep, cross-thread frees, every tier),
 * before and after each kind of release. */
#include <linux/memnotify.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include "common.h"

#define MB (1024L * 1024)
#define NWORK 6
#define SLOTS 400

static void *shared[NWORK][SLOTS]; /* blocks handed to the next worker to free */
static sem_t parked, resume, leave;

static size_t pick_size(uint64_t *s)
{
	switch (rnd(s) % 8) {
	case 0: return 1 + rnd(s) % 64;
	case 1: case 2: return 1 + rnd(s) % 1024;
	case 3: case 4: return 1025 + rnd(s) % (8192 - 1024);
	case 5: return 8193 + rnd(s) % (64 * 1024 - 8192);
	case 6: return 64 * 1024 + 1 + rnd(s) % (192 * 1024);
	default: return 1 + rnd(s) % 300;
	}
}

struct wk { int id; uint64_t seed; int stay; };

static void *worker(void *arg)
{
	struct wk *w = arg;
	uint64_t s = w->seed;
	void *mine[SLOTS] = { 0 };
	for (int i = 0; i < 20000; i++) {
		unsigned k = (unsigned)(rnd(&s) % SLOTS);
		if (mine[k]) {
			free(mine[k]);
			mine[k] = NULL;
		} else {
			size_t n = pick_size(&s);
			mine[k] = malloc(n);
			memset(mine[k], 0x11, n < 4096 ? n : 4096);
		}
	}
	/* half of the survivors go to the next worker, freed there */
	for (int k = 0; k < SLOTS; k += 2) {
		shared[(w->id + 1) % NWORK][k] = mine[k];
		mine[k] = NULL;
	}
	sem_post(&parked);
	sem_wait(&resume);
	for (int k = 0; k < SLOTS; k++) {
		free(shared[w->id][k]);
		shared[w->id][k] = NULL;
	}
	/* some keep a few blocks past their exit: abandoned pages */
	for (int k = 1; k < SLOTS; k += 2)
		if (w->stay || rnd(&s) % 4)
			free(mine[k]);
	sem_post(&parked);
	if (w->stay)
		sem_wait(&leave); /* sleeps holding its cache and pages */
	return NULL;
}

/* Counters vs walk; a release running on the monitor thread between the
 * two reads can make one read differ, so a mismatch must persist. */
static int counters_match(struct la_stats *st)
{
	for (int tries = 0; tries < 50; tries++) {
		*st = stats_now();
		int ok = st->counter_pool_dirty == st->bytes_pool_dirty;
		for (int t = 0; t < LA_TIER_COUNT; t++)
			ok = ok && st->counter_thread_retained[t] == st->bytes_thread_retained[t] &&
			     st->counter_abandoned_cached[t] == st->bytes_abandoned_cached[t];
		if (ok)
			return 1;
		usleep(10000);
	}
	return 0;
}

#define CHECK(what) do { \
	struct la_stats st_; \
	int ok_ = counters_match(&st_); \
	TH_LOG("%s: pool %lu/%lu retained %lu,%lu,%lu/%lu,%lu,%lu abandoned %lu,%lu/%lu,%lu", what, \
	       st_.counter_pool_dirty, st_.bytes_pool_dirty, st_.counter_thread_retained[0], \
	       st_.counter_thread_retained[1], st_.counter_thread_retained[2], \
	       st_.bytes_thread_retained[0], st_.bytes_thread_retained[1], \
	       st_.bytes_thread_retained[2], st_.counter_abandoned_cached[0], \
	       st_.counter_abandoned_cached[1], st_.bytes_abandoned_cached[0], \
	       st_.bytes_abandoned_cached[1]); \
	ASSERT_TRUE(ok_); \
} while (0)

TEST(counters_equal_the_walk)
{
	for (int round = 0; round < 4; round++) {
		pthread_t t[NWORK];
		struct wk w[NWORK];
		sem_init(&parked, 0, 0);
		sem_init(&resume, 0, 0);
		sem_init(&leave, 0, 0);
		for (int i = 0; i < NWORK; i++) {
			w[i] = (struct wk){ i, 0x9e3779b97f4a7c15ULL * (uint64_t)(round * NWORK + i + 1),
					    i % 2 };
			ASSERT_EQ(0, pthread_create(&t[i], NULL, worker, &w[i]));
		}
		for (int i = 0; i < NWORK; i++)
			sem_wait(&parked);
		CHECK("all parked");
		for (int i = 0; i < NWORK; i++)
			sem_post(&resume);
		for (int i = 0; i < NWORK; i++)
			sem_wait(&parked);
		for (int i = 0; i < NWORK; i++)
			if (!w[i].stay)
				pthread_join(t[i], NULL);
		CHECK("half exited, half asleep");
		switch (round) {
		case 0: la_trim(8 * MB); break;
		case 1: malloc_trim(0); break;
		case 2: la_flush_all(); break;
		default: {
			uint64_t ev = stats_now().monitor_events;
			ASSERT_EQ(0, la_monitor_inject(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_LOW, 0));
			double t0 = now_s();
			while (stats_now().monitor_events == ev && now_s() - t0 < 5)
				usleep(1000);
			break;
		}
		}
		CHECK("after a release");
		for (int i = 0; i < NWORK; i++)
			if (w[i].stay)
				sem_post(&leave);
		for (int i = 0; i < NWORK; i++)
			if (w[i].stay)
				pthread_join(t[i], NULL);
		CHECK("all exited");
	}
	la_trim(0);
	CHECK("after la_trim(0)");
	struct la_stats st = stats_now();
	ASSERT_EQ(0, st.counter_pool_dirty);
}


/* ---- 32 blocked threads ------------------------------------------------ */
#define NBLOCKED 32
#define NPER (4000 + 400 + 200 + 40 + 2)
#define NHAND (NPER / 8 + 1)
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage, arrived;
static void *handed[NBLOCKED][NHAND];

static void wait_stage(int s)
{
	pthread_mutex_lock(&mu);
	arrived++;
	pthread_cond_broadcast(&cv);
	while (stage < s)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

static void main_wait_all(int n, int next)
{
	pthread_mutex_lock(&mu);
	while (arrived < n)
		pthread_cond_wait(&cv, &mu);
	arrived = 0;
	stage = next;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* Per thread ~2.3 MiB in pages that end up fully carved: 64 B and 1000 B
 * blocks (direct[] classes, 64 KiB pages), 4000 B (64 KiB pages), 20000 B
 * (512 KiB pages), 200 KiB (large spans). */
static const struct { size_t size; int n; } groups[] = {
	{ 64, 4000 }, { 1000, 400 }, { 4000, 200 }, { 20000, 40 }, { 200 << 10, 2 },
};

static void *blocked(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t s = 0x2545F4914F6CDD1DULL * (uint64_t)(id + 1);
	static __thread void *b[NPER];
	/* the test's own memory (this array, 36 KiB per thread) is part of the
	 * live set, which is measured with every thread created */
	memset(b, 0, sizeof b);
	wait_stage(1);
	int n = 0;
	for (unsigned g = 0; g < sizeof groups / sizeof groups[0]; g++)
		for (int k = 0; k < groups[g].n; k++) {
			b[n] = malloc(groups[g].size);
			memset(b[n++], 0x33, groups[g].size);
		}
	/* every 8th block goes to the main thread, which frees it while this
	 * thread sleeps (remote frees nobody collects: each page keeps used > 0
	 * until a release counts them); the rest is freed here in random
	 * order, leaving each class's head page idle */
	int h = 0;
	for (int i = 0; i < n; i++)
		if (i % 8 == 7 && h < NHAND) {
			handed[id][h++] = b[i];
			b[i] = NULL;
		}
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(rnd(&s) % (uint64_t)(i + 1));
		void *t = b[i];
		b[i] = b[j];
		b[j] = t;
	}
	for (int i = 0; i < n; i++)
		free(b[i]);
	wait_stage(2); /* blocked, holding whatever its heap kept */
	return NULL;
}

/* How long a release may take before the test calls it lost (a test, not a
 * benchmark): generous, because the monitor thread competes for the CPU with
 * everything else on the machine; QEMU TCG runs 10-50x slower, a debug
 * kernel more. */
static double deadline_s(void)
{
	char buf[1024];
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	if (!strstr(buf, "kimigayo") && access("/dev/memnotify", F_OK))
		return 10.0;
	return access("/proc/lockdep", F_OK) ? 10.0 : 20.0;
}

static void blocked_threads_release(struct __test_metadata *_metadata, uint32_t type,
				    uint32_t level)
{
	ASSERT_GE(la_monitor_start(), LA_MONITOR_DECAY);
	pthread_t t[NBLOCKED];
	stage = arrived = 0;
	for (int i = 0; i < NBLOCKED; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, blocked, (void *)(intptr_t)i));
	pthread_mutex_lock(&mu);
	while (arrived < NBLOCKED)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	la_trim(0);
	long live = rss_kb();
	main_wait_all(NBLOCKED, 1);
	main_wait_all(NBLOCKED, 1); /* all did their work and sleep */
	for (int i = 0; i < NBLOCKED; i++)
		for (int k = 0; k < NHAND; k++) {
			free(handed[i][k]);
			handed[i][k] = NULL;
		}
	long high = rss_kb();
	ASSERT_GT(high, live + 40 * 1024) TH_LOG("live %ld high %ld", live, high);
	double t0 = now_s(), el, limit = deadline_s();
	ASSERT_EQ(0, la_monitor_inject(type, level, 0));
	long r;
	do {
		r = rss_kb();
		el = now_s() - t0;
		if (r <= live + 1024)
			break;
		usleep(1000);
	} while (el < limit);
	struct la_stats st = stats_now();
	TH_LOG("Rss live %ld KiB, cached %ld KiB, %ld KiB after %.1f ms (event to release done "
	       "%.1f ms); in use %lu, thread cached %lu+%lu+%lu, pool dirty %lu", live, high, r,
	       el * 1e3, st.monitor_last_latency_ns / 1e6, st.bytes_in_use,
	       st.bytes_thread_cached[0], st.bytes_thread_cached[1], st.bytes_thread_cached[2],
	       st.bytes_pool_dirty);
	EXPECT_LE(r, live + 1024);
	main_wait_all(0, 2);
	for (int i = 0; i < NBLOCKED; i++)
		pthread_join(t[i], NULL);
}

TEST(idle_reaches_blocked_threads)
{
	blocked_threads_release(_metadata, MEMNOTIFY_EVENT_IDLE, 0);
}

TEST(critical_reaches_blocked_threads)
{
	blocked_threads_release(_metadata, MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_CRITICAL);
}

/* ---- releases racing allocating threads ---------------------------------
 * Threads allocate and free small blocks (the fast paths, the pages a release
 * may take) with verified contents and cross-thread frees, while this thread
 * runs every release scope in a loop: no block may be handed out twice or
 * lose its contents, and everything frees. */
#define NRACE 3
static _Atomic int race_stop;
static void *_Atomic race_mail[NRACE];

static void *racer(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t s = 77 + (uint64_t)id;
	enum { K = 256 };
	void *b[K] = { 0 };
	size_t n[K] = { 0 };
	long bad = 0;
	while (!atomic_load(&race_stop)) {
		unsigned k = (unsigned)(rnd(&s) % K);
		if (b[k]) {
			if (!pat_check(b[k], n[k], (uint64_t)(uintptr_t)b[k]))
				bad++;
			if (rnd(&s) % 8 == 0) {
				/* to the next racer, freed there: a remote free */
				void *old = atomic_exchange(&race_mail[(id + 1) % NRACE], b[k]);
				free(old);
			} else {
				free(b[k]);
			}
			b[k] = NULL;
		} else {
			n[k] = 1 + rnd(&s) % (rnd(&s) % 4 ? 256 : 4096);
			b[k] = malloc(n[k]);
			pat_fill(b[k], n[k], (uint64_t)(uintptr_t)b[k]);
		}
		free(atomic_exchange(&race_mail[id], NULL));
	}
	for (unsigned k = 0; k < K; k++) {
		if (b[k] && !pat_check(b[k], n[k], (uint64_t)(uintptr_t)b[k]))
			bad++;
		free(b[k]);
	}
	return (void *)(intptr_t)bad;
}

TEST(releases_race_allocating_threads)
{
	pthread_t t[NRACE];
	atomic_store(&race_stop, 0);
	for (int i = 0; i < NRACE; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, racer, (void *)(intptr_t)i));
	double t0 = now_s();
	long rounds = 0;
	while (now_s() - t0 < 2.0) {
		switch (rounds++ % 4) {
		case 0: malloc_trim(0); break;
		case 1: la_flush_all(); break;
		case 2: la_trim(1); break;
		default: usleep(100); break;
		}
	}
	atomic_store(&race_stop, 1);
	long bad = 0;
	for (int i = 0; i < NRACE; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)(intptr_t)r;
	}
	for (int i = 0; i < NRACE; i++)
		free(atomic_exchange(&race_mail[i], NULL));
	TH_LOG("%ld release rounds", rounds);
	ASSERT_EQ(0, bad);
	la_trim(0);
	ASSERT_LT(stats_now().bytes_in_use, 64 * 1024);
}

TEST_HARNESS_MAIN
