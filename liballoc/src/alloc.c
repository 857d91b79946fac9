/* Public malloc API. All standard entry points live in this one object (plus
 * aligned.c, which this file pulls in), so a static link can never mix our
 * malloc with the libc's free. musl's internal names (__libc_malloc & co.)
 * are defined too, so musl's own allocations also come here. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include "internal.h"
#include "monitor/monitor.h"
#include "release.h"
#include "vg.h"

/* Force aligned.o (memalign family) into every static link that uses us. */
extern const char la_link_aligned;
__attribute__((used)) static const char *const la_link_anchor = &la_link_aligned;

void *la_large_alloc(size_t n, size_t align)
{
	size_t need = n;
	if (align > LA_SLICE_SIZE)
		need += align - LA_SLICE_SIZE;
	size_t slices = (need + LA_SLICE_SIZE - 1) >> LA_SLICE_SHIFT;
	if (slices >= LA_SLICES)
		return la_huge_alloc(n, align);
	la_heap_t *h = la_tl_heap;
	la_page_t *pg = NULL;
	if (h != &la_heap_empty)
		pg = la_heap_large_get(h, (unsigned)slices);
	if (!pg)
		pg = la_span_alloc((unsigned)slices, LA_PAGE_LARGE,
				   (uint32_t)(slices << LA_SLICE_SHIFT), 0);
	if (!pg)
		return NULL;
	uintptr_t p = (uintptr_t)la_page_start(pg);
	if (align > LA_SLICE_SIZE)
		p = (p + align - 1) & ~(uintptr_t)(align - 1);
	/* a LARGE span's thread_free holds its live block (0 once freed) */
	atomic_store_explicit(&pg->thread_free, p, memory_order_relaxed);
	return (void *)p;
}

/* Everything that is not a small-block fast-path hit. align is 0 or a power
 * of two <= the class size picked by the caller for small sizes. */
void *la_malloc_generic(size_t n, size_t align)
{
	la_heap_t *h = la_tl_heap;
	void *p;
	if (LA_UNLIKELY(h == &la_heap_empty)) {
		h = la_thread_heap_slow();
		if (!h) {
			errno = ENOMEM;
			return NULL;
		}
	}
	la_honour_flush(h);
	if (LA_UNLIKELY(atomic_load_explicit(&la_monitor_pending, memory_order_relaxed)))
		la_monitor_start_lazy();
	if (n <= LA_MEDIUM_MAX && align <= LA_ALIGN_MIN)
		p = la_heap_alloc_cls(h, la_size_class(n));
	else if (n <= la_opt.large_max)
		p = la_large_alloc(n, align);
	else
		p = la_huge_alloc(n, align);
	if (LA_UNLIKELY(!p))
		errno = ENOMEM;
	return p;
}

static LA_COLD __attribute__((noreturn, unused)) void malloc_bad_link(const la_block_t *b)
{
	la_fatal("malloc", "corrupted free list at", b, "(write after free?)");
}

LA_API void *malloc(size_t n)
{
	la_heap_t *h = la_tl_heap;
	if (LA_LIKELY(n <= LA_SMALL_MAX)) {
		/* fast_busy brackets the use of direct[] (heap.c, README invariant 8):
		 * a plain store, ordered by the releaser's membarrier() */
		atomic_store_explicit(&h->fast_busy, 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
		la_page_t *pg = h->direct[(n + 7) >> 3];
		la_block_t *b = pg->free;
		if (LA_LIKELY(!la_list_end(b)) &&
		    LA_LIKELY(h->flush_epoch ==
			      atomic_load_explicit(&la_flush_epoch, memory_order_relaxed))) {
			/* pages served here are one slice: the next block must be
			 * in b's slice, or the list ends (the segment base, so
			 * t = b's offset in it; see la_page_pop) */
#if LA_HARDEN
			uintptr_t t = b->link ^ pg->key; /* = next ^ b */
			if (LA_UNLIKELY(t >= LA_SLICE_SIZE)) {
				/* rare: keep the compiler from testing this first */
				uintptr_t end = (uintptr_t)b;
				__asm__ volatile("" : "+r"(end));
				if (t != (end & LA_SEG_MASK))
					malloc_bad_link(b);
			}
			/* README invariant 8: no releaser takes a page under a fast path */
			LA_ASSERT(pg->slice_count == 1 && atomic_load_explicit(&pg->heap, memory_order_relaxed) == h);
			pg->free = (la_block_t *)(t ^ (uintptr_t)b);
			b->link = 0;
#else
			pg->free = (la_block_t *)b->link;
#endif
			pg->used++;
			atomic_store_explicit(&h->fast_busy, 0, memory_order_release);
			LA_VG_ALLOC(b, pg->block_size);
			return b;
		}
		atomic_store_explicit(&h->fast_busy, 0, memory_order_release);
	}
	return la_vg_new(la_malloc_generic(n, 0));
}

/* ---- pointer validation ----------------------------------------------------
 * Before anything read from a header is used, a pointer handed to free,
 * realloc or malloc_usable_size must be: in a segment of ours (free: the
 * segment table, else the segment map; the others: the segment map),
 * under the right cookie, and the start of a live block of its page (small:
 * a block boundary among the carved blocks, first word not a free-list link
 * of the page; large: the span's recorded block; huge: the header's block).
 * Each failure aborts with one line naming the call (la_fatal). */
static LA_COLD __attribute__((noreturn)) void bad_foreign(const char *who, const void *p)
{
	la_fatal(who, "invalid pointer", p, "(not allocated by liballoc, or already freed)");
}

static LA_COLD __attribute__((noreturn)) void bad_interior(const char *who, const void *p)
{
	la_fatal(who, "invalid pointer", p, "(not the start of a block)");
}

/* Segment of p, checked; huge segments have their header checked too. */
static inline la_segment_t *seg_checked(const void *p, const char *who)
{
	la_segment_t *s = la_seg_of(p);
	if (LA_UNLIKELY(!la_segmap_has(s)))
		bad_foreign(who, p);
	if (LA_UNLIKELY(s->cookie != la_seg_cookie(s, LA_SEG_NORMAL)) && !la_huge_valid(s, p))
		bad_foreign(who, p);
	return s;
}

/* Page of p in normal segment s; a small block is checked to be a block
 * boundary among the page's carved blocks. Any other page kind is returned
 * for the caller to check. */
static inline la_page_t *page_checked(la_segment_t *s, const void *p, const char *who)
{
	la_page_t *raw = &s->pages[((uintptr_t)p - (uintptr_t)s) >> LA_SLICE_SHIFT];
	la_page_t *pg = raw - raw->slice_back;
	if (LA_LIKELY(pg->kind == LA_PAGE_SMALL)) {
		uint32_t off = (uint32_t)(((uintptr_t)p & (LA_SLICE_SIZE - 1)) +
					  ((uintptr_t)raw->slice_back << LA_SLICE_SHIFT));
		if (LA_UNLIKELY(!la_page_block_index_ok(pg, off)))
			bad_interior(who, p);
	}
	return pg;
}

/* p is not the live block of large (or free) page pg, which held live. */
static LA_COLD __attribute__((noreturn)) void bad_large(la_page_t *pg, const void *p,
							uintptr_t live, const char *who)
{
	if (pg->kind == LA_PAGE_LARGE && live)
		bad_interior(who, p);
	if (pg->kind == LA_PAGE_LARGE && (const uint8_t *)p == la_page_start(pg))
		la_fatal(who, "double free of", p, NULL);
	la_fatal(who, "invalid pointer", p, "(not a live block: already freed?)");
}

/* A large page whose live block is p (else abort). */
static void large_checked(la_page_t *pg, const void *p, const char *who)
{
	uintptr_t live = pg->kind == LA_PAGE_LARGE
				 ? atomic_load_explicit(&pg->thread_free, memory_order_relaxed)
				 : 0;
	if (LA_UNLIKELY(live != (uintptr_t)p))
		bad_large(pg, p, live, who);
}

/* Small block b of pg, about to be used as live by a non-free call: its
 * first word must not be a link of pg (it is then on a free list). */
static void small_live_checked(la_page_t *pg, la_block_t *b, const char *who)
{
	if (LA_UNLIKELY(la_link_plausible(pg, la_vg_peek_word(b)))) {
		if (atomic_load_explicit(&pg->heap, memory_order_relaxed) != la_tl_heap)
			la_fatal(who, "use after free of", b, NULL);
		la_page_check_double_free(pg, b, who, "use after free of");
	}
}

static LA_NOINLINE __attribute__((unused)) void free_huge(la_segment_t *s, void *p)
{
	if (LA_UNLIKELY(!la_huge_valid(s, p))) {
		if (la_huge_valid(s, (const void *)s->huge_block))
			bad_interior("free", p);
		bad_foreign("free", p);
	}
	la_huge_free(s);
}

static LA_NOINLINE void free_large(la_page_t *pg, void *p)
{
	/* claim the block: of two racing frees of it, one aborts */
	uintptr_t live = (uintptr_t)p;
	if (LA_UNLIKELY(pg->kind != LA_PAGE_LARGE))
		bad_large(pg, p, 0, "free");
	if (LA_UNLIKELY(!atomic_compare_exchange_strong_explicit(&pg->thread_free, &live, 0,
								  memory_order_relaxed,
								  memory_order_relaxed)))
		bad_large(pg, p, live, "free");
	la_heap_t *h = la_tl_heap;
	if (h == &la_heap_empty || !la_heap_large_put(h, pg))
		la_span_free(pg);
}

/* A small block freed by a thread that does not own its page. A first word
 * that is a link of the page means the block already sits on one of its
 * free lists: a double free (the owner's lists cannot be walked from here). */
static inline void free_remote(la_page_t *pg, la_block_t *b)
{
	if (LA_HARDEN && LA_UNLIKELY(la_link_plausible(pg, la_vg_peek_word(b))))
		la_fatal("free", "double free of", b, "(from another thread)");
	la_page_remote_free(pg, b, "free");
}

/* Owner free that needs the heap's lists (invariant 10): a tail call from
 * free(), so free()'s fast path saves no register. */
static LA_NOINLINE void free_owned_slow(la_heap_t *h, la_page_t *pg, la_block_t *b)
{
	la_heap_free_slow(h, pg, b);
	la_honour_flush(h);
}

/* Owner free of small block b into pg, after the checks. */
static inline void free_owned(la_heap_t *h, la_page_t *pg, la_block_t *b)
{
	LA_ASSERT(pg->used > 0); /* invariant 3 */
	/* README invariant 10: the decrement of used is our last access to pg.
	 * Once it leaves no live block, a releaser holding h's lock may take
	 * pg and the pool may unmap its segment; so everything the slow-path
	 * decision reads is read before, and a free that needs the slow path
	 * pushes and decrements under the lock instead. No releaser can take pg
	 * before the decrement: b is live until then. */
	unsigned used = pg->used - 1u;
	if (LA_UNLIKELY(pg->qstate == LA_Q_FULL) ||
	    LA_UNLIKELY(used == 0 && (pg->qstate != LA_Q_HEAD || pg->slice_count != 1))) {
		free_owned_slow(h, pg, b);
		return;
	}
	la_link_set(pg, b, pg->free);
	pg->free = b;
	/* release: a releaser that reads this (acquire) sees our writes done */
	__atomic_store_n(&pg->used, (uint16_t)used, __ATOMIC_RELEASE);
}

/* The owner frees a block whose first word looks like a link of its page. */
static LA_NOINLINE void free_owned_suspect(la_heap_t *h, la_page_t *pg, la_block_t *b)
{
	la_page_check_double_free(pg, b, "free", "double free of");
	free_owned(h, pg, b);
}

/* free()'s check points. Each is one test on the fast path; the hardened
 * build (LA_HARDEN, the default) checks what README "Hardening" states, the
 * measurement build (LA_HARDEN=0) only what it needs to pick the path. */

/* s may be read as a normal segment's header: in the segment table (ours
 * and mapped; else free_not_normal asks the segment map) and under a normal
 * segment's cookie. */
static inline bool free_seg_normal(const la_segment_t *s)
{
#if LA_HARDEN
	return LA_LIKELY(la_segtab_has(s)) &&
	       LA_LIKELY(s->cookie == la_seg_cookie(s, LA_SEG_NORMAL));
#else
	return s->kind == LA_SEG_NORMAL;
#endif
}

/* p is a block start among the carved blocks of small page pg (back: p's
 * slice is that many slices after pg's). One multiply answers both (see
 * la_page_block_index_ok); a page that is not SMALL has capacity 0, so it
 * fails here too and free_not_small sorts it out. */
static inline bool free_small_block(const la_page_t *pg, unsigned back, const void *p)
{
#if LA_HARDEN
	uint32_t off = (uint32_t)(((uintptr_t)p & (LA_SLICE_SIZE - 1)) + ((uintptr_t)back << LA_SLICE_SHIFT));
	return la_page_block_index_ok(pg, off);
#else
	(void)back;
	(void)p;
	return pg->kind == LA_PAGE_SMALL;
#endif
}

/* p failed free_small_block: an interior pointer of a small page, or a
 * large span (or a free one). */
static LA_NOINLINE void free_not_small(la_page_t *pg, void *p)
{
	if (LA_HARDEN && pg->kind == LA_PAGE_SMALL)
		bad_interior("free", p);
	free_large(pg, p);
}

/* free() of p in normal segment s, after free_seg_normal. */
static inline __attribute__((always_inline)) void free_in_segment(la_segment_t *s, void *p)
{
	la_page_t *raw = &s->pages[((uintptr_t)p - (uintptr_t)s) >> LA_SLICE_SHIFT];
	unsigned back = raw->slice_back;
	la_page_t *pg = raw - back;
	if (LA_UNLIKELY(!free_small_block(pg, back, p))) {
		free_not_small(pg, p);
		return;
	}
	LA_ASSERT(pg->kind == LA_PAGE_SMALL); /* invariant 11 */
	la_block_t *b = (la_block_t *)p;
	la_heap_t *h = la_tl_heap;
	if (LA_UNLIKELY(atomic_load_explicit(&pg->heap, memory_order_relaxed) != h)) {
		free_remote(pg, b);
		return;
	}
	if (LA_HARDEN) {
		LA_VG_DEFINED(b, sizeof *b);
		if (LA_UNLIKELY(la_link_plausible(pg, b->link))) {
			free_owned_suspect(h, pg, b);
			return;
		}
	}
	free_owned(h, pg, b);
}

/* Not a normal segment by free_seg_normal: a huge block, a bad pointer, or
 * a normal segment of ours that is not in its segment-table slot (another
 * segment took the slot) or, with the segment map off, not in the map. */
static LA_NOINLINE void free_not_normal(la_segment_t *s, void *p)
{
#if LA_HARDEN
	if (!la_segmap_has(s))
		bad_foreign("free", p);
	if (s->cookie == la_seg_cookie(s, LA_SEG_NORMAL)) {
		free_in_segment(s, p); /* a normal segment after all */
		return;
	}
	free_huge(s, p);
#else
	(void)p;
	la_huge_free(s);
#endif
}

/* One fast path, the checks at its check points; every way out is a tail
 * call, so it needs no callee-saved register (README "Hardening": cost). */
LA_API void free(void *p)
{
	if (LA_UNLIKELY(!p))
		return;
	LA_VG_FREE(p);
	la_segment_t *s = la_seg_of(p);
	if (LA_UNLIKELY(!free_seg_normal(s))) {
		free_not_normal(s, p);
		return;
	}
	free_in_segment(s, p);
}

/* Usable size of live block p, validated as for free(). */
static size_t usable_checked(const void *p, const char *who)
{
	la_segment_t *s = seg_checked(p, who);
	if (s->kind != LA_SEG_NORMAL)
		return la_huge_usable(s, p);
	la_page_t *pg = page_checked(s, p, who);
	if (pg->kind != LA_PAGE_SMALL) {
		large_checked(pg, p, who);
		return (size_t)(la_page_start(pg) + pg->block_size - (const uint8_t *)p);
	}
	small_live_checked(pg, (la_block_t *)p, who);
	return pg->block_size;
}

size_t la_usable_size(const void *p)
{
	return usable_checked(p, "malloc_usable_size");
}

LA_API size_t malloc_usable_size(void *p)
{
	return p ? usable_checked(p, "malloc_usable_size") : 0;
}

LA_API void *calloc(size_t nm, size_t sz)
{
	size_t n;
	if (LA_UNLIKELY(__builtin_mul_overflow(nm, sz, &n))) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = malloc(n);
	if (LA_UNLIKELY(p == NULL))
		return NULL;
	la_segment_t *s = la_seg_of(p);
	if (LA_LIKELY(s->kind == LA_SEG_NORMAL) || s->huge_reused)
		memset(p, 0, n); /* fresh huge mappings are already zero */
	else
		LA_VG_DEFINED(p, n);
	return p;
}

/* In place when the block still fits and does not waste more than half;
 * large spans grow/shrink by slices; huge blocks use mremap. */
LA_API void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	la_segment_t *s = seg_checked(p, "realloc");
	size_t old;
	if (s->kind != LA_SEG_NORMAL) {
		if (n > la_opt.large_max) {
			LA_VG_ONLY(size_t was = la_huge_usable(s, p);)
			void *r = la_huge_realloc(s, p, n);
			if (r) {
				LA_VG_REALLOC(p, was, r, la_usable_size(r));
				return r;
			}
		}
		old = la_huge_usable(s, p);
	} else {
		la_page_t *pg = page_checked(s, p, "realloc");
		if (pg->kind != LA_PAGE_SMALL) {
			large_checked(pg, p, "realloc");
			old = (size_t)(la_page_start(pg) + pg->block_size - (uint8_t *)p);
			if ((uint8_t *)p == la_page_start(pg) && n > LA_MEDIUM_MAX && n <= la_opt.large_max) {
				unsigned need = (unsigned)((n + LA_SLICE_SIZE - 1) >> LA_SLICE_SHIFT);
				if (need == pg->slice_count)
					return p;
				if (need < pg->slice_count) {
					la_span_shrink(pg, need);
					LA_VG_RESIZE(p, old, (size_t)need << LA_SLICE_SHIFT);
					return p;
				}
				if (la_span_grow(pg, need)) {
					LA_VG_RESIZE(p, old, (size_t)need << LA_SLICE_SHIFT);
					return p;
				}
			}
		} else {
			small_live_checked(pg, (la_block_t *)p, "realloc");
			old = pg->block_size;
			if (n <= old && n >= old / 2)
				return p;
		}
	}
	void *q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	free(p);
	return q;
}

LA_API void *reallocarray(void *p, size_t nm, size_t sz)
{
	size_t n;
	if (__builtin_mul_overflow(nm, sz, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n);
}

/* Every thread's cache and the pool (pad is ignored: nothing is kept). */
LA_API int malloc_trim(size_t pad)
{
	(void)pad;
	la_ensure_init();
	return la_release(LA_RELEASE_THREADS, LA_RELEASE_EVERYTHING, 0) > 0;
}

/* musl-internal and glibc-exported names of the same implementation (thin
 * wrappers: alias attributes would trip gcc's attribute checks). */
LA_API void *__libc_malloc(size_t n) { return malloc(n); }
LA_API void *__libc_malloc_impl(size_t n) { return malloc(n); }
LA_API void __libc_free(void *p) { free(p); }
LA_API void *__libc_calloc(size_t nm, size_t sz) { return calloc(nm, sz); }
LA_API void *__libc_realloc(void *p, size_t n) { return realloc(p, n); }
