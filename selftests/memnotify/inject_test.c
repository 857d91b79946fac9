// SPDX-License-Identifier: GPL-2.0
/* INJECT and threshold changes: root only; argument validation. */
#include "memnotify_test.h"

TEST(inject_every_type_as_root)
{
	struct memnotify_event ev;
	__u32 lvl;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_ALL));
	for (lvl = MEMNOTIFY_LEVEL_LOW; lvl <= MEMNOTIFY_LEVEL_CRITICAL; lvl++) {
		ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE, lvl, 0, 0));
		ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
		EXPECT_EQ(MEMNOTIFY_EVENT_PRESSURE, ev.type);
		EXPECT_EQ(lvl, ev.level);
		EXPECT_EQ(MEMNOTIFY_SOURCE_INJECT, ev.source);
	}
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 42));
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(MEMNOTIFY_EVENT_RECLAIM, ev.type);
	EXPECT_EQ(42, ev.reclaim_bytes);
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_IDLE, 0, 0, 0));
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(MEMNOTIFY_EVENT_IDLE, ev.type);
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_ACTIVE, 0, 0, 0));
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(MEMNOTIFY_EVENT_ACTIVE, ev.type);
	EXPECT_EQ(MEMNOTIFY_LEVEL_NONE, ev.level);
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_EXITED, 0, 0, 0));
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(MEMNOTIFY_EVENT_EXITED, ev.type);
	EXPECT_EQ(MEMNOTIFY_LEVEL_NONE, ev.level);
	close(fd);
}

TEST(inject_invalid)
{
	struct memnotify_inject in;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
#define BAD(...) do {							\
		in = (struct memnotify_inject){ __VA_ARGS__ };		\
		EXPECT_EQ(-1, ioctl(fd, MEMNOTIFY_IOC_INJECT, &in));	\
		EXPECT_EQ(EINVAL, errno);				\
	} while (0)
	BAD(.type = 0);
	BAD(.type = MEMNOTIFY_EVENT_ALL + 1);
	BAD(.type = MEMNOTIFY_EVENT_PRESSURE | MEMNOTIFY_EVENT_RECLAIM, .level = 1);
	BAD(.type = MEMNOTIFY_EVENT_PRESSURE, .level = 0);
	BAD(.type = MEMNOTIFY_EVENT_PRESSURE, .level = 4);
	BAD(.type = MEMNOTIFY_EVENT_IDLE, .level = 1);
	BAD(.type = MEMNOTIFY_EVENT_PRESSURE, .level = 1, .flags = 2);
	BAD(.type = MEMNOTIFY_EVENT_PRESSURE, .level = 1, .reserved = 1);
	BAD(.type = MEMNOTIFY_EVENT_PRESSURE, .level = 1, .reclaim_bytes = 1);
	BAD(.type = MEMNOTIFY_EVENT_RECLAIM, .reclaim_bytes = ~0ull);
	BAD(.type = MEMNOTIFY_EVENT_RECLAIM, .reclaim_bytes = 0);
#undef BAD
	EXPECT_EQ(-1, ioctl(fd, MEMNOTIFY_IOC_INJECT, NULL));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

static int unprivileged_checks(void *arg)
{
	struct memnotify_thresholds t;
	struct memnotify_event ev;
	int fd = mn_open_nb();

	(void)arg;
	if (fd < 0)
		return 1;
	if (mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_LOW, 0, 0) != -1 ||
	    errno != EPERM)
		return 2;
	if (mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_LOW,
		      MEMNOTIFY_INJECT_ALL, 0) != -1 || errno != EPERM)
		return 3;
	if (ioctl(fd, MEMNOTIFY_IOC_GET_THRESHOLDS, &t))
		return 4;
	if (ioctl(fd, MEMNOTIFY_IOC_SET_THRESHOLDS, &t) != -1 || errno != EPERM)
		return 5;
	if (read(fd, &ev, sizeof(ev)) != -1 || errno != EAGAIN)
		return 6;
	/* Module parameters are root-only too. */
	if (write_num(MN_PARAM("low_permille"), 500) == 0)
		return 7;
	/* Everything else an unprivileged subscriber needs works. */
	if (mn_set_mask(fd, MEMNOTIFY_EVENT_ALL))
		return 8;
	close(fd);
	return 0;
}

TEST(unprivileged_eperm)
{
	EXPECT_EQ(0, run_unprivileged(unprivileged_checks, NULL));
}

TEST(thresholds)
{
	struct memnotify_thresholds old, t;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_THRESHOLDS, &old));
	EXPECT_EQ(read_num(MN_PARAM("low_permille")), old.low_permille);
	EXPECT_EQ(read_num(MN_PARAM("medium_permille")), old.medium_permille);
	EXPECT_EQ(read_num(MN_PARAM("critical_permille")), old.critical_permille);
	EXPECT_EQ(0, old.reserved);

	t = (struct memnotify_thresholds){ 300, 200, 100, 0 };
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_SET_THRESHOLDS, &t));
	EXPECT_EQ(300, read_num(MN_PARAM("low_permille")));
	EXPECT_EQ(200, read_num(MN_PARAM("medium_permille")));
	EXPECT_EQ(100, read_num(MN_PARAM("critical_permille")));

#define BAD(...) do {							\
		t = (struct memnotify_thresholds){ __VA_ARGS__ };	\
		EXPECT_EQ(-1, ioctl(fd, MEMNOTIFY_IOC_SET_THRESHOLDS, &t)); \
		EXPECT_EQ(EINVAL, errno);				\
	} while (0)
	BAD(100, 200, 300, 0);
	BAD(300, 200, 0, 0);
	BAD(300, 300, 100, 0);
	BAD(1001, 200, 100, 0);
	BAD(300, 200, 100, 1);
#undef BAD
	EXPECT_EQ(-1, ioctl(fd, MEMNOTIFY_IOC_SET_THRESHOLDS, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_NE(0, write_num(MN_PARAM("low_permille"), 1001));
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_SET_THRESHOLDS, &old));
	close(fd);
}

TEST_HARNESS_MAIN
