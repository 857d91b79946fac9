// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify-watch (/bin/memnotify-watch in the images): events injected as
 * root on another fd show up in its text and JSON output; --inject, --stats
 * (both formats), timeouts, and bad options (non-zero exit, one clear line).
 * Runs as root with memnotify.ko loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/memnotify.h>

#include "tools_test.h"

#define WATCH		"/bin/memnotify-watch"
#define DEV		"/dev/memnotify"
#define STAT_DIR	"/sys/module/memnotify/stats/"
#define LINE_MS		20000	/* generous: TCG under a loaded host */

struct proc {
	pid_t pid;
	int out;	/* the child's stdout */
	int err;	/* the child's stderr */
};

/* Start WATCH with argv (NULL-terminated, argv[0] included); uid >= 0
 * drops to that user first.  Returns 0 or -1. */
static int spawn(struct proc *p, char *const argv[], int uid)
{
	int o[2], e[2];

	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC))
		return -1;
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (!p->pid) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		if (uid >= 0 && (setgid((gid_t)uid) || setuid((uid_t)uid)))
			_exit(126);
		execv(WATCH, argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	p->out = o[0];
	p->err = e[0];
	return 0;
}

/* One line (without '\n') from fd within timeout_ms; returns its length,
 * or -1 on timeout or end of file. */
static int read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t n = 0;

	while (n + 1 < size) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char c;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		if (read(fd, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = 0;
	return (int)n;
}

/* Everything left on fd until end of file. */
static void read_all(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
}

/* Exit status of the child, or -1 if it did not exit normally. */
static int finish(struct proc *p)
{
	int st;

	close(p->out);
	close(p->err);
	if (waitpid(p->pid, &st, 0) != p->pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run to completion; stdout/stderr captured; returns the exit status. */
static int run(char *const argv[], int uid, char *out, size_t osz, char *err, size_t esz)
{
	struct proc p;
	int st;

	if (spawn(&p, argv, uid))
		return -1;
	read_all(p.out, out, osz);
	read_all(p.err, err, esz);
	close(p.out);
	close(p.err);
	if (waitpid(p.pid, &st, 0) != p.pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int inject(__u32 type, __u32 level, __u64 bytes)
{
	struct memnotify_inject in = {
		.type = type, .level = level, .flags = MEMNOTIFY_INJECT_ALL,
		.reclaim_bytes = bytes,
	};
	int fd = open(DEV, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = ioctl(fd, MEMNOTIFY_IOC_INJECT, &in);
	close(fd);
	return r;
}

static unsigned long long stat_value(const char *name)
{
	char path[128], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), STAT_DIR "%s", name);
	f = fopen(path, "r");
	if (!f)
		return ~0ull;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strtoull(buf, NULL, 10);
}

static int starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

TEST(text_output_shows_injected_events)
{
	char *argv[] = { WATCH, "--events", "all", "--idle-period", "3600000",
			 "--count", "4", "--timeout", "60000", NULL };
	char line[512];
	struct proc p;

	ASSERT_EQ(0, spawn(&p, argv, -1));
	ASSERT_LT(0, read_line(p.out, line, sizeof(line), LINE_MS));
	ASSERT_TRUE(starts(line, "subscribed device=/dev/memnotify abi=2 "
			   "mask=pressure,reclaim,idle,active,exited idle_period_ms=3600000 "))
		TH_LOG("first line: %s", line);

	/*
	 * One at a time: a pending RECLAIM is read before queued records, so
	 * the order of the lines is fixed only if each is read before the next
	 * event is raised.
	 */
	ASSERT_EQ(0, inject(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_CRITICAL, 0));
	ASSERT_LT(0, read_line(p.out, line, sizeof(line), LINE_MS));
	EXPECT_TRUE(starts(line, "PRESSURE level=CRITICAL source=inject    seq=1 time="))
		TH_LOG("line: %s", line);
	EXPECT_TRUE(strstr(line, " reclaim_bytes=0 free_bytes=") && strstr(line, " dropped=0"))
		TH_LOG("line: %s", line);
	ASSERT_EQ(0, inject(MEMNOTIFY_EVENT_RECLAIM, 0, 42));
	ASSERT_LT(0, read_line(p.out, line, sizeof(line), LINE_MS));
	EXPECT_TRUE(starts(line, "RECLAIM  level=NONE     source=inject    seq=2 "))
		TH_LOG("line: %s", line);
	EXPECT_TRUE(strstr(line, " reclaim_bytes=42 request_seq=1 free_bytes=") != NULL)
		TH_LOG("line: %s", line);
	ASSERT_EQ(0, inject(MEMNOTIFY_EVENT_IDLE, 0, 0));
	ASSERT_LT(0, read_line(p.out, line, sizeof(line), LINE_MS));
	EXPECT_TRUE(starts(line, "IDLE     level=NONE     source=inject    seq=3 "))
		TH_LOG("line: %s", line);
	EXPECT_TRUE(strstr(line, " cpu_ppm=0 ") != NULL) TH_LOG("line: %s", line);
	ASSERT_EQ(0, inject(MEMNOTIFY_EVENT_ACTIVE, 0, 0));
	ASSERT_LT(0, read_line(p.out, line, sizeof(line), LINE_MS));
	EXPECT_TRUE(starts(line, "ACTIVE   level=NONE     source=inject    seq=4 "))
		TH_LOG("line: %s", line);
	/* --count 4 reached: end of output, exit 0 */
	EXPECT_EQ(-1, read_line(p.out, line, sizeof(line), LINE_MS));
	EXPECT_EQ(0, finish(&p));
}

TEST(json_output_shows_injected_events)
{
	char *argv[] = { WATCH, "--json", "--events", "pressure,reclaim,active",
			 "--count", "3", "--timeout", "60000", NULL };
	char line[512];
	struct proc p;

	ASSERT_EQ(0, spawn(&p, argv, -1));
	ASSERT_LT(0, read_line(p.out, line, sizeof(line), LINE_MS));
	ASSERT_TRUE(starts(line, "{\"event\":\"subscribed\",\"device\":\"/dev/memnotify\","
			   "\"abi\":2,\"mask\":[\"pressure\",\"reclaim\",\"active\"],"))
		TH_LOG("first line: %s", line);

	/* IDLE is outside the mask: the watcher must not see it */
	ASSERT_EQ(0, inject(MEMNOTIFY_EVENT_IDLE, 0, 0));
	ASSERT_EQ(0, inject(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_MEDIUM, 0));
	ASSERT_LT(0, read_line(p.out, line, sizeof(line), LINE_MS));
	EXPECT_TRUE(starts(line, "{\"event\":\"pressure\",\"level\":\"medium\","
			   "\"source\":\"inject\",\"seq\":1,\"timestamp_ns\":"))
		TH_LOG("line: %s", line);
	EXPECT_TRUE(strstr(line, ",\"flags\":0,\"reclaim_bytes\":0,\"request_seq\":0,"
			   "\"cpu_ppm\":0,\"free_bytes\":") &&
		    strstr(line, ",\"dropped\":0}") && line[strlen(line) - 1] == '}')
		TH_LOG("line: %s", line);
	ASSERT_EQ(0, inject(MEMNOTIFY_EVENT_RECLAIM, 0, 7));
	ASSERT_LT(0, read_line(p.out, line, sizeof(line), LINE_MS));
	EXPECT_TRUE(starts(line, "{\"event\":\"reclaim\",\"level\":\"none\","
			   "\"source\":\"inject\",\"seq\":2,"))
		TH_LOG("line: %s", line);
	EXPECT_TRUE(strstr(line, ",\"reclaim_bytes\":7,\"request_seq\":1,") != NULL)
		TH_LOG("line: %s", line);
	ASSERT_EQ(0, inject(MEMNOTIFY_EVENT_ACTIVE, 0, 0));
	ASSERT_LT(0, read_line(p.out, line, sizeof(line), LINE_MS));
	EXPECT_TRUE(starts(line, "{\"event\":\"active\",\"level\":\"none\","
			   "\"source\":\"inject\",\"seq\":3,"))
		TH_LOG("line: %s", line);
	EXPECT_TRUE(strstr(line, ",\"cpu_ppm\":0,") != NULL) TH_LOG("line: %s", line);
	EXPECT_EQ(-1, read_line(p.out, line, sizeof(line), LINE_MS));
	EXPECT_EQ(0, finish(&p));
}

TEST(inject_option_reaches_a_watcher)
{
	char *watch[] = { WATCH, "--count", "1", "--timeout", "60000", NULL };
	char *inj[] = { WATCH, "--inject", "reclaim:5", NULL };
	char line[512], out[256], err[256];
	struct proc p;

	ASSERT_EQ(0, spawn(&p, watch, -1));
	ASSERT_LT(0, read_line(p.out, line, sizeof(line), LINE_MS));
	ASSERT_TRUE(starts(line, "subscribed ")) TH_LOG("first line: %s", line);
	ASSERT_EQ(0, run(inj, -1, out, sizeof(out), err, sizeof(err)))
		TH_LOG("stderr: %s", err);
	EXPECT_STREQ("", out);
	ASSERT_LT(0, read_line(p.out, line, sizeof(line), LINE_MS));
	EXPECT_TRUE(starts(line, "RECLAIM  level=NONE     source=inject    seq=1 "))
		TH_LOG("line: %s", line);
	EXPECT_TRUE(strstr(line, " reclaim_bytes=5 request_seq=1 ") != NULL)
		TH_LOG("line: %s", line);
	EXPECT_EQ(0, finish(&p));
}

TEST(inject_needs_root)
{
	char *argv[] = { WATCH, "--inject", "pressure:low", NULL };
	char out[256], err[512];

	EXPECT_EQ(1, run(argv, 65534, out, sizeof(out), err, sizeof(err)));
	EXPECT_STREQ("memnotify-watch: inject: Operation not permitted (needs CAP_SYS_ADMIN)\n",
		     err);
}

TEST(stats_text)
{
	char *argv[] = { WATCH, "--stats", NULL };
	static char out[4096];
	char err[256], name[64], *line, *save;
	unsigned long long v, injected = stat_value("injected");
	int lines = 0, seen_injected = 0, seen_opens = 0;

	ASSERT_NE(~0ull, injected);
	ASSERT_EQ(0, run(argv, -1, out, sizeof(out), err, sizeof(err))) TH_LOG("stderr: %s", err);
	EXPECT_STREQ("", err);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char extra;

		ASSERT_EQ(2, sscanf(line, "%63s %llu%c", name, &v, &extra))
			TH_LOG("not 'name value': %s", line);
		if (!strcmp(name, "injected")) {
			seen_injected = 1;
			EXPECT_LE(injected, v);
		}
		if (!strcmp(name, "opens"))
			seen_opens = v > 0;
		lines++;
	}
	EXPECT_TRUE(seen_injected);
	EXPECT_TRUE(seen_opens);
	EXPECT_LE(20, lines);
}

TEST(stats_json)
{
	char *argv[] = { WATCH, "--stats", "--json", NULL };
	static char out[4096];
	char err[256];
	size_t n;

	ASSERT_EQ(0, run(argv, -1, out, sizeof(out), err, sizeof(err))) TH_LOG("stderr: %s", err);
	n = strlen(out);
	ASSERT_LT(2, n);
	EXPECT_EQ('{', out[0]);
	EXPECT_EQ('}', out[n - 2]);
	EXPECT_EQ('\n', out[n - 1]);
	EXPECT_EQ(out + n - 1, strchr(out, '\n')) TH_LOG("more than one line: %s", out);
	EXPECT_TRUE(strstr(out, "\"injected\":") && strstr(out, "\"subscribers_peak\":"))
		TH_LOG("out: %s", out);
}

TEST(timeout_before_count_exits_3)
{
	char *argv[] = { WATCH, "--events", "reclaim", "--count", "1", "--timeout", "200", NULL };
	char *plain[] = { WATCH, "--events", "reclaim", "--timeout", "100", NULL };
	char out[512], err[256];

	EXPECT_EQ(3, run(argv, -1, out, sizeof(out), err, sizeof(err)));
	EXPECT_TRUE(starts(out, "subscribed ")) TH_LOG("out: %s", out);
	EXPECT_EQ(0, run(plain, -1, out, sizeof(out), err, sizeof(err)));
}

TEST(bad_options_fail_with_one_line)
{
	char *bogus[] = { WATCH, "--bogus", NULL };
	char *events[] = { WATCH, "--events", "pressure,nope", NULL };
	char *count[] = { WATCH, "--count", "0", NULL };
	char *level[] = { WATCH, "--inject", "pressure", NULL };
	char out[256], err[512];

	EXPECT_EQ(2, run(bogus, -1, out, sizeof(out), err, sizeof(err)));
	EXPECT_STREQ("", out);
	EXPECT_STREQ("memnotify-watch: unknown option '--bogus' (see --help)\n", err);
	EXPECT_EQ(2, run(events, -1, out, sizeof(out), err, sizeof(err)));
	EXPECT_STREQ("memnotify-watch: --events: unknown event type 'nope' "
		     "(valid: pressure, reclaim, idle, active, exited, all)\n", err);
	EXPECT_EQ(2, run(count, -1, out, sizeof(out), err, sizeof(err)));
	EXPECT_TRUE(starts(err, "memnotify-watch: --count: 0 is out of range")) TH_LOG("%s", err);
	EXPECT_EQ(2, run(level, -1, out, sizeof(out), err, sizeof(err)));
	EXPECT_TRUE(starts(err, "memnotify-watch: --inject: pressure needs a level"))
		TH_LOG("%s", err);
}

TEST_HARNESS_MAIN
