// SPDX-License-Identifier: GPL-2.0
/*
 * bench_shrinker: what the module's shrinker costs reclaim, with 0, 100
 * and 1000 subscribers.
 *
 * Each round writes 2 to /proc/sys/vm/drop_caches, which runs every
 * shrinker's count_objects() and, where there is something to take, its
 * scan_objects(), and reads the module's statistics around it:
 *  - scan: shrinker_scan_ns / shrinker_scan, the time inside scan_objects()
 *    measured by the module itself, with every subscriber holding a claim
 *    (this process holds 64 MB and splits it over the files);
 *  - count: the wall time of one drop_caches write, with the same
 *    subscribers but no claims (count_objects() returns 0 and vmscan does
 *    not scan), minus the same with no subscriber at all; the write runs
 *    every shrinker of the system, so this is a difference of medians of
 *    a noisy whole, and per count_objects() call it is divided by the
 *    number of calls the module saw.
 * Medians of ROUNDS rounds.  Needs root; runs only from /bench.
 */
#include <sys/mman.h>

#include "mn_common.h"

#define ROUNDS	31
#define HOLD	(64ul << 20)

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static long long median(long long *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_ll);
	return v[n / 2];
}

static long long stat_of(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), MN_STAT("%s"), name);
	return read_num(path);
}

struct result {
	long long drop_ns;	/* median wall time of one drop_caches */
	long long counts;	/* count_objects calls per drop_caches */
	long long scan_ns;	/* median ns per scan_objects call */
	long long scans;	/* scan_objects calls per drop_caches */
};

/* ROUNDS drop_caches with n subscribers, claiming (claim) or not. */
static int run(int n, int claim, struct result *r)
{
	long long drop[ROUNDS], scan[ROUNDS], c0, s0, ns0, counts = 0, scans = 0;
	__u64 each = n ? (HOLD / n) & ~(__u64)(sysconf(_SC_PAGESIZE) - 1) : 0;
	int *fds = calloc(n ? n : 1, sizeof(int)), i, k, m = 0;
	uint64_t t0;

	if (!fds)
		return -1;
	for (i = 0; i < n; i++) {
		fds[i] = mn_open_nb();
		if (fds[i] < 0)
			return -1;
	}
	for (k = 0; k < ROUNDS; k++) {
		for (i = 0; claim && i < n; i++)
			mn_set_cache(fds[i], each);
		c0 = stat_of("shrinker_count");
		s0 = stat_of("shrinker_scan");
		ns0 = stat_of("shrinker_scan_ns");
		t0 = now_ns();
		if (write_file("/proc/sys/vm/drop_caches", "2"))
			return -1;
		drop[k] = now_ns() - t0;
		counts += stat_of("shrinker_count") - c0;
		s0 = stat_of("shrinker_scan") - s0;
		scans += s0;
		if (s0)
			scan[m++] = (stat_of("shrinker_scan_ns") - ns0) / s0;
		for (i = 0; i < n; i++)
			mn_drain(fds[i]);
	}
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	r->drop_ns = median(drop, ROUNDS);
	r->counts = counts / ROUNDS;
	r->scans = scans / ROUNDS;
	r->scan_ns = m ? median(scan, m) : 0;
	return 0;
}

int main(int argc, char **argv)
{
	static const int subs[] = { 0, 100, 1000 };
	struct result quiet[3], busy[3];
	char *held;
	int i;

	(void)argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	if (strncmp(argv[0], "/bench/", 7)) {
		printf("1..0 # SKIP a benchmark, not a test: run it from /bench\n");
		return 4;
	}
	printf("1..1\n");
	held = hold_anon(HOLD);
	if (!held) {
		printf("not ok 1 bench_shrinker: cannot hold %lu MB\n", HOLD >> 20);
		return 1;
	}
	for (i = 0; i < 3; i++) {
		if (run(subs[i], 0, &quiet[i]) || run(subs[i], 1, &busy[i])) {
			printf("not ok 1 bench_shrinker: run with %d subscribers failed\n",
			       subs[i]);
			return 1;
		}
	}
	printf("# P shrinker cost, medians of %d drop_caches each\n", ROUNDS);
	printf("# P subscribers | drop_caches, no claims | count calls | + per count vs 0 subscribers | scan calls | ns per scan\n");
	for (i = 0; i < 3; i++) {
		long long d = quiet[i].drop_ns - quiet[0].drop_ns;

		printf("# P %d | %lld ns | %lld | %lld ns | %lld | %lld ns\n",
		       subs[i], quiet[i].drop_ns, quiet[i].counts,
		       quiet[i].counts ? d / quiet[i].counts : 0,
		       busy[i].scans, busy[i].scan_ns);
	}
	printf("ok 1 bench_shrinker\n");
	munmap(held, HOLD);
	return 0;
}
