// SPDX-License-Identifier: GPL-2.0
/* read(): whole records, short buffers, O_NONBLOCK, blocking, EINTR, EFAULT. */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>

#include "memnotify_test.h"

TEST(short_buffer_einval)
{
	char buf[MN_REC];
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, 0, 0));
	EXPECT_EQ(-1, read(fd, buf, MN_REC - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, read(fd, buf, 0));
	EXPECT_EQ(EINVAL, errno);
	/* The record is still there. */
	EXPECT_EQ((ssize_t)MN_REC, read(fd, buf, MN_REC));
	close(fd);
}

TEST(nonblock_empty_eagain)
{
	struct memnotify_event ev;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);
}

TEST(whole_records_only)
{
	struct memnotify_event ev[3];
	int fd = mn_open_nb(), i;

	ASSERT_LE(0, fd);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
				       MEMNOTIFY_LEVEL_LOW, 0, 0));
	/* Room for 2.5 records: two are returned. */
	EXPECT_EQ((ssize_t)(2 * MN_REC), read(fd, ev, 2 * MN_REC + MN_REC / 2));
	EXPECT_EQ(1, ev[0].seq);
	EXPECT_EQ(2, ev[1].seq);
	EXPECT_EQ((ssize_t)MN_REC, read(fd, ev, sizeof(ev)));
	EXPECT_EQ(3, ev[0].seq);
	EXPECT_EQ(-1, read(fd, ev, sizeof(ev)));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);
}

static void *inject_later(void *arg)
{
	int fd = *(int *)arg;

	usleep(200 * 1000);
	mn_inject(fd, MEMNOTIFY_EVENT_RECLAIM, MEMNOTIFY_LEVEL_NONE, 0, 7);
	return NULL;
}

TEST(blocking_read_wakes)
{
	struct memnotify_event ev;
	uint64_t t0 = now_ns();
	pthread_t th;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pthread_create(&th, NULL, inject_later, &fd));
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_LE(t0 + 150000000ull, now_ns());
	EXPECT_EQ(MEMNOTIFY_EVENT_RECLAIM, ev.type);
	EXPECT_EQ(7, ev.reclaim_bytes);
	pthread_join(th, NULL);
	close(fd);
}

static void on_alarm(int sig)
{
	(void)sig;
}

TEST(interrupted_read_eintr)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	struct memnotify_event ev;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	EXPECT_EQ(-1, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(EINTR, errno);
	close(fd);
}

TEST(bad_buffer_efault_keeps_record)
{
	struct memnotify_event ev;
	void *ro;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_CRITICAL, 0, 0));
	EXPECT_EQ(-1, read(fd, NULL, MN_REC));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, read(fd, ro, MN_REC));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(MEMNOTIFY_LEVEL_CRITICAL, ev.level);
	EXPECT_EQ(1, ev.seq);
	EXPECT_EQ(0, ev.dropped);
	munmap(ro, 4096);
	close(fd);
}

TEST(seq_increments)
{
	struct memnotify_event ev;
	int fd = mn_open_nb(), i;

	ASSERT_LE(0, fd);
	for (i = 1; i <= 5; i++) {
		ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_RECLAIM,
				       MEMNOTIFY_LEVEL_NONE, 0, i));
		ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
		EXPECT_EQ((uint64_t)i, ev.seq);
		EXPECT_EQ((uint64_t)i, ev.reclaim_bytes);
	}
	close(fd);
}

/* Unread RECLAIM requests are merged into one record. */
TEST(reclaim_records_merge)
{
	struct memnotify_event ev;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_RECLAIM,
			       MEMNOTIFY_LEVEL_NONE, 0, 10));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_RECLAIM,
			       MEMNOTIFY_LEVEL_NONE, 0, 5));
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(15, ev.reclaim_bytes);
	EXPECT_EQ(-1, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);
}

TEST_HARNESS_MAIN
