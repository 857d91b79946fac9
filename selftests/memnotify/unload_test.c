// SPDX-License-Identifier: GPL-2.0
/*
 * The module cannot be unloaded while a file is open and unloads cleanly
 * after; it is loaded again (with the memnotify.* parameters of the kernel
 * command line, as the init did) so that later programs find the device.
 * This program sorts last on purpose.
 */
#include "memnotify_test.h"

static int delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK);
}

/* "memnotify.a=1 memnotify.b=2" on the command line -> "a=1 b=2". */
static void module_params(char *out, size_t size)
{
	char cmdline[4096], *tok, *save;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, cmdline, sizeof(cmdline) - 1);
	size_t len = 0;

	out[0] = '\0';
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	cmdline[n] = '\0';
	for (tok = strtok_r(cmdline, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save)) {
		if (strncmp(tok, "memnotify.", 10) || !strchr(tok, '='))
			continue;
		len += snprintf(out + len, size - len, "%s%s", len ? " " : "",
				tok + 10);
		if (len >= size)
			break;
	}
}

static int load_module(void)
{
	char params[1024];
	int fd = open(MN_KO, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	module_params(params, sizeof(params));
	r = syscall(SYS_finit_module, fd, params, 0);
	close(fd);
	return r;
}

TEST(busy_while_open_then_unload_and_reload)
{
	int fd = mn_open(), fd2;

	ASSERT_LE(0, fd);
	fd2 = dup(fd);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-1, delete_module("memnotify"));
	/* The kernel reports a module in use as EWOULDBLOCK ("in use"). */
	EXPECT_TRUE(errno == EBUSY || errno == EWOULDBLOCK) TH_LOG("%m");
	close(fd);
	EXPECT_EQ(-1, delete_module("memnotify"));
	close(fd2);

	EXPECT_EQ(0, delete_module("memnotify")) TH_LOG("delete_module: %m");
	EXPECT_NE(0, access(MN_DEV, F_OK));
	EXPECT_NE(0, access("/sys/module/memnotify", F_OK));

	ASSERT_EQ(0, load_module()) TH_LOG("finit_module " MN_KO ": %m");
	fd = mn_open();
	ASSERT_LE(0, fd) TH_LOG("open after reload: %m");
	EXPECT_EQ(1, read_num(MN_STAT("subscribers")));
	close(fd);
}

/* Unprivileged users cannot unload it. */
static int try_unload(void *arg)
{
	(void)arg;
	return delete_module("memnotify") == -1 && errno == EPERM ? 0 : 1;
}

TEST(unprivileged_cannot_unload)
{
	EXPECT_EQ(0, run_unprivileged(try_unload, NULL));
	EXPECT_EQ(0, access(MN_DEV, F_OK));
}

TEST_HARNESS_MAIN
