/* The memory-pressure monitor as the allocator core sees it: the only
 * monitor header a file outside src/monitor/ includes.
 *
 * Direction: the monitor calls into the core (la_release and la_cached_bytes
 * in release.h, the options, la_heaps_live, the pool's activity count,
 * la_fmt_u64/la_write_err for its log lines); the core reaches the monitor
 * only through what is declared here. The monitor's own headers
 * (monitor_src.h, react.h) are private to src/monitor/: they refuse to
 * compile unless LA_MONITOR_PRIVATE is defined, which the Makefile sets for
 * the .c files in src/monitor/ only (and for the fuzz harness, which drives the
 * reactions itself). init.c runs the hooks below (init, heap attached,
 * fork); the public entry points la_monitor_start and la_monitor_inject live
 * in src/monitor_api.c, which initialises the library through init.c and
 * then calls la_monitor_start_explicit or la_monitor_react, so no file of
 * the monitor calls init.c.
 *
 * How it runs (monitor.c says more): no thread in a single-threaded
 * program; while no monitor thread runs, la_monitor_pending is set and
 * every allocation slow path calls la_monitor_start_lazy, which
 * (rate-limited: a clock read every few calls, a source check at most once
 * per tick) reacts on the allocating thread. A waiting thread runs only
 * while two or more threads hold heaps (or the program called
 * la_monitor_start) and leaves by itself when they are gone. Neither ever
 * allocates through malloc or holds a lock the fast paths take. */
#ifndef LA_MONITOR_H
#define LA_MONITOR_H
#include "internal.h"

/* la_monitor_pending (internal.h): set by the monitor (monitor enabled)
 * exactly while no monitor thread runs. */

/* Once, from la_init_slow right after la_options_init: sets
 * la_monitor_pending unless LIBALLOC_MONITOR=off. */
LA_HIDDEN void la_monitor_init(void);

/* Allocation slow path, while la_monitor_pending is set: maybe one tick of
 * the monitor's work on this thread. Never blocks (trylock), never
 * allocates through malloc. */
LA_HIDDEN void la_monitor_start_lazy(void);

/* After la_heap_attach gave the calling thread a heap: starts the waiting
 * thread once two threads hold heaps. May call pthread_create. */
LA_HIDDEN void la_monitor_heap_attached(void);

/* atfork: the monitor's lock is the outermost liballoc lock; prepare takes
 * it before la_heaps_lock, parent releases it after, child re-initialises
 * the monitor's state (the thread did not survive) and drops inherited
 * mappings and fds only if they are still ours (init.c gives the order). */
LA_HIDDEN void la_monitor_fork_prepare(void);
LA_HIDDEN void la_monitor_fork_parent(void);
LA_HIDDEN void la_monitor_fork_child(void);

/* la_monitor_start after initialisation, the caller holding a heap: starts
 * the waiting thread even in a single-threaded program and returns the
 * source it waits on (enum la_monitor_source), 0 if the monitor is off. */
LA_HIDDEN int la_monitor_start_explicit(void);

/* la_monitor_inject after initialisation: the reaction to an event of this
 * type and level (and pages, for RECLAIM) on the calling thread; -1 if the
 * monitor is off. */
LA_HIDDEN int la_monitor_react(uint32_t type, uint32_t level, uint64_t pages);

/* Fill st's monitor_*, decay_released and tcache_cap_sum fields (relaxed
 * reads of counters; takes no lock). */
LA_HIDDEN void la_monitor_stats(struct la_stats *st);
#endif
