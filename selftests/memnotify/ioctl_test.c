// SPDX-License-Identifier: GPL-2.0
/* Invalid ioctls, sizes and pointers. */
#include <sys/mman.h>
#include <termios.h>

#include "memnotify_test.h"

TEST(unknown_ioctls_enotty)
{
	static const unsigned long cmds[] = {
		_IO(MEMNOTIFY_IOC_MAGIC, 0x0a),
		_IOR(MEMNOTIFY_IOC_MAGIC, 0x0f, __u64),	/* unused number */
		_IOR(MEMNOTIFY_IOC_MAGIC, 0x02, __u64),	/* wrong size */
		_IOW(MEMNOTIFY_IOC_MAGIC, 0x01, __u64),	/* wrong size */
		_IOR(MEMNOTIFY_IOC_MAGIC, 0x01, __u32),	/* wrong direction */
		_IOW('M', 0x01, __u32),
		TCGETS,
		0,
	};
	char buf[64] = "";
	int fd = mn_open();

	ASSERT_LE(0, fd);
	for (unsigned int i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_EQ(-1, ioctl(fd, cmds[i], buf)) TH_LOG("cmd %#lx", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#lx", cmds[i]);
	}
	close(fd);
}

TEST(bad_pointers_efault)
{
	static const unsigned long cmds[] = {
		MEMNOTIFY_IOC_GET_VERSION, MEMNOTIFY_IOC_SET_MASK,
		MEMNOTIFY_IOC_GET_MASK, MEMNOTIFY_IOC_SET_IDLE,
		MEMNOTIFY_IOC_GET_IDLE, MEMNOTIFY_IOC_SET_CACHE,
		MEMNOTIFY_IOC_RELEASED, MEMNOTIFY_IOC_INJECT,
		MEMNOTIFY_IOC_GET_STATE,
		MEMNOTIFY_IOC_SET_THRESHOLDS, MEMNOTIFY_IOC_GET_THRESHOLDS,
	};
	void *bad[3];
	int fd = mn_open();

	ASSERT_LE(0, fd);
	bad[0] = NULL;
	bad[1] = (void *)1;
	/* A page that is gone, and a kernel address. */
	bad[2] = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad[2]);
	for (unsigned int i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		for (unsigned int j = 0; j < 3; j++) {
			EXPECT_EQ(-1, ioctl(fd, cmds[i], bad[j]))
				TH_LOG("cmd %#lx ptr %p", cmds[i], bad[j]);
			EXPECT_EQ(EFAULT, errno)
				TH_LOG("cmd %#lx ptr %p", cmds[i], bad[j]);
		}
	}
	munmap(bad[2], 4096);
	close(fd);
}

TEST(idle_out_of_range)
{
	struct memnotify_idle idle, def;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_IDLE, &def));
	EXPECT_EQ(1000, def.period_ms);
	EXPECT_EQ(10000, def.threshold_ppm);
#define BAD(p, t) do {							\
		idle = (struct memnotify_idle){ p, t, 0, 0 }; \
		EXPECT_EQ(-1, ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle));	\
		EXPECT_EQ(EINVAL, errno);				\
	} while (0)
	BAD(0, 10000);
	BAD(MEMNOTIFY_IDLE_PERIOD_MIN_MS - 1, 10000);
	BAD(MEMNOTIFY_IDLE_PERIOD_MAX_MS + 1, 10000);
	BAD(1000, 0);
	BAD(1000, 1000001);
#undef BAD
	idle = (struct memnotify_idle){ MEMNOTIFY_IDLE_PERIOD_MIN_MS, 1,
					0, 0 };
	EXPECT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle));
	idle = (struct memnotify_idle){ MEMNOTIFY_IDLE_PERIOD_MAX_MS, 1000000,
					0, 0 };
	EXPECT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle));
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_IDLE, &idle));
	EXPECT_EQ(MEMNOTIFY_IDLE_PERIOD_MAX_MS, idle.period_ms);
	EXPECT_EQ(1000000, idle.threshold_ppm);
	close(fd);
}

TEST(cache_out_of_range)
{
	__u64 total = (__u64)mem_total_pages() * sysconf(_SC_PAGESIZE);
	__u64 v = total + 1, got;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, mn_set_cache(fd, v));
	EXPECT_EQ(EINVAL, errno);
	v = ~0ull;
	EXPECT_EQ(-1, mn_set_cache(fd, v));
	EXPECT_EQ(EINVAL, errno);
	v = total / 2;
	EXPECT_EQ(0, mn_set_cache(fd, v));
	ASSERT_EQ(0, mn_get_cache(fd, &got));
	EXPECT_GE(v, got);
	v = 0;
	EXPECT_EQ(0, mn_set_cache(fd, v));
	close(fd);
}

TEST(params_out_of_range)
{
	static const char *const names[] = {
		MN_PARAM("low_permille"), MN_PARAM("rate_limit_ms"),
		MN_PARAM("sample_ms"), MN_PARAM("queue_len"),
		MN_PARAM("max_subscribers"), MN_PARAM("max_subscribers_per_user"),
		MN_PARAM("reserved_subscribers"),
	};

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		long long v = read_num(names[i]);

		ASSERT_LE(0, v) TH_LOG("%s", names[i]);
		EXPECT_NE(0, write_file(names[i], "99999999")) TH_LOG("%s", names[i]);
		EXPECT_NE(0, write_file(names[i], "-1")) TH_LOG("%s", names[i]);
		EXPECT_NE(0, write_file(names[i], "x")) TH_LOG("%s", names[i]);
		EXPECT_EQ(v, read_num(names[i])) TH_LOG("%s", names[i]);
	}
}

TEST_HARNESS_MAIN
