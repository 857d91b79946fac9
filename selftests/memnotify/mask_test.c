// SPDX-License-Identifier: GPL-2.0
/* The per-fd event mask. */
#include "memnotify_test.h"

TEST(default_mask)
{
	__u32 mask = 0;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_MASK, &mask));
	EXPECT_EQ(MEMNOTIFY_MASK_DEFAULT, mask);
	close(fd);
}

TEST(filtering)
{
	static const __u32 types[] = {
		MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_EVENT_RECLAIM,
		MEMNOTIFY_EVENT_IDLE, MEMNOTIFY_EVENT_ACTIVE,
		MEMNOTIFY_EVENT_EXITED,
	};
	const unsigned int n = sizeof(types) / sizeof(types[0]);
	struct memnotify_event ev;
	__u32 mask, got, seen;
	int fd = mn_open_nb();
	unsigned int i, j;

	ASSERT_LE(0, fd);
	for (mask = 0; mask <= MEMNOTIFY_EVENT_ALL; mask++) {
		ASSERT_EQ(0, mn_set_mask(fd, mask));
		ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_MASK, &got));
		ASSERT_EQ(mask, got);
		for (i = 0; i < n; i++) {
			__u32 t = types[i];

			ASSERT_EQ(0, mn_inject(fd, t,
					       t == MEMNOTIFY_EVENT_PRESSURE ?
					       MEMNOTIFY_LEVEL_LOW : 0, 0,
					       t == MEMNOTIFY_EVENT_RECLAIM));
		}
		/* One record per wanted type (a pending RECLAIM comes first). */
		seen = 0;
		for (j = 0; j < n; j++) {
			if (!(mask & types[j]))
				continue;
			ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)))
				TH_LOG("mask %#x type %#x", mask, types[j]);
			EXPECT_EQ(0, seen & ev.type);
			seen |= ev.type;
		}
		EXPECT_EQ(mask, seen);
		EXPECT_EQ(-1, read(fd, &ev, sizeof(ev))) TH_LOG("mask %#x", mask);
		EXPECT_EQ(EAGAIN, errno);
	}
	close(fd);
}

/* Masking happens per fd: INJECT_ALL reaches only the fds that want it. */
TEST(mask_per_fd)
{
	struct memnotify_event ev;
	int a = mn_open_nb(), b = mn_open_nb();

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, mn_set_mask(b, MEMNOTIFY_EVENT_RECLAIM));
	ASSERT_EQ(0, mn_inject(a, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, MEMNOTIFY_INJECT_ALL, 0));
	EXPECT_EQ((ssize_t)MN_REC, read(a, &ev, sizeof(ev)));
	EXPECT_EQ(-1, read(b, &ev, sizeof(ev)));
	EXPECT_EQ(EAGAIN, errno);
	close(a);
	close(b);
}

TEST(invalid_mask)
{
	__u32 mask;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, mn_set_mask(fd, MEMNOTIFY_EVENT_ALL + 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mn_set_mask(fd, 0x80000000u | MEMNOTIFY_EVENT_PRESSURE));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_MASK, &mask));
	EXPECT_EQ(MEMNOTIFY_MASK_DEFAULT, mask);
	close(fd);
}

/* Reporting a cache needs RECLAIM in the mask; dropping RECLAIM forgets it. */
TEST(cache_needs_reclaim)
{
	__u64 bytes = 1 << 20, got = 1;
	void *held = hold_anon(bytes);	/* a claim must be held */
	int fd = mn_open();

	ASSERT_NE(NULL, held);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mn_set_cache(fd, bytes));
	ASSERT_EQ(0, mn_get_cache(fd, &got));
	EXPECT_EQ(bytes, got);
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_PRESSURE));
	ASSERT_EQ(0, mn_get_cache(fd, &got));
	EXPECT_EQ(0, got);
	EXPECT_EQ(-1, mn_set_cache(fd, bytes));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
	munmap(held, 1 << 20);
}

TEST_HARNESS_MAIN
