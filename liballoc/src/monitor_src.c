/* Event sources (memnotify device, PSI trigger, scripted test pipe) and the
 * wait on them: io_uring POLL_ADD through liburing, or poll(2) when io_uring
 * is unavailable or LIBALLOC_URING=0. Records are read with read(2) once a
 * poll completes. Only the monitor thread calls these; no allocation. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "monitor_src.h"

static int open_memnotify(void)
{
	int fd = open("/dev/memnotify", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct memnotify_version v;
	__u32 mask = MEMNOTIFY_EVENT_PRESSURE | MEMNOTIFY_EVENT_RECLAIM |
		     MEMNOTIFY_EVENT_IDLE | MEMNOTIFY_EVENT_ACTIVE;
	if (ioctl(fd, MEMNOTIFY_IOC_GET_VERSION, &v) || v.abi_version != MEMNOTIFY_ABI_VERSION ||
	    v.record_size != sizeof(struct memnotify_event) ||
	    ioctl(fd, MEMNOTIFY_IOC_SET_MASK, &mask)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A PSI trigger: 100 ms of "some" stall in a 1 s window; unprivileged
 * writers may only use 2 s multiples, so retry with a 2 s window. */
static int open_psi(void)
{
	static const char *const trig[] = { "some 100000 1000000", "some 200000 2000000" };
	for (unsigned i = 0; i < 2; i++) {
		int fd = open("/proc/pressure/memory", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -1;
		if (write(fd, trig[i], strlen(trig[i]) + 1) > 0)
			return fd;
		close(fd);
	}
	return -1;
}

void la_msrc_open(la_msrc_t *m, int mode, int test_fd, bool uring)
{
	memset(m, 0, sizeof *m);
	m->fd = -1;
	m->test_fd = test_fd;
	m->source = LA_MONITOR_DECAY;
	if ((mode == LA_MODE_AUTO || mode == LA_MODE_MEMNOTIFY) && (m->fd = open_memnotify()) >= 0)
		m->source = LA_MONITOR_MEMNOTIFY;
	else if ((mode == LA_MODE_AUTO || mode == LA_MODE_PSI) && (m->fd = open_psi()) >= 0)
		m->source = LA_MONITOR_PSI;
	m->wait = LA_WAIT_POLL;
	if (uring && io_uring_queue_init(4, &m->ring, 0) == 0)
		m->wait = LA_WAIT_URING;
}

void la_msrc_close(la_msrc_t *m)
{
	if (m->wait == LA_WAIT_URING)
		io_uring_queue_exit(&m->ring);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	m->wait = LA_WAIT_NONE;
	m->source = LA_MONITOR_NONE;
}

void la_msrc_report(la_msrc_t *m, uint64_t bytes)
{
	if (m->source == LA_MONITOR_MEMNOTIFY) {
		__u64 b = bytes;
		(void)ioctl(m->fd, MEMNOTIFY_IOC_SET_CACHE, &b);
	}
}

/* Drain readable records of fd i (0: source, 1: test pipe) into ev. */
static int drain(la_msrc_t *m, int i, struct memnotify_event *ev, int max)
{
	int n = 0;
	if (i == 0 && m->source == LA_MONITOR_PSI) {
		/* PSI reports a stall of the whole system: medium pressure. */
		memset(ev, 0, sizeof *ev);
		ev->type = MEMNOTIFY_EVENT_PRESSURE;
		ev->level = MEMNOTIFY_LEVEL_MEDIUM;
		ev->timestamp_ns = la_now_ns();
		return 1;
	}
	int fd = i ? m->test_fd : m->fd;
	while (n < max) {
		ssize_t r = read(fd, &ev[n], sizeof *ev * (size_t)(max - n));
		if (r < (ssize_t)sizeof *ev)
			break;
		n += (int)(r / (ssize_t)sizeof *ev);
	}
	return n;
}

static int wait_poll(la_msrc_t *m, struct memnotify_event *ev, int max, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = m->test_fd, .events = POLLIN },
		{ .fd = m->fd, .events = m->source == LA_MONITOR_PSI ? POLLPRI : POLLIN },
	};
	int r = poll(p, m->fd >= 0 ? 2 : 1, timeout_ms);
	if (r <= 0)
		return 0;
	int n = 0;
	if (p[0].revents)
		n += drain(m, 1, ev, max);
	if (m->fd >= 0 && p[1].revents && n < max)
		n += drain(m, 0, ev + n, max - n);
	return n;
}

static int wait_uring(la_msrc_t *m, struct memnotify_event *ev, int max, int timeout_ms)
{
	for (int i = 0; i < 2; i++) {
		int fd = i ? m->test_fd : m->fd;
		if (fd < 0 || m->armed[i])
			continue;
		struct io_uring_sqe *sqe = io_uring_get_sqe(&m->ring);
		if (!sqe)
			break;
		unsigned mask = (i == 0 && m->source == LA_MONITOR_PSI) ? POLLPRI : POLLIN;
		io_uring_prep_poll_add(sqe, fd, mask);
		io_uring_sqe_set_data64(sqe, (__u64)i);
		m->armed[i] = true;
	}
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
					.tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
	int r = io_uring_submit_and_wait_timeout(&m->ring, &cqe, 1, &ts, NULL);
	if (r < 0 && r != -ETIME && r != -EINTR) {
		/* io_uring unusable here (e.g. forbidden by policy): fall back */
		io_uring_queue_exit(&m->ring);
		m->wait = LA_WAIT_POLL;
		return wait_poll(m, ev, max, timeout_ms);
	}
	int n = 0;
	unsigned head, seen = 0;
	bool ready[2] = { false, false };
	io_uring_for_each_cqe(&m->ring, head, cqe) {
		unsigned i = (unsigned)io_uring_cqe_get_data64(cqe) & 1;
		m->armed[i] = false;
		if (cqe->res > 0)
			ready[i] = true;
		seen++;
	}
	io_uring_cq_advance(&m->ring, seen);
	if (ready[1])
		n += drain(m, 1, ev, max);
	if (ready[0] && n < max)
		n += drain(m, 0, ev + n, max - n);
	return n;
}

int la_msrc_wait(la_msrc_t *m, struct memnotify_event *ev, int max, int timeout_ms)
{
	if (m->wait == LA_WAIT_URING)
		return wait_uring(m, ev, max, timeout_ms);
	return wait_poll(m, ev, max, timeout_ms);
}
