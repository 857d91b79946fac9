// SPDX-License-Identifier: GPL-2.0
/* Opening, closing and the per-open independence of subscribers. */
#include <sys/stat.h>

#include "memnotify_test.h"

TEST(open_close)
{
	int fd = open(MN_DEV, O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, fd) TH_LOG("open " MN_DEV ": %m");
	EXPECT_EQ(0, close(fd));
}

TEST(device_mode_0666)
{
	struct stat st;

	ASSERT_EQ(0, stat(MN_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 0777);
}

static int open_as_nobody(void *arg)
{
	int fd = mn_open();

	(void)arg;
	if (fd < 0)
		return 1;
	return close(fd) ? 2 : 0;
}

TEST(unprivileged_open)
{
	EXPECT_EQ(0, run_unprivileged(open_as_nobody, NULL));
}

TEST(open_close_many)
{
	enum { N = 256 };
	long long base = read_num(MN_STAT("subscribers"));
	int fds[N], i, round;

	ASSERT_LE(0, base);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < N; i++) {
			fds[i] = mn_open();
			ASSERT_LE(0, fds[i]) TH_LOG("open #%d: %m", i);
		}
		EXPECT_EQ(base + N, read_num(MN_STAT("subscribers")));
		for (i = 0; i < N; i++)
			ASSERT_EQ(0, close(fds[i]));
		EXPECT_EQ(base, read_num(MN_STAT("subscribers")));
	}
}

/* Each open() has its own queue; INJECT_ALL reaches every one. */
TEST(independent_queues)
{
	struct memnotify_event ev;
	int a = mn_open_nb(), b = mn_open_nb();

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, mn_inject(a, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, 0, 0));
	EXPECT_EQ(-1, read(b, &ev, sizeof(ev)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ((ssize_t)MN_REC, read(a, &ev, sizeof(ev)));
	ASSERT_EQ(0, mn_inject(a, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, MEMNOTIFY_INJECT_ALL, 0));
	EXPECT_EQ((ssize_t)MN_REC, read(a, &ev, sizeof(ev)));
	EXPECT_EQ(2, ev.seq);
	EXPECT_EQ((ssize_t)MN_REC, read(b, &ev, sizeof(ev)));
	EXPECT_EQ(1, ev.seq);
	close(a);
	close(b);
}

TEST(subscriber_cap)
{
	long long old = read_num(MN_PARAM("max_subscribers"));
	long long cur = read_num(MN_STAT("subscribers"));
	int fds[4], extra, i;

	ASSERT_LT(0, old);
	ASSERT_LE(0, cur);
	ASSERT_EQ(0, write_num(MN_PARAM("max_subscribers"), cur + 4));
	for (i = 0; i < 4; i++) {
		fds[i] = mn_open();
		EXPECT_LE(0, fds[i]);
	}
	extra = mn_open();
	EXPECT_EQ(-1, extra);
	EXPECT_EQ(EMFILE, errno);
	close(fds[0]);
	extra = mn_open();
	EXPECT_LE(0, extra);
	close(extra);
	for (i = 1; i < 4; i++)
		close(fds[i]);
	EXPECT_EQ(0, write_num(MN_PARAM("max_subscribers"), old));
	EXPECT_NE(0, write_num(MN_PARAM("max_subscribers"), 0));
}

TEST(write_and_seek_rejected)
{
	int fd = open(MN_DEV, O_RDWR | O_CLOEXEC);
	char c = 0;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, write(fd, &c, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	close(fd);
}

TEST_HARNESS_MAIN
