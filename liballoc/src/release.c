/* Giving memory back: the la_flush_* / la_trim API and the internal
 * "release N bytes" entry point the memory-pressure monitor will call. */
#include "internal.h"

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
	la_request_flush_all();
	la_heap_t *h = la_tl_heap;
	if (h != &la_heap_empty) {
		h->flush_epoch = atomic_load_explicit(&la_flush_epoch, memory_order_relaxed);
		la_heap_flush(h);
	}
	la_abandoned_collect();
	return la_pool_release_free(SIZE_MAX);
}

size_t la_release_bytes(size_t n)
{
	la_flush_thread();
	la_abandoned_collect();
	return la_pool_release_free(n);
}

LA_API size_t la_trim(size_t target)
{
	la_flush_thread();
	la_abandoned_collect();
	struct la_stats st = { .version = LA_STATS_VERSION, .size = sizeof st };
	la_stats(&st);
	if (target && st.bytes_resident <= target)
		return 0;
	return la_pool_release_free(target ? st.bytes_resident - target : SIZE_MAX);
}
