// SPDX-License-Identifier: GPL-2.0
/*
 * The closed reclaim loop: requests go into a per-fd pending counter that
 * no queue overflow can drop, read() hands the whole counter over in one
 * RECLAIM record, a cache report cannot race a request (compare-and-set on
 * request_seq), and MEMNOTIFY_IOC_RELEASED accounting adds up in
 * MEMNOTIFY_IOC_GET_STATE and in the module's statistics.
 */
#include "memnotify_test.h"

#define KB 1024ull

FIXTURE(acct) {
	int fd;
	long long qlen;
};

FIXTURE_SETUP(acct)
{
	self->qlen = read_num(MN_PARAM("queue_len"));
	ASSERT_LE(4, self->qlen);
	self->fd = mn_open_nb();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mn_set_mask(self->fd, MEMNOTIFY_EVENT_ALL));
}

FIXTURE_TEARDOWN(acct)
{
	close(self->fd);
}

static long long st_get(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), MN_STAT("%s"), name);
	return read_num(path);
}

static long long latency_sum(void)
{
	static const char *const b[] = {
		"release_latency_lt_1ms", "release_latency_lt_10ms",
		"release_latency_lt_100ms", "release_latency_lt_1s",
		"release_latency_ge_1s",
	};
	long long sum = 0;

	for (unsigned int i = 0; i < 5; i++)
		sum += st_get(b[i]);
	return sum;
}

/*
 * RECLAIM requests pile up while the queue overflows again and again with
 * PRESSURE and IDLE records: the pending counter carries every byte all
 * along, poll() says readable, and one read hands over all of it.
 */
TEST_F(acct, request_never_lost)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
	struct memnotify_event ev;
	struct memnotify_state st;
	__u64 want = 0, got = 0;
	int i, j, reclaims = 0, others = 0;

	for (i = 1; i <= 40; i++) {
		ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0,
				       i * 4 * KB + i));
		want += i * 4 * KB + i;
		for (j = 0; j < self->qlen; j++)
			ASSERT_EQ(0, mn_inject(self->fd, j % 2 ?
					       MEMNOTIFY_EVENT_IDLE :
					       MEMNOTIFY_EVENT_PRESSURE,
					       j % 2 ? 0 : MEMNOTIFY_LEVEL_LOW,
					       0, 0));
		ASSERT_EQ(0, mn_get_state(self->fd, &st));
		ASSERT_EQ(want, st.pending_bytes);
		ASSERT_EQ((__u64)i, st.request_seq);
	}
	ASSERT_EQ(want, st.requested_bytes);
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	while (read(self->fd, &ev, sizeof(ev)) == (ssize_t)MN_REC) {
		if (ev.type == MEMNOTIFY_EVENT_RECLAIM) {
			/* First, before every queued record. */
			EXPECT_EQ(0, others);
			EXPECT_EQ(40, ev.request_seq);
			EXPECT_EQ(MEMNOTIFY_SOURCE_INJECT, ev.source);
			got += ev.reclaim_bytes;
			reclaims++;
		} else {
			others++;
		}
	}
	EXPECT_EQ(want, got);
	EXPECT_EQ(1, reclaims);
	EXPECT_EQ(self->qlen, others);
	EXPECT_LT(0, ev.dropped);
	ASSERT_EQ(0, mn_get_state(self->fd, &st));
	EXPECT_EQ(0, st.pending_bytes);
	EXPECT_EQ(want, st.requested_bytes);
	EXPECT_EQ(0, poll(&pfd, 1, 0));
}

/* A RECLAIM record that could not be copied out goes back into the counter. */
TEST_F(acct, efault_keeps_request)
{
	struct memnotify_event ev;
	struct memnotify_state st;

	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 12 * KB));
	EXPECT_EQ(-1, read(self->fd, NULL, MN_REC));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, mn_get_state(self->fd, &st));
	EXPECT_EQ(12 * KB, st.pending_bytes);
	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 4 * KB));
	ASSERT_EQ((ssize_t)MN_REC, read(self->fd, &ev, sizeof(ev)));
	EXPECT_EQ(MEMNOTIFY_EVENT_RECLAIM, ev.type);
	EXPECT_EQ(16 * KB, ev.reclaim_bytes);
	EXPECT_EQ(2, ev.request_seq);
}

/* RELEASED adds up per fd (GET_STATE) and in the module's statistics. */
TEST_F(acct, released_adds_up)
{
	long long req0 = st_get("requested_bytes");
	long long rel0 = st_get("released_bytes");
	long long n0 = st_get("releases");
	long long lat0 = latency_sum();
	struct memnotify_event ev;
	struct memnotify_state st;
	__u64 lat = 0;

	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 64 * KB));
	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 32 * KB));
	ASSERT_EQ((ssize_t)MN_REC, read(self->fd, &ev, sizeof(ev)));
	ASSERT_EQ(96 * KB, ev.reclaim_bytes);
	/* The subscriber gives back less than asked, in two steps. */
	ASSERT_EQ(0, mn_released(self->fd, 40 * KB));
	ASSERT_EQ(0, mn_released(self->fd, 8 * KB));
	ASSERT_EQ(0, mn_get_state(self->fd, &st));
	EXPECT_EQ(96 * KB, st.requested_bytes);
	EXPECT_EQ(48 * KB, st.released_bytes);
	EXPECT_EQ(2, st.releases);
	EXPECT_EQ(0, st.pending_bytes);
	/* Only the first release answered a request read before it. */
	for (unsigned int i = 0; i < MEMNOTIFY_LATENCY_BUCKETS; i++)
		lat += st.latency[i];
	EXPECT_EQ(1, lat);
	EXPECT_EQ(req0 + 96 * KB, st_get("requested_bytes"));
	EXPECT_EQ(rel0 + 48 * KB, st_get("released_bytes"));
	EXPECT_EQ(n0 + 2, st_get("releases"));
	EXPECT_EQ(lat0 + 1, latency_sum());
}

TEST_F(acct, released_invalid)
{
	__u64 ram = (__u64)mem_total_pages() * sysconf(_SC_PAGESIZE);
	struct memnotify_released r = { .bytes = ram + 1 };
	struct memnotify_state st;

	EXPECT_EQ(-1, ioctl(self->fd, MEMNOTIFY_IOC_RELEASED, &r));
	EXPECT_EQ(EINVAL, errno);
	r.bytes = 1;
	r.reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd, MEMNOTIFY_IOC_RELEASED, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, MEMNOTIFY_IOC_RELEASED, NULL));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, mn_get_state(self->fd, &st));
	EXPECT_EQ(0, st.releases);
	EXPECT_EQ(0, st.released_bytes);
}

/*
 * A cache report names the last request it has seen: a report that raced
 * a request is refused with EAGAIN, so it cannot re-add memory the kernel
 * already asked for.
 */
TEST_F(acct, cache_report_cannot_race_a_request)
{
	struct memnotify_cache c = { .bytes = 1 << 20 };
	void *held = hold_anon(2 << 20);
	struct memnotify_event ev;
	struct memnotify_state st;

	ASSERT_NE(NULL, held);
	ASSERT_EQ(0, ioctl(self->fd, MEMNOTIFY_IOC_SET_CACHE, &c));
	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 4 * KB));
	c.bytes = 2 << 20;
	EXPECT_EQ(-1, ioctl(self->fd, MEMNOTIFY_IOC_SET_CACHE, &c));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, mn_get_state(self->fd, &st));
	EXPECT_EQ(1 << 20, st.claim_bytes);
	ASSERT_EQ((ssize_t)MN_REC, read(self->fd, &ev, sizeof(ev)));
	ASSERT_EQ(MEMNOTIFY_EVENT_RECLAIM, ev.type);
	EXPECT_EQ(1, ev.request_seq);
	c.request_seq = ev.request_seq;
	EXPECT_EQ(0, ioctl(self->fd, MEMNOTIFY_IOC_SET_CACHE, &c));
	ASSERT_EQ(0, mn_get_state(self->fd, &st));
	EXPECT_EQ(2 << 20, st.claim_bytes);
	/* A request_seq from the future is as wrong as one from the past. */
	c.request_seq = 7;
	EXPECT_EQ(-1, ioctl(self->fd, MEMNOTIFY_IOC_SET_CACHE, &c));
	EXPECT_EQ(EAGAIN, errno);
	munmap(held, 2 << 20);
}

/* Masking RECLAIM off forgets what is pending: nobody would act on it. */
TEST_F(acct, reclaim_masked_off_clears_pending)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
	struct memnotify_state st;

	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 8 * KB));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	ASSERT_EQ(0, mn_set_mask(self->fd, MEMNOTIFY_EVENT_PRESSURE));
	ASSERT_EQ(0, mn_get_state(self->fd, &st));
	EXPECT_EQ(0, st.pending_bytes);
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	/* And new requests are not counted while it is off. */
	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 8 * KB));
	ASSERT_EQ(0, mn_get_state(self->fd, &st));
	EXPECT_EQ(0, st.pending_bytes);
	EXPECT_EQ(8 * KB, st.requested_bytes);
}

/* GET_STATE follows the events posted to the fd. */
TEST_F(acct, state_follows_events)
{
	struct memnotify_state a, b;

	ASSERT_EQ(0, mn_get_state(self->fd, &a));
	EXPECT_EQ(MEMNOTIFY_LEVEL_NONE, a.level);
	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_MEDIUM, 0, 0));
	ASSERT_EQ(0, mn_get_state(self->fd, &b));
	EXPECT_EQ(MEMNOTIFY_LEVEL_MEDIUM, b.level);
	EXPECT_LT(0, b.level_ns);
	EXPECT_EQ(a.generation + 2, b.generation);
	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 4 * KB));
	ASSERT_EQ(0, mn_get_state(self->fd, &a));
	EXPECT_EQ(b.generation + 2, a.generation);
	EXPECT_EQ(4 * KB, a.pending_bytes);
	EXPECT_EQ(0, a.reserved);
	EXPECT_EQ(0, a.reserved2);
}

TEST_HARNESS_MAIN
