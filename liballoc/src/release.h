/* Giving memory back to the OS: the one entry point every release goes
 * through (malloc_trim, la_trim, la_flush_all, la_release_bytes, time decay,
 * adaptive sizing and every monitor reaction). */
#ifndef LA_RELEASE_H
#define LA_RELEASE_H
#include "internal.h"

/* What a release first gathers into the global pool; each scope includes
 * the ones before it. */
enum la_release_scope {
	LA_RELEASE_POOL = 0,  /* nothing: only the pool's free slices */
	LA_RELEASE_TRIM,      /* every heap's retained empty pages above its
			       * class's capacity; empty abandoned pages */
	LA_RELEASE_THREADS,   /* the caller's whole cache (as owner); every heap's
			       * retained pages, large spans and pages with no
			       * live block (la_heap_reclaim), also of threads
			       * that are blocked */
	LA_RELEASE_ALL,       /* and a flush request every thread honours on its
			       * next allocator call */
};

/* Amounts (max_bytes) besides a byte count. */
#define LA_RELEASE_EVERYTHING SIZE_MAX
#define LA_RELEASE_HALF_POOL (SIZE_MAX - 1) /* half the pool's dirty bytes, after gathering */

/* Flags. POOL_FIRST: gather only if the pool alone falls short of max_bytes
 * (time decay and RECLAIM: a thread's cache is the last thing to go). */
#define LA_RELEASE_POOL_FIRST 1u

/* Gather what scope reaches into the pool, then return up to max_bytes of the
 * pool's dirty slices to the OS (madvise/munmap, with no allocator lock held).
 * Returns the bytes returned to the OS. Any thread, with or without a heap. */
LA_HIDDEN size_t la_release(enum la_release_scope scope, size_t max_bytes, unsigned flags);

/* Free-but-resident bytes, from the counters (no walk): dirty pool, thread
 * retained, abandoned cached. */
LA_HIDDEN uint64_t la_cached_bytes(void);

/* Owner h, on its slow paths: honour a pending la_request_flush_all. */
LA_HIDDEN void la_honour_flush(la_heap_t *h);
#endif
