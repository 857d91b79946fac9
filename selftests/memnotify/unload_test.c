// SPDX-License-Identifier: GPL-2.0
/*
 * The module cannot be unloaded while a file is open and unloads cleanly
 * after; it is loaded again (with the memnotify.* parameters of the kernel
 * command line, as the init did) so that later programs find the device.
 * This program sorts last on purpose.
 */
#include "memnotify_test.h"
#include "mn_module.h"

TEST(busy_while_open_then_unload_and_reload)
{
	int fd = mn_open(), fd2;

	ASSERT_LE(0, fd);
	fd2 = dup(fd);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-1, mn_delete_module());
	/* The kernel reports a module in use as EWOULDBLOCK ("in use"). */
	EXPECT_TRUE(errno == EBUSY || errno == EWOULDBLOCK) TH_LOG("%m");
	close(fd);
	EXPECT_EQ(-1, mn_delete_module());
	close(fd2);

	EXPECT_EQ(0, mn_delete_module()) TH_LOG("delete_module: %m");
	EXPECT_NE(0, access(MN_DEV, F_OK));
	EXPECT_NE(0, access("/sys/module/memnotify", F_OK));

	ASSERT_EQ(0, mn_load_module()) TH_LOG("finit_module " MN_KO ": %m");
	fd = mn_open();
	ASSERT_LE(0, fd) TH_LOG("open after reload: %m");
	EXPECT_EQ(1, read_num(MN_STAT("subscribers")));
	close(fd);
}

/* Unprivileged users cannot unload it. */
static int try_unload(void *arg)
{
	(void)arg;
	return mn_delete_module() == -1 && errno == EPERM ? 0 : 1;
}

TEST(unprivileged_cannot_unload)
{
	EXPECT_EQ(0, run_unprivileged(try_unload, NULL));
	EXPECT_EQ(0, access(MN_DEV, F_OK));
}

TEST_HARNESS_MAIN
