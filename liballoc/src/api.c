/* The la_* control API (liballoc.h): each entry initialises the library, as
 * every public entry does, then calls the core. Kept apart so that no core
 * or monitor file calls init.c, which calls them. */
#include "release.h"
#include "monitor/monitor.h"

LA_API int la_stats(struct la_stats *out)
{
	if (!out || out->size < 8)
		return -1;
	la_ensure_init();
	la_stats_fill(out);
	return 0;
}

LA_API void la_flush_thread(void)
{
	la_ensure_init();
	la_heap_t *h = la_tl_heap;
	if (h != &la_heap_empty)
		la_heap_flush(h);
}

LA_API size_t la_flush_all(void)
{
	la_ensure_init();
	return la_release(LA_RELEASE_ALL, LA_RELEASE_EVERYTHING, 0);
}

LA_API size_t la_trim(size_t target)
{
	la_ensure_init();
	if (!target)
		return la_release(LA_RELEASE_THREADS, LA_RELEASE_EVERYTHING, 0);
	/* gather first, then measure what is resident */
	la_release(LA_RELEASE_THREADS, 0, 0);
	struct la_stats st = { .version = LA_STATS_VERSION, .size = sizeof st };
	la_stats_fill(&st);
	if (st.bytes_resident <= target)
		return 0;
	return la_release(LA_RELEASE_POOL, st.bytes_resident - target, 0);
}

LA_API int la_monitor_start(void)
{
	la_ensure_init();
	/* The caller holds a heap from here on, so the thread leaves once
	 * the caller and every other allocating thread are gone. */
	if (la_tl_heap == &la_heap_empty)
		(void)la_thread_heap_slow();
	return la_monitor_start_explicit();
}

LA_API int la_monitor_inject(uint32_t type, uint32_t level, uint64_t pages)
{
	la_ensure_init();
	return la_monitor_react(type, level, pages);
}
