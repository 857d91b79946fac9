// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify-watch: subscribe to /dev/memnotify and print every event as it
 * arrives, one line each (human-readable, or JSON lines with --json); inject
 * events (root); print the module's statistics.  See memnotify-watch --help
 * and memnotify(4).
 *
 * Contracts: one self-contained C11 file (libc and the UAPI header only, so
 * it builds as a static musl binary for the VM images); stdout is flushed
 * after every line; every error is one line on stderr and a non-zero exit:
 * 1 runtime error, 2 bad usage, 3 --timeout expired before --count events.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/memnotify.h>

#define PROG		"memnotify-watch"
#define VERSION		"1.0"
#define DEFAULT_DEV	"/dev/memnotify"
#define STATS_DIR	"/sys/module/memnotify/stats"
#define MAX_INJECT	16
#define MAX_RECORD	4096	/* largest record size accepted from a later ABI */

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

static const char *const type_names[] = {
	"pressure", "reclaim", "idle", "active", "exited"
};
#define NR_TYPES	((int)(sizeof(type_names) / sizeof(type_names[0])))
static const char *const level_names[] = { "none", "low", "medium", "critical" };
static const char *const source_names[] = {
	"none", "shrinker", "threshold", "oom", "idle", "inject"
};

static void die(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/* Print "memnotify-watch: <message>" on stderr and exit with code. */
static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void usage(FILE *f)
{
	fputs("Usage: " PROG " [OPTION]...\n"
	      "Print memnotify events as they arrive (see memnotify(4)).\n"
	      "\n"
	      "  -e, --events LIST       event types to receive, comma-separated:\n"
	      "                          pressure,reclaim,idle,active or all\n"
	      "                          (default: pressure,reclaim)\n"
	      "  -i, --idle-period MS    idle period in milliseconds (50..3600000)\n"
	      "  -p, --idle-threshold PPM  idle below PPM parts per million of a CPU\n"
	      "                          (1..1000000)\n"
	      "  -c, --count N           exit 0 after N events\n"
	      "  -t, --timeout MS        stop after MS milliseconds: exit 0, or 3 when\n"
	      "                          --count events had not arrived by then\n"
	      "  -j, --json              JSON lines instead of text\n"
	      "  -I, --inject TYPE[:ARG] inject an event to every subscriber (root);\n"
	      "                          TYPE pressure:low|medium|critical, reclaim[:BYTES],\n"
	      "                          idle or active; repeatable.  Alone: inject and\n"
	      "                          exit; with --count or --timeout: subscribe first,\n"
	      "                          inject, then print events\n"
	      "  -s, --stats             print the module's statistics and exit\n"
	      "  -d, --device PATH       device to open (default " DEFAULT_DEV ")\n"
	      "  -h, --help              this help\n"
	      "  -V, --version           version\n"
	      "\n"
	      "Exit status: 0 success, 1 runtime error, 2 bad usage,\n"
	      "3 timeout before --count events.\n", f);
}

/* Parse a decimal unsigned number in [lo, hi] or exit with a usage error. */
static uint64_t parse_num(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		die(EXIT_USAGE, "%s: '%s' is not a number", opt, s);
	v = strtoull(s, &end, 10);
	if (errno || *end)
		die(EXIT_USAGE, "%s: '%s' is not a number", opt, s);
	if (v < lo || v > hi)
		die(EXIT_USAGE, "%s: %llu is out of range %" PRIu64 "..%" PRIu64,
		    opt, v, lo, hi);
	return v;
}

/* Index of name in names[], or -1. */
static int lookup(const char *name, size_t len, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && !strncmp(names[i], name, len))
			return i;
	return -1;
}

/* "pressure,idle" -> event mask; "all" -> every type. */
static uint32_t parse_events(const char *s)
{
	uint32_t mask = 0;
	const char *p = s;

	for (;;) {
		size_t len = strcspn(p, ",");
		int i = lookup(p, len, type_names, NR_TYPES);

		if (len == 3 && !strncmp(p, "all", 3))
			mask |= MEMNOTIFY_EVENT_ALL;
		else if (i >= 0)
			mask |= 1u << i;
		else
			die(EXIT_USAGE, "--events: unknown event type '%.*s' "
			    "(valid: pressure, reclaim, idle, active, exited, all)", (int)len, p);
		if (!p[len])
			break;
		p += len + 1;
	}
	return mask;
}

/* "pressure:critical", "reclaim:100", "idle" -> an INJECT_ALL request. */
static struct memnotify_inject parse_inject(const char *s)
{
	struct memnotify_inject in = { .flags = MEMNOTIFY_INJECT_ALL };
	const char *colon = strchr(s, ':');
	size_t len = colon ? (size_t)(colon - s) : strlen(s);
	int t = lookup(s, len, type_names, NR_TYPES);

	if (t < 0)
		die(EXIT_USAGE, "--inject: unknown event type '%.*s' "
		    "(valid: pressure, reclaim, idle, active, exited)", (int)len, s);
	in.type = 1u << t;
	if (in.type == MEMNOTIFY_EVENT_PRESSURE) {
		int l = colon ? lookup(colon + 1, strlen(colon + 1), level_names, 4) : -1;

		if (l <= 0)
			die(EXIT_USAGE, "--inject: pressure needs a level: "
			    "pressure:low, pressure:medium or pressure:critical");
		in.level = (uint32_t)l;
	} else if (in.type == MEMNOTIFY_EVENT_RECLAIM) {
		/* Default: one page. */
		in.reclaim_bytes = colon ? parse_num("--inject reclaim", colon + 1, 1,
						     UINT64_MAX) :
				   (uint64_t)sysconf(_SC_PAGESIZE);
	} else if (colon) {
		die(EXIT_USAGE, "--inject: %s takes no argument", type_names[t]);
	}
	return in;
}

static const char *name_of(uint32_t v, const char *const *names, uint32_t n,
			   char *buf, size_t size)
{
	if (v < n)
		return names[v];
	snprintf(buf, size, "unknown(%" PRIu32 ")", v);
	return buf;
}

static const char *type_of(uint32_t type, char *buf, size_t size)
{
	switch (type) {
	case MEMNOTIFY_EVENT_PRESSURE: return "pressure";
	case MEMNOTIFY_EVENT_RECLAIM: return "reclaim";
	case MEMNOTIFY_EVENT_IDLE: return "idle";
	case MEMNOTIFY_EVENT_ACTIVE: return "active";
	case MEMNOTIFY_EVENT_EXITED: return "exited";
	}
	snprintf(buf, size, "unknown(%" PRIu32 ")", type);
	return buf;
}

static void mask_string(uint32_t mask, char *buf, size_t size, bool json)
{
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; i < NR_TYPES; i++) {
		if (!(mask & (1u << i)))
			continue;
		n += (size_t)snprintf(buf + n, size - n, json ? "%s\"%s\"" : "%s%s",
				      n ? "," : "", type_names[i]);
		if (n >= size)
			break;
	}
	if (!n && !json)
		snprintf(buf, size, "none");
}

static void upper(char *dst, const char *src, size_t size)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < size; i++)
		dst[i] = (src[i] >= 'a' && src[i] <= 'z') ? (char)(src[i] - 32) : src[i];
	dst[i] = 0;
}

static void flush_out(void)
{
	if (fflush(stdout) || ferror(stdout))
		die(EXIT_RUNTIME, "writing output: %s", strerror(errno));
}

/*
 * One record, one line.  RECLAIM shows the bytes asked for and the
 * request_seq they go up to; IDLE and ACTIVE the group's CPU use in ppm.
 * The JSON form always has every field.
 */
static void print_event(const struct memnotify_event *ev, bool json)
{
	char tb[32], lb[32], sb[32], tu[32], lu[32], extra[64] = "";
	const char *type = type_of(ev->type, tb, sizeof(tb));
	const char *level = name_of(ev->level, level_names, 4, lb, sizeof(lb));
	const char *source = name_of(ev->source, source_names, 6, sb, sizeof(sb));
	bool cpu = ev->type == MEMNOTIFY_EVENT_IDLE || ev->type == MEMNOTIFY_EVENT_ACTIVE;

	if (json) {
		printf("{\"event\":\"%s\",\"level\":\"%s\",\"source\":\"%s\","
		       "\"seq\":%llu,\"timestamp_ns\":%llu,\"flags\":%u,"
		       "\"reclaim_bytes\":%llu,\"request_seq\":%llu,\"cpu_ppm\":%llu,",
		       type, level, source, (unsigned long long)ev->seq,
		       (unsigned long long)ev->timestamp_ns, (unsigned int)ev->flags,
		       (unsigned long long)ev->reclaim_bytes,
		       (unsigned long long)ev->request_seq,
		       (unsigned long long)ev->cpu_ppm);
		printf("\"free_bytes\":%llu,\"avail_bytes\":%llu,\"dropped\":%llu}\n",
		       (unsigned long long)ev->free_bytes,
		       (unsigned long long)ev->avail_bytes,
		       (unsigned long long)ev->dropped);
	} else {
		upper(tu, type, sizeof(tu));
		upper(lu, level, sizeof(lu));
		if (ev->type == MEMNOTIFY_EVENT_RECLAIM)
			snprintf(extra, sizeof(extra), " request_seq=%llu",
				 (unsigned long long)ev->request_seq);
		if (ev->flags & MEMNOTIFY_RECORD_COALESCED)
			strcat(extra, " coalesced");
		printf("%-8s level=%-8s source=%-9s seq=%llu time=%llu.%09llu "
		       "%s=%llu%s free_bytes=%llu avail_bytes=%llu dropped=%llu\n",
		       tu, lu, source, (unsigned long long)ev->seq,
		       (unsigned long long)(ev->timestamp_ns / 1000000000u),
		       (unsigned long long)(ev->timestamp_ns % 1000000000u),
		       cpu ? "cpu_ppm" : "reclaim_bytes",
		       (unsigned long long)(cpu ? ev->cpu_ppm : ev->reclaim_bytes),
		       extra,
		       (unsigned long long)ev->free_bytes,
		       (unsigned long long)ev->avail_bytes,
		       (unsigned long long)ev->dropped);
	}
	flush_out();
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Every file of /sys/module/memnotify/stats, sorted by name. */
static int print_stats(bool json)
{
	struct dirent **ents;
	int n = scandir(STATS_DIR, &ents, not_dot, by_name);

	if (n < 0)
		die(EXIT_RUNTIME, "%s: %s (is the memnotify module loaded?)", STATS_DIR,
		    strerror(errno));
	if (json)
		putchar('{');
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX], buf[64], *end;
		unsigned long long v;
		ssize_t len;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", STATS_DIR, ents[i]->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die(EXIT_RUNTIME, "%s: %s", path, strerror(errno));
		len = read(fd, buf, sizeof(buf) - 1);
		if (len < 0)
			die(EXIT_RUNTIME, "%s: %s", path, strerror(errno));
		close(fd);
		buf[len] = 0;
		errno = 0;
		v = strtoull(buf, &end, 10);
		if (errno || end == buf || (*end && *end != '\n'))
			die(EXIT_RUNTIME, "%s: not a decimal number", path);
		if (json)
			printf("%s\"%s\":%llu", i ? "," : "", ents[i]->d_name, v);
		else
			printf("%s %llu\n", ents[i]->d_name, v);
		free(ents[i]);
	}
	free(ents);
	if (json)
		puts("}");
	flush_out();
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "idle-period", required_argument, NULL, 'i' },
		{ "idle-threshold", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "inject", required_argument, NULL, 'I' },
		{ "stats", no_argument, NULL, 's' },
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct memnotify_inject inject[MAX_INJECT];
	struct memnotify_version ver;
	struct memnotify_idle idle;
	const char *dev = DEFAULT_DEV;
	uint32_t mask = MEMNOTIFY_MASK_DEFAULT;
	uint64_t count = 0, timeout = 0, period = 0, ppm = 0, seen = 0, deadline = 0;
	bool json = false, stats = false, have_timeout = false;
	int ninject = 0, fd, c;
	char mb[64];

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":e:i:p:c:t:jI:sd:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'e': mask = parse_events(optarg); break;
		case 'i':
			period = parse_num("--idle-period", optarg, MEMNOTIFY_IDLE_PERIOD_MIN_MS,
					   MEMNOTIFY_IDLE_PERIOD_MAX_MS);
			break;
		case 'p': ppm = parse_num("--idle-threshold", optarg, 1, 1000000); break;
		case 'c': count = parse_num("--count", optarg, 1, UINT64_MAX); break;
		case 't':
			timeout = parse_num("--timeout", optarg, 0, (uint64_t)INT32_MAX);
			have_timeout = true;
			break;
		case 'j': json = true; break;
		case 'I':
			if (ninject == MAX_INJECT)
				die(EXIT_USAGE, "--inject: at most %d events", MAX_INJECT);
			inject[ninject++] = parse_inject(optarg);
			break;
		case 's': stats = true; break;
		case 'd': dev = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': puts(PROG " " VERSION); return 0;
		case ':':
			die(EXIT_USAGE, "option '%s' needs an argument (see --help)",
			    argv[optind - 1]);
		default:
			if (optopt)
				die(EXIT_USAGE, "unknown option '-%c' (see --help)", optopt);
			die(EXIT_USAGE, "unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
	if (stats) {
		if (ninject || count || have_timeout)
			die(EXIT_USAGE, "--stats cannot be combined with --inject, --count or --timeout");
		return print_stats(json);
	}

	fd = open(dev, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		die(EXIT_RUNTIME, "%s: %s%s", dev, strerror(errno),
		    errno == ENOENT ? " (is the memnotify module loaded?)" : "");
	if (ioctl(fd, MEMNOTIFY_IOC_GET_VERSION, &ver))
		die(EXIT_RUNTIME, "%s: GET_VERSION: %s (not a memnotify device?)", dev,
		    strerror(errno));
	/* A later version may append fields to records: they are skipped. */
	if (ver.abi_version < MEMNOTIFY_ABI_VERSION ||
	    ver.record_size < sizeof(struct memnotify_event) ||
	    ver.record_size > MAX_RECORD)
		die(EXIT_RUNTIME, "%s: ABI version %u with %u-byte records, this program "
		    "speaks version %u with %zu-byte records", dev, ver.abi_version,
		    ver.record_size, MEMNOTIFY_ABI_VERSION, sizeof(struct memnotify_event));

	/* Inject only, without watching. */
	if (ninject && !count && !have_timeout) {
		for (int i = 0; i < ninject; i++)
			if (ioctl(fd, MEMNOTIFY_IOC_INJECT, &inject[i]))
				die(EXIT_RUNTIME, "inject: %s%s", strerror(errno),
				    errno == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		return 0;
	}

	if (ioctl(fd, MEMNOTIFY_IOC_SET_MASK, &mask))
		die(EXIT_RUNTIME, "SET_MASK: %s", strerror(errno));
	if (ioctl(fd, MEMNOTIFY_IOC_GET_IDLE, &idle))
		die(EXIT_RUNTIME, "GET_IDLE: %s", strerror(errno));
	if (period || ppm) {
		if (period)
			idle.period_ms = (uint32_t)period;
		if (ppm)
			idle.threshold_ppm = (uint32_t)ppm;
		if (ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle))
			die(EXIT_RUNTIME, "SET_IDLE: %s", strerror(errno));
	}

	/* The first line says the subscription is in place. */
	mask_string(mask, mb, sizeof(mb), json);
	if (json)
		printf("{\"event\":\"subscribed\",\"device\":\"%s\",\"abi\":%u,\"mask\":[%s],"
		       "\"idle_period_ms\":%u,\"idle_threshold_ppm\":%u}\n", dev,
		       ver.abi_version, mb, idle.period_ms, idle.threshold_ppm);
	else
		printf("subscribed device=%s abi=%u mask=%s idle_period_ms=%u "
		       "idle_threshold_ppm=%u\n", dev, ver.abi_version, mb,
		       idle.period_ms, idle.threshold_ppm);
	flush_out();

	for (int i = 0; i < ninject; i++)
		if (ioctl(fd, MEMNOTIFY_IOC_INJECT, &inject[i]))
			die(EXIT_RUNTIME, "inject: %s%s", strerror(errno),
			    errno == EPERM ? " (needs CAP_SYS_ADMIN)" : "");

	if (have_timeout)
		deadline = now_ms() + timeout;
	while (!count || seen < count) {
		static unsigned char buf[16 * MAX_RECORD];
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int wait = -1, r;
		ssize_t n;

		if (have_timeout) {
			uint64_t now = now_ms();

			if (now >= deadline)
				return count ? EXIT_TIMEOUT : 0;
			wait = (int)(deadline - now);
		}
		r = poll(&pfd, 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die(EXIT_RUNTIME, "poll: %s", strerror(errno));
		if (!r)
			continue;
		n = read(fd, buf, 16 * (size_t)ver.record_size);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			die(EXIT_RUNTIME, "read: %s", strerror(errno));
		/* Records are walked by the size each one carries. */
		for (ssize_t off = 0; off < n && (!count || seen < count);) {
			struct memnotify_event ev = { 0 };
			__u16 size;

			memcpy(&size, buf + off, sizeof(size));
			if (size < MEMNOTIFY_HEADER_SIZE || size > n - off)
				die(EXIT_RUNTIME, "read: a %u-byte record at offset %zd of %zd",
				    size, off, n);
			memcpy(&ev, buf + off, size < sizeof(ev) ? size : sizeof(ev));
			print_event(&ev, json);
			off += size;
			seen++;
		}
	}
	return 0;
}
