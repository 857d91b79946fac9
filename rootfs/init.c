// SPDX-License-Identifier: GPL-2.0
/*
 * Kimigayo init: PID 1 of the test rootfs.
 *
 * Mounts /proc, /sys, /dev (devtmpfs) and /tmp, loads /lib/modules/memnotify.ko
 * with finit_module (module parameters are taken from "memnotify.NAME=VALUE"
 * words on the kernel command line, as modprobe would), then either
 *   - runs every program in the suites under /tests (or under the directory
 *     given by kimigayo.run=DIR) and reports them as TAP 13, each program's
 *     own TAP nested under "# " as the kselftest runner does, or
 *   - with kimigayo.shell, starts BusyBox's shell on the console,
 * and powers the machine off.  With kimigayo.bench=boot it boots exactly as a
 * test run does up to the point where the first program would start, and
 * only reports (make bench-boot).  After the programs, a test run reports two
 * checks of its own as further TAP entries: that the module unloads
 * (rmmod), and, on kernels with kmemleak, that a scan after the unload finds
 * no new leak (leaks already present at boot are cleared before the module
 * is loaded).  A test run's verdict is the line
 *   kimigayo-result: status=pass|fail programs=N passed=N failed=N skipped=N boot_to_first_test_ms=N
 * Every run, test or bench, then describes the idle system in one line
 *   kimigayo-idle: init_ms=N first_test_ms=N mem_total_kb=N ... init_rss_kb=N
 * (times since the kernel started; memory from /proc/meminfo and init's own
 * /proc/self/smaps_rollup), read with static buffers only: once the programs
 * have run, init allocates nothing.
 *
 * Other command-line words: kimigayo.module=0 (do not load the module),
 * kimigayo.timeout=SECONDS (per program, default 900).  FUZZ_OPS=N,
 * FUZZ_SEED=N and STRESS_PERCENT=N (stress tests' size, 1-100), which the
 * kernel hands to init as environment variables, are passed on to the
 * programs.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MODULE_PATH "/lib/modules/memnotify.ko"
#define KMEMLEAK "/sys/kernel/debug/kmemleak"
#define KMEMLEAK_MIN_AGE_S 5	/* kmemleak ignores younger objects */
#define KSFT_SKIP 4
#define MAX_PROGRAMS 256

static char cmdline[4096];

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

/* Value of "kimigayo.KEY=" on the command line, or @def. */
static const char *option(const char *key, const char *def)
{
	static char val[256];
	char word[64];
	const char *p;
	size_t n;

	snprintf(word, sizeof(word), "kimigayo.%s", key);
	for (p = cmdline; (p = strstr(p, word)); p += strlen(word)) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		p += strlen(word);
		if (*p == ' ' || *p == '\0' || *p == '\n')
			return "1";
		if (*p != '=')
			continue;
		n = strcspn(++p, " \n");
		if (n >= sizeof(val))
			n = sizeof(val) - 1;
		memcpy(val, p, n);
		val[n] = '\0';
		return val;
	}
	return def;
}

static void mount_or_say(const char *src, const char *dst, const char *type)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, MS_NOSUID, NULL) && errno != EBUSY)
		say("# kimigayo: mount %s on %s: %s\n", type, dst, strerror(errno));
}

static void setup_console(void)
{
	int fd;

	mount_or_say("devtmpfs", "/dev", "devtmpfs");
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/* "memnotify.a=1 memnotify.b=2" on the command line -> "a=1 b=2". */
static void module_params(char *out, size_t size)
{
	const char *p = cmdline;
	size_t len = 0, n;

	out[0] = '\0';
	while ((p = strstr(p, "memnotify."))) {
		if (p != cmdline && p[-1] != ' ') {
			p++;
			continue;
		}
		p += strlen("memnotify.");
		n = strcspn(p, " \n");
		if (len + n + 2 < size) {
			memcpy(out + len, p, n);
			len += n;
			out[len++] = ' ';
			out[len] = '\0';
		}
		p += n;
	}
}

/* Returns 0 when loaded (or deliberately not), -1 on failure. */
static int module_loaded;

static int load_module(void)
{
	char params[1024];
	int fd, ret;

	if (!strcmp(option("module", "1"), "0")) {
		say("# kimigayo: memnotify not loaded (kimigayo.module=0)\n");
		return 0;
	}
	fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		say("# kimigayo: %s: %s\n", MODULE_PATH, strerror(errno));
		return -1;
	}
	module_params(params, sizeof(params));
	ret = syscall(SYS_finit_module, fd, params, 0);
	if (ret)
		say("# kimigayo: finit_module %s: %s\n", MODULE_PATH, strerror(errno));
	else
		say("# kimigayo: loaded %s %s\n", MODULE_PATH, params);
	module_loaded = !ret;
	close(fd);
	return ret ? -1 : 0;
}

static double boot_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct program {
	char path[256];
	char name[160];	/* "suite: program" */
};

static int is_program(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

static int skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* The programs of a run (find_programs), in the order they run. */
static struct program run_list[MAX_PROGRAMS];

/* Programs in DIR/<suite>/<program>, in alphabetical order. */
static int find_programs(const char *dir, struct program *progs, int max)
{
	struct dirent **suites, **files;
	int ns, nf, i, j, n = 0;
	char sub[256];

	ns = scandir(dir, &suites, skip_dot, alphasort);
	for (i = 0; i < ns; i++) {
		if (snprintf(sub, sizeof(sub), "%s/%s", dir,
			     suites[i]->d_name) >= (int)sizeof(sub))
			nf = 0;	/* a path this long is not one of ours */
		else
			nf = scandir(sub, &files, skip_dot, alphasort);
		for (j = 0; j < nf; j++) {
			struct program *p = &progs[n];

			if (n < max &&
			    snprintf(p->path, sizeof(p->path), "%s/%s", sub,
				     files[j]->d_name) < (int)sizeof(p->path) &&
			    snprintf(p->name, sizeof(p->name), "%s: %s",
				     suites[i]->d_name, files[j]->d_name) < (int)sizeof(p->name) &&
			    is_program(p->path))
				n++;
			free(files[j]);
		}
		if (nf > 0)
			free(files);
		free(suites[i]);
	}
	if (ns > 0)
		free(suites);
	return n;
}

/* Seconds since the kernel started: when init began, and when the first
 * program started (or would have, under kimigayo.bench=boot).
 */
static double init_started, first_test;

/* PATH's contents in a static buffer (overwritten by the next call); ""
 * when unreadable.  No allocation: safe for init once it is idle.
 */
static const char *read_proc(const char *path)
{
	static char buf[8192];
	ssize_t n, len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd < 0)
		return buf;
	while (len < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

/* The number after "KEY:" at the start of a line of @text, or -1. */
static long proc_field(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (*p) {
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return strtol(p + klen + 1, NULL, 10);
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return -1;
}

/*
 * One "kimigayo-idle:" line: when init started and reached the first
 * program, the system's memory by kind (/proc/meminfo, kB) and init's own
 * resident set now (smaps_rollup) and at its peak (VmHWM).
 */
static void report_idle(void)
{
	static const char *const meminfo[][2] = {
		{ "MemTotal", "mem_total_kb" },
		{ "MemFree", "mem_free_kb" },
		{ "MemAvailable", "mem_available_kb" },
		{ "Cached", "cached_kb" },
		{ "Shmem", "shmem_kb" },
		{ "AnonPages", "anon_kb" },
		{ "SReclaimable", "slab_reclaimable_kb" },
		{ "SUnreclaim", "slab_unreclaimable_kb" },
		{ "KernelStack", "kernel_stack_kb" },
		{ "PageTables", "page_tables_kb" },
		{ "Percpu", "percpu_kb" },
		{ "VmallocUsed", "vmalloc_kb" },
	};
	static char line[1024];
	const char *text = read_proc("/proc/meminfo");
	size_t i, len;

	len = snprintf(line, sizeof(line), "kimigayo-idle: init_ms=%d first_test_ms=%d",
		       (int)(init_started * 1000), (int)(first_test * 1000));
	for (i = 0; i < sizeof(meminfo) / sizeof(meminfo[0]); i++)
		len += snprintf(line + len, sizeof(line) - len, " %s=%ld",
				meminfo[i][1], proc_field(text, meminfo[i][0]));
	text = read_proc("/proc/self/smaps_rollup");
	len += snprintf(line + len, sizeof(line) - len, " init_rss_kb=%ld init_pss_kb=%ld",
			proc_field(text, "Rss"), proc_field(text, "Pss"));
	text = read_proc("/proc/self/status");
	snprintf(line + len, sizeof(line) - len, " init_hwm_kb=%ld\n",
		 proc_field(text, "VmHWM"));
	say("%s", line);
}

/* kimigayo.bench=boot: the test run's path up to its first program. */
static void bench_boot(const char *dir)
{
	int n = find_programs(dir, run_list, MAX_PROGRAMS);

	first_test = boot_seconds();
	say("# kimigayo: boot-to-first-test %.3f s (%d programs, not run)\n", first_test, n);
}

/*
 * Copies the child's output to the console, each line prefixed by "# ".
 * With @drain, reads until the pipe is empty and ends a partial last line.
 */
static void relay(int fd, char *buf, size_t *len, int drain)
{
	char *nl;
	ssize_t n;

	do {
		n = read(fd, buf + *len, 4095 - *len);
		if (n > 0)
			*len += n;
		buf[*len] = '\0';
		while ((nl = strchr(buf, '\n')) || *len == 4095 || (drain && n <= 0 && *len)) {
			size_t line = nl ? (size_t)(nl - buf) + 1 : *len;

			say("# %.*s%s", (int)line, buf, nl ? "" : "\n");
			memmove(buf, buf + line, *len - line + 1);
			*len -= line;
		}
	} while (drain && n > 0);
}

/* "NAME=value" from init's own environment, or an empty entry. */
static char *pass_env(const char *name)
{
	static char buf[2][128];
	static int next;
	const char *v = getenv(name);
	char *out = buf[next++ % 2];

	if (!v)
		return "KIMIGAYO_UNSET=";
	snprintf(out, sizeof(buf[0]), "%s=%s", name, v);
	return out;
}

/* Runs one program; returns its wait status, or -1 on timeout. */
static int run_program(const struct program *p, int timeout_s)
{
	char buf[4096];
	size_t len = 0;
	int pipefd[2], status = 0, ws, done = 0, open_pipe = 1;
	struct timespec start, now;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)p->path, NULL };
		char *envp[] = { "PATH=/bin:/sbin", "HOME=/tmp", "TMPDIR=/tmp",
				 pass_env("FUZZ_OPS"), pass_env("FUZZ_SEED"),
				 pass_env("STRESS_PERCENT"), NULL };

		setpgid(0, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		if (chdir("/tmp"))
			_exit(127);
		execve(p->path, argv, envp);
		dprintf(2, "exec %s: %s\n", p->path, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!done) {
		struct pollfd pfd = { .fd = open_pipe ? pipefd[0] : -1, .events = POLLIN };
		pid_t r;

		if (poll(&pfd, 1, 100) > 0) {
			if (pfd.revents & POLLIN)
				relay(pipefd[0], buf, &len, 0);
			else if (pfd.revents & (POLLHUP | POLLERR))
				open_pipe = 0;	/* every writer has gone */
		}
		/* Reap orphans too: PID 1 inherits them. */
		while ((r = waitpid(-1, &ws, WNOHANG)) > 0) {
			if (r == pid) {
				status = ws;
				done = 1;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!done && now.tv_sec - start.tv_sec >= timeout_s) {
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			say("# kimigayo: %s timed out after %d s\n", p->name, timeout_s);
			status = -1;
			done = 1;
		}
	}
	/* The program ended: relay what it left and kill its stragglers. */
	kill(-pid, SIGKILL);
	if (open_pipe) {
		fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
		relay(pipefd[0], buf, &len, 1);
	}
	close(pipefd[0]);
	return status;
}

static int kmemleak_on;

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return ret;
}

/*
 * cgroup2 on /sys/fs/cgroup with the memory controller enabled for the
 * root's children, so that tests can create cgroups with memory limits.
 */
static void setup_cgroup(void)
{
	const char *ctl = "/sys/fs/cgroup/cgroup.subtree_control";

	const char *err;

	mount_or_say("cgroup2", "/sys/fs/cgroup", "cgroup2");
	if (write_str(ctl, "+memory")) {
		err = strerror(errno);
		say("# kimigayo: +memory in %s: %s (controllers: %s)\n", ctl,
		    err, read_proc("/sys/fs/cgroup/cgroup.controllers"));
	}
}

/* Before the module loads: mark what the kernel itself leaked at boot as
 * known, so the final scan reports only what happened since.
 */
static void kmemleak_baseline(void)
{
	mount_or_say("debugfs", "/sys/kernel/debug", "debugfs");
	if (access(KMEMLEAK, W_OK))
		return;
	while (boot_seconds() < KMEMLEAK_MIN_AGE_S + 1)
		usleep(100000);
	if (write_str(KMEMLEAK, "scan") || write_str(KMEMLEAK, "clear")) {
		say("# kimigayo: %s: %s\n", KMEMLEAK, strerror(errno));
		return;
	}
	kmemleak_on = 1;
	say("# kimigayo: kmemleak baseline at %.1f s\n", boot_seconds());
}

/* Reports one check of init's own as a program with a single test. */
static int report_check(int num, const char *name, const char *failure)
{
	say("# selftests: kimigayo: %s\n# 1..1\n", name);
	if (failure) {
		say("# not ok 1 %s: %s\nnot ok %d selftests: kimigayo: %s\n",
		    name, failure, num, name);
		return 0;
	}
	say("# ok 1 %s\nok %d selftests: kimigayo: %s\n", name, num, name);
	return 1;
}

/* The module must unload once every program has ended (EWOULDBLOCK while a
 * straggler still holds /dev/memnotify: retry for a few seconds).
 */
static const char *check_rmmod(void)
{
	static char why[128];
	int tries;

	for (tries = 0; tries < 50; tries++) {
		if (!syscall(SYS_delete_module, "memnotify", O_NONBLOCK))
			return NULL;
		if (errno != EWOULDBLOCK && errno != EAGAIN)
			break;
		usleep(100000);
	}
	snprintf(why, sizeof(why), "delete_module: %s", strerror(errno));
	return why;
}

/* Scans once everything the module allocated is old enough to be judged;
 * every reported object is shown and fails the check.
 */
static const char *check_kmemleak(void)
{
	static char why[64];
	char line[512];
	double until = boot_seconds() + KMEMLEAK_MIN_AGE_S + 1;
	int leaks = 0;
	FILE *f;

	while (boot_seconds() < until)
		usleep(100000);
	if (write_str(KMEMLEAK, "scan"))
		return "writing scan failed";
	f = fopen(KMEMLEAK, "re");
	if (!f)
		return "cannot read the report";
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "unreferenced object", 19))
			leaks++;
		say("# # %s", line);
	}
	fclose(f);
	if (!leaks)
		return NULL;
	snprintf(why, sizeof(why), "%d unreferenced objects", leaks);
	return why;
}

static int run_tests(const char *dir)
{
	int n, i, failed = 0, passed = 0, skipped = 0;
	int timeout_s = atoi(option("timeout", "900"));

	n = find_programs(dir, run_list, MAX_PROGRAMS);
	say("TAP version 13\n1..%d\n", n + module_loaded + kmemleak_on);
	for (i = 0; i < n; i++) {
		double started;
		int st;

		if (i == 0) {
			first_test = boot_seconds();
			say("# kimigayo: boot-to-first-test %.3f s\n", first_test);
		}
		say("# selftests: %s\n", run_list[i].name);
		started = boot_seconds();
		st = run_program(&run_list[i], timeout_s > 0 ? timeout_s : 900);
		say("# kimigayo: %s took %.1f s\n", run_list[i].name, boot_seconds() - started);
		if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			passed++;
			say("ok %d selftests: %s\n", i + 1, run_list[i].name);
		} else if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == KSFT_SKIP) {
			skipped++;
			say("ok %d selftests: %s # SKIP\n", i + 1, run_list[i].name);
		} else {
			failed++;
			if (st != -1 && WIFSIGNALED(st))
				say("# kimigayo: killed by signal %d\n", WTERMSIG(st));
			else if (st != -1)
				say("# kimigayo: exit status %d\n", WEXITSTATUS(st));
			say("not ok %d selftests: %s\n", i + 1, run_list[i].name);
		}
	}
	if (module_loaded) {
		if (report_check(++n, "rmmod", check_rmmod()))
			passed++;
		else
			failed++;
	}
	if (kmemleak_on) {
		if (report_check(++n, "kmemleak", check_kmemleak()))
			passed++;
		else
			failed++;
	}
	say("kimigayo-result: status=%s programs=%d passed=%d failed=%d skipped=%d boot_to_first_test_ms=%d\n",
	    failed || n == 0 ? "fail" : "pass", n, passed, failed, skipped,
	    (int)(first_test * 1000));
	return failed;
}

static void run_shell(void)
{
	pid_t pid;

	if (!is_program("/bin/busybox")) {
		say("# kimigayo: this is the minimal image; the shell is in 'standard'\n");
		return;
	}
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "/bin/busybox", "--install", "-s", "/bin", NULL };

		execv(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	say("\nKimigayo standard: memnotify %s; tests under /tests. "
	    "Type 'poweroff -f' or exit the shell to stop the VM.\n\n",
	    access("/dev/memnotify", F_OK) ? "not loaded" : "loaded as /dev/memnotify");
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "/bin/sh", "-l", NULL };
		char *envp[] = { "PATH=/bin:/sbin", "HOME=/root", "TERM=vt100",
				 "PS1=kimigayo:\\w# ", NULL };

		setsid();
		ioctl(0, TIOCSCTTY, 1);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	while (waitpid(-1, NULL, 0) != pid)
		;
}

int main(void)
{
	int fd, ret;

	init_started = boot_seconds();
	setup_console();
	say("# kimigayo: init at %.3f s\n", init_started);
	mount_or_say("proc", "/proc", "proc");
	mount_or_say("sysfs", "/sys", "sysfs");
	mount_or_say("tmpfs", "/tmp", "tmpfs");
	setup_cgroup();
	mkdir("/root", 0700);
	fd = open("/proc/cmdline", O_RDONLY);
	if (fd >= 0) {
		ret = read(fd, cmdline, sizeof(cmdline) - 1);
		cmdline[ret > 0 ? ret : 0] = '\0';
		close(fd);
	}

	kmemleak_baseline();
	if (load_module()) {
		say("Bail out! memnotify.ko did not load\n");
		say("kimigayo-result: status=fail programs=0 passed=0 failed=1 skipped=0 boot_to_first_test_ms=0\n");
		power_off();
	}
	if (strcmp(option("shell", "0"), "0")) {
		run_shell();
	} else if (!strcmp(option("bench", ""), "boot")) {
		bench_boot(option("run", "/tests"));
		report_idle();
	} else {
		run_tests(option("run", "/tests"));
		report_idle();
	}
	power_off();
	return 0;
}
