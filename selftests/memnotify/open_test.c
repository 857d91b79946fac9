// SPDX-License-Identifier: GPL-2.0
/* The device node exists and any process may open it. */
#include <fcntl.h>
#include <unistd.h>

#include "kselftest_harness.h"

TEST(open_close)
{
	int fd = open("/dev/memnotify", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, fd) TH_LOG("open /dev/memnotify: %m");
	EXPECT_EQ(0, close(fd));
}

TEST_HARNESS_MAIN
