// SPDX-License-Identifier: GPL-2.0
/*
 * liballoc-stat.so: preloaded next to liballoc.so, it lets liballoc-stat(1)
 * read a running process's statistics without any change to the program.
 *
 *   LD_PRELOAD="liballoc.so liballoc-stat.so" LIBALLOC_STATS_SIGNAL=USR2 prog
 *   liballoc-stat PID
 *
 * LIBALLOC_STATS_SIGNAL=SIG (USR1, USR2, SIGUSR2, RTMIN+N or a number): on SIG
 * the statistics are written to $LIBALLOC_STATS_DIR/liballoc-stats.PID
 * (default /tmp), created as a temporary file and renamed into place.
 * LIBALLOC_STATS=1: the same text is printed on stderr at exit.
 *
 * Contracts: the signal handler only write()s one byte to a pipe (it is
 * async-signal-safe and never touches the allocator); a helper thread, with
 * every signal blocked, takes the snapshot through la_stats() (found with
 * dlsym, so liballoc may come from LD_PRELOAD or from the program's own
 * link) and writes the file.  Without la_stats it warns once and does nothing.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liballoc.h>
#include "../stat_signal.h"

typedef int (*stats_fn)(struct la_stats *);

static stats_fn get_stats;
static int wake[2] = { -1, -1 };

static void warn(const char *msg)
{
	if (write(2, msg, strlen(msg)) < 0)
		return;
}

/* The stable text format, one "name value" per line (names as in
 * la_print_stats), into buf; returns the length. */
static int format_stats(char *buf, size_t size)
{
	struct la_stats st = { .version = LA_STATS_VERSION, .size = sizeof(st) };
	static const char *const names[] = {
		"bytes_in_use", "bytes_huge", "bytes_thread_cached[0]",
		"bytes_thread_cached[1]", "bytes_thread_cached[2]",
		"bytes_abandoned_cached[0]", "bytes_abandoned_cached[1]",
		"bytes_abandoned_cached[2]", "bytes_pool_dirty", "bytes_pool_clean",
		"bytes_mapped", "bytes_resident", "segments", "threads",
		"count_mmap", "count_munmap", "count_madvise", "count_mremap",
		"count_flush_requests", "monitor_source", "monitor_wait",
		"monitor_events", "monitor_released", "monitor_reported",
		"monitor_last_latency_ns", "decay_released", "tcache_cap_sum",
		"bytes_thread_retained[0]", "bytes_thread_retained[1]",
		"bytes_thread_retained[2]", "counter_pool_dirty",
		"counter_thread_retained[0]", "counter_thread_retained[1]",
		"counter_thread_retained[2]", "counter_abandoned_cached[0]",
		"counter_abandoned_cached[1]", "counter_abandoned_cached[2]",
		"bytes_huge_cached", "monitor_scope", "monitor_cgroup_id",
	};
	const uint64_t *v = &st.bytes_in_use;
	size_t nfields;
	int n;

	if (get_stats(&st))
		return 0;
	/* the library may be older (fewer fields) than this header */
	nfields = (st.size - offsetof(struct la_stats, bytes_in_use)) / sizeof(uint64_t);
	if (nfields > sizeof(names) / sizeof(names[0]))
		nfields = sizeof(names) / sizeof(names[0]);
	n = snprintf(buf, size, "liballoc_stats_version %u\npid %ld\n", st.version,
		     (long)getpid());
	for (size_t i = 0; i < nfields && n > 0 && (size_t)n < size; i++)
		n += snprintf(buf + n, size - (size_t)n, "%s %llu\n", names[i],
			      (unsigned long long)v[i]);
	return n > 0 && (size_t)n < size ? n : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void dump_file(void)
{
	const char *dir = getenv("LIBALLOC_STATS_DIR");
	char path[4096], tmp[4200], buf[4096];
	int n = format_stats(buf, sizeof(buf)), fd;

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/liballoc-stats.%ld", dir, (long)getpid());
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		warn("liballoc-stat.so: cannot create the statistics file\n");
		return;
	}
	if (!n || write_all(fd, buf, (size_t)n) || close(fd) || rename(tmp, path)) {
		unlink(tmp);
		warn("liballoc-stat.so: cannot write the statistics file\n");
	}
}

static void on_signal(int sig)
{
	int saved = errno;
	char c = 1;

	(void)sig;
	if (write(wake[1], &c, 1) < 0)
		errno = saved;
	errno = saved;
}

static void *dumper(void *arg)
{
	char c;

	(void)arg;
	for (;;) {
		ssize_t r = read(wake[0], &c, 1);

		if (r == 1)
			dump_file();
		else if (r < 0 && errno != EINTR)
			return NULL;
	}
}

static void at_exit_dump(void)
{
	char buf[4096];
	int n = format_stats(buf, sizeof(buf));

	if (n)
		write_all(2, buf, (size_t)n);
}

__attribute__((constructor)) static void liballoc_stat_init(void)
{
	const char *sig = getenv("LIBALLOC_STATS_SIGNAL");
	const char *at_exit = getenv("LIBALLOC_STATS");
	struct sigaction sa;
	sigset_t all, old;
	pthread_t t;
	int signo;

	if (!sig && !(at_exit && !strcmp(at_exit, "1")))
		return;
	get_stats = (stats_fn)dlsym(RTLD_DEFAULT, "la_stats");
	if (!get_stats) {
		warn("liballoc-stat.so: la_stats not found (is liballoc loaded?); statistics off\n");
		return;
	}
	if (at_exit && !strcmp(at_exit, "1"))
		atexit(at_exit_dump);
	if (!sig)
		return;
	signo = parse_signal(sig);
	if (!signo) {
		warn("liballoc-stat.so: invalid LIBALLOC_STATS_SIGNAL (use USR1, USR2, RTMIN+N or a number)\n");
		return;
	}
	if (pipe2(wake, O_CLOEXEC)) {
		warn("liballoc-stat.so: pipe failed; statistics signal off\n");
		return;
	}
	/* the thread starts with every signal blocked, so it never runs handlers */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, dumper, NULL)) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		warn("liballoc-stat.so: cannot start its thread; statistics signal off\n");
		return;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_detach(t);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(signo, &sa, NULL);
}
