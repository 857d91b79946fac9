/* Valgrind memcheck annotations, compiled in only with -DLA_VALGRIND (make
 * valgrind builds such a library); otherwise every macro is empty and no
 * path gains an instruction.
 *
 * With them memcheck knows liballoc's blocks as heap blocks: use after free,
 * double or invalid free, reads of never-written malloc memory and leaks are
 * reported as they would be for the system malloc. Contracts:
 *  - a block is announced with its usable size (the malloc_usable_size bytes
 *    are the caller's), so overruns into a class's slack go unseen;
 *  - a freed block is no-access except its first word, which liballoc's free
 *    lists use (made addressable before the first link is written);
 *  - memory about to be carved into free lists is marked addressable, as a
 *    span can come back from the pool with freed blocks of another layout. */
#ifndef LA_VG_H
#define LA_VG_H
#include "internal.h"

#ifdef LA_VALGRIND
#include <valgrind/memcheck.h>
#define LA_VG_ALLOC(p, n) VALGRIND_MALLOCLIKE_BLOCK((p), (n), 0, 0)
#define LA_VG_FREE(p)                                                       \
	do {                                                                \
		VALGRIND_FREELIKE_BLOCK((p), 0);                            \
		VALGRIND_MAKE_MEM_UNDEFINED((p), sizeof(la_block_t));       \
	} while (0)
#define LA_VG_RESIZE(p, old, n) VALGRIND_RESIZEINPLACE_BLOCK((p), (old), (n), 0)
/* realloc that moved p (usable size old) to r (usable n) by remapping: the
 * content came along, so r is announced as defined (unwritten bytes of p
 * are no longer told apart). */
#define LA_VG_REALLOC(p, old, r, n)                                         \
	do {                                                                \
		if ((r) == (p)) {                                           \
			VALGRIND_RESIZEINPLACE_BLOCK((p), (old), (n), 0);   \
		} else {                                                    \
			VALGRIND_FREELIKE_BLOCK((p), 0);                    \
			VALGRIND_MALLOCLIKE_BLOCK((r), (n), 0, 1);          \
		}                                                           \
	} while (0)
#define LA_VG_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#define LA_VG_UNDEFINED(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define LA_VG_ONLY(...) __VA_ARGS__
#else
#define LA_VG_ALLOC(p, n) ((void)0)
#define LA_VG_FREE(p) ((void)0)
#define LA_VG_RESIZE(p, old, n) ((void)0)
#define LA_VG_REALLOC(p, old, r, n) ((void)0)
#define LA_VG_DEFINED(p, n) ((void)0)
#define LA_VG_UNDEFINED(p, n) ((void)0)
#define LA_VG_ONLY(...)
#endif

/* The first word of live block p, read without memcheck seeing a use of
 * whatever definedness the caller's bytes have (restored afterwards). */
static inline uintptr_t la_vg_peek_word(const void *p)
{
#ifdef LA_VALGRIND
	unsigned char vbits[sizeof(uintptr_t)];
	int saved = VALGRIND_GET_VBITS(p, vbits, sizeof vbits);
	VALGRIND_MAKE_MEM_DEFINED(p, sizeof(uintptr_t));
	uintptr_t v = *(const volatile uintptr_t *)p;
	if (saved == 1)
		(void)VALGRIND_SET_VBITS(p, vbits, sizeof vbits);
	return v;
#else
	return *(const uintptr_t *)p;
#endif
}

/* p (NULL or a block just taken from an internal path) announced with its
 * usable size; returns p. */
static inline void *la_vg_new(void *p)
{
	if (p)
		LA_VG_ALLOC(p, la_usable_size(p));
	return p;
}
#endif
