// SPDX-License-Identifier: GPL-2.0
/*
 * liballoc-stat: print a running process's liballoc statistics.
 *
 *   liballoc-stat [--timeout MS] PID
 *
 * The process must run with liballoc and the liballoc-stat.so helper
 * preloaded and LIBALLOC_STATS_SIGNAL set (see liballoc(3)).  The tool reads
 * LIBALLOC_STATS_SIGNAL and LIBALLOC_STATS_DIR from /proc/PID/environ,
 * removes an old $DIR/liballoc-stats.PID, sends the signal, waits for the
 * process to write the file again and copies it to stdout: "name value"
 * lines, the first "liballoc_stats_version N", then "pid N".
 *
 * Contracts: self-contained C11 (libc only); errors are one line on stderr
 * with exit 1 (runtime) or 2 (usage).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "stat_signal.h"

#define PROG "liballoc-stat"

static void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void usage(FILE *f)
{
	fputs("Usage: " PROG " [--timeout MS] PID\n"
	      "Print the liballoc statistics of process PID, which runs with\n"
	      "LD_PRELOAD=\"liballoc.so liballoc-stat.so\" and LIBALLOC_STATS_SIGNAL set.\n"
	      "  -t, --timeout MS  wait at most MS milliseconds (default 5000)\n"
	      "  -h, --help        this help\n", f);
}

static long parse_long(const char *what, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		die(2, "%s: '%s' is not a number in %ld..%ld", what, s, lo, hi);
	return v;
}

/* Value of NAME in the NUL-separated environment block, or NULL. */
static const char *env_of(const char *env, size_t len, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < len; i += strlen(env + i) + 1)
		if (!strncmp(env + i, name, nl) && env[i + nl] == '=')
			return env + i + nl + 1;
	return NULL;
}

int main(int argc, char **argv)
{
	static char env[1 << 16];
	char path[4200], buf[8192];
	const char *sigs, *dir;
	long pid, timeout = 5000;
	size_t len = 0;
	ssize_t r;
	int fd, sig, i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--timeout")) {
			if (++i == argc)
				die(2, "option '%s' needs an argument (see --help)", argv[i - 1]);
			timeout = parse_long("--timeout", argv[i], 0, 3600000);
		} else {
			die(2, "unknown option '%s' (see --help)", argv[i]);
		}
	}
	if (i != argc - 1)
		die(2, "expected one PID (see --help)");
	pid = parse_long("PID", argv[i], 1, 0x3fffffff);

	snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(1, "%s: %s", path, strerror(errno));
	while (len < sizeof(env) - 1 && (r = read(fd, env + len, sizeof(env) - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	env[len] = 0;
	sigs = env_of(env, len, "LIBALLOC_STATS_SIGNAL");
	if (!sigs)
		die(1, "process %ld has no LIBALLOC_STATS_SIGNAL in its environment "
		    "(start it with LD_PRELOAD=\"liballoc.so liballoc-stat.so\" "
		    "LIBALLOC_STATS_SIGNAL=USR2)", pid);
	sig = parse_signal(sigs);
	if (!sig)
		die(1, "process %ld has an invalid LIBALLOC_STATS_SIGNAL='%s'", pid, sigs);
	dir = env_of(env, len, "LIBALLOC_STATS_DIR");
	if (!dir || !*dir)
		dir = "/tmp";

	snprintf(path, sizeof(path), "%s/liballoc-stats.%ld", dir, pid);
	if (unlink(path) && errno != ENOENT)
		die(1, "%s: %s", path, strerror(errno));
	if (kill((pid_t)pid, sig))
		die(1, "cannot signal process %ld: %s", pid, strerror(errno));
	for (long waited = 0;; waited += 10) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != ENOENT)
			die(1, "%s: %s", path, strerror(errno));
		if (waited >= timeout)
			die(1, "no statistics from process %ld within %ld ms "
			    "(is liballoc-stat.so preloaded?)", pid, timeout);
		nanosleep(&ts, NULL);
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)r, stdout) != (size_t)r)
			die(1, "writing output: %s", strerror(errno));
	close(fd);
	if (fflush(stdout))
		die(1, "writing output: %s", strerror(errno));
	return 0;
}
