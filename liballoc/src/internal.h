/* liballoc internal header: layout constants, data structures, cross-file
 * entry points. Invariants are stated once here; the design is in README.md. */
#ifndef LA_INTERNAL_H
#define LA_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include "liballoc.h"

#define LA_LIKELY(x) __builtin_expect(!!(x), 1)
#define LA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LA_HIDDEN __attribute__((visibility("hidden")))
#define LA_NOINLINE __attribute__((noinline))
#define LA_API __attribute__((visibility("default"))) /* exported */
#define LA_COLD __attribute__((cold, noinline))

/* Debug builds (-DLA_DEBUG; the fuzz and valgrind builds) check the
 * invariants stated in README.md where the code relies on them. A failed
 * check prints one line and aborts, without allocating. */
LA_HIDDEN __attribute__((noreturn)) void la_assert_fail(const char *cond, const char *file, int line);
#ifdef LA_DEBUG
#define LA_ASSERT(c) (LA_LIKELY(c) ? (void)0 : la_assert_fail(#c, __FILE__, __LINE__))
#else
#define LA_ASSERT(c) ((void)0)
#endif

/* LA_HARDEN=0 (-DLA_HARDEN=0) builds the heap without its checks and with
 * plain free-list links, only to measure what the hardening costs
 * (README "Hardening"). Never the default; never ship such a build. */
#ifndef LA_HARDEN
#define LA_HARDEN 1
#endif

/* ---- geometry ----------------------------------------------------------
 * A segment is LA_SEG_SIZE bytes aligned to LA_SEG_SIZE. Its first slice holds
 * the segment header (la_segment_t); the other slices form pages. For any block
 * pointer p handed out, the header is at (p - 1) & ~LA_SEG_MASK (p never sits
 * at offset 0 of its segment; huge blocks aligned to >= LA_SEG_SIZE get their
 * header one segment below p). */
#define LA_SEG_SHIFT 22
#define LA_SEG_SIZE ((size_t)1 << LA_SEG_SHIFT)
#define LA_SEG_MASK (LA_SEG_SIZE - 1)
#define LA_SLICE_SHIFT 16
#define LA_SLICE_SIZE ((size_t)1 << LA_SLICE_SHIFT)
#define LA_SLICES (LA_SEG_SIZE / LA_SLICE_SIZE) /* 64: one bit each in a uint64_t */
#define LA_SLICES_ALL (~(uint64_t)1)            /* slice 0 is the header */

#define LA_SMALL_MAX 1024          /* fast size->class table covers this */
#define LA_MEDIUM_MAX (64 * 1024)  /* largest size class */
#define LA_SMALL_PAGE_MAX 8192     /* classes up to this use 1-slice pages */
#define LA_MEDIUM_PAGE_SLICES 8    /* larger classes use 512 KiB pages */
#define LA_NCLASSES 45
#define LA_LARGE_MAX_DEFAULT ((size_t)2 << 20) /* above: huge (direct mmap) */
#define LA_LARGE_MAX_LIMIT ((LA_SLICES - 1) * LA_SLICE_SIZE)
#define LA_HUGE_HDR 64             /* huge block starts this far after its header */
#define LA_ALIGN_MIN 16
#define LA_EXTEND_BYTES 4096       /* lazy free-list carving step per page */

/* A free block's first word: its successor on a free list, encoded (see
 * "free-list encoding" below). Never read or written as a plain pointer. */
typedef struct la_block { uintptr_t link; } la_block_t;

/* A free list (a page's `free`, and the links inside it and inside a
 * remote-free list) ends in a pointer with no bits in LA_SEG_MASK: the base
 * of the page's own segment (never a block, invariant 1), so every link
 * stored in a free block decodes into its own segment; NULL also counts as
 * an end (la_page_empty, an empty thread_free). */
static inline bool la_list_end(const la_block_t *b)
{
	return ((uintptr_t)b & LA_SEG_MASK) == 0;
}

struct la_heap;

enum { LA_PAGE_FREE = 0, LA_PAGE_SMALL = 1, LA_PAGE_LARGE = 2 };

/* Page descriptor, one per slice, in the segment header. Only the head slice
 * of a span carries state; every slice has slice_back = distance to its head.
 *
 * Ownership: a small page (any size class) belongs to at most one heap
 * (field heap). Only that heap's thread touches free/used/capacity; links
 * also a releaser holding the heap's lock (heap.c, README invariant 8).
 * Other threads only push onto thread_free (atomic) and may claim its FULL bit.
 * used = blocks handed out that have not come back to `free`; blocks sitting
 * on thread_free still count as used until the owner collects them. Hence a
 * page is empty iff used == 0, and only its owner can observe that. */
typedef struct la_page {
	la_block_t *free;            /* owner: blocks ready for allocation, or a list end */
	uint16_t used;               /* owner writes; others read relaxed (stats) */
	uint16_t capacity;           /* blocks carved so far; 0 unless kind is SMALL */
	uint16_t reserved;           /* blocks that fit in the page */
	uint8_t qstate;              /* owner's view: LA_Q_* */
	uint8_t kind;                /* LA_PAGE_*; written under the pool lock */
	uint32_t block_size;         /* class size; for LARGE: span bytes */
	uint8_t cls;                 /* size class (SMALL) */
	uint8_t slice_count;         /* span length (head slice) */
	uint8_t slice_back;          /* slices back to the head */
	uint8_t pad_;
	/* Remote frees, pushed with CAS: a la_block_t pointer, plus LA_TF_FULL in
	 * bit 0 while the page sits on its owner's full list. The remote free
	 * whose CAS clears LA_TF_FULL must hand the page to heap->delayed; one
	 * that does not see the bit never touches the page after its CAS. */
	_Atomic(uintptr_t) thread_free;
	_Atomic(struct la_heap *) heap;    /* owner; NULL = abandoned or LARGE */
	struct la_page *next;        /* owner's queue / full list / empty stack;
	                                 abandoned stack (the backward link:
	                                 la_page_prev) */
	/* la_class_divm of cls (SMALL; 0 otherwise): free()'s block-start test
	 * reads it here, in the line it reads anyway. */
	uint64_t divm;
	/* Free-list key of this span, drawn when the pool hands it out and
	 * fixed until it goes back (so remote frees, abandonment and adoption
	 * all see the same one). Top bit always set. LARGE: unused. */
	uintptr_t key;
} __attribute__((aligned(64))) la_page_t;

/* qstate: where the owner keeps the page. The free fast path leaves the page
 * alone unless it is FULL, or became empty while not the queue HEAD. */
enum { LA_Q_NONE = 0, LA_Q_HEAD = 1, LA_Q_FULL = 2, LA_Q_CACHED = 3 /* large, in a heap's cache */,
       LA_Q_EMPTY = 4 /* small, on a heap's retained-empty list */,
       LA_Q_ABANDONED = 5 /* small, heap NULL, on an abandoned stack */ };
#define LA_TF_FULL ((uintptr_t)1)

enum { LA_SEG_NORMAL = 1, LA_SEG_HUGE = 2 };

/* A header is trusted only if its segment is in the segment map (so it is
 * ours and mapped) and cookie == la_seg_cookie(s, kind); a huge header's
 * map_size and block are further bound to it by huge_mac (segment.c). */
typedef struct la_segment {
	uintptr_t cookie;            /* la_seg_cookie(self, kind); immutable */
	uint32_t kind;               /* LA_SEG_*; immutable */
	/* huge only (immutable except during realloc by the sole user) */
	uint32_t huge_reused;        /* from the huge cache: not zero-filled */
	uint8_t *map_base;           /* == the header itself */
	size_t map_size;
	uintptr_t huge_block;        /* the block handed out */
	uintptr_t huge_mac;
	/* normal only, under the pool lock; a cache line of their own, apart
	 * from cookie and kind, which every free() reads */
	uint64_t free_mask __attribute__((aligned(64))); /* free slices */
	uint64_t dirty_mask;         /* free slices possibly resident (not madvised) */
	uint64_t releasing_mask;     /* slices being madvised with no lock held */
	uint64_t lazy_mask;          /* dirty slices given MADV_FREE since last taken */
	struct la_segment *next, *prev;
	/* each descriptor in one cache line of its own, so that threads owning
	 * neighbouring pages never write the same line */
	la_page_t pages[LA_SLICES];
	/* link of a page on its owner heap's delayed list (remote frees) */
	la_page_t *delayed_next[LA_SLICES];
	/* backward link of a page on a doubly linked list (pages[i].next),
	 * one per descriptor-sized stride, so it is at a fixed distance from
	 * its descriptor (la_page_prev) */
	struct la_page_back { struct la_page *prev; uintptr_t unused_[7]; } page_prev[LA_SLICES];
} la_segment_t;

_Static_assert(sizeof(la_segment_t) <= LA_SLICE_SIZE, "header fits slice 0");
_Static_assert(sizeof(la_page_t) == 64, "page descriptor is one cache line");
_Static_assert(offsetof(la_segment_t, pages) % 64 == 0, "descriptors on line boundaries");

/* ---- hardening --------------------------------------------------------
 * la_secret: random, drawn once at init (getrandom, else AT_RANDOM mixed
 * with addresses and time); never changes, so fork children keep decoding
 * their parent's lists. Free-list links are stored as next ^ key ^ &slot with
 * the page's own key: a block's first word, overwritten after free without
 * the key, decodes to a random address, and each decode is checked to stay
 * inside the page. The end of a list is the segment base (la_list_end). */
extern LA_HIDDEN uintptr_t la_secret;
LA_HIDDEN void la_secret_init(void);
LA_HIDDEN uintptr_t la_page_key_next(void);          /* pool lock held */
LA_HIDDEN uintptr_t la_huge_mac(const la_segment_t *s);

/* kind - LA_SEG_NORMAL: a normal segment's cookie is secret ^ address, one
 * xor less on free()'s path; a huge one differs from it in bit 0. */
static inline uintptr_t la_seg_cookie(const void *s, uint32_t kind)
{
	return la_secret ^ (uintptr_t)s ^ (kind - LA_SEG_NORMAL);
}

#if LA_HARDEN
#define LA_LINK_KEY(pg, b) ((pg)->key ^ (uintptr_t)(b))
#else
#define LA_LINK_KEY(pg, b) ((void)(pg), (void)(b), (uintptr_t)0)
#endif

static inline la_block_t *la_link_dec(const la_page_t *pg, const la_block_t *b)
{
	return (la_block_t *)(b->link ^ LA_LINK_KEY(pg, b));
}

/* next: a block of pg, or pg's list end (la_page_list_end; NULL only for a
 * remote-free list of the LA_HARDEN=0 build). */
static inline void la_link_set(const la_page_t *pg, la_block_t *b, const la_block_t *next)
{
	b->link = (uintptr_t)next ^ LA_LINK_KEY(pg, b);
}

/* The end of pg's lists: the base of pg's segment (pg lives in its header). */
static inline la_block_t *la_page_list_end(const la_page_t *pg)
{
	return (la_block_t *)((uintptr_t)pg & ~(uintptr_t)LA_SEG_MASK);
}

/* A block's first word looks like a free-list link of its page: it decodes
 * into the same segment (a block or the list end). Live blocks start with 0
 * (malloc clears the link) or the program's data, which matches only if it
 * knows the key (whose top bit is set, so 0 and plain pointers never do). */
static inline bool la_link_plausible(const la_page_t *pg, uintptr_t word)
{
	return (word ^ pg->key) < LA_SEG_SIZE; /* = decoded ^ the block */
}

/* Segment map: one bit per LA_SEG_SIZE of address space, set while a segment
 * (normal, or the header chunk of a huge object) is mapped there. It tells a
 * pointer into our heap from any other before its header is read. */
extern LA_HIDDEN _Atomic(uint64_t) *la_segmap;
extern LA_HIDDEN uintptr_t la_segmap_chunks;  /* bits in la_segmap */
extern LA_HIDDEN bool la_segmap_off;           /* no map: every lookup passes */
LA_HIDDEN void la_segmap_init(void);
LA_HIDDEN void la_segmap_set(const void *s, bool on);

static inline bool la_segmap_has(const void *s)
{
	uintptr_t i = (uintptr_t)s >> LA_SEG_SHIFT;
	if (LA_UNLIKELY(i >= la_segmap_chunks))
		return la_segmap_off;
	return (atomic_load_explicit(&la_segmap[i >> 6], memory_order_relaxed) >> (i & 63)) & 1;
}

/* Segment table (segment.c): a direct-mapped cache of normal segments, one
 * word per slot; a hit proves s is a normal segment of ours, mapped. Pool
 * lock held for la_segtab_set. */
#define LA_SEGTAB_SIZE 4096
extern LA_HIDDEN _Atomic(uintptr_t) la_segtab[LA_SEGTAB_SIZE];
LA_HIDDEN void la_segtab_set(const la_segment_t *s, bool on);
/* What a slot holds for s: bit 0 set, so an empty slot (0) never matches,
 * not even s == NULL (a static object below 4 MiB, as in a static binary
 * loaded at 64 KiB, has la_seg_of() == NULL). */
static inline uintptr_t la_segtab_tag(const la_segment_t *s)
{
	return (uintptr_t)s | 1;
}
static inline bool la_segtab_has(const la_segment_t *s)
{
	uintptr_t i = ((uintptr_t)s >> LA_SEG_SHIFT) & (LA_SEGTAB_SIZE - 1);
	return atomic_load_explicit(&la_segtab[i], memory_order_relaxed) == la_segtab_tag(s);
}

/* First byte of the span headed by pg. */
static inline uint8_t *la_page_start(la_page_t *pg)
{
	la_segment_t *s = (la_segment_t *)((uintptr_t)pg & ~(uintptr_t)LA_SEG_MASK);
	return (uint8_t *)s + ((size_t)(pg - s->pages) << LA_SLICE_SHIFT);
}

/* Exact "off % class size == 0" for 32-bit off: off * M <= M - 1 with
 * M = 2^64 / size rounded up (page.c fills la_class_divm). */
extern LA_HIDDEN uint64_t la_class_divm[LA_NCLASSES];
static inline bool la_class_divides(unsigned cls, uint32_t off)
{
	uint64_t m = la_class_divm[cls];
	return (uint64_t)off * m <= m - 1;
}

/* off is k * class size with k < limit. One 64x64->128 multiply gives both
 * answers: the low half is the divisibility test above, and for a multiple
 * the high half is exactly k (off * M = k * (2^64 + e) with e < size, and
 * k * e < 2^64 for off < 2^32). */
static inline bool la_class_block_index_ok(uint64_t m, uint32_t off, unsigned limit)
{
	unsigned __int128 prod = (unsigned __int128)off * m;
	return (uint64_t)prod < m && (uint64_t)(prod >> 64) < limit;
}

/* off (from pg's start) is the start of a carved block of pg; false for any
 * page that is not SMALL (capacity 0). */
static inline bool la_page_block_index_ok(const la_page_t *pg, uint32_t off)
{
	return la_class_block_index_ok(pg->divm, off, pg->capacity);
}

/* b is the start of a block carved in small page pg (any pointer value). */
static inline bool la_page_block_ok(la_page_t *pg, const void *b)
{
	uintptr_t off = (uintptr_t)b - (uintptr_t)la_page_start(pg);
	return off < (uintptr_t)pg->capacity * pg->block_size &&
	       la_class_divides(pg->cls, (uint32_t)off);
}

/* Report a misuse and abort: one line on stderr, written without allocating.
 * what: e.g. "double free", "invalid pointer"; who: the API called. */
LA_HIDDEN __attribute__((noreturn)) void la_fatal(const char *who, const char *what,
						  const void *p, const char *why);

_Static_assert(LA_HUGE_HDR >= offsetof(la_segment_t, free_mask), "huge hdr");

static inline la_segment_t *la_seg_of(const void *p)
{
	return (la_segment_t *)(((uintptr_t)p - 1) & ~(uintptr_t)LA_SEG_MASK);
}

static inline la_page_t *la_page_of(la_segment_t *s, const void *p)
{
	la_page_t *pg = &s->pages[((uintptr_t)p - (uintptr_t)s) >> LA_SLICE_SHIFT];
	return pg - pg->slice_back;
}

/* ---- heaps (thread caches) ---------------------------------------------
 * One heap per thread (tl_heap). All non-atomic fields are touched only by the
 * owning thread. `direct` maps a size granule (8 B) to the page currently
 * used for that class; it never holds NULL (la_page_empty has no free block),
 * so the malloc fast path needs no NULL check. */
#define LA_DIRECT (LA_SMALL_MAX / 8 + 1)

typedef struct la_pqueue { la_page_t *head, *tail; } la_pqueue_t;

/* An empty 512 KiB head page stays (so a malloc/free pair does not bounce it
 * through the pool) but at most this many per heap: the oldest goes back. */
#define LA_IDLE_HEADS 2
/* Large spans a thread keeps after freeing them (count; bytes in la_opt). */
#define LA_LARGE_CACHE_N 8

typedef struct la_heap {
	la_page_t *direct[LA_DIRECT];
	unsigned flush_epoch;                /* last honoured la_flush_epoch */
	/* 1 while the owner is inside the malloc fast path (it reads direct[]
	 * and pops from that page): see la_heap_reclaim_heads. */
	_Atomic(int) fast_busy;
	la_pqueue_t queue[LA_NCLASSES];      /* pages with free blocks; head = current */
	la_pqueue_t full;                    /* pages found full (LA_TF_FULL set) */
	la_page_t *empty[LA_NCLASSES];       /* retained empty pages (thread cache) */
	uint16_t empty_cnt[LA_NCLASSES];
	_Atomic(la_page_t *) delayed;        /* full pages a remote free un-fulled */
	la_page_t *large[LA_LARGE_CACHE_N];   /* recently freed large spans, oldest first */
	unsigned large_n;
	size_t large_bytes;
	uint64_t retained_bytes;             /* this heap's part of la_thread_retained_bytes */
	uint8_t idle_heads[LA_IDLE_HEADS];   /* FIFO of classes whose 512 KiB head page emptied */
	unsigned idle_n;
	struct la_heap *next_free;           /* heap pool link (pool lock) */
	struct la_heap *all_next;            /* registry of every heap ever made */
	/* owner: frees this thread made into abandoned pages since it last
	 * reaped them (the allocation slow path reaps once they reach the
	 * number of abandoned pages: at most one page visited per such free) */
	uint64_t abandoned_frees;
	_Atomic(int) attached;               /* 1 while a thread owns it */
	/* The heap lock: held by the owner in every slow path (queues, full and
	 * delayed lists, empty[], large[]) and by a releaser taking pages away
	 * (heap.c states the protocol). Never held across an OS call other
	 * than mapping a new segment. */
	_Atomic(int) cache_lock;
} la_heap_t;

extern LA_HIDDEN la_page_t la_page_empty;
extern LA_HIDDEN la_heap_t la_heap_empty;
extern LA_HIDDEN __thread la_heap_t *la_tl_heap __attribute__((tls_model("initial-exec")));

/* ---- size classes (page.c) --------------------------------------------- */
extern LA_HIDDEN uint32_t la_class_size[LA_NCLASSES];
extern LA_HIDDEN uint8_t la_class_of_granule[LA_DIRECT];

static inline unsigned la_size_class(size_t n)
{
	if (n <= LA_SMALL_MAX)
		return la_class_of_granule[(n + 7) >> 3];
	unsigned b = 63u - (unsigned)__builtin_clzll((unsigned long long)(n - 1));
	unsigned q = (unsigned)((n - 1) >> (b - 2)) & 3u;
	return 9u + (b - 7u) * 4u + q;
}

static inline unsigned la_tier_of_size(size_t bsize)
{
	return bsize <= LA_SMALL_MAX ? LA_TIER_SMALL : LA_TIER_MEDIUM;
}

/* ---- options (options.c: one table row per LIBALLOC_* variable) ---------- */
typedef struct la_options {
	size_t large_max;       /* LIBALLOC_HUGE_THRESHOLD */
	unsigned tcache_pages;  /* LIBALLOC_TCACHE_PAGES */
	int show_stats;         /* LIBALLOC_SHOW_STATS */
	size_t large_cache;     /* LIBALLOC_LARGE_CACHE: bytes of large spans per thread */
	size_t huge_cache;      /* LIBALLOC_HUGE_CACHE: bytes of freed huge mappings kept */
	int monitor;            /* LIBALLOC_MONITOR: LA_MODE_* */
	int uring;              /* LIBALLOC_URING: 0 forces poll(2) */
	int verbose;            /* LIBALLOC_VERBOSE */
	long decay_ms;          /* LIBALLOC_DECAY_MS; -1 disables */
	int adaptive;           /* LIBALLOC_ADAPTIVE: per-class tcache sizing */
} la_options_t;
enum { LA_MODE_OFF = 0, LA_MODE_AUTO, LA_MODE_MEMNOTIFY, LA_MODE_PSI };
extern LA_HIDDEN la_options_t la_opt;
/* Per-size-class thread-cache capacity (heap.c): empty pages a heap retains
 * per class. A variable (not a constant): adaptive sizing
 * (monitor/adaptive.c) changes it; la_tcache_init sets the starting values. */
extern LA_HIDDEN _Atomic(uint16_t) la_tcache_cap[LA_NCLASSES];
LA_HIDDEN void la_tcache_init(void);
LA_HIDDEN void la_options_init(void);
/* stderr output without allocating (options.c): write s whole; write v in
 * decimal at p and return the end. */
LA_HIDDEN void la_write_err(const char *s);
LA_HIDDEN char *la_fmt_u64(char *p, uint64_t v);

/* ---- OS layer (os.c): every call counted --------------------------------- */
LA_HIDDEN void *la_os_map(size_t size);                     /* NULL on failure */
LA_HIDDEN void *la_os_map_aligned(size_t size, size_t align);
LA_HIDDEN void la_os_unmap(void *p, size_t size);
LA_HIDDEN void la_os_decommit(void *p, size_t size);        /* MADV_DONTNEED */
LA_HIDDEN void la_os_lazyfree(void *p, size_t size);        /* MADV_FREE */
LA_HIDDEN void *la_os_remap(void *p, size_t old, size_t new_size, int may_move, void *fixed);
LA_HIDDEN size_t la_os_page_size(void);
LA_HIDDEN uint64_t la_now_ns(void); /* CLOCK_MONOTONIC */
/* membarrier(PRIVATE_EXPEDITED): every running thread of the process has
 * executed a full memory barrier when it returns true; false if the kernel
 * (or valgrind) does not offer it. */
LA_HIDDEN bool la_os_membarrier(void);
extern LA_HIDDEN _Atomic(uint64_t) la_cnt_mmap, la_cnt_munmap, la_cnt_madvise, la_cnt_mremap;
extern LA_HIDDEN _Atomic(uint64_t) la_bytes_mapped;

/* ---- segments and the global slice pool (segment.c) -------------------------
 * One pool lock protects every normal segment's free/dirty masks, the segment
 * list and the page descriptors' kind/slice fields. */
extern LA_HIDDEN pthread_mutex_t la_pool_lock;
/* Take a run of slices and initialise its head descriptor (all under the
 * lock, so stats walkers never see a half-made page). */
LA_HIDDEN la_page_t *la_span_alloc(unsigned slices, uint8_t kind, uint32_t block_size,
				   uint8_t cls);
LA_HIDDEN void la_span_free(la_page_t *pg);
/* Every span of a list linked through next (nobody else holds them) back to
 * the pool under one hold of the pool lock; returns their bytes. */
LA_HIDDEN size_t la_span_free_list(la_page_t *pg);
LA_HIDDEN bool la_span_grow(la_page_t *pg, unsigned slices); /* in place */
LA_HIDDEN void la_span_shrink(la_page_t *pg, unsigned slices);
LA_HIDDEN size_t la_pool_release_free(size_t max_bytes); /* release.c's pool scope */
/* Lazy free (segment.c): in a program with no monitor thread, pool slices
 * get MADV_FREE when the dirty pool holds LA_LAZY_MIN and three quarters
 * of what liballoc maps and grew by LA_LAZY_BATCH since the last pass; the kernel may take them under
 * pressure while the program sleeps. */
#define LA_LAZY_BATCH ((size_t)4 << 20)
#define LA_LAZY_MIN ((size_t)16 << 20)
LA_HIDDEN void *la_huge_alloc(size_t n, size_t align);
LA_HIDDEN bool la_huge_valid(la_segment_t *s, const void *p);
LA_HIDDEN void la_huge_free(la_segment_t *s);               /* after la_huge_valid */
LA_HIDDEN size_t la_huge_usable(la_segment_t *s, const void *p);
LA_HIDDEN void *la_huge_realloc(la_segment_t *s, void *p, size_t n);
extern LA_HIDDEN _Atomic(uint64_t) la_bytes_huge;
/* Bytes of freed huge mappings kept for reuse (segment.c's huge cache). */
extern LA_HIDDEN _Atomic(uint64_t) la_huge_cached_bytes;
/* span allocations + frees of the pool so far (time decay's activity signal) */
extern LA_HIDDEN _Atomic(uint64_t) la_pool_ops;
/* walk all normal segments under the pool lock (stats) */
LA_HIDDEN void la_segments_foreach(void (*fn)(la_segment_t *, void *), void *arg);

/* ---- cached-byte counters ----------------------------------------------
 * Kept where the bytes change, so nobody walks the heap to learn them
 * (release.c sums them for the monitor; la_stats reports them beside its walk,
 * and they equal the walk's figures whenever no thread is allocating):
 *  pool dirty: free slices possibly resident (segment.c, under the pool lock);
 *  thread retained, per tier: carved bytes of retained empty pages plus cached
 *    large spans of every heap (heap.c, under the heap's cache lock);
 *  abandoned cached, per tier: free carved blocks of abandoned pages
 *    (capacity - used) * block size (page.c: added when a page is pushed on
 *    an abandoned stack, subtracted with the same values when it is taken). */
extern LA_HIDDEN _Atomic(uint64_t) la_pool_dirty_bytes;
/* Set (monitor enabled) exactly while no monitor thread runs. Written only
 * by the monitor (monitor/monitor.c); the core reads it: the allocation slow
 * path to call la_monitor_start_lazy, the pool to allow its lazy-free pass.
 * Defined in segment.c, so that the pool, below the monitor, never reaches
 * up into it. */
extern LA_HIDDEN _Atomic(int) la_monitor_pending;
extern LA_HIDDEN _Atomic(uint64_t) la_thread_retained_bytes[LA_TIER_COUNT];
extern LA_HIDDEN _Atomic(uint64_t) la_abandoned_cached_bytes[LA_TIER_COUNT];
static inline void la_count(_Atomic(uint64_t) *c, int64_t delta)
{
	atomic_fetch_add_explicit(c, (uint64_t)delta, memory_order_relaxed);
}

/* ---- pages (page.c) ---------------------------------------------------- */
LA_HIDDEN void la_classes_init(void);
LA_HIDDEN void la_page_extend(la_page_t *pg);              /* owner */
LA_HIDDEN void la_page_collect(la_page_t *pg);             /* owner */
LA_HIDDEN void la_page_remote_free(la_page_t *pg, la_block_t *b, const char *who);
/* Blocks waiting on pg's thread_free; caller excludes collectors (heap lock). */
LA_HIDDEN unsigned la_page_remote_count(la_page_t *pg);
LA_HIDDEN la_block_t *la_page_pop(la_page_t *pg);          /* owner, pg->free != NULL */
/* Owner: b's first word looked like a link;
 * abort ("<who>(): <what> <b>") if b is on pg's free or remote-free list,
 * else return. */
LA_HIDDEN void la_page_check_double_free(la_page_t *pg, la_block_t *b, const char *who,
					 const char *what);
_Static_assert(sizeof(struct la_page_back) == sizeof(la_page_t), "page_prev stride");
static inline la_page_t **la_page_prev(la_page_t *pg)
{
	return &((struct la_page_back *)((uintptr_t)pg + offsetof(la_segment_t, page_prev) -
					 offsetof(la_segment_t, pages)))->prev;
}
static inline la_page_t **la_page_delayed_link(la_page_t *pg)
{
	la_segment_t *s = (la_segment_t *)((uintptr_t)pg & ~(uintptr_t)LA_SEG_MASK);
	return &s->delayed_next[pg - s->pages];
}
LA_HIDDEN bool la_page_set_full(la_page_t *pg);                 /* owner */
LA_HIDDEN bool la_page_unfull(la_page_t *pg);                   /* owner */
/* Abandoned pages (page.c states the protocol): lock-free stacks per class,
 * pushed a chain at a time, taken a whole stack at a time (no ABA). */
/* Push a chain (linked through next, one class, heap NULL, each with a live
 * block) that the caller owns. */
LA_HIDDEN void la_abandoned_push_chain(la_page_t *first);
/* Take class cls's whole stack (NULL if empty); the caller owns the chain. */
LA_HIDDEN la_page_t *la_abandoned_take(unsigned cls);
/* Heap lock or la_abandoned_lock held: free abandoned pages with no live
 * block to the pool (bytes returned). */
LA_HIDDEN size_t la_abandoned_reap(void);
/* la_abandoned_reap under la_abandoned_lock (releases). */
LA_HIDDEN size_t la_abandoned_collect(void);
/* Serialises sweeps by releases; held across fork. */
extern LA_HIDDEN pthread_mutex_t la_abandoned_lock;
/* Pages on the abandoned stacks. */
extern LA_HIDDEN _Atomic(uint64_t) la_abandoned_pages;

/* ---- heaps (heap.c) ---------------------------------------------------- */
LA_HIDDEN la_heap_t *la_heap_attach(void);               /* for the calling thread */
LA_HIDDEN void la_heap_detach(la_heap_t *h);             /* thread exit */
LA_HIDDEN void *la_heap_alloc_cls(la_heap_t *h, unsigned cls);
LA_HIDDEN void la_heap_free_slow(la_heap_t *h, la_page_t *pg, la_block_t *b); /* owner */
LA_HIDDEN void la_heap_flush(la_heap_t *h);
LA_HIDDEN bool la_heap_large_put(la_heap_t *h, la_page_t *pg);  /* owner */
LA_HIDDEN la_page_t *la_heap_large_get(la_heap_t *h, unsigned slices);
extern LA_HIDDEN _Atomic(unsigned) la_flush_epoch;
LA_HIDDEN void la_request_flush_all(void);
extern LA_HIDDEN pthread_mutex_t la_heaps_lock;
LA_HIDDEN void la_heaps_foreach(void (*fn)(la_heap_t *, void *), void *arg);
/* Heaps attached to a live thread: how many application threads allocate. */
extern LA_HIDDEN _Atomic(int) la_heaps_live;
/* atfork, between la_heaps_lock and la_abandoned_lock (see init.c). */
LA_HIDDEN void la_heaps_fork_prepare(void);
LA_HIDDEN void la_heaps_fork_parent(void);
LA_HIDDEN void la_heaps_fork_child(void);
/* Releaser side (any thread): give h's retained empty pages beyond keep pages
 * per class (keep < 0: the class's la_tcache_cap) and, if large_too, its
 * cached large spans to the pool. Never touches pages reachable from the
 * owner's fast paths. Like la_heap_reclaim, it skips h (returns 0) while h's
 * lock is held. Returns the bytes moved to the pool. */
LA_HIDDEN size_t la_heap_take_cache(la_heap_t *h, int keep, bool large_too);
/* Releaser side (any thread; skipped while h's lock is held): take h's pages that
 * hold no live block and that the owner's malloc fast path cannot reach (the
 * delayed list, queue pages other than direct[] heads, heads of classes above
 * LA_SMALL_MAX). With hide_heads, also point direct[] away from each unused
 * direct[] head and set *hidden; after la_os_membarrier(),
 * la_heap_reclaim_heads(h) takes those heads if the owner is not inside its
 * fast path. Both return the bytes moved to the pool. */
LA_HIDDEN size_t la_heap_reclaim(la_heap_t *h, bool hide_heads, bool *hidden);
LA_HIDDEN size_t la_heap_reclaim_heads(la_heap_t *h);
/* Count of pages taken from the pool per class by the allocation slow path
 * (adaptive sizing reads it). */
extern LA_HIDDEN _Atomic(uint32_t) la_class_refills[LA_NCLASSES];

/* ---- large objects (alloc.c callers) ------------------------------------- */
LA_HIDDEN void *la_large_alloc(size_t n, size_t align);

/* ---- init (init.c) ------------------------------------------------------ */
extern LA_HIDDEN _Atomic(int) la_initialized;
LA_HIDDEN void la_init_slow(void);
static inline void la_ensure_init(void)
{
	if (LA_UNLIKELY(!atomic_load_explicit(&la_initialized, memory_order_acquire)))
		la_init_slow();
}
LA_HIDDEN la_heap_t *la_thread_heap_slow(void); /* attach heap to this thread */

/* ---- generic alloc entry (alloc.c) ---------------------------------------- */
LA_HIDDEN void *la_malloc_generic(size_t n, size_t align);
LA_HIDDEN size_t la_usable_size(const void *p);
LA_HIDDEN size_t la_release_bytes(size_t n);             /* release.c */

/* ---- statistics (stats.c) ------------------------------------------------ */
/* Fill out (out->size bytes at most, >= 8) with a snapshot; la_stats in
 * api.c is the public entry. */
LA_HIDDEN void la_stats_fill(struct la_stats *out);

#endif
