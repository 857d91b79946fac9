/* Release benchmark: how long returning ~100 MiB of cached memory to the OS
 * takes (malloc_trim(0)), and what the other threads' allocations see while
 * it runs: their operations completed, p99 and worst latency, against the
 * same threads just before the release.
 *
 *   release [--reps N] LIB...   runs each liballoc.so (LD_PRELOAD) N times,
 *                               interleaved in random order, medians
 *   release --child             one measurement with the preloaded library
 *
 * The other threads allocate and free 1..256 B and 65..192 KiB blocks; with
 * LIBALLOC_LARGE_CACHE=0 every large block goes through the global pool, so
 * they take the pool lock all the time. A benchmark: it reports, it asserts
 * nothing. */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 2
#define MAXS (1 << 20)
#define NSMALL 12800 /* 4000 B: 50 MiB */
#define NLARGE 200   /* 256 KiB: 50 MiB */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Atomic int phase; /* 0 before, 1 during the release, 2 stop */
struct lat { uint32_t *v[2]; size_t n[2]; };
static struct lat lats[NTHREADS];

static void *other(void *arg)
{
	struct lat *l = arg;
	uint64_t s = (uint64_t)(uintptr_t)arg | 1;
	void *keep[64] = { 0 };
	unsigned k = 0;
	int ph;
	while ((ph = atomic_load_explicit(&phase, memory_order_relaxed)) < 2) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		size_t n = s & 1 ? 1 + (s >> 8) % 256 : (65 << 10) + (s >> 8) % (128 << 10);
		uint64_t t0 = now_ns();
		void *p = malloc(n);
		free(keep[k]);
		uint64_t d = now_ns() - t0;
		((char *)p)[0] = 1;
		keep[k] = p;
		k = (k + 1) % 64;
		if (l->n[ph] < MAXS)
			l->v[ph][l->n[ph]++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	}
	for (unsigned i = 0; i < 64; i++)
		free(keep[i]);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int child(void)
{
	static void *sb[NSMALL], *lb[NLARGE];
	/* sample buffers outside the allocator under test */
	for (int i = 0; i < NTHREADS; i++)
		for (int p = 0; p < 2; p++) {
			lats[i].v[p] = mmap(NULL, MAXS * sizeof(uint32_t), PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			if (lats[i].v[p] == MAP_FAILED)
				return 1;
		}
	for (int i = 0; i < NSMALL; i++)
		memset(sb[i] = malloc(4000), 0x5a, 4000);
	for (int i = 0; i < NLARGE; i++)
		memset(lb[i] = malloc(256 << 10), 0x5a, 256 << 10);
	for (int i = 0; i < NSMALL; i++)
		free(sb[i]);
	for (int i = 0; i < NLARGE; i++)
		free(lb[i]);
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		pthread_create(&t[i], NULL, other, &lats[i]);
	}
	usleep(200000);
	atomic_store(&phase, 1);
	uint64_t t0 = now_ns();
	malloc_trim(0);
	uint64_t rel = now_ns() - t0;
	atomic_store(&phase, 2);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	static uint32_t all[2][NTHREADS * MAXS];
	size_t n[2] = { 0, 0 };
	for (int p = 0; p < 2; p++) {
		for (int i = 0; i < NTHREADS; i++) {
			memcpy(all[p] + n[p], lats[i].v[p], lats[i].n[p] * sizeof(uint32_t));
			n[p] += lats[i].n[p];
		}
		qsort(all[p], n[p], sizeof(uint32_t), cmp_u32);
	}
	double before_s = 0.2;
	printf("%.3f %.0f %zu %.1f %.1f %.1f %.1f\n", rel / 1e6,
	       n[0] / before_s * (rel / 1e9), n[1],
	       n[0] ? all[0][n[0] * 99 / 100] / 1e3 : 0.0, n[1] ? all[1][n[1] * 99 / 100] / 1e3 : 0.0,
	       n[0] ? all[0][n[0] - 1] / 1e3 : 0.0, n[1] ? all[1][n[1] - 1] / 1e3 : 0.0);
	return 0;
}

/* ---- driver ---- */
#define NF 7
static int run_one(const char *self, const char *lib, double *f)
{
	int fd[2];
	if (pipe(fd))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		setenv("LD_PRELOAD", lib, 1);
		setenv("LIBALLOC_LARGE_CACHE", "0", 1);
		setenv("LIBALLOC_MONITOR", "off", 1);
		execl(self, self, "--child", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	char buf[512];
	ssize_t n = read(fd[0], buf, sizeof buf - 1), r;
	while (n > 0 && n < (ssize_t)sizeof buf - 1 && (r = read(fd[0], buf + n, sizeof buf - 1 - n)) > 0)
		n += r;
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	buf[n > 0 ? n : 0] = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) ||
	    sscanf(buf, "%lf %lf %lf %lf %lf %lf %lf", &f[0], &f[1], &f[2], &f[3], &f[4], &f[5],
		   &f[6]) != NF)
		return -1;
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child();
	int reps = 7, a = 1;
	if (argc > 2 && !strcmp(argv[1], "--reps")) {
		reps = atoi(argv[2]);
		a = 3;
	}
	int nl = argc - a;
	if (nl < 1 || reps < 1 || reps > 100) {
		fprintf(stderr, "usage: %s [--reps N] liballoc.so...\n", argv[0]);
		return 2;
	}
	char self[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (sl <= 0)
		return 1;
	self[sl] = 0;
	double (*res)[100][NF] = calloc((size_t)nl, sizeof *res);
	int *order = calloc((size_t)nl, sizeof *order);
	srand((unsigned)time(NULL));
	for (int r = 0; r < reps; r++) {
		for (int i = 0; i < nl; i++)
			order[i] = i;
		for (int i = nl - 1; i > 0; i--) {
			int j = rand() % (i + 1), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (int i = 0; i < nl; i++)
			if (run_one(self, argv[a + order[i]], res[order[i]][r])) {
				fprintf(stderr, "run failed: %s\n", argv[a + order[i]]);
				return 1;
			}
	}
	printf("release of ~100 MiB (malloc_trim(0)) with %d other threads allocating; "
	       "medians of %d runs\n\n", NTHREADS, reps);
	printf("| library | release, ms | other threads' ops during it (at the rate before) | "
	       "p99 before, us | p99 during, us | worst before, us | worst during, us |\n"
	       "|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nl; i++) {
		double m[NF];
		for (int f = 0; f < NF; f++) {
			double v[100];
			for (int r = 0; r < reps; r++)
				v[r] = res[i][r][f];
			qsort(v, (size_t)reps, sizeof(double), cmp_d);
			m[f] = reps % 2 ? v[reps / 2] : (v[reps / 2 - 1] + v[reps / 2]) / 2;
		}
		printf("| %s | %.2f | %.0f (%.0f) | %.1f | %.1f | %.1f | %.1f |\n", argv[a + i], m[0],
		       m[2], m[1], m[3], m[4], m[5], m[6]);
	}
	return 0;
}
