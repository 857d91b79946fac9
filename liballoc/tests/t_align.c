/* Alignment of every aligned-allocation API for every power of two up to
 * 1 MiB (plus segment-sized ones), across sizes around the alignment. */
#include "common.h"

static size_t sizes_for(size_t a, size_t *out)
{
	size_t n = 0;
	out[n++] = 1;
	out[n++] = a > 1 ? a - 1 : 1;
	out[n++] = a;
	out[n++] = a + 1;
	out[n++] = 3 * a + 5;
	out[n++] = 100;
	out[n++] = 70000;
	if (a <= 65536)
		out[n++] = 1 << 20;
	return n;
}

static int check_block(void *p, size_t a, size_t n, uint64_t tag)
{
	if (!p || !is_aligned(p, a) || malloc_usable_size(p) < n)
		return 0;
	pat_fill(p, n, tag);
	return 1;
}

TEST(posix_memalign_all_powers)
{
	size_t sz[8];
	for (size_t a = sizeof(void *); a <= (1 << 20); a <<= 1) {
		size_t ns = sizes_for(a, sz);
		void *keep[8];
		for (size_t i = 0; i < ns; i++) {
			void *p = NULL;
			ASSERT_EQ(0, posix_memalign(&p, a, sz[i]));
			ASSERT_TRUE(check_block(p, a, sz[i], a + i)) TH_LOG("a=%zu n=%zu p=%p", a, sz[i], p);
			keep[i] = p;
		}
		for (size_t i = 0; i < ns; i++) {
			ASSERT_TRUE(pat_check(keep[i], sz[i], a + i));
			free(keep[i]);
		}
	}
}

TEST(aligned_alloc_all_powers)
{
	size_t sz[8];
	for (size_t a = 1; a <= (1 << 20); a <<= 1) {
		size_t ns = sizes_for(a, sz);
		for (size_t i = 0; i < ns; i++) {
			void *p = aligned_alloc(a, sz[i]);
			ASSERT_TRUE(check_block(p, a, sz[i], i)) TH_LOG("a=%zu n=%zu p=%p", a, sz[i], p);
			ASSERT_TRUE(pat_check(p, sz[i], i));
			free(p);
		}
	}
}

TEST(memalign_all_powers)
{
	size_t sz[8];
	for (size_t a = 1; a <= (1 << 20); a <<= 1) {
		size_t ns = sizes_for(a, sz);
		for (size_t i = 0; i < ns; i++) {
			void *p = memalign(a, sz[i]);
			ASSERT_TRUE(check_block(p, a, sz[i], i)) TH_LOG("a=%zu n=%zu p=%p", a, sz[i], p);
			free(p);
		}
	}
	/* glibc rounds a non-power-of-two alignment up */
	volatile size_t odd = 48;
	void *p = memalign(odd, 10);
	ASSERT_TRUE(is_aligned(p, 64));
	free(p);
}

TEST(realloc_and_malloc_natural_alignment)
{
	for (size_t n = 9; n < (4 << 20); n = n * 3 / 2) {
		void *p = malloc(n);
		ASSERT_TRUE(is_aligned(p, 16)) TH_LOG("malloc(%zu)=%p", n, p);
		p = realloc(p, n + 13);
		ASSERT_TRUE(is_aligned(p, 16));
		free(p);
	}
}

TEST(huge_alignments)
{
	/* alignments at and above the 4 MiB segment size, huge and small sizes */
	size_t al[] = { 2 << 20, 4 << 20, 8 << 20, 16 << 20 };
	size_t sz[] = { 16, 3 << 20, 9 << 20 };
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 3; j++) {
			void *p = NULL;
			ASSERT_EQ(0, posix_memalign(&p, al[i], sz[j]));
			ASSERT_TRUE(check_block(p, al[i], sz[j], i * 3 + j)) TH_LOG("a=%zu n=%zu", al[i], sz[j]);
			void *q = malloc(100); /* neighbours unaffected */
			ASSERT_TRUE(pat_check(p, sz[j], i * 3 + j));
			free(p);
			free(q);
		}
}

TEST_HARNESS_MAIN
