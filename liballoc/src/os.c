/* OS layer: the only place that calls mmap/munmap/madvise/mremap. Each call is
 * counted so tests and benchmarks can prove the steady state makes none.
 * Also the monotonic clock. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

_Atomic(uint64_t) la_cnt_mmap, la_cnt_munmap, la_cnt_madvise, la_cnt_mremap;
_Atomic(uint64_t) la_bytes_mapped;

static inline void cnt(_Atomic(uint64_t) *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

size_t la_os_page_size(void)
{
	static size_t ps;
	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

void *la_os_map(size_t size)
{
	cnt(&la_cnt_mmap);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	atomic_fetch_add_explicit(&la_bytes_mapped, size, memory_order_relaxed);
	return p;
}

void la_os_unmap(void *p, size_t size)
{
	if (!size)
		return;
	cnt(&la_cnt_munmap);
	munmap(p, size);
	atomic_fetch_sub_explicit(&la_bytes_mapped, size, memory_order_relaxed);
}

/* Map size bytes aligned to align (a power of two >= page size): over-map and
 * trim both ends. */
void *la_os_map_aligned(size_t size, size_t align)
{
	if (size + align < size)
		return NULL;
	uint8_t *raw = la_os_map(size + align);
	if (!raw)
		return NULL;
	uint8_t *p = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	la_os_unmap(raw, (size_t)(p - raw));
	la_os_unmap(p + size, (size_t)(raw + size + align - (p + size)));
	return p;
}

void la_os_decommit(void *p, size_t size)
{
	cnt(&la_cnt_madvise);
	madvise(p, size, MADV_DONTNEED);
}

void la_os_lazyfree(void *p, size_t size)
{
	cnt(&la_cnt_madvise);
#ifdef MADV_FREE
	madvise(p, size, MADV_FREE); /* EINVAL before Linux 4.5: the pages just stay */
#else
	(void)p;
	(void)size;
#endif
}

/* mremap; fixed != NULL moves to that address (which must be mapped by us and
 * is replaced). Returns NULL on failure. Callers fix la_bytes_mapped. */
void *la_os_remap(void *p, size_t old, size_t new_size, int may_move, void *fixed)
{
	cnt(&la_cnt_mremap);
	void *r;
	if (fixed)
		r = mremap(p, old, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, fixed);
	else
		r = mremap(p, old, new_size, may_move ? MREMAP_MAYMOVE : 0);
	return r == MAP_FAILED ? NULL : r;
}

/* linux/membarrier.h values (not every musl sysroot has the uapi headers) */
#define LA_MEMBARRIER_PRIVATE_EXPEDITED (1 << 3)
#define LA_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED (1 << 4)

bool la_os_membarrier(void)
{
#ifdef __NR_membarrier
	static _Atomic(int) state; /* 0 not yet registered, 1 ready, -1 unavailable */
	int saved = errno, ok;
	int s = atomic_load_explicit(&state, memory_order_acquire);
	if (!s) {
		s = syscall(__NR_membarrier, LA_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED, 0, 0) ? -1 : 1;
		atomic_store_explicit(&state, s, memory_order_release);
	}
	ok = s > 0 && !syscall(__NR_membarrier, LA_MEMBARRIER_PRIVATE_EXPEDITED, 0, 0);
	errno = saved;
	return ok;
#else
	return false;
#endif
}

uint64_t la_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
