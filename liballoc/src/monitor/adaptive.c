/* Adaptive thread-cache capacity per size class (64 KiB-page classes only).
 * Signal: how many pages the allocation slow path took from the global pool
 * for the class since the last tick (la_class_refills). A class that keeps
 * refilling (>= LA_ADAPT_GROW_AT per tick) doubles its capacity, up to
 * LA_ADAPT_MAX, so bursts stop bouncing pages through the pool lock; after
 * LA_ADAPT_QUIET quiet ticks it halves back towards the baseline
 * (LIBALLOC_TCACHE_PAGES). Pages above a lowered capacity are trimmed by the
 * next LOW event or by decay. Monitor thread only; LIBALLOC_ADAPTIVE=0 off. */
#include "react.h"

#define LA_ADAPT_GROW_AT 4
#define LA_ADAPT_MAX 64
#define LA_ADAPT_QUIET 5

static uint32_t last[LA_NCLASSES];
static uint8_t quiet[LA_NCLASSES];

static bool adaptive_class(unsigned c)
{
	return la_class_size[c] <= LA_SMALL_PAGE_MAX;
}

void la_adaptive_init(void)
{
	for (unsigned c = 0; c < LA_NCLASSES; c++) {
		last[c] = atomic_load_explicit(&la_class_refills[c], memory_order_relaxed);
		quiet[c] = 0;
	}
}

void la_adaptive_tick(uint64_t now)
{
	(void)now;
	if (!la_opt.adaptive)
		return;
	unsigned base = la_opt.tcache_pages;
	bool shrunk = false;
	for (unsigned c = 0; c < LA_NCLASSES; c++) {
		if (!adaptive_class(c))
			continue;
		uint32_t r = atomic_load_explicit(&la_class_refills[c], memory_order_relaxed);
		uint32_t d = r - last[c];
		last[c] = r;
		unsigned cap = atomic_load_explicit(&la_tcache_cap[c], memory_order_relaxed);
		if (d >= LA_ADAPT_GROW_AT) {
			quiet[c] = 0;
			unsigned n = cap ? cap * 2 : 1;
			atomic_store_explicit(&la_tcache_cap[c],
					      (uint16_t)(n > LA_ADAPT_MAX ? LA_ADAPT_MAX : n),
					      memory_order_relaxed);
		} else if (d == 0 && cap > base && ++quiet[c] >= LA_ADAPT_QUIET) {
			quiet[c] = 0;
			shrunk = true;
			unsigned n = cap / 2;
			atomic_store_explicit(&la_tcache_cap[c], (uint16_t)(n < base ? base : n),
					      memory_order_relaxed);
		}
	}
	if (shrunk) /* pages above the lowered capacities to the pool */
		la_release(LA_RELEASE_TRIM, 0, 0);
}

void la_adaptive_relax(void)
{
	for (unsigned c = 0; c < LA_NCLASSES; c++)
		if (adaptive_class(c))
			atomic_store_explicit(&la_tcache_cap[c], (uint16_t)la_opt.tcache_pages,
					      memory_order_relaxed);
}

uint64_t la_adaptive_cap_sum(void)
{
	uint64_t s = 0;
	for (unsigned c = 0; c < LA_NCLASSES; c++)
		s += atomic_load_explicit(&la_tcache_cap[c], memory_order_relaxed);
	return s;
}
