// SPDX-License-Identifier: GPL-2.0
/*
 * IDLE/ACTIVE from the idle target's CPU time.  With a 500 ms period,
 * IDLE must arrive within [period, period + 100 ms] of the process going
 * quiet, exactly once per quiet stretch, and ACTIVE soon after it burns CPU
 * again, while every CPU is kept awake (sampling is deferrable, see
 * start_wakers()).  The target can be another process, named by pidfd (allowed as
 * ptrace's read check allows, EPERM otherwise); it stays what it was set to
 * when the fd is passed to another process; its exit gives one EXITED
 * record and EPOLLHUP.
 * Without CAP_SYS_RESOURCE the period is at least 1 s.  The threshold is 4% of a CPU (20 ms per period) rather than the
 * default 1%: under QEMU's TCG on a busy host, a vCPU thread the host
 * preempts while the guest task runs charges that wall time to the task,
 * and a 100 us wakeup has been seen to cost 14 ms of "CPU time".
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>

#include "memnotify_test.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434	/* the same on every architecture */
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd	438
#endif

#define PERIOD_MS	500
#define PPM		40000

static int set_idle_target(int fd, __u32 period_ms, __u32 ppm, int pidfd)
{
	struct memnotify_idle idle = { period_ms, ppm, pidfd,
				       MEMNOTIFY_IDLE_TARGET_PIDFD };

	return ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle);
}

static int set_idle(int fd, __u32 period_ms, __u32 ppm)
{
	struct memnotify_idle idle = { period_ms, ppm, 0, 0 };

	return ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle);
}

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Under QEMU's TCG, code a process runs for the first time is translated
 * on its CPU time: a first printf("%f") can cost milliseconds, enough to
 * look ACTIVE again.  Run the paths used around the idle checks once up
 * front, and log only when the test is over.
 */
static void warm_up(int fd)
{
	struct memnotify_event ev;
	char buf[128];

	snprintf(buf, sizeof(buf), "%.1f %llu %+.1f", 1.5, 2ull, -3.5);
	mn_wait_event(fd, &ev, 0);
	mn_wait_event(fd, &ev, 1);
	now_ns();
}

/*
 * Sampling is deferrable: on a tickless kernel (Debian's, say) a sample
 * due on an idle CPU waits for that CPU's next wakeup, so on an idle
 * machine IDLE can come later than the window says.  For the timing checks
 * every CPU is woken by one process per CPU every 10 ms (a wakeup restarts
 * the tick, which runs the expired deferrable timers), which bounds that
 * delay at about 15 ms for a cost under TCG small enough not to disturb
 * the CPU time measured.  They are started
 * before main(), by the harness's own process, so neither their fork nor
 * their end is CPU time of a test's process, and die with it
 * (PR_SET_PDEATHSIG).  The images link every program of a suite into one
 * binary (selftests/multicall.c), so only the one named idle_test does it.
 */
__attribute__((constructor)) static void start_wakers(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pid_t parent = getpid();

	if (strcmp(program_invocation_short_name, "idle_test"))
		return;
	for (long cpu = 0; cpu < cpus; cpu++) {
		struct timespec ts = { 0, 10000000 };
		cpu_set_t set;

		if (fork())
			continue;
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(0);
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
		for (;;)
			nanosleep(&ts, NULL);
	}
}

/*
 * Go quiet now and check that IDLE arrives, never before a whole quiet
 * period; returns the delay in ms.  How late it may come is the wait's
 * bound (4 periods), not a timed assertion: the sampler is deferrable.
 */
static double expect_idle(struct __test_metadata *_metadata, int fd)
{
	struct memnotify_event ev;
	uint64_t t0 = now_ns(), t1;
	double ms;

	ASSERT_EQ(1, mn_wait_event(fd, &ev, PERIOD_MS * 4));
	/* when the kernel raised it: the reader's own wakeup is not measured */
	t1 = ev.timestamp_ns;
	EXPECT_EQ(MEMNOTIFY_EVENT_IDLE, ev.type);
	EXPECT_EQ(MEMNOTIFY_SOURCE_IDLE, ev.source);
	EXPECT_GT(PPM, ev.cpu_ppm);	/* usage in ppm */
	ms = (t1 - t0) / 1e6;
	EXPECT_LE(PERIOD_MS, ms);
	return ms;
}

TEST(idle_window_then_active)
{
	double idle1, idle2, active;
	struct memnotify_event ev;
	uint64_t t2;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	warm_up(fd);
	ASSERT_EQ(0, set_idle(fd, PERIOD_MS, PPM));
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_IDLE | MEMNOTIFY_EVENT_ACTIVE));
	/* Busy for more than a period, so the tracker has seen activity. */
	burn_cpu(PERIOD_MS + 200);
	EXPECT_EQ(0, mn_wait_event(fd, &ev, 0));
	idle1 = expect_idle(_metadata, fd);

	/* One IDLE per quiet stretch: nothing more while still quiet. */
	t2 = now_ns();
	EXPECT_EQ(0, mn_wait_event(fd, &ev, 2 * PERIOD_MS + 100))
		TH_LOG("unexpected type %u usage %llu ppm at %+.1f ms", ev.type,
		       (unsigned long long)ev.cpu_ppm,
		       ((double)ev.timestamp_ns - (double)t2) / 1e6);

	/* Busy again: ACTIVE, stamped after the burst began, by a sample of
	 * the burst (at most a period after its end). */
	t2 = now_ns();
	burn_cpu(300);
	ASSERT_EQ(1, mn_wait_event(fd, &ev, 2000));
	EXPECT_EQ(MEMNOTIFY_EVENT_ACTIVE, ev.type);
	EXPECT_LE(t2, ev.timestamp_ns);
	EXPECT_GE(t2 + (300 + PERIOD_MS) * 1000000ull, ev.timestamp_ns);
	active = (ev.timestamp_ns - t2) / 1e6;

	/* And IDLE again after the next quiet period. */
	idle2 = expect_idle(_metadata, fd);
	TH_LOG("IDLE after %.1f ms, ACTIVE %.1f ms into a burst, IDLE after %.1f ms",
	       idle1, active, idle2);
	close(fd);
}

static void *spinner(void *arg)
{
	burn_cpu(*(unsigned int *)arg);
	return NULL;
}

/* CPU time of every thread of the group counts, not only the opener's. */
TEST(other_thread_keeps_group_active)
{
	unsigned int ms = 3 * PERIOD_MS;
	struct memnotify_event ev;
	pthread_t th;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	warm_up(fd);
	ASSERT_EQ(0, set_idle(fd, PERIOD_MS, PPM));
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_IDLE | MEMNOTIFY_EVENT_ACTIVE));
	ASSERT_EQ(0, pthread_create(&th, NULL, spinner, &ms));
	/* This thread sleeps, the spinner keeps the group busy. */
	EXPECT_EQ(0, mn_wait_event(fd, &ev, ms - 200));
	pthread_join(th, NULL);
	TH_LOG("IDLE after %.1f ms", expect_idle(_metadata, fd));
	close(fd);
}

/* IDLE/ACTIVE are opt-in: the default mask gets none. */
TEST(not_in_default_mask)
{
	struct memnotify_event ev;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_idle(fd, 100, PPM));
	EXPECT_EQ(0, mn_wait_event(fd, &ev, 500));
	close(fd);
}

/*
 * A child that burns CPU when told: 'b' burns BURN_MS and answers with the
 * time it went quiet, 'q' exits.  Its pipes are in *c.
 */
#define BURN_MS		700

struct child {
	pid_t pid;
	int cmd;	/* write commands here */
	int ans;	/* read answers here */
};

static int start_child(struct child *c)
{
	int cmd[2], ans[2];
	uint64_t t;
	char op;

	if (pipe(cmd) || pipe(ans))
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		close(cmd[1]);
		close(ans[0]);
		warm_up(-1);
		while (read(cmd[0], &op, 1) == 1 && op == 'b') {
			burn_cpu(BURN_MS);
			t = now_ns();
			if (write(ans[1], &t, sizeof(t)) != sizeof(t))
				break;
		}
		_exit(0);
	}
	close(cmd[0]);
	close(ans[1]);
	c->cmd = cmd[1];
	c->ans = ans[0];
	return 0;
}

/* Tell the child to burn; returns when it went quiet (0 on error). */
static uint64_t child_burn(struct child *c)
{
	uint64_t t;

	if (write(c->cmd, "b", 1) != 1 || read(c->ans, &t, sizeof(t)) != sizeof(t))
		return 0;
	return t;
}

static int child_exit(struct child *c)
{
	int st;

	close(c->cmd);
	close(c->ans);
	return waitpid(c->pid, &st, 0) == c->pid && WIFEXITED(st) ? 0 : -1;
}

/*
 * Wait for a record of @type while burning CPU in this thread (so this
 * process is anything but idle); 1 if it came, 0 on timeout, -1 on error.
 */
static int busy_wait_type(int fd, __u32 type, struct memnotify_event *ev,
			  unsigned int timeout_ms)
{
	uint64_t end = now_ns() + timeout_ms * 1000000ull;
	int r;

	while (now_ns() < end) {
		burn_cpu(5);
		r = mn_wait_event(fd, ev, 0);
		if (r < 0)
			return -1;
		if (r && ev->type == type)
			return 1;
	}
	return 0;
}

static short revents(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) < 0 ? -1 : pfd.revents;
}

#define TARGET_MASK	(MEMNOTIFY_EVENT_IDLE | MEMNOTIFY_EVENT_ACTIVE | \
			 MEMNOTIFY_EVENT_EXITED)

/*
 * A forked child as the target: IDLE follows its quiet time while this
 * process burns CPU, ACTIVE its burst, and its exit gives one EXITED
 * record and EPOLLHUP.
 */
TEST(pidfd_targets_forked_child)
{
	struct memnotify_event ev;
	struct child c;
	uint64_t quiet, t;
	int fd = mn_open_nb(), pidfd;

	ASSERT_LE(0, fd);
	warm_up(fd);
	ASSERT_EQ(0, start_child(&c));
	pidfd = pidfd_open(c.pid);
	ASSERT_LE(0, pidfd);
	ASSERT_EQ(0, set_idle_target(fd, PERIOD_MS, PPM, pidfd));
	ASSERT_EQ(0, mn_set_mask(fd, TARGET_MASK));
	quiet = child_burn(&c);
	ASSERT_NE(0, quiet);
	/* IDLE for the child, though this process never stops burning. */
	ASSERT_EQ(1, busy_wait_type(fd, MEMNOTIFY_EVENT_IDLE, &ev, 4 * PERIOD_MS));
	EXPECT_EQ(MEMNOTIFY_SOURCE_IDLE, ev.source);
	EXPECT_LE(quiet + PERIOD_MS * 1000000ull, ev.timestamp_ns);
	EXPECT_EQ(0, revents(fd) & POLLHUP);

	/* The child busy again: ACTIVE, while this process sleeps. */
	t = now_ns();
	EXPECT_NE(0, child_burn(&c));
	ASSERT_EQ(1, mn_wait_type(fd, MEMNOTIFY_EVENT_ACTIVE, &ev, 2000));
	EXPECT_LE(t, ev.timestamp_ns);

	/* Its exit: EXITED once, then EPOLLHUP and nothing more. */
	ASSERT_EQ(1, mn_wait_type(fd, MEMNOTIFY_EVENT_IDLE, &ev, 4 * PERIOD_MS));
	ASSERT_EQ(0, child_exit(&c));
	/* (exiting may cost enough CPU for an ACTIVE first) */
	ASSERT_EQ(1, mn_wait_type(fd, MEMNOTIFY_EVENT_EXITED, &ev, 2000));
	EXPECT_EQ(MEMNOTIFY_SOURCE_IDLE, ev.source);
	EXPECT_EQ(MEMNOTIFY_LEVEL_NONE, ev.level);
	EXPECT_EQ(0, ev.cpu_ppm);
	EXPECT_EQ(POLLHUP, revents(fd) & POLLHUP);
	mn_drain(fd);
	EXPECT_EQ(POLLHUP, revents(fd));
	/* No second EXITED, and no samples any more: HUP without IN. */
	usleep(3 * PERIOD_MS * 1000);
	EXPECT_EQ(POLLHUP, revents(fd));
	/* Retargeting to the opener starts over: no HUP, tracking again. */
	ASSERT_EQ(0, set_idle(fd, PERIOD_MS, PPM));
	EXPECT_EQ(0, revents(fd));
	ASSERT_EQ(1, mn_wait_type(fd, MEMNOTIFY_EVENT_IDLE, &ev, 4 * PERIOD_MS));
	close(pidfd);
	close(fd);
}

/* A zombie's group has exited: EXITED at once, and HUP follows the mask. */
TEST(exit_of_zombie_and_hup_by_mask)
{
	struct memnotify_event ev;
	int fd = mn_open_nb(), pidfd, st;
	siginfo_t si;
	pid_t pid = fork();

	ASSERT_LE(0, fd);
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	pidfd = pidfd_open(pid);
	ASSERT_LE(0, pidfd);
	/* Not reaped: a zombie.  Let it get there. */
	ASSERT_EQ(0, waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
	ASSERT_EQ(0, set_idle_target(fd, PERIOD_MS, PPM, pidfd));
	/* Nothing about the target is wanted yet: no HUP, no record. */
	EXPECT_EQ(0, revents(fd));
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_IDLE));
	EXPECT_EQ(POLLHUP, revents(fd));
	EXPECT_EQ(0, mn_wait_event(fd, &ev, 0));	/* EXITED is masked */
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_PRESSURE));
	EXPECT_EQ(0, revents(fd));
	/* Once per target: wanting EXITED now queues nothing new. */
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_EXITED));
	EXPECT_EQ(POLLHUP, revents(fd));
	/* A new target (the same process) starts over. */
	ASSERT_EQ(0, set_idle_target(fd, PERIOD_MS, PPM, pidfd));
	ASSERT_EQ(1, mn_wait_event(fd, &ev, 0));
	EXPECT_EQ(MEMNOTIFY_EVENT_EXITED, ev.type);
	EXPECT_EQ(POLLHUP, revents(fd));
	/* Reaped: the process is gone for good. */
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(-1, set_idle_target(fd, PERIOD_MS, PPM, pidfd));
	EXPECT_EQ(ESRCH, errno);
	close(pidfd);
	close(fd);
}

/*
 * Passing an fd to another process: SCM_RIGHTS over an AF_UNIX socket, or,
 * on a kernel built without AF_UNIX (the test VMs have no networking),
 * pidfd_getfd(2), which gives the receiver the same open file the same way.
 */
struct channel {
	int to[2];	/* parent -> receiver */
	int from[2];	/* receiver -> parent */
	int sock[2];	/* AF_UNIX socketpair, or -1 */
};

/* One byte with room for one SCM_RIGHTS fd: what send_fd/recv_fd exchange. */
struct fd_msg {
	char byte;
	struct iovec iov;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg;
};

static struct cmsghdr *fd_msg_init(struct fd_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->iov.iov_base = &m->byte;
	m->iov.iov_len = 1;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->u.buf;
	m->msg.msg_controllen = sizeof(m->u.buf);
	return CMSG_FIRSTHDR(&m->msg);
}

static int send_fd(int sock, int fd)
{
	struct fd_msg m;
	struct cmsghdr *cm = fd_msg_init(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &m.msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	struct fd_msg m;
	struct cmsghdr *cm;
	int fd;

	fd_msg_init(&m);
	if (recvmsg(sock, &m.msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&m.msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* In the receiver: the fd the parent passes, then "got it". */
static int channel_recv_fd(struct channel *ch)
{
	int fd, num, pidfd;

	if (ch->sock[1] >= 0) {
		fd = recv_fd(ch->sock[1]);
	} else {
		if (read(ch->to[0], &num, sizeof(num)) != sizeof(num))
			return -1;
		pidfd = pidfd_open(getppid());
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, num, 0);
		close(pidfd);
	}
	if (fd >= 0 && write(ch->from[1], "g", 1) != 1)
		return -1;
	return fd;
}

/* In the parent: pass @fd and wait until the receiver has it. */
static int channel_send_fd(struct channel *ch, int fd)
{
	char c;

	if (ch->sock[0] >= 0 ? send_fd(ch->sock[0], fd) :
	    write(ch->to[1], &fd, sizeof(fd)) != sizeof(fd))
		return -1;
	return read(ch->from[0], &c, 1) == 1 && c == 'g' ? 0 : -1;
}

/*
 * The receiver of a passed fd burns CPU and waits for IDLE: it comes only
 * if the fd reports on its target (quiet), not on the receiver.  Then it
 * waits for the target's exit (EXITED, EPOLLHUP) if told to.  Exit codes:
 * 0 as expected, 10 + step otherwise.
 */
static int receiver(struct channel *ch, bool exit_too)
{
	struct memnotify_event ev;
	int fd = channel_recv_fd(ch);
	char op = 0;

	if (fd < 0)
		return 10;
	if (busy_wait_type(fd, MEMNOTIFY_EVENT_IDLE, &ev, 4 * PERIOD_MS) != 1)
		return 11;
	if (write(ch->from[1], "i", 1) != 1)
		return 12;
	if (!exit_too)
		return 0;
	if (read(ch->to[0], &op, 1) != 1 || op != 'x')
		return 13;
	if (mn_wait_type(fd, MEMNOTIFY_EVENT_EXITED, &ev, 2000) != 1)
		return 14;
	return revents(fd) & POLLHUP ? 0 : 15;
}

/* Fork the receiver before the fd exists: it can only get it passed. */
static pid_t run_receiver(struct channel *ch, bool exit_too)
{
	pid_t pid;

	if (pipe(ch->to) || pipe(ch->from))
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, ch->sock)) {
		if (errno != EAFNOSUPPORT && errno != ENOSYS)
			return -1;	/* ENOSYS: a kernel without networking */
		ch->sock[0] = ch->sock[1] = -1;
	}
	pid = fork();
	if (pid == 0) {
		warm_up(-1);
		_exit(receiver(ch, exit_too));
	}
	return pid;
}

static int reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Passed to another process, the default target (the opener) stays. */
TEST(passed_fd_keeps_opener_target)
{
	struct channel ch;
	pid_t pid = run_receiver(&ch, false);
	int fd;
	char op;

	ASSERT_LT(0, pid);
	TH_LOG("passing the fd with %s",
	       ch.sock[0] >= 0 ? "SCM_RIGHTS" : "pidfd_getfd (no AF_UNIX here)");
	fd = mn_open_nb();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_idle(fd, PERIOD_MS, PPM));
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_IDLE | MEMNOTIFY_EVENT_ACTIVE));
	ASSERT_EQ(0, channel_send_fd(&ch, fd));
	close(fd);
	/* This process (the opener) sleeps until the receiver saw IDLE. */
	EXPECT_EQ(1, read(ch.from[0], &op, 1));
	EXPECT_EQ(0, reap(pid));
}

/* Passed to another process, a pidfd target stays, and so does its exit. */
TEST(passed_fd_keeps_pidfd_target)
{
	struct channel ch;
	pid_t pid = run_receiver(&ch, true);
	int fd, pidfd;
	struct child c;
	uint64_t end;
	char op;

	ASSERT_LT(0, pid);
	ASSERT_EQ(0, start_child(&c));	/* quiet until told */
	fd = mn_open_nb();
	ASSERT_LE(0, fd);
	pidfd = pidfd_open(c.pid);
	ASSERT_LE(0, pidfd);
	ASSERT_EQ(0, set_idle_target(fd, PERIOD_MS, PPM, pidfd));
	ASSERT_EQ(0, mn_set_mask(fd, TARGET_MASK));
	close(pidfd);
	ASSERT_EQ(0, channel_send_fd(&ch, fd));
	close(fd);
	/* This process burns meanwhile: neither sender nor receiver is idle. */
	end = now_ns() + 8 * PERIOD_MS * 1000000ull;
	while (revents(ch.from[0]) == 0 && now_ns() < end)
		burn_cpu(5);
	EXPECT_EQ(1, read(ch.from[0], &op, 1));
	EXPECT_EQ(0, child_exit(&c));
	EXPECT_EQ(1, write(ch.to[1], "x", 1));
	EXPECT_EQ(0, reap(pid));
}

static int pidfd_of_parent(void *arg)
{
	int fd = mn_open(), pidfd = pidfd_open(getppid());

	(void)arg;
	if (fd < 0 || pidfd < 0)
		return 10;
	if (!set_idle_target(fd, 1000, PPM, pidfd))
		return 11;
	return errno == EPERM ? 0 : 12;
}

/*
 * Unprivileged, on processes of its own uid: one that is not dumpable
 * (forked after the setuid, as its memory is) is refused, a dumpable one
 * allowed.
 */
static int pidfd_of_own_children(void *arg)
{
	int fd = mn_open(), pidfd, ret = 0;
	pid_t pid;

	(void)arg;
	if (fd < 0)
		return 20;
	for (int dumpable = 0; dumpable < 2 && !ret; dumpable++) {
		if (dumpable && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
			return 21;
		pid = fork();
		if (pid < 0)
			return 22;
		if (pid == 0) {
			pause();
			_exit(0);
		}
		pidfd = pidfd_open(pid);
		if (pidfd < 0)
			ret = 23;
		else if (dumpable && set_idle_target(fd, 1000, PPM, pidfd))
			ret = 24;
		else if (!dumpable && (!set_idle_target(fd, 1000, PPM, pidfd) ||
				       errno != EPERM))
			ret = 25;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(pidfd);
	}
	return ret;
}

/* Root may target any process; an unprivileged user not another uid's. */
TEST(pidfd_permission)
{
	int fd = mn_open(), pidfd;
	pid_t pid;

	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(100);
		pause();
		_exit(0);
	}
	pidfd = pidfd_open(pid);
	ASSERT_LE(0, pidfd);
	EXPECT_EQ(0, set_idle_target(fd, PERIOD_MS, PPM, pidfd));
	EXPECT_EQ(0, run_unprivileged(pidfd_of_parent, NULL));
	EXPECT_EQ(0, run_unprivileged(pidfd_of_own_children, NULL));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pidfd);
	close(fd);
}

/* Bad targets and flags get clear errors and change nothing. */
TEST(bad_targets)
{
	struct memnotify_idle idle = { 2000, PPM, 0, 0 };
	int fd = mn_open(), nul = open("/dev/null", O_RDONLY);

	ASSERT_LE(0, fd);
	ASSERT_LE(0, nul);
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle));
	EXPECT_EQ(-1, set_idle_target(fd, 3000, PPM, 1000000));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, set_idle_target(fd, 3000, PPM, -2));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, set_idle_target(fd, 3000, PPM, nul));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, set_idle_target(fd, 3000, PPM, fd));
	EXPECT_EQ(EBADF, errno);
	idle = (struct memnotify_idle){ 3000, PPM, 0, 4 };
	EXPECT_EQ(-1, ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle));
	EXPECT_EQ(EINVAL, errno);
	idle = (struct memnotify_idle){ 3000, PPM, nul, MEMNOTIFY_IDLE_KEEP_TARGET };
	EXPECT_EQ(-1, ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle));
	EXPECT_EQ(EINVAL, errno);
	/* a pidfd only with the flag that says it is one: fd 0 of a zeroed
	 * structure never names a target */
	idle = (struct memnotify_idle){ 3000, PPM, nul, 0 };
	EXPECT_EQ(-1, ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle));
	EXPECT_EQ(EINVAL, errno);
	idle = (struct memnotify_idle){ 3000, PPM, 0, MEMNOTIFY_IDLE_TARGET_PIDFD |
						     MEMNOTIFY_IDLE_KEEP_TARGET };
	EXPECT_EQ(-1, ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_IDLE, &idle));
	EXPECT_EQ(2000, idle.period_ms);
	/* What GET returns, SET takes back: it keeps the target. */
	EXPECT_EQ(0, idle.pidfd);
	EXPECT_EQ(MEMNOTIFY_IDLE_KEEP_TARGET, idle.flags);
	idle.period_ms = 3000;
	EXPECT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle));
	close(nul);
	close(fd);
}

static int short_periods(void *arg)
{
	int fd = mn_open();

	(void)arg;
	if (fd < 0)
		return 10;
	if (!set_idle(fd, MEMNOTIFY_IDLE_PERIOD_MIN_UNPRIV_MS - 1, PPM) ||
	    errno != EPERM)
		return 11;
	if (!set_idle(fd, MEMNOTIFY_IDLE_PERIOD_MIN_MS, PPM) || errno != EPERM)
		return 12;
	/* Out of range stays EINVAL, whoever asks. */
	if (!set_idle(fd, MEMNOTIFY_IDLE_PERIOD_MIN_MS - 1, PPM) ||
	    errno != EINVAL)
		return 13;
	if (set_idle(fd, MEMNOTIFY_IDLE_PERIOD_MIN_UNPRIV_MS, PPM))
		return 14;
	return 0;
}

/* Periods below 1 s need CAP_SYS_RESOURCE. */
TEST(unprivileged_period_at_least_1s)
{
	int fd = mn_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(1000, MEMNOTIFY_IDLE_PERIOD_MIN_UNPRIV_MS);
	EXPECT_EQ(0, run_unprivileged(short_periods, NULL));
	EXPECT_EQ(0, set_idle(fd, MEMNOTIFY_IDLE_PERIOD_MIN_MS, PPM));
	close(fd);
}

TEST_HARNESS_MAIN
