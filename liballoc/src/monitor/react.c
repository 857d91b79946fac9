/* What the monitor does with each event; every reaction is one la_release
 * call (release.h says what each scope reaches):
 *   LOW       caches down to their adaptive targets (capacities relaxed to
 *             the baseline first); half the dirty pool
 *   MEDIUM    caches down to their targets; every free page of the pool
 *   CRITICAL  everything reachable, plus a flush request to every thread
 *   RECLAIM n at least n bytes if held: the pool first, then thread caches
 *   IDLE      like CRITICAL: Rss back to the live set */
#include <linux/memnotify.h>
#include "react.h"

size_t la_react(uint32_t type, uint32_t level, uint64_t bytes)
{
	switch (type) {
	case MEMNOTIFY_EVENT_PRESSURE:
		if (level >= MEMNOTIFY_LEVEL_CRITICAL)
			return la_release(LA_RELEASE_ALL, LA_RELEASE_EVERYTHING, 0);
		if (level == MEMNOTIFY_LEVEL_MEDIUM)
			return la_release(LA_RELEASE_TRIM, LA_RELEASE_EVERYTHING, 0);
		la_adaptive_relax();
		return la_release(LA_RELEASE_TRIM, LA_RELEASE_HALF_POOL, 0);
	case MEMNOTIFY_EVENT_RECLAIM: {
		size_t want = bytes >= LA_RELEASE_EVERYTHING ? LA_RELEASE_EVERYTHING : (size_t)bytes;
		return la_release(LA_RELEASE_THREADS, want, LA_RELEASE_POOL_FIRST);
	}
	case MEMNOTIFY_EVENT_IDLE:
		return la_release(LA_RELEASE_ALL, LA_RELEASE_EVERYTHING, 0);
	default: /* ACTIVE: nothing to give back */
		return 0;
	}
}
