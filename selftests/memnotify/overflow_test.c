// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded queues: the oldest record that is not CRITICAL is dropped and
 * counted; a RECLAIM request (a counter, not a queued record) is never lost.
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

TEST_HARNESS_MAIN
