/* Aligned allocation: posix_memalign, aligned_alloc, memalign, valloc,
 * pvalloc. Small requests use the first size class that is a multiple of the
 * alignment (pages are 64 KiB aligned, so every block of such a class is
 * aligned); larger ones use over-sized slice spans or aligned huge mappings. */
#define _GNU_SOURCE
#include <errno.h>
#include "internal.h"
#include "vg.h"

const char la_link_aligned = 0;

static inline bool is_pow2(size_t a)
{
	return a && !(a & (a - 1));
}

/* align: a power of two. */
static void *aligned_impl(size_t align, size_t n)
{
	if (align <= 8 || (align <= LA_ALIGN_MIN && n > 8))
		return malloc(n);
	if (n < align)
		n = align;
	if (n <= LA_MEDIUM_MAX && align <= LA_SLICE_SIZE) {
		unsigned c = la_size_class(n);
		while (c < LA_NCLASSES && (la_class_size[c] & (align - 1)))
			c++;
		if (c < LA_NCLASSES) {
			la_heap_t *h = la_tl_heap;
			if (LA_UNLIKELY(h == &la_heap_empty) && !(h = la_thread_heap_slow())) {
				errno = ENOMEM;
				return NULL;
			}
			void *p = la_heap_alloc_cls(h, c);
			if (!p)
				errno = ENOMEM;
			return la_vg_new(p);
		}
	}
	if (n <= LA_MEDIUM_MAX)
		n = LA_MEDIUM_MAX + 1; /* force the span path */
	return la_vg_new(la_malloc_generic(n, align));
}

LA_API int posix_memalign(void **out, size_t align, size_t n)
{
	if (!is_pow2(align) || align % sizeof(void *))
		return EINVAL;
	int saved = errno;
	void *p = aligned_impl(align, n);
	if (!p) {
		errno = saved;
		return ENOMEM;
	}
	*out = p;
	return 0;
}

LA_API void *aligned_alloc(size_t align, size_t n)
{
	if (!is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return aligned_impl(align, n);
}

/* glibc semantics: a non-power-of-two alignment is rounded up. */
LA_API void *memalign(size_t align, size_t n)
{
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (!is_pow2(align))
		align = align ? (size_t)1 << (64 - __builtin_clzll((unsigned long long)align)) : 1;
	return aligned_impl(align, n);
}

LA_API void *valloc(size_t n)
{
	return aligned_impl(la_os_page_size(), n);
}

LA_API void *pvalloc(size_t n)
{
	size_t ps = la_os_page_size();
	if (n > SIZE_MAX - ps) {
		errno = ENOMEM;
		return NULL;
	}
	n = n ? (n + ps - 1) & ~(ps - 1) : ps;
	return aligned_impl(ps, n);
}

LA_API void *__libc_memalign(size_t align, size_t n) { return memalign(align, n); }
