/* Segments and the global slice pool; huge objects straight from mmap.
 *
 * Invariants (all under la_pool_lock): a normal segment's free_mask has a bit
 * per free slice (bit 0, the header, is never free); dirty_mask is a subset of
 * free_mask: free slices that may still be resident; lazy_mask is a subset of
 * dirty_mask: slices given MADV_FREE (lazy_pass_locked) and not reused since;
 * releasing_mask holds the slices a release has taken out of free_mask while
 * it madvises them with no lock held (nobody can allocate them; they come
 * back as free and clean). free and releasing are disjoint, and allocated
 * spans are in no mask. la_pool_dirty_bytes always equals the dirty slices of
 * every segment times LA_SLICE_SIZE. Memory goes back to the OS in
 * la_pool_release_free() (no lock held across the calls) and, at the
 * kernel's choice, for lazy slices: the lazy pass is the one OS call made
 * under the pool lock, and it runs only while no monitor thread does, i.e.
 * while the program allocates from one thread (see dirty_add). */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include "internal.h"

pthread_mutex_t la_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static la_segment_t *seg_list;
_Atomic(uint64_t) la_bytes_huge;
_Atomic(uint64_t) la_pool_ops;
_Atomic(uint64_t) la_pool_dirty_bytes;

_Atomic(int) la_monitor_pending;

/* Low-water mark of la_pool_dirty_bytes since the last lazy pass (under
 * the pool lock). */
static uint64_t pool_dirty_low;

static void lazy_pass_locked(void);
static size_t huge_cache_release(void);

/* Pool lock held: the dirty counter drops by the slices in bits. */
static inline void dirty_sub(uint64_t bits)
{
	uint64_t now = atomic_fetch_sub_explicit(&la_pool_dirty_bytes,
						 (uint64_t)__builtin_popcountll(bits) * LA_SLICE_SIZE,
						 memory_order_relaxed) -
		       (uint64_t)__builtin_popcountll(bits) * LA_SLICE_SIZE;
	if (now < pool_dirty_low)
		pool_dirty_low = now;
}

/* Pool lock held: the slices in bits went to the pool dirty. In a program
 * with no monitor thread (the only time la_monitor_pending is set), when the
 * dirty pool holds at least LA_LAZY_MIN and three quarters of what liballoc
 * maps (the program has freed most of its memory, as before it goes quiet)
 * and has grown by LA_LAZY_BATCH over its low-water mark, its slices are
 * handed to the kernel lazily, so they can be taken under pressure even
 * while the program sleeps or runs only on fast paths. A working set cycling
 * through a pool smaller than that makes no call. */
static inline void dirty_add(uint64_t bits)
{
	uint64_t now = atomic_fetch_add_explicit(&la_pool_dirty_bytes,
						 (uint64_t)__builtin_popcountll(bits) * LA_SLICE_SIZE,
						 memory_order_relaxed) +
		       (uint64_t)__builtin_popcountll(bits) * LA_SLICE_SIZE;
	if (now < pool_dirty_low + LA_LAZY_BATCH || now < LA_LAZY_MIN ||
	    !atomic_load_explicit(&la_monitor_pending, memory_order_relaxed) ||
	    now < atomic_load_explicit(&la_bytes_mapped, memory_order_relaxed) / 4 * 3)
		return;
	lazy_pass_locked();
}

#ifdef LA_DEBUG
/* Pool lock held: the masks' invariants and the dirty counter. */
static void pool_check(void)
{
	uint64_t dirty = 0;
	for (la_segment_t *s = seg_list; s; s = s->next) {
		LA_ASSERT((s->dirty_mask & ~s->free_mask) == 0);
		LA_ASSERT((s->lazy_mask & ~s->dirty_mask) == 0);
		LA_ASSERT((s->free_mask & s->releasing_mask) == 0);
		LA_ASSERT(((s->free_mask | s->releasing_mask) & 1) == 0);
		dirty += (uint64_t)__builtin_popcountll(s->dirty_mask) * LA_SLICE_SIZE;
	}
	LA_ASSERT(dirty == atomic_load_explicit(&la_pool_dirty_bytes, memory_order_relaxed));
}
#else
static inline void pool_check(void) {}
#endif

static inline uint64_t run_bits(unsigned idx, unsigned n)
{
	return (n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << idx;
}

/* Index of the first run of n free slices in m (preferring runs starting on
 * a dirty slice, so resident memory is reused first), or -1. */
static int find_run(uint64_t m, uint64_t dirty, unsigned n)
{
	uint64_t x = m;
	for (unsigned i = 1; i < n && x; i++)
		x &= m >> i;
	if (!x)
		return -1;
	if (x & dirty)
		x &= dirty;
	return __builtin_ctzll(x);
}

static la_segment_t *segment_new(void)
{
	la_segment_t *s = la_os_map_aligned(LA_SEG_SIZE, LA_SEG_SIZE);
	if (!s)
		return NULL;
	s->kind = LA_SEG_NORMAL;
	s->cookie = la_seg_cookie(s, LA_SEG_NORMAL);
	la_segmap_set(s, true);
	la_segtab_set(s, true);
	s->free_mask = LA_SLICES_ALL;
	s->dirty_mask = 0;
	s->releasing_mask = 0;
	s->lazy_mask = 0;
	s->prev = NULL;
	s->next = seg_list;
	if (seg_list)
		seg_list->prev = s;
	seg_list = s;
	return s;
}

la_page_t *la_span_alloc(unsigned n, uint8_t kind, uint32_t block_size, uint8_t cls)
{
	la_segment_t *s;
	int idx = -1;
	pthread_mutex_lock(&la_pool_lock);
	for (s = seg_list; s; s = s->next) {
		if ((unsigned)__builtin_popcountll(s->free_mask) < n)
			continue;
		idx = find_run(s->free_mask, s->dirty_mask, n);
		if (idx >= 0)
			break;
	}
	if (!s) {
		s = segment_new();
		if (!s) {
			pthread_mutex_unlock(&la_pool_lock);
			return NULL;
		}
		idx = 1;
	}
	uint64_t bits = run_bits((unsigned)idx, n);
	atomic_fetch_add_explicit(&la_pool_ops, 1, memory_order_relaxed);
	dirty_sub(s->dirty_mask & bits);
	s->free_mask &= ~bits;
	s->dirty_mask &= ~bits;
	s->lazy_mask &= ~bits;
	la_page_t *pg = &s->pages[idx];
	for (unsigned j = 0; j < n; j++)
		pg[j].slice_back = (uint8_t)j;
	pg->slice_count = (uint8_t)n;
	pg->kind = kind;
	pg->cls = cls;
	pg->block_size = block_size;
	pg->reserved = kind == LA_PAGE_SMALL ? (uint16_t)((n * LA_SLICE_SIZE) / block_size) : 1;
	pg->qstate = LA_Q_NONE;
	pg->capacity = 0;
	pg->used = 0;
	pg->free = la_page_list_end(pg);
	pg->next = NULL;
	*la_page_prev(pg) = NULL;
	*la_page_delayed_link(pg) = NULL;
	pg->key = kind == LA_PAGE_SMALL ? la_page_key_next() : 0;
	pg->divm = kind == LA_PAGE_SMALL ? la_class_divm[cls] : 0;
	LA_ASSERT((s->dirty_mask & ~s->free_mask) == 0); /* invariant 5 */
	atomic_store_explicit(&pg->thread_free, 0, memory_order_relaxed);
	atomic_store_explicit(&pg->heap, NULL, memory_order_relaxed);
	pthread_mutex_unlock(&la_pool_lock);
	return pg;
}

/* Pool lock held: pg's span goes back to the pool. */
static void span_free_locked(la_page_t *pg)
{
	la_segment_t *s = la_seg_of(pg);
	unsigned idx = (unsigned)(pg - s->pages);
	uint64_t bits = run_bits(idx, pg->slice_count);
	atomic_fetch_add_explicit(&la_pool_ops, 1, memory_order_relaxed);
	LA_ASSERT((s->free_mask & bits) == 0);
	pg->kind = LA_PAGE_FREE;
	pg->capacity = 0; /* free() takes capacity 0 for "not a small page" */
	s->free_mask |= bits;
	s->dirty_mask |= bits;
	dirty_add(bits);
}

void la_span_free(la_page_t *pg)
{
	pthread_mutex_lock(&la_pool_lock);
	span_free_locked(pg);
	pthread_mutex_unlock(&la_pool_lock);
}

size_t la_span_free_list(la_page_t *pg)
{
	size_t bytes = 0;
	if (!pg)
		return 0;
	pthread_mutex_lock(&la_pool_lock);
	while (pg) {
		la_page_t *nx = pg->next;
		bytes += (size_t)pg->slice_count << LA_SLICE_SHIFT;
		span_free_locked(pg);
		pg = nx;
	}
	pthread_mutex_unlock(&la_pool_lock);
	return bytes;
}

bool la_span_grow(la_page_t *pg, unsigned n)
{
	la_segment_t *s = la_seg_of(pg);
	unsigned idx = (unsigned)(pg - s->pages), old = pg->slice_count;
	if (idx + n > LA_SLICES)
		return false;
	uint64_t need = run_bits(idx + old, n - old);
	bool ok = false;
	pthread_mutex_lock(&la_pool_lock);
	if ((s->free_mask & need) == need) {
		dirty_sub(s->dirty_mask & need);
		s->free_mask &= ~need;
		s->dirty_mask &= ~need;
		s->lazy_mask &= ~need;
		for (unsigned j = old; j < n; j++)
			pg[j].slice_back = (uint8_t)j;
		pg->slice_count = (uint8_t)n;
		pg->block_size = (uint32_t)(n * LA_SLICE_SIZE);
		ok = true;
	}
	pthread_mutex_unlock(&la_pool_lock);
	return ok;
}

void la_span_shrink(la_page_t *pg, unsigned n)
{
	la_segment_t *s = la_seg_of(pg);
	unsigned idx = (unsigned)(pg - s->pages), old = pg->slice_count;
	uint64_t bits = run_bits(idx + n, old - n);
	pthread_mutex_lock(&la_pool_lock);
	pg->slice_count = (uint8_t)n;
	pg->block_size = (uint32_t)(n * LA_SLICE_SIZE);
	s->free_mask |= bits;
	s->dirty_mask |= bits;
	dirty_add(bits);
	pthread_mutex_unlock(&la_pool_lock);
}

/* Return free resident slices to the OS: madvise runs of dirty free slices,
 * munmap segments that are entirely free. Stops once max_bytes are released.
 * Returns bytes released (slices * 64 KiB; an approximation of Rss freed).
 *
 * No OS call runs under the pool lock: each round takes up to
 * LA_RELEASE_BATCH runs under the lock (out of free_mask into releasing_mask,
 * so no allocation can get them) and unlinks entirely free segments, drops
 * the lock, madvises and munmaps, then takes the lock again to put the runs
 * back as free and clean. */
#define LA_RELEASE_BATCH 16
struct rel_run { la_segment_t *s; uint64_t bits; };

/* Pool lock held: take up to LA_RELEASE_BATCH runs and empty segments worth
 * at most want bytes. Returns the bytes taken. */
static size_t release_take(size_t want, struct rel_run *runs, unsigned *nr,
			   la_segment_t **segs, unsigned *ns)
{
	size_t took = 0;
	la_segment_t *s = seg_list, *next;
	for (; s && took < want && *nr < LA_RELEASE_BATCH && *ns < LA_RELEASE_BATCH; s = next) {
		next = s->next;
		if (s->free_mask == LA_SLICES_ALL) {
			took += (size_t)__builtin_popcountll(s->dirty_mask) * LA_SLICE_SIZE;
			dirty_sub(s->dirty_mask);
			if (s->prev)
				s->prev->next = s->next;
			else
				seg_list = s->next;
			if (s->next)
				s->next->prev = s->prev;
			la_segtab_set(s, false);
			la_segmap_set(s, false); /* no lookup finds it from here on */
			segs[(*ns)++] = s;
			continue;
		}
		uint64_t d = s->dirty_mask;
		while (d && took < want && *nr < LA_RELEASE_BATCH) {
			unsigned i = (unsigned)__builtin_ctzll(d), n = 0;
			while (i + n < 64 && (d >> (i + n) & 1))
				n++;
			uint64_t bits = run_bits(i, n);
			dirty_sub(bits);
			s->dirty_mask &= ~bits;
			s->lazy_mask &= ~bits;
			s->free_mask &= ~bits;
			s->releasing_mask |= bits;
			runs[(*nr)++] = (struct rel_run){ s, bits };
			took += (size_t)n << LA_SLICE_SHIFT;
			d &= ~bits;
		}
	}
	return took;
}

size_t la_pool_release_free(size_t max_bytes)
{
	size_t released = huge_cache_release();
	while (released < max_bytes) {
		struct rel_run runs[LA_RELEASE_BATCH];
		la_segment_t *segs[LA_RELEASE_BATCH];
		unsigned nr = 0, ns = 0;
		pthread_mutex_lock(&la_pool_lock);
		pool_check();
		size_t took = release_take(max_bytes - released, runs, &nr, segs, &ns);
		pthread_mutex_unlock(&la_pool_lock);
		if (!nr && !ns)
			break;
		for (unsigned k = 0; k < nr; k++) {
			unsigned i = (unsigned)__builtin_ctzll(runs[k].bits);
			la_os_decommit((uint8_t *)runs[k].s + ((size_t)i << LA_SLICE_SHIFT),
				       (size_t)__builtin_popcountll(runs[k].bits) << LA_SLICE_SHIFT);
		}
		for (unsigned k = 0; k < ns; k++)
			la_os_unmap(segs[k], LA_SEG_SIZE);
		if (nr) {
			pthread_mutex_lock(&la_pool_lock);
			for (unsigned k = 0; k < nr; k++) {
				runs[k].s->releasing_mask &= ~runs[k].bits;
				runs[k].s->free_mask |= runs[k].bits;
			}
			pthread_mutex_unlock(&la_pool_lock);
		}
		released += took;
	}
	return released;
}

/* Pool lock held: a span handed out meanwhile must never get an MADV_FREE
 * after its new owner's first writes. */
static void lazy_pass_locked(void)
{
	for (la_segment_t *s = seg_list; s; s = s->next) {
		uint64_t d = s->dirty_mask & ~s->lazy_mask;
		s->lazy_mask = s->dirty_mask;
		while (d) {
			unsigned i = (unsigned)__builtin_ctzll(d), n = 0;
			while (i + n < 64 && (d >> (i + n) & 1))
				n++;
			la_os_lazyfree((uint8_t *)s + ((size_t)i << LA_SLICE_SHIFT),
				       (size_t)n << LA_SLICE_SHIFT);
			d &= ~run_bits(i, n);
		}
	}
	pool_dirty_low = atomic_load_explicit(&la_pool_dirty_bytes, memory_order_relaxed);
}

void la_segments_foreach(void (*fn)(la_segment_t *, void *), void *arg)
{
	pthread_mutex_lock(&la_pool_lock);
	for (la_segment_t *s = seg_list; s; s = s->next)
		fn(s, arg);
	pthread_mutex_unlock(&la_pool_lock);
}

/* ---- huge objects --------------------------------------------------------
 * Layout: [header at a segment-aligned address][... p ... p+n] in one mapping.
 * p - header < LA_SEG_SIZE, or p == header + LA_SEG_SIZE when p itself is
 * segment aligned, so la_seg_of(p) finds the header.
 *
 * The huge cache: freed huge mappings of at most LIBALLOC_HUGE_CACHE bytes
 * in all (and LA_HUGE_CACHE_SLOTS of them) stay mapped, out of the segment
 * map and with no live block (huge_block 0), and serve the next huge
 * request they fit, the best fit first; a fit more than twice the size
 * gives its tail back. Under the pool lock; the OS calls run after it is
 * dropped. Any release of the pool (la_pool_release_free: decay, every
 * monitor reaction, trims and flushes) empties it first. Invariant (pool
 * lock): la_huge_cached_bytes is the sum of the slots' map_size. */
#define LA_HUGE_CACHE_SLOTS 8
static la_segment_t *huge_cache[LA_HUGE_CACHE_SLOTS]; /* oldest first */
static unsigned huge_cache_n;
_Atomic(uint64_t) la_huge_cached_bytes;

static inline size_t page_up(size_t n)
{
	size_t ps = la_os_page_size();
	return (n + ps - 1) & ~(ps - 1);
}

#ifdef LA_DEBUG
/* Pool lock held: the counter is the sum of the slots. */
static void huge_cache_check(void)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < huge_cache_n; i++) {
		LA_ASSERT(huge_cache[i]->huge_block == 0);
		sum += huge_cache[i]->map_size;
	}
	LA_ASSERT(sum == atomic_load_explicit(&la_huge_cached_bytes, memory_order_relaxed));
}
#else
static inline void huge_cache_check(void) {}
#endif

/* Pool lock held: take slot i out of the cache. */
static la_segment_t *huge_cache_take_locked(unsigned i)
{
	huge_cache_check();
	la_segment_t *s = huge_cache[i];
	memmove(&huge_cache[i], &huge_cache[i + 1], (huge_cache_n - i - 1) * sizeof s);
	huge_cache_n--;
	atomic_fetch_sub_explicit(&la_huge_cached_bytes, s->map_size, memory_order_relaxed);
	return s;
}

/* A cached mapping of at least total bytes, trimmed to total if it is more
 * than twice that, or NULL. */
static la_segment_t *huge_cache_get(size_t total)
{
	if (!atomic_load_explicit(&la_huge_cached_bytes, memory_order_relaxed))
		return NULL;
	la_segment_t *s = NULL;
	pthread_mutex_lock(&la_pool_lock);
	unsigned best = huge_cache_n;
	for (unsigned i = 0; i < huge_cache_n; i++)
		if (huge_cache[i]->map_size >= total &&
		    (best == huge_cache_n || huge_cache[i]->map_size < huge_cache[best]->map_size))
			best = i;
	if (best < huge_cache_n) {
		s = huge_cache_take_locked(best);
		atomic_fetch_add_explicit(&la_pool_ops, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&la_pool_lock);
	if (s && s->map_size - total > total) {
		la_os_unmap((uint8_t *)s + total, s->map_size - total);
		s->map_size = total;
	}
	return s;
}

/* Keep s (no live block, out of the segment map) if it fits the cache,
 * evicting the oldest entries as needed; unmap what does not stay. */
static void huge_cache_put(la_segment_t *s)
{
	la_segment_t *out[LA_HUGE_CACHE_SLOTS + 1];
	unsigned nout = 0;
	size_t cap = la_opt.huge_cache;
	if (s->map_size > cap) {
		la_os_unmap(s, s->map_size);
		return;
	}
	/* With no monitor thread to hear pressure, the kernel may take the
	 * pages meanwhile (all but the header's); before the block is
	 * visible to another thread, which could write to it. */
	if (atomic_load_explicit(&la_monitor_pending, memory_order_relaxed))
		la_os_lazyfree((uint8_t *)s + la_os_page_size(), s->map_size - la_os_page_size());
	pthread_mutex_lock(&la_pool_lock);
	while (huge_cache_n && (huge_cache_n == LA_HUGE_CACHE_SLOTS ||
				atomic_load_explicit(&la_huge_cached_bytes, memory_order_relaxed) +
				s->map_size > cap))
		out[nout++] = huge_cache_take_locked(0);
	huge_cache[huge_cache_n++] = s;
	atomic_fetch_add_explicit(&la_huge_cached_bytes, s->map_size, memory_order_relaxed);
	atomic_fetch_add_explicit(&la_pool_ops, 1, memory_order_relaxed);
	huge_cache_check();
	pthread_mutex_unlock(&la_pool_lock);
	for (unsigned k = 0; k < nout; k++)
		la_os_unmap(out[k], out[k]->map_size);
}

/* Unmap every cached huge mapping; returns the bytes. */
static size_t huge_cache_release(void)
{
	la_segment_t *out[LA_HUGE_CACHE_SLOTS];
	unsigned nout = 0;
	size_t bytes = 0;
	if (!atomic_load_explicit(&la_huge_cached_bytes, memory_order_relaxed))
		return 0;
	pthread_mutex_lock(&la_pool_lock);
	while (huge_cache_n)
		out[nout++] = huge_cache_take_locked(0);
	pthread_mutex_unlock(&la_pool_lock);
	for (unsigned k = 0; k < nout; k++) {
		bytes += out[k]->map_size;
		la_os_unmap(out[k], out[k]->map_size);
	}
	return bytes;
}

void *la_huge_alloc(size_t n, size_t align)
{
	la_segment_t *s;
	uint8_t *p;
	bool reused = false;
	if (align < LA_HUGE_HDR)
		align = LA_HUGE_HDR;
	if (n > SIZE_MAX / 2 || align > SIZE_MAX / 4)
		return NULL;
	if (align < LA_SEG_SIZE) {
		size_t total = page_up(align + n);
		s = huge_cache_get(total);
		reused = s != NULL;
		if (!s) {
			s = la_os_map_aligned(total, LA_SEG_SIZE);
			if (!s)
				return NULL;
			s->map_size = total;
		}
		s->map_base = (uint8_t *)s;
		p = (uint8_t *)s + align;
	} else {
		size_t raw_size = n + align + LA_SEG_SIZE;
		uint8_t *raw = la_os_map(raw_size);
		if (!raw)
			return NULL;
		p = (uint8_t *)(((uintptr_t)raw + LA_SEG_SIZE + align - 1) & ~(uintptr_t)(align - 1));
		s = (la_segment_t *)(p - LA_SEG_SIZE);
		uint8_t *end = (uint8_t *)s + page_up((size_t)(p + n - (uint8_t *)s));
		la_os_unmap(raw, (size_t)((uint8_t *)s - raw));
		la_os_unmap(end, (size_t)(raw + raw_size - end));
		s->map_base = (uint8_t *)s;
		s->map_size = (size_t)(end - (uint8_t *)s);
	}
	s->kind = LA_SEG_HUGE;
	s->cookie = la_seg_cookie(s, LA_SEG_HUGE);
	s->huge_reused = reused;
	s->huge_block = (uintptr_t)p;
	s->huge_mac = la_huge_mac(s);
	la_segmap_set(s, true);
	atomic_fetch_add_explicit(&la_bytes_huge, s->map_size, memory_order_relaxed);
	return p;
}

/* p is the live block of huge header s: the header is in the segment map
 * (caller checked), carries the huge cookie, and its size and block are the
 * ones it was made with. Only then is map_size trusted for munmap. */
bool la_huge_valid(la_segment_t *s, const void *p)
{
	return s->cookie == la_seg_cookie(s, LA_SEG_HUGE) && s->huge_block == (uintptr_t)p &&
	       s->huge_mac == la_huge_mac(s) && s->map_base == (uint8_t *)s &&
	       s->map_size >= LA_HUGE_HDR && (s->map_size & (la_os_page_size() - 1)) == 0;
}

void la_huge_free(la_segment_t *s)
{
	atomic_fetch_sub_explicit(&la_bytes_huge, s->map_size, memory_order_relaxed);
	la_segmap_set(s, false);
	s->huge_block = 0; /* a second free finds no live block, nor a segment */
	s->huge_mac = la_huge_mac(s);
	huge_cache_put(s);
}

size_t la_huge_usable(la_segment_t *s, const void *p)
{
	return (size_t)(s->map_base + s->map_size - (const uint8_t *)p);
}

/* Resize a huge block with mremap, keeping the header segment-aligned.
 * Returns the new pointer or NULL (caller falls back to copy). */
void *la_huge_realloc(la_segment_t *s, void *p, size_t n)
{
	if ((uint8_t *)p != (uint8_t *)s + LA_HUGE_HDR || n > SIZE_MAX / 2)
		return NULL;
	size_t old = s->map_size, total = page_up(LA_HUGE_HDR + n);
	if (total == old)
		return p;
	if (total < old) {
		la_os_unmap((uint8_t *)s + total, old - total);
		s->map_size = total;
		s->huge_mac = la_huge_mac(s);
		atomic_fetch_sub_explicit(&la_bytes_huge, old - total, memory_order_relaxed);
		return p;
	}
	la_segment_t *r = la_os_remap(s, old, total, 0, NULL);
	if (r) {
		s->map_size = total;
		s->huge_mac = la_huge_mac(s);
		atomic_fetch_add_explicit(&la_bytes_mapped, total - old, memory_order_relaxed);
	} else {
		size_t rsv_size = total + LA_SEG_SIZE;
		uint8_t *rsv = la_os_map(rsv_size);
		if (!rsv)
			return NULL;
		uint8_t *dst = (uint8_t *)(((uintptr_t)rsv + LA_SEG_MASK) & ~(uintptr_t)LA_SEG_MASK);
		la_segmap_set(s, false); /* s moves: no lookup may find it meanwhile */
		r = la_os_remap(s, old, total, 1, dst);
		if (!r) {
			la_segmap_set(s, true);
			la_os_unmap(rsv, rsv_size);
			return NULL;
		}
		la_os_unmap(rsv, (size_t)(dst - rsv));
		la_os_unmap(dst + total, (size_t)(rsv + rsv_size - (dst + total)));
		atomic_fetch_sub_explicit(&la_bytes_mapped, old, memory_order_relaxed);
	}
	if (r != s) {
		r->map_base = (uint8_t *)r;
		r->map_size = total;
		r->cookie = la_seg_cookie(r, LA_SEG_HUGE);
		r->huge_block = (uintptr_t)r + LA_HUGE_HDR;
		r->huge_mac = la_huge_mac(r);
		la_segmap_set(r, true);
	}
	atomic_fetch_add_explicit(&la_bytes_huge, total - old, memory_order_relaxed);
	return (uint8_t *)r + LA_HUGE_HDR;
}

/* ---- segment map ----------------------------------------------------------
 * Sized at init for every address below twice the current stack (the kernel
 * hands out mappings below the stack unless asked for higher ones): 4 MiB of
 * address space per bit, MAP_NORESERVE, so only the words ever touched take
 * memory (one 4 KiB page covers 128 GiB). If the map cannot be made, or a
 * segment ever lands above it, lookups stop checking (la_segmap_off). */
_Atomic(uint64_t) *la_segmap;
uintptr_t la_segmap_chunks;
bool la_segmap_off;

void la_segmap_init(void)
{
	uintptr_t top = (uintptr_t)__builtin_frame_address(0);
	unsigned bits = 64u - (unsigned)__builtin_clzll((unsigned long long)top) + 1u;
	if (bits > 63)
		bits = 63;
	uintptr_t chunks = (uintptr_t)1 << (bits - LA_SEG_SHIFT);
	size_t bytes = (size_t)(chunks / 8);
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		la_segmap_off = true;
		return;
	}
	la_segmap = m;
	la_segmap_chunks = chunks;
}

/* ---- segment table ---------------------------------------------------------
 * free()'s first look: slot (s >> LA_SEG_SHIFT) % LA_SEGTAB_SIZE holds the
 * normal segment mapped at s, if that segment was the last one mapped into
 * the slot and is still mapped. Segments are mapped next to each other, so
 * slots rarely collide before 4096 segments (16 GiB); a segment not in its
 * slot is found through the segment map (cold path). Written under the pool
 * lock: set when a normal segment is mapped, cleared before it is unmapped. */
_Atomic(uintptr_t) la_segtab[LA_SEGTAB_SIZE];

void la_segtab_set(const la_segment_t *s, bool on)
{
	_Atomic(uintptr_t) *slot = &la_segtab[((uintptr_t)s >> LA_SEG_SHIFT) & (LA_SEGTAB_SIZE - 1)];
	if (on)
		atomic_store_explicit(slot, la_segtab_tag(s), memory_order_release);
	else if (atomic_load_explicit(slot, memory_order_relaxed) == la_segtab_tag(s))
		atomic_store_explicit(slot, 0, memory_order_release);
}

void la_segmap_set(const void *s, bool on)
{
	uintptr_t i = (uintptr_t)s >> LA_SEG_SHIFT;
	if (LA_UNLIKELY(i >= la_segmap_chunks)) {
		/* a mapping the map does not cover: stop checking rather than
		 * call a block of ours foreign */
		la_segmap_off = true;
		__atomic_store_n(&la_segmap_chunks, 0, __ATOMIC_RELEASE);
		return;
	}
	uint64_t bit = (uint64_t)1 << (i & 63);
	if (on)
		atomic_fetch_or_explicit(&la_segmap[i >> 6], bit, memory_order_release);
	else
		atomic_fetch_and_explicit(&la_segmap[i >> 6], ~bit, memory_order_release);
}
