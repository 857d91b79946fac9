/* liballoc must be invisible to the program it serves: exit status and
 * signals as without it, a single-threaded program stays single-threaded
 * (user namespaces), the program's fds are never touched, and fork from any
 * thread never hangs. Each scenario (invisible.h) runs in a fresh process:
 * this binary re-executed (liballoc linked in, glibc or static musl), and on
 * glibc hosts also invisible_prog without and with LD_PRELOAD=liballoc.so,
 * whose results must match. */
#include <poll.h>
#include <spawn.h>
#include "common.h"
#include "invisible.h"

extern char **environ;
#define LIB LA_BUILD_DIR "/liballoc.so"
#define PROG LA_BUILD_DIR "/tests/invisible_prog"

enum how { SELF, PLAIN, PRELOAD };

static int have(enum how h)
{
	return h == SELF || (access(LIB, R_OK) == 0 && access(PROG, X_OK) == 0);
}

/* Start a scenario with its stdout on a pipe; env without LIBALLOC_* (the
 * defaults are what is tested) and with LD_PRELOAD only for PRELOAD. */
static pid_t start(enum how h, const char *mode, int *out_fd)
{
	int po[2];
	if (pipe(po))
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_addclose(&fa, po[0]);
	char *envp[256];
	int n = 0;
	for (char **e = environ; *e && n < 250; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "LIBALLOC_", 9))
			envp[n++] = *e;
	if (h == PRELOAD)
		envp[n++] = "LD_PRELOAD=" LIB;
	envp[n] = NULL;
	const char *path = h == SELF ? "/proc/self/exe" : PROG;
	char *argv[] = { (char *)"t_invisible", (char *)mode, NULL };
	/* default dispositions and an empty mask, whatever the caller's shell
	 * ignored (a background job starts with SIGINT ignored) */
	posix_spawnattr_t at;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int r = posix_spawn(&pid, path, &fa, &at, argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	if (r) {
		close(po[0]);
		return -1;
	}
	*out_fd = po[0];
	return pid;
}

/* Read one line (or what comes) within timeout_s. */
static int read_line(int fd, char *buf, size_t n, double timeout_s)
{
	size_t got = 0;
	double t0 = now_s();
	while (got + 1 < n && now_s() - t0 < timeout_s) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t r = read(fd, buf + got, 1);
		if (r <= 0)
			break;
		if (buf[got++] == '\n')
			break;
	}
	buf[got] = 0;
	return (int)got;
}

/* Wait for pid up to timeout_s; SIGKILL and -1 on timeout. */
static int wait_for(pid_t pid, double timeout_s, int *status)
{
	double t0 = now_s();
	while (waitpid(pid, status, WNOHANG) == 0) {
		if (now_s() - t0 > timeout_s) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -1;
		}
		usleep(2000);
	}
	return 0;
}

/* Run to completion; returns the exit status, -1 hang, -2 killed by a signal. */
static int run_scn(enum how h, const char *mode, double timeout_s, char *out, size_t n)
{
	int fd, st;
	pid_t pid = start(h, mode, &fd);
	if (pid < 0)
		return -3;
	size_t got = 0;
	double t0 = now_s();
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (now_s() - t0 > timeout_s || poll(&p, 1, 100) < 0)
			break;
		if (!p.revents)
			continue;
		ssize_t r = read(fd, out + got, n - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got + 1 >= n)
			break;
	}
	out[got] = 0;
	close(fd);
	if (wait_for(pid, timeout_s, &st))
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

static const char *how_name[] = { "linked", "plain", "preloaded" };

/* A fixture only for TEST_F_TIMEOUT: emulated VMs need more than 30 s. */
FIXTURE(inv) { int unused; };
FIXTURE_SETUP(inv) { self->unused = 0; }
FIXTURE_TEARDOWN(inv) {}

TEST_F_TIMEOUT(inv, main_pthread_exit_exits_with_status_0, 300)
{
	for (int h = SELF; h <= PRELOAD; h++) {
		if (!have(h))
			continue;
		char out[256];
		int r = run_scn(h, "--pthread-exit", 30, out, sizeof out);
		TH_LOG("%s: status %d", how_name[h], r);
		ASSERT_EQ(0, r);
		ASSERT_NE(NULL, strstr(out, "main leaving"));
	}
}

static void signal_case(struct __test_metadata *_metadata, int sig)
{
	for (int h = SELF; h <= PRELOAD; h++) {
		if (!have(h))
			continue;
		int fd, st;
		char line[128];
		pid_t pid = start(h, "--wait-signal", &fd);
		ASSERT_GT(pid, 0);
		/* a failure never leaves the program running: it holds a
		 * memnotify subscription the later tests would see */
		if (read_line(fd, line, sizeof line, 30) <= 0)
			strcpy(line, "no ready line\n");
		TH_LOG("%s: %s", how_name[h], strtok(line, "\n"));
		if (h != PLAIN) /* main and liballoc's thread, nothing else */
			EXPECT_NE(NULL, strstr(line, "tasks=2"));
		EXPECT_EQ(0, kill(pid, sig));
		int hung = wait_for(pid, 30, &st); /* kills it on timeout */
		close(fd);
		ASSERT_EQ(0, hung) TH_LOG("signal %d ignored", sig);
		ASSERT_TRUE(WIFSIGNALED(st));
		ASSERT_EQ(sig, WTERMSIG(st));
	}
}

TEST_F_TIMEOUT(inv, sigterm_with_only_liballoc_thread_left, 300)
{
	signal_case(_metadata, SIGTERM);
}

TEST_F_TIMEOUT(inv, sigint_with_only_liballoc_thread_left, 300)
{
	signal_case(_metadata, SIGINT);
}

TEST_F_TIMEOUT(inv, single_threaded_program_can_enter_user_namespaces, 300)
{
	static const char *const modes[] = { "--unshare-userns", "--setns-userns" };
	for (int m = 0; m < 2; m++) {
		for (int h = SELF; h <= PRELOAD; h++) {
			if (!have(h))
				continue;
			char out[256];
			int r = run_scn(h, modes[m], 60, out, sizeof out);
			TH_LOG("%s %s: status %d, %s", how_name[h], modes[m], r,
			       strtok(out, "\n") ? out : "");
			if (r == 6)
				SKIP(return, "user namespaces unavailable here");
			ASSERT_EQ(0, r);
		}
	}
}

TEST_F_TIMEOUT(inv, unshare_command_under_preload, 300)
{
	const char *u = access("/usr/bin/unshare", X_OK) == 0 ? "/usr/bin/unshare" : NULL;
	if (!u || !have(PRELOAD))
		SKIP(return, "needs /usr/bin/unshare and liballoc.so");
	for (int pre = 0; pre < 2; pre++) {
		char *argv[] = { (char *)u, (char *)"-U", (char *)"true", NULL };
		char *envp[] = { pre ? (char *)"LD_PRELOAD=" LIB : (char *)"X=1", NULL };
		pid_t pid;
		int st;
		ASSERT_EQ(0, posix_spawn(&pid, u, NULL, NULL, argv, envp));
		ASSERT_EQ(0, wait_for(pid, 30, &st));
		ASSERT_TRUE(WIFEXITED(st));
		if (!pre && WEXITSTATUS(st))
			SKIP(return, "unshare -U fails without liballoc too");
		ASSERT_EQ(0, WEXITSTATUS(st)) TH_LOG("unshare -U true fails under LD_PRELOAD");
	}
}

TEST_F_TIMEOUT(inv, program_fds_never_touched_after_close_range, 300)
{
	for (int h = SELF; h <= PRELOAD; h++) {
		if (!have(h))
			continue;
		char out[64];
		int r = run_scn(h, "--fds", 120, out, sizeof out);
		TH_LOG("%s: status %d (11 data lost, 12 fd closed, 13 fork child lost fds, "
		       "14 extra fd)", how_name[h], r);
		ASSERT_EQ(0, r);
	}
}

TEST_F_TIMEOUT(inv, fork_from_8_allocating_threads_never_hangs, 900)
{
	for (int h = SELF; h <= PRELOAD; h += 2) {
		if (!have(h))
			continue;
		char out[128], want[64];
		int r = run_scn(h, "--forkstorm", 800, out, sizeof out);
		TH_LOG("%s: status %d, %s", how_name[h], r, strtok(out, "\n") ? out : "");
		ASSERT_EQ(0, r);
		snprintf(want, sizeof want, "forks=%d hangs=0 failed=0",
			 SCN_FORKERS * scn_forks_each());
		ASSERT_NE(NULL, strstr(out, want));
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0] == '-' && argv[1][1] == '-') {
		scn_monitor_start = la_monitor_start;
		scn_inject = la_monitor_inject;
		int r = scn_run(argv[1]);
		if (r >= 0)
			return r;
	}
	return test_harness_run(argc, argv);
}
