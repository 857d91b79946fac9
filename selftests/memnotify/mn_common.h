/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the memnotify selftests and benchmarks. */
#ifndef MN_COMMON_H
#define MN_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/memnotify.h>

#define MN_DEV		"/dev/memnotify"
#define MN_PARAM(n)	"/sys/module/memnotify/parameters/" n
#define MN_STAT(n)	"/sys/module/memnotify/stats/" n
#define MN_KO		"/lib/modules/memnotify.ko"
#define MN_REC		sizeof(struct memnotify_event)
#define NOBODY		65534

/* A line of figures in the TAP output ("# ..."); flushed, because the
 * harness ends each test's process with _exit().
 */
#define note(...) do { printf("# " __VA_ARGS__); fflush(stdout); } while (0)

static inline int mn_open(void)
{
	return open(MN_DEV, O_RDONLY | O_CLOEXEC);
}

static inline int mn_open_nb(void)
{
	return open(MN_DEV, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline int mn_inject(int fd, __u32 type, __u32 level, __u32 flags,
			    __u64 bytes)
{
	struct memnotify_inject in = {
		.type = type, .level = level, .flags = flags,
		.reclaim_bytes = bytes,
	};

	return ioctl(fd, MEMNOTIFY_IOC_INJECT, &in);
}

static inline int mn_get_state(int fd, struct memnotify_state *st)
{
	return ioctl(fd, MEMNOTIFY_IOC_GET_STATE, st);
}

/*
 * Report a cache against the fd's current request_seq (taken from
 * GET_STATE, so never EAGAIN unless a request races this call).
 */
static inline int mn_set_cache(int fd, __u64 bytes)
{
	struct memnotify_cache c = { .bytes = bytes };
	struct memnotify_state st;

	if (mn_get_state(fd, &st))
		return -1;
	c.request_seq = st.request_seq;
	return ioctl(fd, MEMNOTIFY_IOC_SET_CACHE, &c);
}

/* The fd's claim (what is left of the cache it reported), in bytes. */
static inline int mn_get_cache(int fd, __u64 *bytes)
{
	struct memnotify_state st;

	if (mn_get_state(fd, &st))
		return -1;
	*bytes = st.claim_bytes;
	return 0;
}

static inline int mn_released(int fd, __u64 bytes)
{
	struct memnotify_released r = { .bytes = bytes };

	return ioctl(fd, MEMNOTIFY_IOC_RELEASED, &r);
}

static inline int mn_set_mask(int fd, __u32 mask)
{
	return ioctl(fd, MEMNOTIFY_IOC_SET_MASK, &mask);
}

/*
 * Wait up to timeout_ms for one record; returns 1 with *ev filled in, 0 on
 * timeout, -1 on error.
 */
static inline int mn_wait_event(int fd, struct memnotify_event *ev,
				int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int r;

	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r <= 0)
		return r;
	n = read(fd, ev, sizeof(*ev));
	if (n == (ssize_t)sizeof(*ev))
		return 1;
	if (n < 0 && errno == EAGAIN)
		return 0;
	return -1;
}

/* Wait for a record of a given type (others are skipped). */
static inline int mn_wait_type(int fd, __u32 type, struct memnotify_event *ev,
			       int timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int r;

	for (;;) {
		int64_t left = (int64_t)(end - now_ns()) / 1000000;

		if (left < 0)
			return 0;
		r = mn_wait_event(fd, ev, (int)left);
		if (r <= 0)
			return r;
		if (ev->type == type)
			return 1;
	}
}

/* Discard whatever is queued on a non-blocking or blocking fd. */
static inline void mn_drain(int fd)
{
	struct memnotify_event ev[16];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN)) {
		if (read(fd, ev, sizeof(ev)) <= 0)
			break;
	}
}

static inline int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/*
 * The number after @key in a file of "key value" lines such as
 * /proc/vmstat or /proc/meminfo (@key matches a whole line start; meminfo
 * keys carry their colon), or -1.
 */
static inline long long mn_proc_num(const char *path, const char *key)
{
	char buf[16384], *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	size_t len = strlen(key);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (!strncmp(p, key, len) && (p[len] == ' ' || p[len] == '\t'))
			return strtoll(p + len + 1, NULL, 10);
	}
	return -1;
}

static inline long long read_num(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

static inline int write_num(const char *path, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return write_file(path, buf);
}

/*
 * Run fn(arg) in a forked child that dropped to uid/gid 65534; returns the
 * child's exit status (fn's return value) or -1.
 */
static inline int run_unprivileged(int (*fn)(void *), void *arg)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(100);
		_exit(fn(arg));
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static inline void set_oom_score_adj(pid_t pid, int v)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
	write_num(path, v);
}

/* Burn CPU in this thread for ms milliseconds. */
static inline void burn_cpu(unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000ull;
	volatile unsigned long x = 0;

	while (now_ns() < end)
		x++;
}

static inline long mem_total_pages(void)
{
	return sysconf(_SC_PHYS_PAGES);
}

/*
 * Resident anonymous memory of process pid (0: this one) in bytes, from
 * RssAnon in /proc/PID/status; -1 if it cannot be read.  The kernel clamps
 * a cache claim to this (MM_ANONPAGES).
 */
static inline long long rss_anon_bytes(pid_t pid)
{
	char path[64], buf[4096], *p;
	ssize_t n;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "RssAnon:");
	return p ? strtoll(p + 8, NULL, 10) * 1024 : -1;
}

/*
 * Touch bytes of private anonymous memory and keep it: what a subscriber
 * holds before it can honestly claim that much cache.  NULL on failure.
 */
static inline void *hold_anon(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 1, bytes);
	return p;
}

#endif /* MN_COMMON_H */
