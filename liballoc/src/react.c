/* What the monitor does with each event. Runs on the monitor thread, which
 * has no heap of its own: it reaches other threads' caches only through
 * la_heap_take_cache (retained empty pages and cached large spans, under
 * each heap's cache lock), asks owners to flush the rest on their next
 * operation, and returns pool memory with la_pool_release_free.
 *   LOW       caches above their adaptive target; half the dirty pool
 *   MEDIUM    every free page of the global pools
 *   CRITICAL  everything reachable, plus a flush request to every thread
 *   RECLAIM n at least n pages (pool first, then thread caches) if held
 *   IDLE      like CRITICAL: Rss back to the live set */
#include <linux/memnotify.h>
#include "internal.h"
#include "react.h"

struct take_arg { int keep; bool large; size_t bytes; };

static void take_one(la_heap_t *h, void *arg)
{
	struct take_arg *a = arg;
	a->bytes += la_heap_take_cache(h, a->keep, a->large);
}

static size_t take_all_heaps(int keep, bool large)
{
	struct take_arg a = { keep, large, 0 };
	la_heaps_foreach(take_one, &a);
	return a.bytes;
}

size_t la_react_trim_to_cap(void)
{
	return take_all_heaps(-1, false);
}

size_t la_react_take_all(void)
{
	return take_all_heaps(0, true);
}

uint64_t la_cached_bytes(void)
{
	struct la_stats st = { .version = LA_STATS_VERSION, .size = sizeof st };
	la_stats(&st);
	uint64_t b = st.bytes_pool_dirty;
	for (unsigned t = 0; t < LA_TIER_COUNT; t++)
		b += st.bytes_thread_cached[t] + st.bytes_abandoned_cached[t];
	return b;
}

static size_t release_everything(void)
{
	la_request_flush_all();
	take_all_heaps(0, true);
	la_abandoned_collect();
	return la_pool_release_free(SIZE_MAX);
}

size_t la_react(uint32_t type, uint32_t level, uint64_t pages)
{
	switch (type) {
	case MEMNOTIFY_EVENT_PRESSURE:
		if (level >= MEMNOTIFY_LEVEL_CRITICAL)
			return release_everything();
		la_abandoned_collect();
		if (level == MEMNOTIFY_LEVEL_MEDIUM) {
			take_all_heaps(-1, false);
			return la_pool_release_free(SIZE_MAX);
		} else {
			la_adaptive_relax();
			take_all_heaps(-1, false);
			struct la_stats st = { .version = LA_STATS_VERSION, .size = sizeof st };
			la_stats(&st);
			return st.bytes_pool_dirty ? la_pool_release_free(st.bytes_pool_dirty / 2) : 0;
		}
	case MEMNOTIFY_EVENT_RECLAIM: {
		size_t want = pages > SIZE_MAX / 4096 ? SIZE_MAX : (size_t)pages * la_os_page_size();
		size_t got = la_pool_release_free(want);
		if (got < want) {
			take_all_heaps(0, true);
			la_abandoned_collect();
			got += la_pool_release_free(want - got);
		}
		return got;
	}
	case MEMNOTIFY_EVENT_IDLE:
		return release_everything();
	default: /* ACTIVE: nothing to give back */
		return 0;
	}
}
