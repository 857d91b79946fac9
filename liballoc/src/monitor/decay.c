/* Time decay: memory that stayed cached while the pool saw no activity
 * (no span taken or given back) for LIBALLOC_DECAY_MS is returned
 * gradually: on each monitor tick after the delay, half of what is cached
 * (at least 2 MiB) goes back to the OS, so a process that pauses briefly
 * keeps its cache and one that stays quiet converges to its live set.
 * LIBALLOC_DECAY_MS=-1 disables it. Monitor thread only. */
#include "react.h"

_Atomic(uint64_t) la_decay_released;
static uint64_t last_ops, quiet_since;

size_t la_decay_tick(uint64_t now)
{
	if (la_opt.decay_ms < 0)
		return 0;
	uint64_t ops = atomic_load_explicit(&la_pool_ops, memory_order_relaxed);
	if (ops != last_ops || !quiet_since) {
		last_ops = ops;
		quiet_since = now;
		return 0;
	}
	if (now - quiet_since < (uint64_t)la_opt.decay_ms * 1000000u)
		return 0;
	uint64_t cached = la_cached_bytes();
	if (!cached)
		return 0;
	/* the pool first; when it is drained, thread caches too (they count
	 * as unused: no span moved for the whole delay) */
	size_t want = cached / 2 > ((size_t)2 << 20) ? cached / 2 : LA_RELEASE_EVERYTHING;
	size_t got = la_release(LA_RELEASE_THREADS, want, LA_RELEASE_POOL_FIRST);
	/* our own frees moved spans: do not count them as activity */
	last_ops = atomic_load_explicit(&la_pool_ops, memory_order_relaxed);
	atomic_fetch_add_explicit(&la_decay_released, got, memory_order_relaxed);
	return got;
}
