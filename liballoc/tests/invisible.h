/* Scenarios for t_invisible: small programs that must behave exactly as they
 * do without liballoc. Each runs in its own process (re-executed test binary,
 * linked with liballoc, or invisible_prog under LD_PRELOAD) and reports
 * through its exit status and, where it still has one, stdout.
 * Only libc and pthreads here: invisible_prog.c is built without liballoc.
 * The includer sets scn_monitor_start / scn_inject when liballoc is present. */
#ifndef LA_TEST_INVISIBLE_H
#define LA_TEST_INVISIBLE_H
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int (*scn_monitor_start)(void);
static int (*scn_inject)(uint32_t type, uint32_t level, uint64_t pages);

enum { SCN_EV_PRESSURE = 1, SCN_EV_RECLAIM = 2, SCN_EV_IDLE = 4 }; /* memnotify values */

static double scn_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int scn_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Allocation churn over every size range for ms milliseconds, so that
 * slow paths (and with them liballoc's ticks) run many times. */
static void scn_churn(int ms, uint64_t seed)
{
	void *p[64] = { 0 };
	double end = scn_now() + ms / 1000.0;
	while (scn_now() < end) {
		for (int i = 0; i < 64; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			size_t sz = (size_t)1 << (seed >> 59) % 21;
			free(p[i]);
			p[i] = malloc(sz + (seed >> 40) % 64);
			if (p[i])
				memset(p[i], 1, 1);
		}
	}
	for (int i = 0; i < 64; i++)
		free(p[i]);
}

static void *scn_worker(void *arg)
{
	scn_churn((int)(intptr_t)arg, (uint64_t)(uintptr_t)&arg);
	return NULL;
}

/* main() ends with pthread_exit while a worker still runs: the process must
 * exit with status 0 once the worker is done. Prints the task count seen by
 * the worker at its end (3 with liballoc's thread, 2 without). */
static int scn_pthread_exit(void)
{
	scn_churn(50, 1);
	pthread_t t;
	if (pthread_create(&t, NULL, scn_worker, (void *)(intptr_t)300))
		return 20;
	printf("main leaving\n");
	fflush(stdout);
	pthread_exit(NULL);
}

/* Only main and (maybe) liballoc's thread are left; then wait for a signal
 * that kills: SIGTERM/SIGINT must end the process as without liballoc. */
static int scn_wait_signal(void)
{
	scn_churn(50, 2);
	pthread_t t;
	if (pthread_create(&t, NULL, scn_worker, (void *)(intptr_t)100) || pthread_join(t, NULL))
		return 20;
	/* pthread_join returns once the worker's tid is cleared, which is
	 * before the kernel reaps it: wait (2 s at most) until it is gone from
	 * /proc/self/task, or it is counted as a third task. */
	for (int i = 0; i < 2000 && scn_tasks() > 1; i++)
		usleep(1000);
	if (scn_monitor_start)
		scn_monitor_start();
	printf("ready tasks=%d\n", scn_tasks());
	fflush(stdout);
	for (;;)
		pause();
}

/* A single-threaded program that allocates a lot stays single-threaded:
 * setns(CLONE_NEWUSER) (setns != 0) or unshare(CLONE_NEWUSER) succeeds.
 * Exit 0 ok; 3 a second task exists; 4 setns failed; 5 unshare failed
 * with EINVAL (multithreaded); 6 user namespaces unavailable here (skip). */
static int scn_userns(int setns_case)
{
	scn_churn(400, 3);
	int tasks = scn_tasks();
	printf("tasks=%d\n", tasks);
	fflush(stdout);
	if (tasks != 1)
		return 3;
	if (access("/proc/self/ns/user", F_OK))
		return 6; /* a kernel without CONFIG_USER_NS: EINVAL for everyone */
	if (!setns_case) {
		scn_churn(150, 5);
		if (unshare(CLONE_NEWUSER)) {
			printf("unshare: %s\n", strerror(errno));
			return errno == EINVAL ? 5 : 6;
		}
		return 0;
	}
	int pfd[2];
	if (pipe(pfd))
		return 20;
	pid_t h = fork();
	if (h == 0) {
		char c = unshare(CLONE_NEWUSER) ? 'n' : 'y';
		if (write(pfd[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c = 0;
	if (h < 0 || read(pfd[0], &c, 1) != 1)
		return 20;
	int rc = 0;
	if (c == 'y') {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/user", (int)h);
		int nfd = open(path, O_RDONLY | O_CLOEXEC);
		scn_churn(150, 4);
		if (nfd < 0 || setns(nfd, CLONE_NEWUSER)) {
			printf("setns: %s\n", strerror(errno));
			rc = 4;
		}
	}
	kill(h, SIGKILL);
	waitpid(h, NULL, 0);
	return c != 'y' ? 6 : rc;
}

/* ---- fds: the program closes every fd, reuses the numbers for pipes, and
 * must get every byte it sends through them while liballoc's events, ticks
 * and a fork happen; the fork child keeps every fd of the program. */
#define SCN_NPIPES 6
#define SCN_BYTES (512 * 1024)
static int scn_pipes[SCN_NPIPES][2];
static _Atomic int scn_stop;

static void *scn_writer(void *arg)
{
	(void)arg;
	unsigned char buf[4096];
	for (size_t off = 0; off < SCN_BYTES; off += sizeof buf) {
		for (int k = 0; k < SCN_NPIPES; k++) {
			for (size_t i = 0; i < sizeof buf; i++)
				buf[i] = (unsigned char)((off + i) * 7 + (size_t)k);
			size_t done = 0;
			while (done < sizeof buf) {
				ssize_t w = write(scn_pipes[k][1], buf + done, sizeof buf - done);
				if (w <= 0)
					return (void *)1;
				done += (size_t)w;
			}
			void *p = malloc(3000 + off % 5000);
			free(p);
		}
	}
	return NULL;
}

static void *scn_events(void *arg)
{
	(void)arg;
	while (!scn_stop) {
		if (scn_inject) {
			scn_inject(SCN_EV_IDLE, 0, 0);
			scn_inject(SCN_EV_PRESSURE, 3, 0);
			scn_inject(SCN_EV_RECLAIM, 0, 256);
		}
		scn_churn(20, 6);
	}
	return NULL;
}

static int scn_fds_alive(void)
{
	for (int k = 0; k < SCN_NPIPES; k++)
		for (int e = 0; e < 2; e++)
			if (fcntl(scn_pipes[k][e], F_GETFD) < 0)
				return 0;
	return 1;
}

/* Exit 0 ok; 11 data lost or changed; 12 an fd of ours was closed;
 * 13 fork child lost fds; 14 an extra fd other than one event source. */
static int scn_fds(void)
{
	scn_churn(100, 7);
	pthread_t t1, t2;
	pthread_create(&t1, NULL, scn_worker, (void *)(intptr_t)300);
	pthread_create(&t2, NULL, scn_worker, (void *)(intptr_t)300);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	if (syscall(SYS_close_range, 0u, ~0u, 0u))
		for (int fd = 0; fd < 1024; fd++)
			close(fd);
	for (int k = 0; k < SCN_NPIPES; k++)
		if (pipe(scn_pipes[k]))
			return 20;
	pthread_t w, ev;
	pthread_create(&ev, NULL, scn_events, NULL);
	pthread_create(&w, NULL, scn_writer, NULL);
	unsigned char buf[8192];
	int bad = 0;
	for (size_t off = 0; off < SCN_BYTES; off += 4096) {
		for (int k = 0; k < SCN_NPIPES; k++) {
			size_t got = 0;
			while (got < 4096) {
				ssize_t r = read(scn_pipes[k][0], buf + got, 4096 - got);
				if (r <= 0)
					return 11;
				got += (size_t)r;
			}
			for (size_t i = 0; i < 4096; i++)
				bad |= buf[i] != (unsigned char)((off + i) * 7 + (size_t)k);
		}
	}
	void *wr;
	pthread_join(w, &wr);
	usleep(300 * 1000); /* a few monitor ticks with the numbers reused */
	scn_stop = 1;
	pthread_join(ev, NULL);
	if (bad || wr)
		return 11;
	if (!scn_fds_alive())
		return 12;
	pid_t c = fork();
	if (c == 0) {
		scn_churn(100, 8);
		if (scn_inject)
			scn_inject(SCN_EV_IDLE, 0, 0);
		_exit(scn_fds_alive() ? 0 : 1);
	}
	int st;
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
		return 13;
	/* still ours, still working, nothing left unread */
	for (int k = 0; k < SCN_NPIPES; k++) {
		char x = 'x', y = 0;
		int fl = fcntl(scn_pipes[k][0], F_GETFL);
		fcntl(scn_pipes[k][0], F_SETFL, fl | O_NONBLOCK);
		if (read(scn_pipes[k][0], &y, 1) != -1)
			return 11;
		if (write(scn_pipes[k][1], &x, 1) != 1 || read(scn_pipes[k][0], &y, 1) != 1 || y != 'x')
			return 12;
	}
	/* any other fd is liballoc's event source, at most one, never a ring */
	DIR *d = opendir("/proc/self/fd");
	int extra = 0;
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name), mine = fd == dirfd(d);
		for (int k = 0; k < SCN_NPIPES; k++)
			mine |= fd == scn_pipes[k][0] || fd == scn_pipes[k][1];
		if (mine)
			continue;
		char path[64], tgt[128] = "";
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t l = readlink(path, tgt, sizeof tgt - 1);
		tgt[l > 0 ? l : 0] = 0;
		if (strcmp(tgt, "/dev/memnotify") && strcmp(tgt, "/proc/pressure/memory"))
			extra += 100;
		extra++;
	}
	if (d)
		closedir(d);
	return extra > 1 ? 14 : 0;
}

/* ---- fork from 8 allocating threads at any moment; each child is
 * long-lived, creates threads that allocate, reacts to an event, exits. */
#define SCN_FORKERS 8
#define SCN_FORKS_EACH 125

/* Forks per forker: SCN_FORKS_EACH scaled by STRESS_PERCENT (1-100, default
 * 100), which the VM runner lowers on debug kernels, where every fork costs
 * KASAN's and lockdep's bookkeeping and the storm tests liballoc, not them. */
static inline int scn_forks_each(void)
{
	const char *v = getenv("STRESS_PERCENT");
	int pct = v ? atoi(v) : 100;
	if (pct < 1 || pct > 100)
		pct = 100;
	return (SCN_FORKS_EACH * pct + 99) / 100;
}
static _Atomic int scn_hangs, scn_badkids, scn_forks;

static void *scn_child_thread(void *arg)
{
	scn_churn(5, (uint64_t)(uintptr_t)arg);
	return NULL;
}

static void *scn_forker(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 7919 + 1;
	void *keep[32] = { 0 };
	int forks = scn_forks_each();
	for (int f = 0; f < forks; f++) {
		for (int i = 0; i < 32; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			free(keep[i]);
			keep[i] = malloc((size_t)1 << (seed >> 59) % 20);
		}
		pid_t c = fork();
		if (c == 0) {
			pthread_t t[2];
			for (int i = 0; i < 2; i++)
				pthread_create(&t[i], NULL, scn_child_thread, (void *)(uintptr_t)(i + 1));
			if (scn_inject)
				scn_inject(SCN_EV_IDLE, 0, 0);
			scn_churn(2, seed);
			for (int i = 0; i < 2; i++)
				pthread_join(t[i], NULL);
			_exit(0);
		}
		if (c < 0) {
			scn_badkids++;
			continue;
		}
		scn_forks++;
		int st = 0;
		double t0 = scn_now();
		while (waitpid(c, &st, WNOHANG) == 0) {
			if (scn_now() - t0 > 60) {
				kill(c, SIGKILL);
				waitpid(c, &st, 0);
				scn_hangs++;
				break;
			}
			usleep(500);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			scn_badkids++;
	}
	for (int i = 0; i < 32; i++)
		free(keep[i]);
	return NULL;
}

/* Exit 0 ok; 15 a child hung; 16 a child failed; prints the counts. */
static int scn_forkstorm(void)
{
	pthread_t t[SCN_FORKERS], ev;
	pthread_create(&ev, NULL, scn_events, NULL);
	for (int i = 0; i < SCN_FORKERS; i++)
		pthread_create(&t[i], NULL, scn_forker, (void *)(uintptr_t)i);
	for (int i = 0; i < SCN_FORKERS; i++)
		pthread_join(t[i], NULL);
	scn_stop = 1;
	pthread_join(ev, NULL);
	printf("forks=%d hangs=%d failed=%d\n", scn_forks, scn_hangs, scn_badkids);
	fflush(stdout);
	return scn_hangs ? 15 : scn_badkids ? 16 : 0;
}

/* Dispatch: returns -1 if mode is not a scenario. */
static int scn_run(const char *mode)
{
	if (!strcmp(mode, "--pthread-exit"))
		return scn_pthread_exit();
	if (!strcmp(mode, "--wait-signal"))
		return scn_wait_signal();
	if (!strcmp(mode, "--unshare-userns"))
		return scn_userns(0);
	if (!strcmp(mode, "--setns-userns"))
		return scn_userns(1);
	if (!strcmp(mode, "--fds"))
		return scn_fds();
	if (!strcmp(mode, "--forkstorm"))
		return scn_forkstorm();
	return -1;
}
#endif
