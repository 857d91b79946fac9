// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded queues: the oldest record that is not CRITICAL is dropped and
 * counted; a RECLAIM request (a counter, not a queued record) is never lost;
 * a PRESSURE record still queued absorbs a later one of its source and at
 * most its level, and then carries the later one's time and figures.
 */
#include "memnotify_test.h"

static void inject_n(struct __test_metadata *_metadata, int fd, int n,
		     __u32 level)
{
	for (int i = 0; i < n; i++)
		ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE, level, 0, 0));
}

TEST(drop_oldest_and_count)
{
	long long qlen = read_num(MN_PARAM("queue_len"));
	long long drops = read_num(MN_STAT("dropped"));
	struct memnotify_event ev;
	int fd = mn_open_nb(), n = 0;

	ASSERT_LE(4, qlen);
	ASSERT_LE(0, fd);
	inject_n(_metadata, fd, qlen + 10, MEMNOTIFY_LEVEL_LOW);
	while (read(fd, &ev, sizeof(ev)) == (ssize_t)MN_REC) {
		if (n == 0)
			EXPECT_EQ(11, ev.seq);
		EXPECT_EQ(10, ev.dropped);
		n++;
	}
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(qlen, n);
	EXPECT_EQ(qlen + 10, ev.seq);
	EXPECT_LE(drops + 10, read_num(MN_STAT("dropped")));
	close(fd);
}

TEST(critical_survives)
{
	long long qlen = read_num(MN_PARAM("queue_len"));
	struct memnotify_event ev;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	inject_n(_metadata, fd, 1, MEMNOTIFY_LEVEL_CRITICAL);
	inject_n(_metadata, fd, qlen + 5, MEMNOTIFY_LEVEL_LOW);
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(MEMNOTIFY_LEVEL_CRITICAL, ev.level);
	EXPECT_EQ(1, ev.seq);
	EXPECT_EQ(6, ev.dropped);
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(MEMNOTIFY_LEVEL_LOW, ev.level);
	EXPECT_EQ(8, ev.seq);
	close(fd);
}

/* A queue full of CRITICAL records drops the oldest one. */
TEST(all_critical)
{
	long long qlen = read_num(MN_PARAM("queue_len"));
	struct memnotify_event ev;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	inject_n(_metadata, fd, qlen + 1, MEMNOTIFY_LEVEL_CRITICAL);
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(2, ev.seq);
	EXPECT_EQ(1, ev.dropped);
	close(fd);
}

TEST(queue_len_param)
{
	long long old = read_num(MN_PARAM("queue_len"));
	struct memnotify_event ev[8];
	int fd;

	ASSERT_EQ(0, write_num(MN_PARAM("queue_len"), 4));
	fd = mn_open_nb();
	ASSERT_EQ(0, write_num(MN_PARAM("queue_len"), old));
	ASSERT_LE(0, fd);
	inject_n(_metadata, fd, 7, MEMNOTIFY_LEVEL_MEDIUM);
	ASSERT_EQ((ssize_t)(4 * MN_REC), read(fd, ev, sizeof(ev)));
	EXPECT_EQ(4, ev[0].seq);
	EXPECT_EQ(3, ev[3].dropped);
	EXPECT_NE(0, write_num(MN_PARAM("queue_len"), 3));
	EXPECT_NE(0, write_num(MN_PARAM("queue_len"), 1025));
	EXPECT_EQ(old, read_num(MN_PARAM("queue_len")));
	close(fd);
}

/*
 * RECLAIM requests accumulate while other records overflow the queue: the
 * pages asked for all arrive, in one record, and the losses are counted.
 */
TEST(reclaim_never_dropped)
{
	long long qlen = read_num(MN_PARAM("queue_len"));
	__u64 want = 0, got = 0;
	struct memnotify_event ev;
	int fd = mn_open_nb(), i, reclaims = 0;

	ASSERT_LE(4, qlen);
	ASSERT_LE(0, fd);
	for (i = 1; i <= 40; i++) {
		ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_RECLAIM,
				       MEMNOTIFY_LEVEL_NONE, 0, i));
		want += i;
		inject_n(_metadata, fd, qlen, MEMNOTIFY_LEVEL_LOW);
		inject_n(_metadata, fd, 1, MEMNOTIFY_LEVEL_CRITICAL);
	}
	while (read(fd, &ev, sizeof(ev)) == (ssize_t)MN_REC) {
		if (ev.type == MEMNOTIFY_EVENT_RECLAIM) {
			got += ev.reclaim_bytes;
			reclaims++;
		}
	}
	EXPECT_EQ(want, got);
	EXPECT_EQ(1, reclaims);
	EXPECT_LT(0, ev.dropped);
	close(fd);
}

/* A queue full of CRITICAL records still keeps the RECLAIM request. */
TEST(reclaim_survives_critical_flood)
{
	long long qlen = read_num(MN_PARAM("queue_len"));
	struct memnotify_event ev;
	int fd = mn_open_nb(), crit = 0;
	__u64 got = 0;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_RECLAIM,
			       MEMNOTIFY_LEVEL_NONE, 0, 5));
	inject_n(_metadata, fd, 2 * qlen, MEMNOTIFY_LEVEL_CRITICAL);
	while (read(fd, &ev, sizeof(ev)) == (ssize_t)MN_REC) {
		if (ev.type == MEMNOTIFY_EVENT_RECLAIM)
			got += ev.reclaim_bytes;
		else
			crit++;
	}
	EXPECT_EQ(5, got);
	EXPECT_EQ(qlen, crit);	/* the request takes no slot of the queue */
	close(fd);
}

/*
 * Coalescing needs a real source (injected records never coalesce): the
 * threshold sampler.  The fixture puts the global thresholds back, for the
 * programs after this one.
 */
FIXTURE(coalesce) {
	int fd;
	struct memnotify_thresholds old;
};

FIXTURE_SETUP(coalesce)
{
	self->fd = mn_open_nb();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioctl(self->fd, MEMNOTIFY_IOC_GET_THRESHOLDS, &self->old));
	ASSERT_EQ(0, mn_set_mask(self->fd, MEMNOTIFY_EVENT_PRESSURE));
}

FIXTURE_TEARDOWN(coalesce)
{
	EXPECT_EQ(0, ioctl(self->fd, MEMNOTIFY_IOC_SET_THRESHOLDS, &self->old));
	close(self->fd);
}

/* Wait up to 5 s for the fd's latest PRESSURE time to move past @after. */
static __u64 level_ns_after(int fd, __u64 after)
{
	struct memnotify_state st;

	for (int i = 0; i < 500; i++) {
		if (mn_get_state(fd, &st))
			return 0;
		if (st.level_ns > after)
			return st.level_ns;
		usleep(10000);
	}
	return 0;
}

/*
 * Two LOW threshold crossings, with 48 MB more memory in use before the
 * second, into an fd nobody reads: one record, marked coalesced, with the
 * second crossing's time and free and available memory.
 */
TEST_F_TIMEOUT(coalesce, stale_record_refreshed, 60)
{
	struct memnotify_thresholds below = { 1000, 2, 1, 0 };
	long long coalesced = read_num(MN_STAT("coalesced"));
	size_t hold = 48ul << 20;
	struct memnotify_event ev, more;
	__u64 t1, t2, free1, avail1;
	void *held;

	/* LOW while MemAvailable is below all of RAM: always, at once. */
	ASSERT_EQ(0, ioctl(self->fd, MEMNOTIFY_IOC_SET_THRESHOLDS, &below));
	t1 = level_ns_after(self->fd, 0);
	ASSERT_NE(0, t1);
	free1 = mn_proc_num("/proc/meminfo", "MemFree:") * 1024;
	avail1 = mn_proc_num("/proc/meminfo", "MemAvailable:") * 1024;
	held = hold_anon(hold);
	ASSERT_NE(NULL, held);
	/* Above the thresholds for a sample (no record), then below again. */
	ASSERT_EQ(0, ioctl(self->fd, MEMNOTIFY_IOC_SET_THRESHOLDS, &self->old));
	usleep(2500000);	/* > sample_ms (1 s) and rate_limit_ms */
	ASSERT_EQ(0, ioctl(self->fd, MEMNOTIFY_IOC_SET_THRESHOLDS, &below));
	t2 = level_ns_after(self->fd, t1);
	ASSERT_NE(0, t2);

	ASSERT_EQ(MN_REC, read(self->fd, &ev, sizeof(ev)));
	EXPECT_EQ(-1, read(self->fd, &more, sizeof(more)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(MEMNOTIFY_EVENT_PRESSURE, ev.type);
	EXPECT_EQ(MEMNOTIFY_SOURCE_THRESHOLD, ev.source);
	EXPECT_EQ(MEMNOTIFY_LEVEL_LOW, ev.level);
	EXPECT_EQ(1, ev.seq);	/* the first record, refreshed */
	EXPECT_TRUE(ev.flags & MEMNOTIFY_RECORD_COALESCED);
	EXPECT_EQ(t2, ev.timestamp_ns);
	/* The figures are the second crossing's: 48 MB less free memory. */
	EXPECT_GT(free1 - hold / 2, ev.free_bytes)
		TH_LOG("free %llu bytes at the first crossing, %llu in the record",
		       (unsigned long long)free1,
		       (unsigned long long)ev.free_bytes);
	EXPECT_GT(avail1 - hold / 2, ev.avail_bytes);
	EXPECT_LT(coalesced, read_num(MN_STAT("coalesced")));
	munmap(held, hold);
}

TEST_HARNESS_MAIN
