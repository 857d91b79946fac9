// SPDX-License-Identifier: GPL-2.0
/* poll/select/epoll: timeouts, EPOLLIN for any record, EPOLLPRI for CRITICAL. */
#include <sys/epoll.h>
#include <sys/select.h>

#include "memnotify_test.h"

TEST(poll_timeout)
{
	struct pollfd pfd;
	uint64_t t0;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN | POLLPRI };
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	t0 = now_ns();
	EXPECT_EQ(0, poll(&pfd, 1, 100));
	EXPECT_LE(t0 + 100000000ull, now_ns());
	close(fd);
}

TEST(poll_in_and_pri)
{
	struct memnotify_event ev;
	struct pollfd pfd;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN | POLLPRI };
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_MEDIUM, 0, 0));
	ASSERT_EQ(1, poll(&pfd, 1, 1000));
	EXPECT_EQ(POLLIN, pfd.revents & (POLLIN | POLLPRI));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_CRITICAL, 0, 0));
	ASSERT_EQ(1, poll(&pfd, 1, 1000));
	EXPECT_EQ(POLLIN | POLLPRI, pfd.revents & (POLLIN | POLLPRI));
	/* Reading the MEDIUM record leaves the CRITICAL one: still PRI. */
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLPRI, pfd.revents & (POLLIN | POLLPRI));
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(MEMNOTIFY_LEVEL_CRITICAL, ev.level);
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	close(fd);
}

TEST(select_readable)
{
	struct timeval tv = { .tv_usec = 50000 };
	fd_set rd;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	EXPECT_EQ(0, select(fd + 1, &rd, NULL, NULL, &tv));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_RECLAIM,
			       MEMNOTIFY_LEVEL_NONE, 0, 1));
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	tv = (struct timeval){ .tv_sec = 1 };
	EXPECT_EQ(1, select(fd + 1, &rd, NULL, NULL, &tv));
	EXPECT_TRUE(FD_ISSET(fd, &rd));
	close(fd);
}

TEST(epoll_timeout_and_events)
{
	struct epoll_event ee = { .events = EPOLLIN | EPOLLPRI };
	struct memnotify_event ev;
	uint64_t t0;
	int fd = mn_open_nb(), ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ee));
	t0 = now_ns();
	EXPECT_EQ(0, epoll_wait(ep, &ee, 1, 100));
	EXPECT_LE(t0 + 100000000ull, now_ns());

	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, 0, 0));
	ASSERT_EQ(1, epoll_wait(ep, &ee, 1, 1000));
	EXPECT_EQ(EPOLLIN, ee.events & (EPOLLIN | EPOLLPRI));
	ASSERT_EQ((ssize_t)MN_REC, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(0, epoll_wait(ep, &ee, 1, 0));

	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_CRITICAL, 0, 0));
	ASSERT_EQ(1, epoll_wait(ep, &ee, 1, 1000));
	EXPECT_EQ(EPOLLIN | EPOLLPRI, ee.events & (EPOLLIN | EPOLLPRI));
	close(ep);
	close(fd);
}

/* Edge-triggered epoll reports each new record once. */
TEST(epoll_edge_triggered)
{
	struct epoll_event ee = { .events = EPOLLIN | EPOLLET };
	int fd = mn_open_nb(), ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ee));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, 0, 0));
	EXPECT_EQ(1, epoll_wait(ep, &ee, 1, 1000));
	EXPECT_EQ(0, epoll_wait(ep, &ee, 1, 50));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, 0, 0));
	EXPECT_EQ(1, epoll_wait(ep, &ee, 1, 1000));
	close(ep);
	close(fd);
}

/* PRI-only pollers are not woken by non-critical records. */
TEST(pri_only_poller)
{
	struct pollfd pfd;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	pfd = (struct pollfd){ .fd = fd, .events = POLLPRI };
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, 0, 0));
	EXPECT_EQ(0, poll(&pfd, 1, 50));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_CRITICAL, 0, 0));
	EXPECT_EQ(1, poll(&pfd, 1, 1000));
	EXPECT_EQ(POLLPRI, pfd.revents);
	close(fd);
}

TEST_HARNESS_MAIN
