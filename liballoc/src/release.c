/* Giving memory back: la_release() and its scopes, the one path every
 * caller takes (malloc_trim in alloc.c; la_flush_all, la_trim in api.c;
 * la_release_bytes; the monitor). Callers have initialised the library. Lock order when gathering: la_heaps_lock, a
 * heap's cache lock, la_abandoned_lock, la_pool_lock; the OS calls of the
 * pool release run with none of them held (segment.c). */
#include "release.h"

struct gather { int keep; bool threads, hide_heads, hidden; };

static void gather_heap(la_heap_t *h, void *arg)
{
	struct gather *g = arg;
	if (h == la_tl_heap)
		return; /* the caller flushes its own heap as owner */
	la_heap_take_cache(h, g->keep, g->threads);
	if (g->threads)
		la_heap_reclaim(h, g->hide_heads, &g->hidden);
}

static void gather_heads(la_heap_t *h, void *arg)
{
	(void)arg;
	if (h != la_tl_heap)
		la_heap_reclaim_heads(h);
}

static void gather(enum la_release_scope scope)
{
	if (scope == LA_RELEASE_POOL)
		return;
	if (scope >= LA_RELEASE_ALL)
		la_request_flush_all();
	la_heap_t *self = la_tl_heap;
	if (scope >= LA_RELEASE_THREADS && self != &la_heap_empty) {
		self->flush_epoch = atomic_load_explicit(&la_flush_epoch, memory_order_relaxed);
		la_heap_flush(self);
	}
	/* the first membarrier() registers the process; without it (old
	 * kernel, valgrind) the direct[] heads of other threads stay */
	struct gather g = { scope >= LA_RELEASE_THREADS ? 0 : -1, scope >= LA_RELEASE_THREADS,
			    scope >= LA_RELEASE_THREADS && la_os_membarrier(), false };
	la_heaps_foreach(gather_heap, &g);
	if (g.hidden && la_os_membarrier())
		la_heaps_foreach(gather_heads, NULL);
	la_abandoned_collect();
}

static size_t pool_amount(size_t max_bytes)
{
	if (max_bytes != LA_RELEASE_HALF_POOL)
		return max_bytes;
	return atomic_load_explicit(&la_pool_dirty_bytes, memory_order_relaxed) / 2;
}

size_t la_release(enum la_release_scope scope, size_t max_bytes, unsigned flags)
{
	size_t got = 0;
	if (flags & LA_RELEASE_POOL_FIRST) {
		size_t want = pool_amount(max_bytes);
		got = la_pool_release_free(want);
		if (got >= want || scope == LA_RELEASE_POOL)
			return got;
		max_bytes = want == SIZE_MAX ? SIZE_MAX : want - got;
	}
	gather(scope);
	size_t want = pool_amount(max_bytes);
	return got + (want ? la_pool_release_free(want) : 0);
}

uint64_t la_cached_bytes(void)
{
	uint64_t b = atomic_load_explicit(&la_pool_dirty_bytes, memory_order_relaxed) +
		     atomic_load_explicit(&la_huge_cached_bytes, memory_order_relaxed);
	for (unsigned t = 0; t < LA_TIER_COUNT; t++)
		b += atomic_load_explicit(&la_thread_retained_bytes[t], memory_order_relaxed) +
		     atomic_load_explicit(&la_abandoned_cached_bytes[t], memory_order_relaxed);
	return b;
}

void la_honour_flush(la_heap_t *h)
{
	unsigned e = atomic_load_explicit(&la_flush_epoch, memory_order_relaxed);
	if (LA_LIKELY(h->flush_epoch == e) || h == &la_heap_empty)
		return;
	h->flush_epoch = e;
	la_heap_flush(h);
	la_pool_release_free(LA_RELEASE_EVERYTHING);
}

size_t la_release_bytes(size_t n)
{
	return la_release(LA_RELEASE_THREADS, n, 0);
}
