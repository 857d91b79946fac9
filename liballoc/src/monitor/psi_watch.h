/* Where memory pressure is watched when the memnotify device is absent: a
 * PSI trigger, in this order of choice:
 *  1. $MEMORY_PRESSURE_WATCH, systemd's memory-pressure protocol
 *     (MemoryPressureWatch=): the path names a PSI file (a regular file: the
 *     base64-decoded $MEMORY_PRESSURE_WRITE is written to it, else liballoc's
 *     own trigger; POLLPRI), a FIFO (opened read-write so it never hangs up;
 *     POLLIN, bytes read and dropped) or an AF_UNIX socket (connected, the
 *     decoded $MEMORY_PRESSURE_WRITE sent; POLLIN). "/dev/null" turns PSI
 *     watching off; a path that cannot be used falls through to 2.
 *  2. the memory.pressure file of the process's own cgroup (cgroup2, found
 *     through /proc/self/cgroup and /proc/self/mountinfo), unless that is the
 *     root cgroup, whose file is the system's;
 *  3. /proc/pressure/memory.
 * Nothing allocates: paths are built in static buffers, so callers
 * serialise (the monitor's lock). */
#ifndef LA_PSI_WATCH_H
#ifndef LA_MONITOR_PRIVATE
#error "private to src/monitor/: the core includes monitor/monitor.h only"
#endif
#define LA_PSI_WATCH_H
#include <stdint.h>
#include "internal.h"

typedef struct la_psi_watch {
	int fd;             /* ours, O_CLOEXEC; -1 when nothing is watched */
	short events;       /* what a wait polls for: POLLPRI, or POLLIN */
	int scope;          /* enum la_monitor_scope */
	uint64_t cgroup_id; /* LA_SCOPE_CGROUP: the cgroup directory's inode */
} la_psi_watch_t;

/* Open the first usable choice above; w->fd is -1 when there is none (or
 * watching is turned off). */
LA_HIDDEN void la_psi_open(la_psi_watch_t *w);

#endif
