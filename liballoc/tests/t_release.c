/* The release path: the cached-byte counters that releases and the monitor
 * use agree with la_stats' walk after random multi-threaded workloads
 * (threads that exit, threads that sleep, cross-thread frees, every tier),
 * before and after each kind of release. */
#include <linux/memnotify.h>
#include <pthread.h>
#include <semaphore.h>
#include "common.h"

#define MB (1024L * 1024)
#define NWORK 6
#define SLOTS 600

static void *shared[NWORK][SLOTS]; /* blocks handed to the next worker to free */
static sem_t parked, resume, leave;

static size_t pick_size(uint64_t *s)
{
	switch (rnd(s) % 8) {
	case 0: return 1 + rnd(s) % 64;
	case 1: case 2: return 1 + rnd(s) % 1024;
	case 3: case 4: return 1025 + rnd(s) % (8192 - 1024);
	case 5: return 8193 + rnd(s) % (64 * 1024 - 8192);
	case 6: return 64 * 1024 + 1 + rnd(s) % (960 * 1024);
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

TEST_HARNESS_MAIN
