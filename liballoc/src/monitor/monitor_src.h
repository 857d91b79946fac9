/* Event sources of the memory-pressure monitor (memnotify device, PSI
 * trigger) and the monitor thread's wait on them. Nothing here allocates
 * (the memnotify state page is a mapping of the device, not an allocation).
 *
 * fd contract: the program owns every fd number. The source is one plain fd
 * whose identity (st_dev, st_ino, st_rdev) is recorded at open and checked
 * before every use; if the number no longer names our file (the program
 * closed it, or closed it and reused the number), it is forgotten, never
 * closed, and the source is opened again. The monitor thread's io_uring
 * holds no fd number at all: its ring fd is registered
 * (IORING_REGISTER_RING_FDS) and closed right after setup, and the ring is
 * torn down by unmapping it (the registration dies with the thread).
 * Callers serialise on the monitor's lock (monitor.c). */
#ifndef LA_MONITOR_SRC_H
#ifndef LA_MONITOR_PRIVATE
#error "private to src/monitor/: the core includes monitor/monitor.h only"
#endif
#define LA_MONITOR_SRC_H
#include <liburing.h>
#include <linux/memnotify.h>
#include <sys/types.h>
#include "internal.h"

/* Largest record (MEMNOTIFY_IOC_GET_VERSION record_size) accepted. */
#define LA_MN_RECORD_MAX 256u

typedef struct la_msrc {
	int source;        /* enum la_monitor_source; NONE until opened */
	unsigned record_size; /* memnotify: bytes per record as the kernel writes them */
	__u64 request_seq; /* memnotify: request_seq of the last RECLAIM read */
	/* memnotify: the fd's read-only state page (NULL if the kernel has
	 * none), and its generation when the fd was last read empty */
	const struct memnotify_state_page *state;
	uint64_t seen_gen;
	short psi_events;  /* PSI: what a wait polls for (POLLPRI, or POLLIN) */
	int scope;         /* enum la_monitor_scope */
	uint64_t cgroup_id; /* LA_SCOPE_CGROUP: the watched cgroup */
	int mode;          /* LA_MODE_* it was opened with */
	int fd;            /* our plain fd; -1 for decay only or when forgotten */
	unsigned gen;      /* bumped by every (re)open */
	dev_t dev, rdev;   /* identity recorded at open */
	ino_t ino;
} la_msrc_t;

/* Open the best source allowed by mode (LA_MODE_*): memnotify, then PSI
 * (psi_watch.h says which trigger), then none (LA_MONITOR_DECAY). Never
 * fails. */
LA_HIDDEN void la_msrc_open(la_msrc_t *m, int mode);
/* true while m->fd still names the file we opened; when it does not, the
 * number is forgotten (not closed), the old state page unmapped (the
 * mapping holds the old subscription) and the source opened again. */
LA_HIDDEN bool la_msrc_check(la_msrc_t *m);
/* Events already waiting, without blocking (PSI: one synthesised PRESSURE
 * MEDIUM record per trigger). At most 16 per call. With memnotify's state
 * page this is one load while nothing changed: no system call, not even
 * the fd identity check. */
LA_HIDDEN int la_msrc_poll(la_msrc_t *m, struct memnotify_event *ev, int max);
/* After a wait said the source was ready: its records (PSI: the trigger
 * itself is the event; a FIFO's or socket's bytes are read and dropped). A
 * PSI source that hung up or failed is closed, and decay is all that is
 * left. */
LA_HIDDEN int la_msrc_drain(la_msrc_t *m, struct memnotify_event *ev, int max);
/* Report free-but-resident bytes (memnotify only; no-op otherwise),
 * against the last RECLAIM read. false when the kernel refused it because a
 * request is still unread (report again after acting on it). */
LA_HIDDEN bool la_msrc_report(la_msrc_t *m, uint64_t bytes);
/* After acting on a RECLAIM record of the device: the bytes given back. */
LA_HIDDEN void la_msrc_released(la_msrc_t *m, uint64_t bytes);
/* fork child (single-threaded): close the inherited copy of our fd only if
 * the number still names our file, unmap the inherited state page (it
 * would keep the parent's subscription alive), then forget everything. */
LA_HIDDEN void la_msrc_fork_child(la_msrc_t *m);

/* The monitor thread's wait: io_uring (POLL_ADD on the source) when
 * allowed and available, else poll(2). */
typedef struct la_mwait {
	int kind;          /* enum la_monitor_wait */
	bool armed;        /* io_uring: a POLL_ADD is pending for armed_gen */
	unsigned armed_gen;
	struct io_uring ring;
} la_mwait_t;

/* Set up for the calling thread (the ring is registered to it). */
LA_HIDDEN void la_mwait_init(la_mwait_t *w, bool uring);
/* Wait up to timeout_ms for the source; 1 if it became ready, else 0. */
LA_HIDDEN int la_mwait_wait(la_mwait_t *w, la_msrc_t *m, int timeout_ms);
/* Tear down without touching any fd number (also in a fork child, where
 * it only drops the inherited mappings). */
LA_HIDDEN void la_mwait_exit(la_mwait_t *w);
#endif
