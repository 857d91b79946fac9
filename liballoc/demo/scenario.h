/* The OOM-avoidance scenario shared by `make demo` (demo/oom_demo.c, one
 * allocator, with and without memnotify) and `make bench-pressure`
 * (bench/pressure.c, the same scenario over several allocators):
 *   - a service allocates SCN_CACHE_BYTES (half 4000-byte blocks, half
 *     256 KiB blocks), frees all of it into its allocator, keeps serving
 *     small requests;
 *   - a hog then touches more memory than is available while the service
 *     holds that cache.
 * Header-only (static functions) so both programs build from one source
 * with any libc; C11 + POSIX, no allocation in the /proc readers. */
#ifndef LIBALLOC_DEMO_SCENARIO_H
#define LIBALLOC_DEMO_SCENARIO_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SCN_MB (1024L * 1024)
#define SCN_SMALL 4000L
#define SCN_LARGE (256L << 10)
#define SCN_CACHE_BYTES (120 * SCN_MB)
#define SCN_MAX_BLOCKS ((SCN_CACHE_BYTES / 2) / SCN_SMALL + (SCN_CACHE_BYTES / 2) / SCN_LARGE + 64)

static inline double scn_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The number after @key in the file at @path (e.g. "MemAvailable:"), or -1. */
static inline long scn_file_num(const char *path, const char *key)
{
	char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strstr(buf, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* Resident KiB of @pid from smaps_rollup (never ru_maxrss), -1 if gone. */
static inline long scn_rss_kb(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	return pid > 0 ? scn_file_num(path, "\nRss:") : -1;
}

/* KiB of @pid's memory already given to the kernel with MADV_FREE (which
 * MemAvailable counts as available: the kernel may take it unasked), 0 if
 * none or gone. A hog sized from MemAvailable leaves it out. */
static inline long scn_lazyfree_kb(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	long kb = pid > 0 ? scn_file_num(path, "\nLazyFree:") : -1;
	return kb > 0 ? kb : 0;
}

static inline void scn_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0)
			perror(path);
		close(fd);
	}
}

static inline void scn_oom_adj(pid_t pid, const char *v)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
	scn_write_file(path, v);
}

/* The service's cache: allocate and touch SCN_CACHE_BYTES in @blk, then free
 * it all (newest first). Returns 0, or -1 if malloc failed. */
static inline int scn_fill_and_free(void **blk)
{
	long n = 0;
	int rc = 0;
	for (long i = 0; i < SCN_CACHE_BYTES / 2 / SCN_SMALL; i++) {
		if (!(blk[n] = malloc(SCN_SMALL)))
			rc = -1;
		else
			memset(blk[n++], 0x5a, SCN_SMALL);
	}
	for (long i = 0; i < SCN_CACHE_BYTES / 2 / SCN_LARGE; i++) {
		if (!(blk[n] = malloc(SCN_LARGE)))
			rc = -1;
		else
			memset(blk[n++], 0x5a, SCN_LARGE);
	}
	while (n)
		free(blk[--n]);
	return rc;
}

/* One request of the service: 64 small blocks, 16..520 bytes. */
static inline void scn_request(void **blk)
{
	for (int i = 0; i < 64; i++) {
		blk[i] = malloc(16 + (size_t)i * 8);
		if (blk[i])
			((volatile char *)blk[i])[0] = (char)i;
	}
	for (int i = 0; i < 64; i++)
		free(blk[i]);
}

/* Fork a hog that maps and touches @bytes (oom_score_adj 1000); its exit
 * status is 0 when it touched everything. */
static inline pid_t scn_hog(long bytes)
{
	pid_t pid = fork();
	if (pid == 0) {
		scn_oom_adj(getpid(), "1000");
		char *p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(2);
		for (long o = 0; o < bytes; o += SCN_MB)
			memset(p + o, 0x33, (size_t)(bytes - o < SCN_MB ? bytes - o : SCN_MB));
		_exit(0);
	}
	return pid;
}

/* Memory hogs run only in the small test VMs, never on a developer's host. */
static inline int scn_small_machine(void)
{
	long total = scn_file_num("/proc/meminfo", "MemTotal:");
	return total > 0 && total < 1024L * 1024;
}

/* The small test VM with the module loaded, as root: where the scenario's
 * tests run. */
static inline int scn_in_test_vm(void)
{
	return !access("/dev/memnotify", F_OK) && geteuid() == 0 && scn_small_machine();
}

/* This program again (/proc/self/exe) with argv and envp; its stdin is
 * *to, its stdout *from, and its stderr *err when err is not NULL. */
static inline pid_t scn_spawn_self(char *const argv[], char *const envp[], int *to, int *from,
				   int *err)
{
	int in[2], out[2], er[2] = { -1, -1 };
	if (pipe(in) || pipe(out) || (err && pipe(er)))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (err)
			dup2(er[1], 2);
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (err)
		close(er[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		if (err)
			close(er[0]);
		return -1;
	}
	*to = in[1];
	*from = out[0];
	if (err)
		*err = er[0];
	return pid;
}

#endif
