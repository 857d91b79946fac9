/* Writes the fuzz harness's seed corpus: one small file per area (ops.h
 * format), so the first runs already reach every tier, the aligned family,
 * the failure paths, the reactions and the second thread.
 * Usage: seeds DIR */
#include <stdio.h>
#include <stdlib.h>
#include "ops.h"

#define MAXREC 256

struct seed {
	const char *name;
	uint8_t buf[MAXREC * FZ_RECORD];
	unsigned n;
};

static void put(struct seed *s, uint8_t op, uint8_t slot, uint8_t sel, uint8_t aux, uint32_t val)
{
	if (s->n == MAXREC) {
		fprintf(stderr, "seeds: %s: too many records\n", s->name);
		exit(1);
	}
	fz_put(s->buf + s->n++ * FZ_RECORD, op, slot, sel, aux, val);
}

static void save(const char *dir, const struct seed *s)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, s->name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(s->buf, FZ_RECORD, s->n, f) != s->n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	static struct seed s[9] = {
		{ .name = "small-churn" }, { .name = "realloc-tiers" }, { .name = "aligned" },
		{ .name = "huge" },        { .name = "invalid" },       { .name = "reactions" },
		{ .name = "threads" },     { .name = "stats-usable" },  { .name = "full-pages" },
	};
	/* small and medium blocks allocated, freed out of order, reused */
	for (unsigned i = 0; i < 48; i++)
		put(&s[0], FZ_OP_MALLOC, (uint8_t)i, i % 3 ? FZ_SZ_SMALL : FZ_SZ_MEDIUM, 0, i * 977u);
	for (unsigned i = 0; i < 48; i += 3)
		put(&s[0], FZ_OP_FREE, (uint8_t)i, 0, 0, 0);
	for (unsigned i = 0; i < 24; i++)
		put(&s[0], FZ_OP_CALLOC, (uint8_t)(i * 2), FZ_SZ_TINY, (uint8_t)i, i * 31u);
	/* one block grown through every tier and shrunk back */
	static const uint8_t tiers[] = { FZ_SZ_TINY, FZ_SZ_SMALL, FZ_SZ_MEDIUM, FZ_SZ_LARGE,
					 FZ_SZ_HUGE, FZ_SZ_HUGE, FZ_SZ_LARGE, FZ_SZ_SMALL };
	for (unsigned i = 0; i < sizeof tiers; i++)
		put(&s[1], FZ_OP_REALLOC, 1, tiers[i], 0, 40000u * (i + 1));
	put(&s[1], FZ_OP_REALLOC, 1, FZ_SZ_TINY, 0, 0);
	/* the memalign family over small, odd and large alignments */
	for (unsigned i = 0; i < 40; i++)
		put(&s[2], (uint8_t)(FZ_OP_POSIX_MEMALIGN + i % 4), (uint8_t)i,
		    i % 2 ? FZ_SZ_SMALL : FZ_SZ_LARGE, (uint8_t)((i * 4) | (i % FZ_AL_COUNT)), i * 1231u);
	/* three blocks of one odd size per alignment 16 B..8 KiB, so a page
	 * serves more than its first (always aligned) block */
	for (unsigned l = 4; l <= 13; l++)
		for (unsigned k = 0; k < 3; k++)
			put(&s[2], (uint8_t)(FZ_OP_POSIX_MEMALIGN + k), (uint8_t)(40 + k),
			    FZ_SZ_MEDIUM, (uint8_t)(l << 2 | FZ_AL_POW2), (1u << l) + (1u << l) / 4 + 1);
	/* huge blocks: mmap, mremap grow and shrink, free */
	for (unsigned i = 0; i < 4; i++)
		put(&s[3], FZ_OP_MALLOC, (uint8_t)i, FZ_SZ_HUGE, 0, i * 1500000u);
	for (unsigned i = 0; i < 4; i++)
		put(&s[3], FZ_OP_REALLOC, (uint8_t)i, FZ_SZ_HUGE, 0, 6000000u - i * 1000000u);
	put(&s[3], FZ_OP_MALLOC, 9, FZ_SZ_BIG, 0, 0);
	/* requests that must fail, next to a live block that must survive */
	put(&s[4], FZ_OP_MALLOC, 0, FZ_SZ_SMALL, 0, 100);
	for (unsigned i = 0; i < 9; i++) {
		put(&s[4], FZ_OP_MALLOC, 1, FZ_SZ_ABSURD, 0, i);
		put(&s[4], FZ_OP_REALLOC, 0, FZ_SZ_ABSURD, 0, i);
	}
	put(&s[4], FZ_OP_CALLOC, 2, FZ_SZ_SMALL, 201, 0);
	put(&s[4], FZ_OP_REALLOCARRAY, 0, FZ_SZ_SMALL, 230, 0);
	for (unsigned a = 0; a < 13; a++)
		put(&s[4], FZ_OP_POSIX_MEMALIGN, 3, FZ_SZ_SMALL, (uint8_t)(a << 2 | FZ_AL_ODD), 64);
	for (unsigned a = 0; a < 4; a++)
		put(&s[4], FZ_OP_ALIGNED_ALLOC, 3, FZ_SZ_SMALL, (uint8_t)(a << 2 | FZ_AL_ABSURD), 64);
	put(&s[4], FZ_OP_VALLOC, 4, FZ_SZ_ABSURD, 1, 0);
	/* cached memory, then every reaction and the clock */
	for (unsigned i = 0; i < 32; i++)
		put(&s[5], FZ_OP_MALLOC, (uint8_t)i, i % 2 ? FZ_SZ_MEDIUM : FZ_SZ_LARGE, 0, i * 7919u);
	for (unsigned i = 0; i < 32; i += 2)
		put(&s[5], FZ_OP_FREE, (uint8_t)i, 0, 0, 0);
	for (unsigned e = 0; e < 6; e++)
		put(&s[5], FZ_OP_EVENT, 0, 0, (uint8_t)e, 100);
	for (unsigned f = 0; f < 5; f++)
		put(&s[5], FZ_OP_FLUSH, 0, FZ_SZ_MEDIUM, (uint8_t)f, 4096);
	for (unsigned t = 0; t < 4; t++)
		put(&s[5], FZ_OP_TICK, 0, 0, 0, 6000);
	/* blocks made on the helper thread, freed here after it ended */
	put(&s[6], FZ_OP_THREAD, 0, 0, 1, 0);
	for (unsigned i = 0; i < 24; i++)
		put(&s[6], FZ_OP_MALLOC, (uint8_t)i, i % 4 ? FZ_SZ_SMALL : FZ_SZ_LARGE, 0, i * 4001u);
	put(&s[6], FZ_OP_THREAD, 0, 0, 0, 0);
	for (unsigned i = 0; i < 24; i += 2)
		put(&s[6], FZ_OP_FREE, (uint8_t)i, 0, 0, 0);
	put(&s[6], FZ_OP_THREAD, 0, 0, 2, 0);
	for (unsigned i = 1; i < 24; i += 4)
		put(&s[6], FZ_OP_FREE, (uint8_t)i, 0, 0, 0);
	put(&s[6], FZ_OP_FLUSH, 0, 0, 0, 0);
	/* usable sizes claimed, stats of every size */
	for (unsigned i = 0; i < 16; i++) {
		put(&s[7], FZ_OP_MALLOC, (uint8_t)i, (uint8_t)(i % 5), 0, i * 3001u);
		put(&s[7], FZ_OP_USABLE, (uint8_t)i, 0, 0, 0);
	}
	for (unsigned k = 0; k < 48; k++)
		put(&s[7], FZ_OP_STATS, 0, 0, (uint8_t)k, 0);
	put(&s[7], FZ_OP_CHECK_ALL, 0, 0, 0, 0);
	/* pages filled on the helper, half their blocks freed here (remote
	 * frees onto full pages), the rest there */
	put(&s[8], FZ_OP_THREAD, 0, 0, 1, 0);
	put(&s[8], FZ_OP_BURST, 0, FZ_SZ_SMALL, 2 * 63, 1024);
	put(&s[8], FZ_OP_BURST, 0, FZ_SZ_MEDIUM, 2 * 3, 65536);
	put(&s[8], FZ_OP_THREAD, 0, 0, 0, 0);
	put(&s[8], FZ_OP_BURST, 0, 0, 2 * 1 + 1, 0);
	put(&s[8], FZ_OP_THREAD, 0, 0, 1, 0);
	put(&s[8], FZ_OP_BURST, 0, FZ_SZ_SMALL, 2 * 63, 1024);
	put(&s[8], FZ_OP_CHECK_ALL, 0, 0, 0, 0);
	put(&s[8], FZ_OP_BURST, 0, 0, 2 * 2 + 1, 1);
	put(&s[8], FZ_OP_THREAD, 0, 0, 2, 0);
	put(&s[8], FZ_OP_BURST, 0, 0, 2 * 0 + 1, 0);
	for (unsigned i = 0; i < sizeof s / sizeof *s; i++)
		save(argv[1], &s[i]);
	return 0;
}
