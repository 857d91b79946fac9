/* liballoc public API: control and statistics on top of the standard malloc family.
 *
 * liballoc defines malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size and malloc_trim
 * itself; this header only adds the la_* extras. All la_* functions are
 * thread-safe and async-signal-unsafe (like malloc).
 */
#ifndef LIBALLOC_H
#define LIBALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LA_STATS_VERSION 5

/* Size-class tiers used for the per-tier cached-byte counters. */
enum la_tier {
	LA_TIER_SMALL = 0,  /* blocks <= 1 KiB, 64 KiB pages */
	LA_TIER_MEDIUM = 1, /* blocks <= 64 KiB, 64 or 512 KiB pages */
	LA_TIER_LARGE = 2,  /* one object per span of 64 KiB slices */
	LA_TIER_COUNT = 3
};

/* Versioned statistics. The caller sets .version = LA_STATS_VERSION and
 * .size = sizeof(struct la_stats); the library fills at most .size bytes and
 * writes back the version/size it used. Fields only ever get appended.
 * Byte counts are a consistent-enough snapshot, not exact under concurrency. */
struct la_stats {
	uint32_t version;
	uint32_t size;

	uint64_t bytes_in_use;         /* blocks handed out (rounded to block size) incl. huge */
	uint64_t bytes_huge;           /* part of bytes_in_use served directly by mmap */
	/* free blocks held by live threads' heaps (partially used + retained empty pages) */
	uint64_t bytes_thread_cached[LA_TIER_COUNT];
	/* free blocks in pages abandoned by exited threads, not yet adopted */
	uint64_t bytes_abandoned_cached[LA_TIER_COUNT];
	uint64_t bytes_pool_dirty;     /* free slices of the global pool that may be resident */
	uint64_t bytes_pool_clean;     /* free slices already returned to the OS (madvise) */
	uint64_t bytes_mapped;         /* all address space currently mapped by liballoc */
	uint64_t bytes_resident;       /* estimate: mapped minus released-and-untouched */

	uint64_t segments;             /* 4 MiB segments currently mapped */
	uint64_t threads;              /* thread heaps currently attached */
	uint64_t count_mmap;           /* OS calls since start */
	uint64_t count_munmap;
	uint64_t count_madvise;
	uint64_t count_mremap;
	uint64_t count_flush_requests; /* la_flush_all() generations so far */

	/* version 2: the memory-pressure monitor (LIBALLOC_MONITOR) */
	uint64_t monitor_source;       /* enum la_monitor_source: where events come from */
	uint64_t monitor_wait;         /* enum la_monitor_wait: how the monitor thread waits (NONE: no thread) */
	uint64_t monitor_events;       /* events handled (pressure, reclaim, idle, active) */
	uint64_t monitor_released;     /* bytes the monitor returned to the OS on events */
	uint64_t monitor_reported;     /* last free-but-resident bytes reported to the kernel */
	uint64_t monitor_last_latency_ns; /* last event: raised -> memory released */
	uint64_t decay_released;       /* bytes returned by time decay */
	uint64_t tcache_cap_sum;       /* sum of per-class thread-cache capacities (adaptive) */

	/* version 3: release accounting */
	/* of bytes_thread_cached: retained empty pages and cached large spans */
	uint64_t bytes_thread_retained[LA_TIER_COUNT];
	/* The running counters releases and the monitor use (no walk). With no
	 * thread allocating they equal bytes_pool_dirty, bytes_thread_retained
	 * and bytes_abandoned_cached. */
	uint64_t counter_pool_dirty;
	uint64_t counter_thread_retained[LA_TIER_COUNT];
	uint64_t counter_abandoned_cached[LA_TIER_COUNT];

	/* version 4: freed huge blocks kept mapped for reuse (LIBALLOC_HUGE_CACHE);
	 * part of bytes_mapped and bytes_resident, not of bytes_in_use */
	uint64_t bytes_huge_cached;

	/* version 5: whose memory pressure the monitor hears */
	uint64_t monitor_scope;        /* enum la_monitor_scope */
	uint64_t monitor_cgroup_id;    /* LA_SCOPE_CGROUP: the cgroup's id (its cgroupfs inode) */
};

enum la_monitor_source {
	LA_MONITOR_NONE = 0,      /* not started (yet), or LIBALLOC_MONITOR=off */
	LA_MONITOR_DECAY = 1,     /* no event source: time decay only */
	LA_MONITOR_PSI = 2,       /* a PSI trigger (monitor_scope says whose) */
	LA_MONITOR_MEMNOTIFY = 3, /* /dev/memnotify */
};
enum la_monitor_scope {
	LA_SCOPE_NONE = 0,          /* no pressure source */
	LA_SCOPE_SYSTEM = 1,        /* the whole machine (/dev/memnotify, /proc/pressure/memory) */
	LA_SCOPE_CGROUP = 2,        /* the process's own cgroup: its memory.pressure */
	LA_SCOPE_SERVICE_WATCH = 3, /* what $MEMORY_PRESSURE_WATCH names (systemd) */
};
enum la_monitor_wait { LA_WAIT_NONE = 0, LA_WAIT_POLL = 1, LA_WAIT_URING = 2 };

/* Fill *st (see struct comment). Returns 0, or -1 if st is NULL or st->size
 * is smaller than the version/size header. */
int la_stats(struct la_stats *st);

/* Give the calling thread's cached memory (retained empty pages, pages whose
 * blocks all came back) to the global pool. Does not call the OS. */
void la_flush_thread(void);

/* Ask every thread to flush its cache on its next allocator operation, flush
 * the caller now, collect pages of exited threads, and return all free memory
 * of the global pool to the OS. Returns the bytes released now. */
size_t la_flush_all(void);

/* Gather the caller's cache and every other thread's free pages (retained
 * pages, cached large spans, pages with no live block) into the global pool,
 * then release free memory until the estimated resident size is
 * <= target_bytes (0: release everything free). Returns the bytes released
 * to the OS. */
size_t la_trim(size_t target_bytes);

/* Print la_stats to stderr in one block (no allocation). */
void la_print_stats(void);

/* Open the event source and start the monitor thread now, even in a
 * single-threaded program (otherwise a thread runs only while two or more
 * threads allocate; a single-threaded program's allocation slow path does the
 * monitor's work). The caller gets a heap; the thread leaves once no thread
 * holds one. Returns the la_monitor_source in use, or 0 when
 * LIBALLOC_MONITOR=off. Idempotent. */
int la_monitor_start(void);

/* Test hook (the scripted event source): handle one synthetic event, as if
 * read from /dev/memnotify, on the calling thread. type/level are
 * MEMNOTIFY_EVENT_* / MEMNOTIFY_LEVEL_* values, pages the RECLAIM request.
 * Returns 0 once handled (counted in monitor_events), -1 if the monitor is
 * off. */
int la_monitor_inject(uint32_t type, uint32_t level, uint64_t pages);

#ifdef __cplusplus
}
#endif
#endif
