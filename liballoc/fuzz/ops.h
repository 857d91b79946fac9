/* The fuzz input format, shared by the harness (fuzz_alloc.c) and the seed
 * writer (seeds.c). An input is a sequence of 8-byte records; a short last
 * record is padded with zeros:
 *   byte 0  op      (FZ_OP_* modulo FZ_OP_COUNT)
 *   byte 1  slot    (modulo FZ_SLOTS)
 *   byte 2  sel     how to read val as a size: FZ_SZ_* as numbered; other
 *                   values (modulo 32) a mix weighted towards small sizes
 *   byte 3  aux     alignment selector, calloc split, event level, ...
 *   bytes 4-7 val   little-endian 32-bit value
 * Every op is defined for every record, so any byte string is a valid input.
 */
#ifndef LA_FUZZ_OPS_H
#define LA_FUZZ_OPS_H
#include <stdint.h>

#define FZ_SLOTS 64
#define FZ_RECORD 8

enum fz_op {
	FZ_OP_MALLOC,        /* slot := malloc(size) (slot freed first if live) */
	FZ_OP_CALLOC,        /* slot := calloc(n, size / n); aux picks n, or an overflowing pair */
	FZ_OP_REALLOC,       /* slot := realloc(slot, size); a dead slot is realloc(NULL) */
	FZ_OP_FREE,          /* free(slot); a dead slot is free(NULL) */
	FZ_OP_POSIX_MEMALIGN,/* aux: alignment selector (FZ_AL_*) */
	FZ_OP_ALIGNED_ALLOC,
	FZ_OP_MEMALIGN,
	FZ_OP_VALLOC,        /* aux bit 0: pvalloc */
	FZ_OP_USABLE,        /* malloc_usable_size(slot); fill the slack, track it */
	FZ_OP_REALLOCARRAY,  /* aux picks the element count, or an overflowing one */
	FZ_OP_FLUSH,         /* aux % 5: la_flush_all, la_flush_thread, la_trim(size),
	                      * malloc_trim, la_release_bytes(size) */
	FZ_OP_EVENT,         /* la_react: aux % 6 = PRESSURE LOW/MEDIUM/CRITICAL,
	                      * RECLAIM (val pages), IDLE, ACTIVE/unknown */
	FZ_OP_TICK,          /* advance a virtual clock by val % 10 s, then run
	                      * la_decay_tick and la_adaptive_tick */
	FZ_OP_STATS,         /* la_stats, checked against the model */
	FZ_OP_CHECK_ALL,     /* verify every live block, and that none overlap */
	FZ_OP_BURST,         /* aux bit 0 clear: 32 * (1 + aux / 2) more blocks of
	                      * one size (<= 1 KiB when the size is above 64 KiB),
	                      * enough to fill pages; set: free every k-th burst
	                      * block, k = 1 + (aux / 2) % 8, from val % k on */
	FZ_OP_THREAD,        /* aux % 3: run on the main thread / on the helper
	                      * thread / end the helper (its heap detaches) */
	FZ_OP_COUNT
};

/* Size selectors: how val becomes a size. */
enum fz_sz {
	FZ_SZ_TINY,      /* 0..128 */
	FZ_SZ_SMALL,     /* 0..1024 (the fast path) */
	FZ_SZ_MEDIUM,    /* 0..64 KiB (size classes) */
	FZ_SZ_LARGE,     /* 64 KiB..2 MiB (slice spans) */
	FZ_SZ_HUGE,      /* 2..8 MiB (direct mmap) */
	FZ_SZ_EDGE,      /* class and tier boundaries +-1 */
	FZ_SZ_BIG,       /* 1..64 GiB: may or may not be granted */
	FZ_SZ_ABSURD,    /* >= 2^47: must fail with ENOMEM */
	FZ_SZ_COUNT
};

/* Alignment selectors (aux % FZ_AL_COUNT). */
enum fz_al {
	FZ_AL_POW2,      /* 1 << (val % 27): 1 B..64 MiB */
	FZ_AL_SMALL,     /* 1 << (val % 8): 1..128 B */
	FZ_AL_ODD,       /* not a power of two (val % 200, 0 included) */
	FZ_AL_ABSURD,    /* 2^62, 2^63 or SIZE_MAX */
	FZ_AL_COUNT
};

/* One record, for writers. */
static inline void fz_put(uint8_t *out, uint8_t op, uint8_t slot, uint8_t sel, uint8_t aux,
			  uint32_t val)
{
	out[0] = op;
	out[1] = slot;
	out[2] = sel;
	out[3] = aux;
	out[4] = (uint8_t)val;
	out[5] = (uint8_t)(val >> 8);
	out[6] = (uint8_t)(val >> 16);
	out[7] = (uint8_t)(val >> 24);
}
#endif
