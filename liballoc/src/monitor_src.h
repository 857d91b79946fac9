/* Event sources of the memory-pressure monitor and how it waits on them.
 * Used only by the monitor thread (monitor.c); nothing here allocates. */
#ifndef LA_MONITOR_SRC_H
#define LA_MONITOR_SRC_H
#include <liburing.h>
#include <linux/memnotify.h>
#include "internal.h"

typedef struct la_msrc {
	int source;        /* enum la_monitor_source */
	int fd;            /* /dev/memnotify or the PSI trigger; -1 for decay only */
	int test_fd;       /* read end of the scripted-event pipe */
	int wait;          /* enum la_monitor_wait */
	struct io_uring ring;
	bool armed[2];     /* io_uring: a POLL_ADD is pending on fd / test_fd */
} la_msrc_t;

/* Open the best source allowed by mode (LA_MODE_*): memnotify, then PSI,
 * then none. test_fd is always watched. Never fails: the worst case is
 * LA_MONITOR_DECAY with poll(2). */
LA_HIDDEN void la_msrc_open(la_msrc_t *m, int mode, int test_fd, bool uring);
/* Wait up to timeout_ms; return events read (PSI: one synthesised PRESSURE
 * MEDIUM record). 0 on timeout. */
LA_HIDDEN int la_msrc_wait(la_msrc_t *m, struct memnotify_event *ev, int max, int timeout_ms);
/* Report free-but-resident bytes (memnotify only; no-op otherwise). */
LA_HIDDEN void la_msrc_report(la_msrc_t *m, uint64_t bytes);
/* Forget everything (fork child: fds closed, ring unmapped). */
LA_HIDDEN void la_msrc_close(la_msrc_t *m);
#endif
