/* Statistics: a snapshot built by walking every segment under the pool lock.
 * Page counters of live heaps are read relaxed while owners change them, so
 * the numbers are approximate under concurrency but never torn. The
 * cached-byte counters (internal.h) are reported beside the walk's figures;
 * with no thread allocating, the two agree (t_stats checks it). */
#include <string.h>
#include "internal.h"
#include "monitor/monitor.h"

static void seg_acc(la_segment_t *s, void *arg)
{
	struct la_stats *st = arg;
	st->segments++;
	for (unsigned i = 1; i < LA_SLICES;) {
		if (s->releasing_mask >> i & 1) { /* being madvised: clean soon */
			st->bytes_pool_clean += LA_SLICE_SIZE;
			i++;
			continue;
		}
		if (s->free_mask >> i & 1) {
			if (s->dirty_mask >> i & 1)
				st->bytes_pool_dirty += LA_SLICE_SIZE;
			else
				st->bytes_pool_clean += LA_SLICE_SIZE;
			i++;
			continue;
		}
		la_page_t *pg = &s->pages[i];
		unsigned n = pg->slice_count ? pg->slice_count : 1;
		if (pg->kind == LA_PAGE_LARGE) {
			if (__atomic_load_n(&pg->qstate, __ATOMIC_RELAXED) == LA_Q_CACHED) {
				st->bytes_thread_cached[LA_TIER_LARGE] += pg->block_size;
				st->bytes_thread_retained[LA_TIER_LARGE] += pg->block_size;
			} else
				st->bytes_in_use += pg->block_size;
		} else if (pg->kind == LA_PAGE_SMALL) {
			uint64_t bs = pg->block_size;
			uint32_t used = __atomic_load_n(&pg->used, __ATOMIC_RELAXED);
			uint32_t cap = __atomic_load_n(&pg->capacity, __ATOMIC_RELAXED);
			uint64_t cached = cap > used ? (uint64_t)(cap - used) * bs : 0;
			unsigned t = la_tier_of_size(bs);
			st->bytes_in_use += (uint64_t)used * bs;
			if (atomic_load_explicit(&pg->heap, memory_order_relaxed)) {
				st->bytes_thread_cached[t] += cached;
				if (__atomic_load_n(&pg->qstate, __ATOMIC_RELAXED) == LA_Q_EMPTY)
					st->bytes_thread_retained[t] += cached;
			} else
				st->bytes_abandoned_cached[t] += cached;
		}
		i += n;
	}
}

static void heap_acc(la_heap_t *h, void *arg)
{
	struct la_stats *st = arg;
	if (atomic_load_explicit(&h->attached, memory_order_relaxed))
		st->threads++;
}

void la_stats_fill(struct la_stats *out)
{
	struct la_stats st;
	memset(&st, 0, sizeof st);
	st.version = LA_STATS_VERSION;
	st.size = out->size < sizeof st ? out->size : (uint32_t)sizeof st;
	la_segments_foreach(seg_acc, &st);
	la_heaps_foreach(heap_acc, &st);
	st.bytes_huge = atomic_load_explicit(&la_bytes_huge, memory_order_relaxed);
	st.bytes_in_use += st.bytes_huge;
	st.bytes_huge_cached = atomic_load_explicit(&la_huge_cached_bytes, memory_order_relaxed);
	st.bytes_mapped = atomic_load_explicit(&la_bytes_mapped, memory_order_relaxed);
	uint64_t hdr = (sizeof(la_segment_t) + la_os_page_size() - 1) & ~(uint64_t)(la_os_page_size() - 1);
	st.bytes_resident = st.bytes_in_use + st.bytes_huge_cached + st.bytes_pool_dirty +
			    st.segments * hdr;
	for (unsigned t = 0; t < LA_TIER_COUNT; t++)
		st.bytes_resident += st.bytes_thread_cached[t] + st.bytes_abandoned_cached[t];
	st.count_mmap = atomic_load_explicit(&la_cnt_mmap, memory_order_relaxed);
	st.count_munmap = atomic_load_explicit(&la_cnt_munmap, memory_order_relaxed);
	st.count_madvise = atomic_load_explicit(&la_cnt_madvise, memory_order_relaxed);
	st.count_mremap = atomic_load_explicit(&la_cnt_mremap, memory_order_relaxed);
	st.count_flush_requests = atomic_load_explicit(&la_flush_epoch, memory_order_relaxed);
	st.counter_pool_dirty = atomic_load_explicit(&la_pool_dirty_bytes, memory_order_relaxed);
	for (unsigned t = 0; t < LA_TIER_COUNT; t++) {
		st.counter_thread_retained[t] =
			atomic_load_explicit(&la_thread_retained_bytes[t], memory_order_relaxed);
		st.counter_abandoned_cached[t] =
			atomic_load_explicit(&la_abandoned_cached_bytes[t], memory_order_relaxed);
	}
	la_monitor_stats(&st);
	memcpy(out, &st, st.size);
}

LA_API void la_print_stats(void)
{
	struct la_stats st = { .version = LA_STATS_VERSION, .size = sizeof st };
	la_stats_fill(&st);
	static const struct { const char *name; size_t off; } f[] = {
#define F(x) { #x, offsetof(struct la_stats, x) }
		F(bytes_in_use), F(bytes_huge), F(bytes_thread_cached[0]),
		F(bytes_thread_cached[1]), F(bytes_thread_cached[2]),
		F(bytes_abandoned_cached[0]), F(bytes_abandoned_cached[1]),
		F(bytes_abandoned_cached[2]), F(bytes_pool_dirty), F(bytes_pool_clean),
		F(bytes_mapped), F(bytes_resident), F(segments), F(threads),
		F(count_mmap), F(count_munmap), F(count_madvise), F(count_mremap),
		F(count_flush_requests), F(monitor_source), F(monitor_wait),
		F(monitor_events), F(monitor_released), F(monitor_reported),
		F(monitor_last_latency_ns), F(decay_released), F(tcache_cap_sum),
		F(bytes_thread_retained[0]), F(bytes_thread_retained[1]),
		F(bytes_thread_retained[2]), F(counter_pool_dirty),
		F(counter_thread_retained[0]), F(counter_thread_retained[1]),
		F(counter_thread_retained[2]), F(counter_abandoned_cached[0]),
		F(counter_abandoned_cached[1]), F(counter_abandoned_cached[2]),
		F(bytes_huge_cached), F(monitor_scope), F(monitor_cgroup_id),
#undef F
	};
	char buf[3072], *p = buf;
	memcpy(p, "liballoc stats:\n", 16);
	p += 16;
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		size_t l = strlen(f[i].name);
		*p++ = ' ';
		*p++ = ' ';
		memcpy(p, f[i].name, l);
		p += l;
		*p++ = ' ';
		p = la_fmt_u64(p, *(const uint64_t *)((const char *)&st + f[i].off));
		*p++ = '\n';
	}
	*p = 0;
	la_write_err(buf);
}
