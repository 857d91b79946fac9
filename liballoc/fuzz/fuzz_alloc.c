/* libFuzzer harness: liballoc's malloc family and its release paths, driven
 * by the records of ops.h, checked against a shadow model of every live
 * block (pointer, bytes owned, usable size, pattern tag).
 *
 * Linking: the liballoc objects come in as one relocatable whose public
 * names carry the prefix la_fz_ (malloc -> la_fz_malloc, ...; see the fuzz
 * rules in the Makefile), so libFuzzer and the sanitizer runtime keep the
 * system allocator and only this harness calls liballoc. The la_* extras and
 * the internal entry points keep their names.
 *
 * Determinism: the monitor thread is switched off; the harness calls the
 * monitor's reactions itself (la_react, la_decay_tick, la_adaptive_tick on a
 * virtual clock), so one input always runs the same way. A second thread,
 * run in lock-step, makes frees cross-thread and, when it ends, leaves
 * abandoned pages behind.
 *
 * Checks (any failure prints the reason and aborts):
 *  - every live block holds its pattern before free/realloc, on
 *    FZ_OP_CHECK_ALL and at the end of the input; after every flush, event
 *    and tick too (blocks above 64 KiB: both ends and a word per 64 KiB
 *    slice). Blocks up to 1 MiB are patterned byte for byte, bigger ones
 *    at both 64 KiB ends and a word per slice (see pattern());
 *  - realloc keeps the first min(old, new) bytes;
 *  - malloc_usable_size >= bytes requested, and stable while the block lives;
 *  - alignment: 8 (n <= 8) or 16 for malloc-like calls, the requested one
 *    for the memalign family, the page for valloc/pvalloc;
 *  - calloc memory reads as zero;
 *  - no two live blocks' usable ranges overlap (each new slot block against
 *    the others; everything, bursts included, after a burst and on
 *    FZ_OP_CHECK_ALL);
 *  - invalid requests fail cleanly: EINVAL for bad alignments, ENOMEM for
 *    overflowing products and sizes >= 2^47, the old block left intact;
 *  - valid requests within the model's budget succeed;
 *  - la_stats: in-use bytes cover the live blocks, partial sizes honoured;
 *    after the input frees everything and flushes, nothing is in use. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/memnotify.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "monitor/monitor.h"
#include "monitor/react.h"
#include "ops.h"
#include "../tests/pattern.h"

void *la_fz_malloc(size_t n);
void la_fz_free(void *p);
void *la_fz_calloc(size_t nm, size_t sz);
void *la_fz_realloc(void *p, size_t n);
void *la_fz_reallocarray(void *p, size_t nm, size_t sz);
int la_fz_posix_memalign(void **out, size_t align, size_t n);
void *la_fz_aligned_alloc(size_t align, size_t n);
void *la_fz_memalign(size_t align, size_t n);
void *la_fz_valloc(size_t n);
void *la_fz_pvalloc(size_t n);
size_t la_fz_malloc_usable_size(void *p);
int la_fz_malloc_trim(size_t pad);

#define MiB ((size_t)1 << 20)
#define LIVE_BUDGET (32 * MiB)   /* bytes the model lets live at once */
#define BIG_BUDGET (32 * MiB)    /* bytes per input in blocks above 64 KiB */
#define ABSURD_MIN ((size_t)1 << 47)

struct slot {
	uint8_t *p;      /* NULL: dead */
	size_t req;      /* bytes owned and patterned */
	size_t usable;   /* malloc_usable_size when last checked */
	uint64_t tag;
};

static struct slot slots[FZ_SLOTS];
/* Burst blocks: many of one size, to fill pages (slots are too few). */
#define BURST_MAX 4096
static struct slot burst[BURST_MAX];
static unsigned burst_n;   /* entries in use at the front of burst[] */
static size_t live_bytes, big_bytes;
static uint64_t generation, vclock_ns;
static size_t page_size;

static __attribute__((noreturn, format(printf, 1, 2))) void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fuzz_alloc: CHECK FAILED: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* ---- decoding ---- */
struct rec { uint8_t op, slot, sel, aux; uint32_t val; };

static size_t dec_size(uint8_t sel, uint32_t val)
{
	static const size_t edges[] = { 8, 16, 128, 1024, 8192, 10240, 65536, 131072,
					(size_t)2 << 20, (size_t)4 << 20, ((size_t)4 << 20) - 65536,
					(size_t)63 << 16, (size_t)64 << 16 };
	static const size_t absurd[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4095, SIZE_MAX / 2 + 1,
					 SIZE_MAX / 2, SIZE_MAX / 2 - 4096, ABSURD_MIN,
					 ABSURD_MIN + 1, (size_t)1 << 62 };
	/* selectors 0..FZ_SZ_COUNT-1 as named (seeds use them); other bytes
	 * weighted towards small sizes, as programs allocate */
	static const uint8_t weighted[32] = {
		FZ_SZ_TINY, FZ_SZ_SMALL, FZ_SZ_MEDIUM, FZ_SZ_LARGE, FZ_SZ_HUGE, FZ_SZ_EDGE,
		FZ_SZ_BIG, FZ_SZ_ABSURD,
		FZ_SZ_TINY, FZ_SZ_TINY, FZ_SZ_TINY, FZ_SZ_TINY, FZ_SZ_TINY, FZ_SZ_TINY,
		FZ_SZ_TINY, FZ_SZ_TINY, FZ_SZ_TINY, FZ_SZ_TINY, FZ_SZ_TINY,
		FZ_SZ_SMALL, FZ_SZ_SMALL, FZ_SZ_SMALL, FZ_SZ_SMALL, FZ_SZ_SMALL, FZ_SZ_SMALL,
		FZ_SZ_MEDIUM, FZ_SZ_MEDIUM, FZ_SZ_MEDIUM, FZ_SZ_MEDIUM,
		FZ_SZ_LARGE, FZ_SZ_LARGE, FZ_SZ_EDGE,
	};
	switch (weighted[sel % 32]) {
	case FZ_SZ_TINY: return val % 129;
	case FZ_SZ_SMALL: return val % 1025;
	case FZ_SZ_MEDIUM: return val % 65537;
	case FZ_SZ_LARGE: return 65536 + val % ((2 * MiB) - 65536 + 1);
	case FZ_SZ_HUGE: return 2 * MiB + val % (6 * MiB + 1);
	case FZ_SZ_EDGE: return edges[(val >> 2) % (sizeof edges / sizeof *edges)] + (val & 3) - 1;
	case FZ_SZ_BIG: return ((size_t)1 << 30 << (val % 7)) + (val >> 8) % 4096;
	default: return absurd[val % (sizeof absurd / sizeof *absurd)];
	}
}

static size_t dec_align(uint8_t aux)
{
	static const size_t odd[] = { 0, 3, 5, 6, 7, 12, 24, 48, 96, 100, 4095, 65537, 3 << 20 };
	static const size_t absurd[] = { (size_t)1 << 62, (size_t)1 << 63, SIZE_MAX,
					 ((size_t)1 << 63) + 1 };
	unsigned k = aux >> 2;
	switch (aux % FZ_AL_COUNT) {
	case FZ_AL_POW2: return (size_t)1 << (k % 27);
	case FZ_AL_SMALL: return (size_t)1 << (k % 8);
	case FZ_AL_ODD: return odd[k % (sizeof odd / sizeof *odd)];
	default: return absurd[k % (sizeof absurd / sizeof *absurd)];
	}
}

static bool is_pow2(size_t a)
{
	return a && !(a & (a - 1));
}

/* ---- the model ----
 * Which bytes of a block of size n hold its pattern: all of them up to
 * SPARSE_MIN; above, the first and last EDGE bytes and one word per STRIDE
 * in between (a fresh huge block costs a page fault per page touched, and
 * liballoc releases, unmaps and remaps at 4 KiB-64 KiB granularity, which
 * this still sees). */
#define SPARSE_MIN MiB
#define EDGE ((size_t)65536)
#define STRIDE ((size_t)65536)

/* Fill (check == false) or check the patterned bytes of [from, to) of a
 * block of size n; returns the first bad offset or SIZE_MAX. */
static size_t pattern(uint8_t *p, size_t n, size_t from, size_t to, uint64_t tag, bool check)
{
	size_t bad;
	if (n <= SPARSE_MIN) {
		if (!check) {
			lapat_fill(p, from, to, tag);
			return SIZE_MAX;
		}
		return lapat_check(p, from, to, tag);
	}
	for (size_t off = from; off < to;) {
		size_t end;
		if (off < EDGE || off >= n - EDGE)
			end = off < EDGE ? EDGE : n;
		else if (off % STRIDE < 8)
			end = off - off % STRIDE + 8;
		else {
			off = off - off % STRIDE + STRIDE;
			if (off > n - EDGE)
				off = n - EDGE;
			continue;
		}
		if (end > to)
			end = to;
		if (!check)
			lapat_fill(p, off, end, tag);
		else if ((bad = lapat_check(p, off, end, tag)) != SIZE_MAX)
			return bad;
		off = end;
	}
	return SIZE_MAX;
}

static void fill_block(struct slot *s, size_t from)
{
	pattern(s->p, s->req, from, s->req, s->tag, false);
}

static void check_block(unsigned i, const char *when)
{
	struct slot *s = &slots[i];
	size_t bad = pattern(s->p, s->req, 0, s->req, s->tag, true);
	if (bad != SIZE_MAX)
		fail("%s: slot %u block %p (%zu bytes) differs at offset %zu", when, i,
		     (void *)s->p, s->req, bad);
}

static void check_burst(const struct slot *b, const char *when)
{
	size_t bad = lapat_check(b->p, 0, b->req, b->tag);
	if (bad != SIZE_MAX)
		fail("%s: burst block %p (%zu bytes) differs at offset %zu", when, (void *)b->p,
		     b->req, bad);
}

static void check_all(const char *when)
{
	for (unsigned i = 0; i < FZ_SLOTS; i++)
		if (slots[i].p)
			check_block(i, when);
	for (unsigned k = 0; k < burst_n; k++)
		check_burst(&burst[k], when);
}

/* After a release to the OS: what can go wrong is a live page decommitted
 * or unmapped, so blocks above 64 KiB are checked at both ends and at one
 * word per 64 KiB slice (all patterned, whatever the size); smaller ones in
 * full. */
static void check_all_slices(const char *when)
{
	for (unsigned i = 0; i < FZ_SLOTS; i++) {
		struct slot *s = &slots[i];
		if (!s->p)
			continue;
		if (s->req <= 65536) {
			check_block(i, when);
			continue;
		}
		size_t bad = lapat_check(s->p, 0, 4096, s->tag);
		for (size_t off = STRIDE; bad == SIZE_MAX && off + 8 <= s->req - 4096; off += STRIDE)
			bad = lapat_check(s->p, off, off + 8, s->tag);
		if (bad == SIZE_MAX)
			bad = lapat_check(s->p, s->req - 4096, s->req, s->tag);
		if (bad != SIZE_MAX)
			fail("%s: slot %u block %p (%zu bytes) differs at offset %zu", when, i,
			     (void *)s->p, s->req, bad);
	}
	for (unsigned k = 0; k < burst_n; k++)
		check_burst(&burst[k], when);
}

/* No two live blocks (slots and bursts) share a usable byte: sort them all
 * by address, compare neighbours. */
static const struct slot *sorted[FZ_SLOTS + BURST_MAX];

static int by_addr(const void *a, const void *b)
{
	const struct slot *x = *(const struct slot *const *)a, *y = *(const struct slot *const *)b;
	return x->p < y->p ? -1 : x->p > y->p;
}

static void check_no_overlap(void)
{
	size_t n = 0;
	for (unsigned i = 0; i < FZ_SLOTS; i++)
		if (slots[i].p)
			sorted[n++] = &slots[i];
	for (unsigned k = 0; k < burst_n; k++)
		sorted[n++] = &burst[k];
	qsort(sorted, n, sizeof *sorted, by_addr);
	for (size_t k = 1; k < n; k++)
		if (sorted[k - 1]->p + sorted[k - 1]->usable > sorted[k]->p)
			fail("blocks [%p, +%zu) and [%p, +%zu) overlap", (void *)sorted[k - 1]->p,
			     sorted[k - 1]->usable, (void *)sorted[k]->p, sorted[k]->usable);
}

/* Offset of the first non-zero byte of p[0, n), or SIZE_MAX. */
static size_t first_nonzero(const uint8_t *p, size_t n)
{
	size_t k = 0;
	for (uint64_t w; k + 8 <= n; k += 8) {
		memcpy(&w, p + k, 8);
		if (w)
			break;
	}
	for (; k < n; k++)
		if (p[k])
			return k;
	return SIZE_MAX;
}

/* Block p now belongs to slot i (dead) with req bytes owned: check its
 * usable size, alignment and overlap with every other live block. The
 * caller tags and fills it. */
static void place(unsigned i, void *p, size_t req, size_t align, const char *what)
{
	struct slot *s = &slots[i];
	uint8_t *b = p;
	size_t u = la_fz_malloc_usable_size(p);
	if (u < req)
		fail("%s(%zu): usable size %zu below the request", what, req, u);
	if ((uintptr_t)b & (align - 1))
		fail("%s(%zu): %p not aligned to %zu", what, req, p, align);
	for (unsigned j = 0; j < FZ_SLOTS; j++) {
		struct slot *o = &slots[j];
		if (j == i || !o->p)
			continue;
		if (b < o->p + o->usable && o->p < b + u)
			fail("%s(%zu): [%p, +%zu) overlaps slot %u [%p, +%zu)", what, req, p, u, j,
			     (void *)o->p, o->usable);
	}
	s->p = b;
	s->req = req;
	s->usable = u;
	live_bytes += req;
}

/* A newly allocated block: placed, zero-checked for calloc, patterned with a
 * new tag. */
static void adopt(unsigned i, void *p, size_t req, size_t align, bool zeroed, const char *what)
{
	place(i, p, req, align, what);
	if (zeroed) {
		size_t k = first_nonzero(p, req);
		if (k != SIZE_MAX)
			fail("%s(%zu): byte %zu is not zero", what, req, k);
	}
	slots[i].tag = ((uint64_t)i << 40) | ++generation;
	fill_block(&slots[i], 0);
}

static void drop(unsigned i)
{
	live_bytes -= slots[i].req;
	slots[i].p = NULL;
}

static void free_slot(unsigned i)
{
	if (!slots[i].p)
		return;
	check_block(i, "before free");
	la_fz_free(slots[i].p);
	drop(i);
}

static size_t malloc_align(size_t n)
{
	return n <= 8 ? 8 : 16;
}

/* A request that must fail: NULL with errno ENOMEM. */
static void expect_enomem(void *p, int err, const char *what, size_t n)
{
	if (p)
		fail("%s(%zu) succeeded; it must fail", what, n);
	if (err != ENOMEM)
		fail("%s(%zu) failed with errno %d, not ENOMEM", what, n, err);
}

/* A granted request of FZ_SZ_BIG: check it and give it back at once. */
static void big_block(void *p, size_t n, size_t align, const char *what)
{
	uint8_t *b = p;
	if ((uintptr_t)b & (align - 1))
		fail("%s(%zu): %p not aligned to %zu", what, n, p, align);
	if (la_fz_malloc_usable_size(p) < n)
		fail("%s(%zu): usable size below the request", what, n);
	b[0] = 1;
	b[n - 1] = 2;
	la_fz_free(p);
}

enum outcome { MUST_SUCCEED, MAY_FAIL, MUST_FAIL };

static enum outcome size_outcome(size_t n)
{
	if (n >= ABSURD_MIN)
		return MUST_FAIL;
	return n > 8 * MiB ? MAY_FAIL : MUST_SUCCEED;
}

/* Book-keeping shared by every allocating op: p is the result for a request
 * of n bytes (the model owns req of them). */
static void settle(unsigned i, void *p, int err, size_t n, size_t req, size_t align,
		   bool zeroed, const char *what)
{
	switch (size_outcome(n)) {
	case MUST_FAIL:
		expect_enomem(p, err, what, n);
		return;
	case MAY_FAIL:
		if (!p && err != ENOMEM)
			fail("%s(%zu) failed with errno %d, not ENOMEM", what, n, err);
		if (p)
			big_block(p, n, align, what);
		return;
	case MUST_SUCCEED:
		if (!p)
			fail("%s(%zu, align %zu) failed (errno %d)", what, n, align, err);
		adopt(i, p, req, align, zeroed, what);
		return;
	}
}

/* Whether the model can afford a new block of n bytes (filling and checking
 * big blocks is what bounds the execution rate). Requests that need not
 * succeed are always made: they are cheap. */
static bool budget_allows(size_t n)
{
	if (size_outcome(n) != MUST_SUCCEED)
		return true;
	if (live_bytes + n > LIVE_BUDGET || (n > 65536 && big_bytes + n > BIG_BUDGET))
		return false;
	if (n > 65536)
		big_bytes += n;
	return true;
}

/* ---- ops ---- */
static void op_malloc(unsigned i, size_t n)
{
	free_slot(i);
	if (!budget_allows(n))
		return;
	errno = 0;
	void *p = la_fz_malloc(n);
	settle(i, p, errno, n, n, malloc_align(n), false, "malloc");
}

static void op_calloc(unsigned i, size_t n, uint8_t aux)
{
	free_slot(i);
	size_t nm, sz;
	if (aux >= 200) { /* a product that overflows size_t */
		size_t k = 2 + aux % 50;
		nm = SIZE_MAX / k + 1;
		sz = k;
		if (aux & 1) {
			sz = nm;
			nm = k;
		}
		errno = 0;
		void *p = la_fz_calloc(nm, sz);
		expect_enomem(p, errno, "calloc overflow", nm);
		return;
	}
	nm = 1 + aux % 16;
	sz = n / nm;
	if (!budget_allows(nm * sz))
		return;
	errno = 0;
	void *p = la_fz_calloc(nm, sz);
	settle(i, p, errno, nm * sz, nm * sz, malloc_align(nm * sz), true, "calloc");
}

/* realloc(slot, nm * sz), or reallocarray(slot, nm, sz) when array. */
static void op_realloc(unsigned i, size_t nm, size_t sz, bool array)
{
	struct slot *s = &slots[i];
	const char *what = array ? "reallocarray" : "realloc";
	size_t n = nm * sz;
	if (!s->p) {
		if (!budget_allows(n))
			return;
		errno = 0;
		void *p = array ? la_fz_reallocarray(NULL, nm, sz) : la_fz_realloc(NULL, n);
		settle(i, p, errno, n, n, malloc_align(n), false, what);
		return;
	}
	check_block(i, "before realloc");
	if (n == 0) {
		if (array ? la_fz_reallocarray(s->p, nm, sz) : la_fz_realloc(s->p, 0))
			fail("%s to 0 bytes returned a block", what);
		drop(i);
		return;
	}
	enum outcome o = size_outcome(n);
	if (n > s->req && !budget_allows(n - s->req))
		return;
	errno = 0;
	uint8_t *q = array ? la_fz_reallocarray(s->p, nm, sz) : la_fz_realloc(s->p, n);
	int err = errno;
	if (!q) {
		if (o == MUST_SUCCEED)
			fail("%s(%zu -> %zu) failed (errno %d)", what, s->req, n, err);
		if (err != ENOMEM)
			fail("%s(%zu) failed with errno %d, not ENOMEM", what, n, err);
		check_block(i, "after a failed realloc");
		return;
	}
	if (o == MUST_FAIL)
		fail("%s(%zu) succeeded; it must fail", what, n);
	size_t keep = s->req < n ? s->req : n;
	size_t bad = pattern(q, s->req, 0, keep, s->tag, true);
	if (bad != SIZE_MAX)
		fail("%s(%zu -> %zu) lost byte %zu", what, s->req, n, bad);
	uint64_t tag = s->tag;
	size_t old = s->req;
	drop(i);
	if (o == MAY_FAIL) {
		big_block(q, n, malloc_align(n), what);
		return;
	}
	/* same tag: the kept prefix holds its pattern; refill the block for
	 * its new size (which bytes are patterned depends on it) */
	place(i, q, n, malloc_align(n), what);
	slots[i].tag = tag;
	fill_block(&slots[i], old <= SPARSE_MIN && n <= SPARSE_MIN ? keep : 0);
}

static void op_aligned(unsigned i, int kind, size_t n, uint8_t aux)
{
	static const char *const names[] = { "posix_memalign", "aligned_alloc", "memalign" };
	size_t a = dec_align(aux);
	free_slot(i);
	bool bad_align;
	size_t eff = a; /* alignment the result must have */
	if (kind == 0)
		bad_align = !is_pow2(a) || a % sizeof(void *);
	else if (kind == 1)
		bad_align = !is_pow2(a);
	else {
		bad_align = a > SIZE_MAX / 2 + 1;
		if (!bad_align && !is_pow2(a))
			eff = a ? (size_t)1 << (64 - __builtin_clzll((unsigned long long)a)) : 1;
	}
	if (!bad_align && eff >= ABSURD_MIN) {
		/* a valid alignment no address space can honour */
		void *p = NULL;
		errno = 0;
		int r = 0;
		if (kind == 0)
			r = la_fz_posix_memalign(&p, a, n);
		else
			p = kind == 1 ? la_fz_aligned_alloc(a, n) : la_fz_memalign(a, n);
		if (kind == 0 ? r != ENOMEM : (p || errno != ENOMEM))
			fail("%s(align %zu, %zu) must fail with ENOMEM", names[kind], a, n);
		return;
	}
	size_t need = n > eff ? n : eff;
	if (!bad_align && !budget_allows(need))
		return;
	void *p = (void *)0x1;
	int err;
	if (kind == 0) {
		errno = 4242;
		err = la_fz_posix_memalign(&p, a, n);
		if (errno != 4242)
			fail("posix_memalign changed errno to %d", errno);
		if (err && p != (void *)0x1)
			fail("posix_memalign failed but wrote *out");
		if (err)
			p = NULL;
	} else {
		errno = 0;
		p = kind == 1 ? la_fz_aligned_alloc(a, n) : la_fz_memalign(a, n);
		err = errno;
	}
	if (bad_align) {
		if (p || err != EINVAL)
			fail("%s(align %zu): expected EINVAL, got %p errno %d", names[kind], a, p, err);
		return;
	}
	if (kind == 0 && n == 0 && !p && !err)
		return; /* POSIX allows a NULL result for size 0 */
	size_t m = malloc_align(n);
	settle(i, p, err, n, n, eff > m ? eff : m, false, names[kind]);
}

static void op_valloc(unsigned i, size_t n, bool pv)
{
	free_slot(i);
	size_t ps = page_size;
	if (pv && n > SIZE_MAX - ps) {
		errno = 0;
		void *p = la_fz_pvalloc(n);
		expect_enomem(p, errno, "pvalloc", n);
		return;
	}
	size_t req = pv ? (n ? (n + ps - 1) & ~(ps - 1) : ps) : n;
	if (!budget_allows(req))
		return;
	errno = 0;
	void *p = pv ? la_fz_pvalloc(n) : la_fz_valloc(n);
	settle(i, p, errno, req, req, ps, false, pv ? "pvalloc" : "valloc");
}

static void op_usable(unsigned i)
{
	struct slot *s = &slots[i];
	if (!s->p) {
		if (la_fz_malloc_usable_size(NULL))
			fail("malloc_usable_size(NULL) != 0");
		return;
	}
	size_t u = la_fz_malloc_usable_size(s->p);
	if (u != s->usable)
		fail("usable size of slot %u changed from %zu to %zu", i, s->usable, u);
	if (!budget_allows(u - s->req))
		return;
	/* the slack is the caller's to use: claim it */
	size_t old = s->req;
	live_bytes += u - old;
	s->req = u;
	fill_block(s, u <= SPARSE_MIN ? old : 0);
}

static void op_reallocarray(unsigned i, size_t n, uint8_t aux)
{
	struct slot *s = &slots[i];
	if (aux < 200) {
		size_t nm = 1 + aux % 16;
		op_realloc(i, nm, n / nm, true);
		return;
	}
	/* an element count whose product overflows: the block stays */
	size_t k = 2 + aux % 50;
	if (s->p)
		check_block(i, "before reallocarray");
	errno = 0;
	void *q = la_fz_reallocarray(s->p, SIZE_MAX / k + 1, k);
	expect_enomem(q, errno, "reallocarray overflow", k);
	if (s->p)
		check_block(i, "after a failed reallocarray");
}

static void op_flush(uint8_t aux, size_t n)
{
	switch (aux % 5) {
	case 0: la_flush_all(); break;
	case 1: la_flush_thread(); break;
	case 2: la_trim(n); break;
	case 3: la_fz_malloc_trim(n); break;
	default: la_release_bytes(n); break;
	}
	check_all_slices("after a flush");
}

static void op_event(uint8_t aux, uint32_t val)
{
	switch (aux % 6) {
	case 0: la_react(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_LOW, 0); break;
	case 1: la_react(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_MEDIUM, 0); break;
	case 2: la_react(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_CRITICAL + (aux >> 7), 0); break;
	case 3: la_react(MEMNOTIFY_EVENT_RECLAIM, 0, aux & 0x80 ? UINT64_MAX - val : val); break;
	case 4: la_react(MEMNOTIFY_EVENT_IDLE, 0, val); break;
	default: la_react(aux & 0x80 ? val : MEMNOTIFY_EVENT_ACTIVE, val & 7, val); break;
	}
	check_all_slices("after an event");
}

static void op_tick(uint32_t val)
{
	vclock_ns += (uint64_t)(val % 10000) * 1000000u;
	la_decay_tick(vclock_ns);
	la_adaptive_tick(vclock_ns);
	check_all_slices("after a tick");
}

static void op_stats(uint8_t aux)
{
	union { struct la_stats st; unsigned char b[sizeof(struct la_stats) + 64]; } u;
	uint32_t size = (uint32_t)(aux % (sizeof(struct la_stats) / 8 + 4)) * 8;
	memset(&u, 0xa5, sizeof u);
	u.st.version = LA_STATS_VERSION;
	u.st.size = size;
	int r = la_stats(&u.st);
	if (size < 8) {
		if (r != -1)
			fail("la_stats(size %u) returned %d", size, r);
		return;
	}
	size_t got = size < sizeof u.st ? size : sizeof u.st;
	if (r || u.st.version != LA_STATS_VERSION || u.st.size != got)
		fail("la_stats(size %u): r %d version %u size %u", size, r, u.st.version, u.st.size);
	for (size_t k = got; k < sizeof u.b; k++)
		if (u.b[k] != 0xa5)
			fail("la_stats(size %u) wrote byte %zu", size, k);
	if (got < sizeof u.st)
		return;
	uint64_t live = 0;
	for (unsigned i = 0; i < FZ_SLOTS; i++)
		if (slots[i].p)
			live += slots[i].usable;
	for (unsigned k = 0; k < burst_n; k++)
		live += burst[k].usable;
	if (u.st.bytes_in_use < live)
		fail("la_stats: bytes_in_use %llu below the live blocks' %llu",
		     (unsigned long long)u.st.bytes_in_use, (unsigned long long)live);
	if (u.st.bytes_mapped < u.st.bytes_in_use)
		fail("la_stats: bytes_mapped %llu below bytes_in_use %llu",
		     (unsigned long long)u.st.bytes_mapped, (unsigned long long)u.st.bytes_in_use);
	if (u.st.threads > 2)
		fail("la_stats: %llu heaps attached, at most 2 threads ran",
		     (unsigned long long)u.st.threads);
}

static void op_burst(size_t n, uint8_t aux, uint32_t val)
{
	if (aux & 1) {
		unsigned k = 1 + (aux >> 1) % 8, j = 0;
		for (unsigned e = 0; e < burst_n; e++) {
			if (e % k == val % k) {
				check_burst(&burst[e], "before free");
				la_fz_free(burst[e].p);
				live_bytes -= burst[e].req;
			} else {
				burst[j++] = burst[e];
			}
		}
		burst_n = j;
		return;
	}
	if (n > 65536)
		n %= 1025;
	unsigned count = 32u * (1u + (aux >> 1));
	for (unsigned c = 0; c < count && burst_n < BURST_MAX; c++) {
		if (live_bytes + n > LIVE_BUDGET)
			break;
		uint8_t *p = la_fz_malloc(n);
		if (!p)
			fail("burst malloc(%zu) failed", n);
		if ((uintptr_t)p & (malloc_align(n) - 1))
			fail("burst malloc(%zu): %p not aligned", n, (void *)p);
		struct slot *b = &burst[burst_n++];
		b->p = p;
		b->req = n;
		b->usable = la_fz_malloc_usable_size(p);
		if (b->usable < n)
			fail("burst malloc(%zu): usable size %zu", n, b->usable);
		b->tag = ((uint64_t)FZ_SLOTS << 40) | ++generation;
		lapat_fill(p, 0, n, b->tag);
		live_bytes += n;
	}
	check_no_overlap();
}

static void run_record(const struct rec *r)
{
	unsigned i = r->slot % FZ_SLOTS;
	size_t n = dec_size(r->sel, r->val);
	switch (r->op % FZ_OP_COUNT) {
	case FZ_OP_MALLOC: op_malloc(i, n); break;
	case FZ_OP_CALLOC: op_calloc(i, n, r->aux); break;
	case FZ_OP_REALLOC: op_realloc(i, 1, n, false); break;
	case FZ_OP_FREE:
		if (slots[i].p)
			free_slot(i);
		else
			la_fz_free(NULL);
		break;
	case FZ_OP_POSIX_MEMALIGN: op_aligned(i, 0, n, r->aux); break;
	case FZ_OP_ALIGNED_ALLOC: op_aligned(i, 1, n, r->aux); break;
	case FZ_OP_MEMALIGN: op_aligned(i, 2, n, r->aux); break;
	case FZ_OP_VALLOC: op_valloc(i, n, r->aux & 1); break;
	case FZ_OP_USABLE: op_usable(i); break;
	case FZ_OP_REALLOCARRAY: op_reallocarray(i, n, r->aux); break;
	case FZ_OP_FLUSH: op_flush(r->aux, n); break;
	case FZ_OP_EVENT: op_event(r->aux, r->val); break;
	case FZ_OP_TICK: op_tick(r->val); break;
	case FZ_OP_STATS: op_stats(r->aux); break;
	case FZ_OP_CHECK_ALL:
		check_all("on request");
		check_no_overlap();
		break;
	case FZ_OP_BURST: op_burst(n, r->aux, r->val); break;
	default: break; /* FZ_OP_THREAD: handled by the caller */
	}
}

/* ---- the helper thread, run in lock-step with the fuzzer's thread ---- */
static struct {
	pthread_t tid;
	sem_t go, done;
	const struct rec *job;   /* NULL: exit */
	bool alive;
} helper;

static void *helper_main(void *arg)
{
	(void)arg;
	for (;;) {
		while (sem_wait(&helper.go))
			;
		if (!helper.job)
			return NULL; /* thread exit detaches its heap */
		run_record(helper.job);
		sem_post(&helper.done);
	}
}

static void helper_run(const struct rec *r)
{
	if (!helper.alive) {
		if (pthread_create(&helper.tid, NULL, helper_main, NULL))
			fail("pthread_create");
		helper.alive = true;
	}
	helper.job = r;
	sem_post(&helper.go);
	while (sem_wait(&helper.done))
		;
}

static void helper_end(void)
{
	if (!helper.alive)
		return;
	helper.job = NULL;
	sem_post(&helper.go);
	pthread_join(helper.tid, NULL);
	helper.alive = false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* liballoc's constructor has read the options; no allocation has
	 * happened yet, so the lazy monitor start can still be called off. */
	la_opt.monitor = LA_MODE_OFF;
	atomic_store(&la_monitor_pending, 0);
	la_adaptive_init();
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (sem_init(&helper.go, 0, 0) || sem_init(&helper.done, 0, 0))
		fail("sem_init");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool on_helper = false;
	big_bytes = 0;
	for (size_t off = 0; off < size; off += FZ_RECORD) {
		uint8_t b[FZ_RECORD] = { 0 };
		memcpy(b, data + off, size - off < FZ_RECORD ? size - off : FZ_RECORD);
		struct rec r = { b[0], b[1], b[2], b[3],
				 (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 |
					 (uint32_t)b[7] << 24 };
		if (r.op % FZ_OP_COUNT == FZ_OP_THREAD) {
			switch (r.aux % 3) {
			case 0: on_helper = false; break;
			case 1: on_helper = true; break;
			default: helper_end(); on_helper = false; break;
			}
			continue;
		}
		if (on_helper)
			helper_run(&r);
		else
			run_record(&r);
	}
	/* End of input: the helper goes (its pages are abandoned), every live
	 * block is checked and freed from this thread, this thread's cache and
	 * the abandoned pages go to the pool (la_release_bytes(0): no OS call,
	 * so the next input reuses resident memory); then nothing may be left
	 * in use. */
	helper_end();
	for (unsigned i = 0; i < FZ_SLOTS; i++)
		free_slot(i);
	op_burst(0, 1, 0); /* every burst block */
	la_release_bytes(0);
	struct la_stats st = { .version = LA_STATS_VERSION, .size = sizeof st };
	la_stats(&st);
	if (st.bytes_in_use || st.bytes_huge)
		fail("all blocks freed and returned to the pool, yet la_stats reports %llu bytes in use "
		     "(%llu huge)", (unsigned long long)st.bytes_in_use,
		     (unsigned long long)st.bytes_huge);
	if (live_bytes)
		fail("model bookkeeping: %zu live bytes after freeing all", live_bytes);
	return 0;
}
