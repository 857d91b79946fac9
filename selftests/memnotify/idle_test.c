// SPDX-License-Identifier: GPL-2.0
/*
 * IDLE/ACTIVE from the thread group's CPU time.  With a 500 ms period and a
 * threshold of 100 ppm of a CPU (50 us per period), IDLE must arrive within
 * [period, period + 100 ms] of the process going quiet, exactly once per
 * quiet stretch, and ACTIVE soon after it burns CPU again.
 */
#include <pthread.h>

#include "memnotify_test.h"

#define PERIOD_MS	500
#define SLACK_MS	100

static int set_idle(int fd, __u32 period_ms, __u32 ppm)
{
	struct memnotify_idle idle = { period_ms, ppm };

	return ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle);
}

/* Go quiet now and check when IDLE arrives; returns the delay in ms. */
static double expect_idle(struct __test_metadata *_metadata, int fd)
{
	struct memnotify_event ev;
	uint64_t t0 = now_ns(), t1;
	double ms;

	ASSERT_EQ(1, mn_wait_event(fd, &ev, PERIOD_MS * 4));
	t1 = now_ns();
	EXPECT_EQ(MEMNOTIFY_EVENT_IDLE, ev.type);
	EXPECT_EQ(MEMNOTIFY_SOURCE_IDLE, ev.source);
	EXPECT_GT(100, ev.reclaim_pages);	/* usage in ppm */
	ms = (t1 - t0) / 1e6;
	EXPECT_LE(PERIOD_MS, ms);
	EXPECT_GE(PERIOD_MS + SLACK_MS, ms);
	TH_LOG("IDLE after %.1f ms (kernel timestamp %+.1f ms)", ms,
	       ((double)ev.timestamp_ns - (double)t0) / 1e6);
	return ms;
}

TEST(idle_window_then_active)
{
	struct memnotify_event ev;
	uint64_t t2;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_idle(fd, PERIOD_MS, 100));
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_IDLE | MEMNOTIFY_EVENT_ACTIVE));
	/* Busy for more than a period, so the tracker has seen activity. */
	burn_cpu(PERIOD_MS + 200);
	EXPECT_EQ(0, mn_wait_event(fd, &ev, 0));
	expect_idle(_metadata, fd);

	/* One IDLE per quiet stretch: nothing more while still quiet. */
	EXPECT_EQ(0, mn_wait_event(fd, &ev, 2 * PERIOD_MS + 100));

	/* Busy again: ACTIVE, stamped while we were burning. */
	t2 = now_ns();
	burn_cpu(300);
	ASSERT_EQ(1, mn_wait_event(fd, &ev, 2000));
	EXPECT_EQ(MEMNOTIFY_EVENT_ACTIVE, ev.type);
	EXPECT_LE(t2, ev.timestamp_ns);
	EXPECT_GE(t2 + 250000000ull, ev.timestamp_ns);
	TH_LOG("ACTIVE %.1f ms after starting to burn",
	       (ev.timestamp_ns - t2) / 1e6);

	/* And IDLE again after the next quiet period. */
	expect_idle(_metadata, fd);
	close(fd);
}

static void *spinner(void *arg)
{
	burn_cpu(*(unsigned int *)arg);
	return NULL;
}

/* CPU time of every thread of the group counts, not only the opener's. */
TEST(other_thread_keeps_group_active)
{
	unsigned int ms = 3 * PERIOD_MS;
	struct memnotify_event ev;
	pthread_t th;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_idle(fd, PERIOD_MS, 100));
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_IDLE | MEMNOTIFY_EVENT_ACTIVE));
	ASSERT_EQ(0, pthread_create(&th, NULL, spinner, &ms));
	/* This thread sleeps, the spinner keeps the group busy. */
	EXPECT_EQ(0, mn_wait_event(fd, &ev, ms - 200));
	pthread_join(th, NULL);
	expect_idle(_metadata, fd);
	close(fd);
}

/* IDLE/ACTIVE are opt-in: the default mask gets none. */
TEST(not_in_default_mask)
{
	struct memnotify_event ev;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_idle(fd, 100, 100));
	EXPECT_EQ(0, mn_wait_event(fd, &ev, 500));
	close(fd);
}

TEST_HARNESS_MAIN
