/* Event sources (memnotify device, PSI trigger of psi_watch.c), their fd identity checks,
 * and the monitor thread's wait: io_uring POLL_ADD through liburing with a
 * registered ring fd, or poll(2) when io_uring is unavailable or
 * LIBALLOC_URING=0. Records are read with read(2). No allocation. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "monitor_src.h"
#include "psi_watch.h"

static int open_memnotify(unsigned *record_size)
{
	int fd = open("/dev/memnotify", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct memnotify_version v;
	__u32 mask = MEMNOTIFY_EVENT_PRESSURE | MEMNOTIFY_EVENT_RECLAIM |
		     MEMNOTIFY_EVENT_IDLE | MEMNOTIFY_EVENT_ACTIVE;
	/* A later ABI may append fields to records: read_records skips them. */
	if (ioctl(fd, MEMNOTIFY_IOC_GET_VERSION, &v) || v.abi_version < MEMNOTIFY_ABI_VERSION ||
	    v.record_size < sizeof(struct memnotify_event) || v.record_size > LA_MN_RECORD_MAX ||
	    ioctl(fd, MEMNOTIFY_IOC_SET_MASK, &mask)) {
		close(fd);
		return -1;
	}
	*record_size = v.record_size;
	return fd;
}

/* The state page of a memnotify fd, or NULL (a kernel without one, or a
 * mapping refused by policy: then every check reads the fd). */
static const struct memnotify_state_page *map_state(int fd)
{
	void *p = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	const struct memnotify_state_page *st = p;
	if (st->size < sizeof *st) {
		munmap(p, (size_t)sysconf(_SC_PAGESIZE));
		return NULL;
	}
	return st;
}

static void unmap_state(la_msrc_t *m)
{
	if (m->state)
		munmap((void *)m->state, (size_t)sysconf(_SC_PAGESIZE));
	m->state = NULL;
}

void la_msrc_open(la_msrc_t *m, int mode)
{
	m->mode = mode;
	m->fd = -1;
	m->gen++;
	m->source = LA_MONITOR_DECAY;
	m->scope = LA_SCOPE_NONE;
	m->cgroup_id = 0;
	m->request_seq = 0;
	unmap_state(m);
	la_psi_watch_t psi;
	if ((mode == LA_MODE_AUTO || mode == LA_MODE_MEMNOTIFY) &&
	    (m->fd = open_memnotify(&m->record_size)) >= 0) {
		m->source = LA_MONITOR_MEMNOTIFY;
		m->scope = LA_SCOPE_SYSTEM;
		m->state = map_state(m->fd);
		m->seen_gen = UINT64_MAX; /* read once */
	} else if (mode == LA_MODE_AUTO || mode == LA_MODE_PSI) {
		la_psi_open(&psi);
		if ((m->fd = psi.fd) >= 0) {
			m->source = LA_MONITOR_PSI;
			m->psi_events = psi.events;
			m->scope = psi.scope;
			m->cgroup_id = psi.cgroup_id;
		}
	}
	struct stat st;
	if (m->fd >= 0 && fstat(m->fd, &st) == 0) {
		m->dev = st.st_dev;
		m->ino = st.st_ino;
		m->rdev = st.st_rdev;
	} else if (m->fd >= 0) {
		close(m->fd); /* just opened by us: still ours */
		unmap_state(m);
		m->fd = -1;
		m->source = LA_MONITOR_DECAY;
		m->scope = LA_SCOPE_NONE;
	}
}

/* A PSI source that can no longer deliver (a socket's peer or a FIFO gone,
 * a trigger failed): close it (the caller has checked it is ours) and keep
 * decay only, rather than spin on a descriptor that is always ready. */
static void psi_lost(la_msrc_t *m)
{
	close(m->fd);
	m->fd = -1;
	m->gen++;
	m->source = LA_MONITOR_DECAY;
	m->scope = LA_SCOPE_NONE;
}

static bool still_ours(const la_msrc_t *m)
{
	struct stat st;
	return m->fd >= 0 && fstat(m->fd, &st) == 0 && st.st_dev == m->dev &&
	       st.st_ino == m->ino && st.st_rdev == m->rdev;
}

bool la_msrc_check(la_msrc_t *m)
{
	if (m->source <= LA_MONITOR_DECAY)
		return false;
	if (still_ours(m))
		return true;
	/* The number is the program's now (or closed): forget it, reopen. */
	la_msrc_open(m, m->mode);
	return m->fd >= 0;
}

/* Records as the kernel writes them (record_size bytes each, walked by the
 * size each carries); only the fields this build knows are kept. The
 * buffer is only used under the monitor's lock. */
static unsigned char rec_buf[16 * LA_MN_RECORD_MAX];

static int read_records(la_msrc_t *m, struct memnotify_event *ev, int max)
{
	int n = 0;
	if (max > 16)
		max = 16;
	while (n < max) {
		ssize_t r = read(m->fd, rec_buf, (size_t)m->record_size * (size_t)(max - n));
		if (r < (ssize_t)MEMNOTIFY_HEADER_SIZE)
			break;
		for (ssize_t off = 0; off + (ssize_t)MEMNOTIFY_HEADER_SIZE <= r && n < max;) {
			__u16 size;
			memcpy(&size, rec_buf + off, sizeof size);
			if (size < MEMNOTIFY_HEADER_SIZE || size > r - off)
				return n; /* not a record: stop rather than guess */
			memset(&ev[n], 0, sizeof ev[n]);
			memcpy(&ev[n], rec_buf + off, size < sizeof ev[n] ? size : sizeof ev[n]);
			if (ev[n].type == MEMNOTIFY_EVENT_RECLAIM)
				m->request_seq = ev[n].request_seq;
			off += size;
			n++;
		}
	}
	return n;
}

static int psi_event(struct memnotify_event *ev)
{
	/* PSI reports a stall of the whole system: medium pressure. */
	memset(ev, 0, sizeof *ev);
	ev->type = MEMNOTIFY_EVENT_PRESSURE;
	ev->level = MEMNOTIFY_LEVEL_MEDIUM;
	ev->timestamp_ns = la_now_ns();
	return 1;
}

/* A PSI source's state right now: 1 an event, 0 none, -1 lost. */
static int psi_ready(la_msrc_t *m)
{
	struct pollfd p = { .fd = m->fd, .events = m->psi_events };
	if (poll(&p, 1, 0) != 1)
		return 0;
	if (m->psi_events == POLLIN && (p.revents & (POLLIN | POLLHUP))) {
		static char sink[256];
		ssize_t r;
		while ((r = read(m->fd, sink, sizeof sink)) > 0)
			;
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			return -1; /* end of file: the writer is gone for good */
		return 1;
	}
	if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
		return -1;
	return (p.revents & POLLPRI) ? 1 : 0;
}

static int psi_poll(la_msrc_t *m, struct memnotify_event *ev)
{
	int r = psi_ready(m);
	if (r < 0) {
		psi_lost(m);
		return 0;
	}
	return r ? psi_event(ev) : 0;
}

int la_msrc_drain(la_msrc_t *m, struct memnotify_event *ev, int max)
{
	if (max <= 0 || !la_msrc_check(m))
		return 0;
	return m->source == LA_MONITOR_PSI ? psi_poll(m, ev) : read_records(m, ev, max);
}

/* The state page's generation (acquire: the fields it covers are read
 * after it), odd while the kernel is updating the page. */
static uint64_t state_gen(const la_msrc_t *m)
{
	return __atomic_load_n(&m->state->generation, __ATOMIC_ACQUIRE);
}

int la_msrc_poll(la_msrc_t *m, struct memnotify_event *ev, int max)
{
	if (max <= 0)
		return 0;
	uint64_t g = 0;
	if (m->source == LA_MONITOR_MEMNOTIFY && m->state) {
		g = state_gen(m);
		if (g == m->seen_gen)
			return 0; /* nothing posted since the fd was read empty */
	}
	if (!la_msrc_check(m))
		return 0;
	if (m->source == LA_MONITOR_MEMNOTIFY) {
		int n = read_records(m, ev, max); /* O_NONBLOCK: EAGAIN when empty */
		/* Read empty: everything up to g is consumed. (Reading a RECLAIM
		 * moves the generation on too, which costs one more read.) */
		if (m->state && n < max && !(g & 1))
			m->seen_gen = g;
		return n;
	}
	return psi_poll(m, ev);
}

bool la_msrc_report(la_msrc_t *m, uint64_t bytes)
{
	if (m->source == LA_MONITOR_MEMNOTIFY && la_msrc_check(m) &&
	    m->source == LA_MONITOR_MEMNOTIFY) {
		struct memnotify_cache c = { .bytes = bytes, .request_seq = m->request_seq };
		/* EAGAIN: a request we have not read yet; report after acting on it. */
		return ioctl(m->fd, MEMNOTIFY_IOC_SET_CACHE, &c) == 0 || errno != EAGAIN;
	}
	return true;
}

void la_msrc_released(la_msrc_t *m, uint64_t bytes)
{
	if (m->source == LA_MONITOR_MEMNOTIFY && la_msrc_check(m) &&
	    m->source == LA_MONITOR_MEMNOTIFY) {
		struct memnotify_released r = { .bytes = bytes };
		(void)ioctl(m->fd, MEMNOTIFY_IOC_RELEASED, &r);
	}
}

void la_msrc_fork_child(la_msrc_t *m)
{
	unmap_state(m);
	if (still_ours(m))
		close(m->fd);
	m->fd = -1;
	m->source = LA_MONITOR_NONE;
}

/* ---- the monitor thread's wait ---- */

static void ring_unmap(struct io_uring *r)
{
	size_t sqe_size = sizeof(struct io_uring_sqe) << ((r->flags & IORING_SETUP_SQE128) ? 1 : 0);
	munmap(r->sq.sqes, sqe_size * r->sq.ring_entries);
	munmap(r->sq.ring_ptr, r->sq.ring_sz);
	if (r->cq.ring_ptr && r->cq.ring_ptr != r->sq.ring_ptr)
		munmap(r->cq.ring_ptr, r->cq.ring_sz);
}

void la_mwait_init(la_mwait_t *w, bool uring)
{
	memset(w, 0, sizeof *w);
	w->kind = LA_WAIT_POLL;
	if (!uring || io_uring_queue_init(4, &w->ring, 0))
		return;
	/* Keep the ring but not its number: register it to this thread
	 * (kernel >= 5.18), then close the number we were just given. Without
	 * registration, fall back to poll(2) rather than hold an fd. */
	if (io_uring_register_ring_fd(&w->ring) != 1) {
		io_uring_queue_exit(&w->ring);
		return;
	}
	close(w->ring.ring_fd);
	w->ring.ring_fd = -1; /* liburing submits through enter_ring_fd */
	w->kind = LA_WAIT_URING;
}

void la_mwait_exit(la_mwait_t *w)
{
	if (w->kind == LA_WAIT_URING)
		ring_unmap(&w->ring);
	w->kind = LA_WAIT_NONE;
	w->armed = false;
}

static int wait_poll(la_msrc_t *m, int timeout_ms)
{
	struct pollfd p = { .fd = m->fd,
			    .events = m->source == LA_MONITOR_PSI ? m->psi_events : POLLIN };
	int r = poll(&p, m->fd >= 0 ? 1 : 0, timeout_ms);
	/* PSI: a hang-up or error is "ready" too, the drain drops the source */
	short ready = m->source == LA_MONITOR_PSI ? (short)~0 : POLLIN;
	return r == 1 && (p.revents & ready) ? 1 : 0;
}

static int wait_uring(la_mwait_t *w, la_msrc_t *m, int timeout_ms)
{
	if (m->fd >= 0 && (!w->armed || w->armed_gen != m->gen)) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
		if (sqe && w->armed) {
			/* the source was reopened: drop the poll on the old file */
			io_uring_prep_poll_remove(sqe, (__u64)w->armed_gen);
			io_uring_sqe_set_data64(sqe, 0);
			sqe = io_uring_get_sqe(&w->ring);
		}
		if (sqe) {
			io_uring_prep_poll_add(sqe, m->fd,
					       m->source == LA_MONITOR_PSI ? m->psi_events : POLLIN);
			io_uring_sqe_set_data64(sqe, (__u64)m->gen);
			w->armed = true;
			w->armed_gen = m->gen;
		}
	}
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
					.tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
	int r = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
	if (r < 0 && r != -ETIME && r != -EINTR) {
		/* io_uring unusable here (e.g. forbidden by policy): fall back */
		ring_unmap(&w->ring);
		w->kind = LA_WAIT_POLL;
		w->armed = false;
		return wait_poll(m, timeout_ms);
	}
	int ready = 0;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&w->ring, head, cqe) {
		unsigned gen = (unsigned)io_uring_cqe_get_data64(cqe);
		if (gen && gen == w->armed_gen) {
			w->armed = false;
			ready |= cqe->res > 0;
		}
		seen++;
	}
	io_uring_cq_advance(&w->ring, seen);
	return ready;
}

int la_mwait_wait(la_mwait_t *w, la_msrc_t *m, int timeout_ms)
{
	if (w->kind == LA_WAIT_URING)
		return wait_uring(w, m, timeout_ms);
	return wait_poll(m, timeout_ms);
}
