/* Public malloc API. All standard entry points live in this one object (plus
 * aligned.c, which this file pulls in), so a static link can never mix our
 * malloc with the libc's free. musl's internal names (__libc_malloc & co.)
 * are defined too, so musl's own allocations also come here. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include "internal.h"
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
		if (LA_LIKELY(b != NULL) &&
		    LA_LIKELY(h->flush_epoch ==
			      atomic_load_explicit(&la_flush_epoch, memory_order_relaxed))) {
			/* README invariant 8: no releaser takes a page under a fast path */
			LA_ASSERT(atomic_load_explicit(&pg->heap, memory_order_relaxed) == h);
			pg->free = b->next;
			pg->used++;
			atomic_store_explicit(&h->fast_busy, 0, memory_order_release);
			LA_VG_ALLOC(b, pg->block_size);
			return b;
		}
		atomic_store_explicit(&h->fast_busy, 0, memory_order_release);
	}
	return la_vg_new(la_malloc_generic(n, 0));
}

static LA_NOINLINE void free_other(la_page_t *pg, void *p)
{
	if (pg->kind == LA_PAGE_LARGE) {
		la_heap_t *h = la_tl_heap;
		if (h == &la_heap_empty || !la_heap_large_put(h, pg))
			la_span_free(pg);
	} else
		la_page_remote_free(pg, (la_block_t *)p);
}

LA_API void free(void *p)
{
	if (LA_UNLIKELY(!p))
		return;
	LA_VG_FREE(p);
	la_segment_t *s = la_seg_of(p);
	if (LA_UNLIKELY(s->kind != LA_SEG_NORMAL)) {
		la_huge_free(s);
		return;
	}
	la_page_t *pg = la_page_of(s, p);
	la_heap_t *h = la_tl_heap;
	if (LA_LIKELY(atomic_load_explicit(&pg->heap, memory_order_relaxed) == h)) {
		la_block_t *b = (la_block_t *)p;
		b->next = pg->free;
		pg->free = b;
		unsigned used = --pg->used;
		if (LA_UNLIKELY(pg->qstate == LA_Q_FULL) ||
		    LA_UNLIKELY(used == 0 && (pg->qstate != LA_Q_HEAD || pg->slice_count != 1))) {
			la_heap_free_slow(h, pg);
			la_honour_flush(h);
		}
		return;
	}
	free_other(pg, p);
}

size_t la_usable_size(const void *p)
{
	la_segment_t *s = la_seg_of(p);
	if (s->kind != LA_SEG_NORMAL)
		return la_huge_usable(s, p);
	la_page_t *pg = la_page_of(s, p);
	if (pg->kind == LA_PAGE_LARGE)
		return (size_t)(la_page_start(pg) + pg->block_size - (const uint8_t *)p);
	return pg->block_size;
}

LA_API size_t malloc_usable_size(void *p)
{
	return p ? la_usable_size(p) : 0;
}

LA_API void *calloc(size_t nm, size_t sz)
{
	size_t n;
	if (LA_UNLIKELY(__builtin_mul_overflow(nm, sz, &n))) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = malloc(n);
	if (LA_LIKELY(p != NULL) && la_seg_of(p)->kind == LA_SEG_NORMAL)
		memset(p, 0, n); /* huge blocks are fresh mmap: already zero */
	else if (p)
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
	la_segment_t *s = la_seg_of(p);
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
		la_page_t *pg = la_page_of(s, p);
		if (pg->kind == LA_PAGE_LARGE) {
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
	return la_release(LA_RELEASE_THREADS, LA_RELEASE_EVERYTHING, 0) > 0;
}

/* musl-internal and glibc-exported names of the same implementation (thin
 * wrappers: alias attributes would trip gcc's attribute checks). */
LA_API void *__libc_malloc(size_t n) { return malloc(n); }
LA_API void *__libc_malloc_impl(size_t n) { return malloc(n); }
LA_API void __libc_free(void *p) { free(p); }
LA_API void *__libc_calloc(size_t nm, size_t sz) { return calloc(nm, sz); }
LA_API void *__libc_realloc(void *p, size_t n) { return realloc(p, n); }
