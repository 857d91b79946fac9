// SPDX-License-Identifier: GPL-2.0
/* io_uring: IORING_OP_POLL_ADD and IORING_OP_READ through liburing. */
#include <liburing.h>
#include <pthread.h>

#include "memnotify_test.h"

FIXTURE(uring) {
	struct io_uring ring;
	int fd;
};

FIXTURE_SETUP(uring)
{
	int r = io_uring_queue_init(8, &self->ring, 0);

	if (r == -ENOSYS || r == -EPERM)
		SKIP(return, "io_uring not available: %s", strerror(-r));
	ASSERT_EQ(0, r);
	self->fd = mn_open_nb();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(uring)
{
	close(self->fd);
	io_uring_queue_exit(&self->ring);
}

static int wait_cqe(struct io_uring *ring, int ms, __u64 *data)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000ll,
	};
	struct io_uring_cqe *cqe;
	int r = io_uring_wait_cqe_timeout(ring, &cqe, &ts);

	if (r)
		return r;
	r = cqe->res;
	if (data)
		*data = cqe->user_data;
	io_uring_cqe_seen(ring, cqe);
	return r;
}

TEST_F(uring, poll_add)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&self->ring);

	io_uring_prep_poll_add(sqe, self->fd, POLLIN);
	sqe->user_data = 1;
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	/* Nothing queued: the poll stays pending. */
	EXPECT_EQ(-ETIME, wait_cqe(&self->ring, 100, NULL));
	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, 0, 0));
	EXPECT_EQ(POLLIN, wait_cqe(&self->ring, 2000, NULL) & POLLIN);
}

TEST_F(uring, poll_add_pri)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&self->ring);

	io_uring_prep_poll_add(sqe, self->fd, POLLPRI);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, 0, 0));
	EXPECT_EQ(-ETIME, wait_cqe(&self->ring, 100, NULL));
	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_CRITICAL, 0, 0));
	EXPECT_EQ(POLLPRI, wait_cqe(&self->ring, 2000, NULL) & POLLPRI);
}

TEST_F(uring, read_ready)
{
	struct io_uring_sqe *sqe;
	struct memnotify_event ev[2];

	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM,
			       MEMNOTIFY_LEVEL_NONE, 0, 3));
	memset(ev, 0xaa, sizeof(ev));
	sqe = io_uring_get_sqe(&self->ring);
	io_uring_prep_read(sqe, self->fd, ev, sizeof(ev), 0);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	EXPECT_EQ((int)MN_REC, wait_cqe(&self->ring, 2000, NULL));
	EXPECT_EQ(MEMNOTIFY_EVENT_RECLAIM, ev[0].type);
	EXPECT_EQ(3, ev[0].reclaim_bytes);
	EXPECT_EQ(1, ev[0].request_seq);
	EXPECT_EQ(MN_REC, ev[0].size);
}

TEST_F(uring, read_short_buffer)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&self->ring);
	char buf[8];

	io_uring_prep_read(sqe, self->fd, buf, sizeof(buf), 0);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	EXPECT_EQ(-EINVAL, wait_cqe(&self->ring, 2000, NULL));
}

static void *inject_later(void *arg)
{
	int fd = *(int *)arg;

	usleep(150 * 1000);
	mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_MEDIUM, 0, 0);
	return NULL;
}

/* A read on an empty blocking fd completes when a record arrives. */
TEST_F(uring, read_waits)
{
	struct memnotify_event ev;
	struct io_uring_sqe *sqe;
	pthread_t th;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	sqe = io_uring_get_sqe(&self->ring);
	io_uring_prep_read(sqe, fd, &ev, sizeof(ev), 0);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	ASSERT_EQ(0, pthread_create(&th, NULL, inject_later, &fd));
	EXPECT_EQ((int)MN_REC, wait_cqe(&self->ring, 5000, NULL));
	EXPECT_EQ(MEMNOTIFY_LEVEL_MEDIUM, ev.level);
	pthread_join(th, NULL);
	close(fd);
}

TEST_HARNESS_MAIN
