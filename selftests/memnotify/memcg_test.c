// SPDX-License-Identifier: GPL-2.0
/*
 * The shrinker per memory cgroup.  Two sibling cgroups under the cgroup2
 * root, each with memory.max and one subscriber whose claim is backed by
 * resident anonymous memory charged to that cgroup:
 *  - memory.reclaim in one cgroup asks its subscriber and not the other's;
 *  - global reclaim (drop_caches, root memory.reclaim) asks both;
 *  - a claim is clamped to the usage of the claimant's cgroup, also when
 *    the process holds more (charged to the cgroup it came from);
 *  - a process that moves to the other cgroup keeps its claim in the old
 *    one until it sets its claim again, and then it is in the new one.
 * Skips only where cgroup2 or its memory controller is unavailable.
 */
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "memnotify_test.h"

#define MB		(1ull << 20)
#define CG_ROOT		"/sys/fs/cgroup"
#define HOLD		(16 * MB)
#define NCG		2

static const char *const cg_names[NCG] = { "memnotify_a", "memnotify_b" };

/* What a subscriber child tells the test over its pipe. */
struct report {
	__u64 kind;		/* REPORT_* */
	__u64 bytes;
};

enum { REPORT_READY, REPORT_RECLAIM, REPORT_FAILED };

static void cg_path(char *buf, size_t len, const char *cg, const char *file)
{
	snprintf(buf, len, CG_ROOT "/%s/%s", cg, file);
}

static int cg_write(const char *cg, const char *file, const char *val)
{
	char path[256];

	cg_path(path, sizeof(path), cg, file);
	return write_file(path, val);
}

static long long cg_read(const char *cg, const char *file)
{
	char path[256];

	cg_path(path, sizeof(path), cg, file);
	return read_num(path);
}

/* Puts process @pid into @cg. */
static int cg_join_pid(const char *cg, pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", pid);
	return cg_write(cg, "cgroup.procs", buf);
}

/* Puts the calling process into @cg. */
static int cg_join(const char *cg)
{
	return cg_join_pid(cg, getpid());
}

/* NULL if cgroup2 with the memory controller is usable, else why not. */
static const char *memcg_unavailable(void)
{
	static char why[128];
	char buf[512] = "";
	int fd = open(CG_ROOT "/cgroup.controllers", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n < 0) {
		snprintf(why, sizeof(why), "no cgroup2 on " CG_ROOT " (%s)",
			 strerror(errno));
		return why;
	}
	buf[n] = '\0';
	if (!strstr(buf, "memory"))
		return "no memory controller in cgroup2 (cgroup_disable=memory?)";
	/* Enabled by init; a no-op when it already is. */
	if (write_file(CG_ROOT "/cgroup.subtree_control", "+memory")) {
		snprintf(why, sizeof(why), "cannot enable +memory: %s",
			 strerror(errno));
		return why;
	}
	return NULL;
}

static int send_report(int fd, __u64 kind, __u64 bytes)
{
	struct report r = { .kind = kind, .bytes = bytes };

	return write(fd, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : -1;
}

/*
 * The start of every subscriber child: join @cg, hold @hold bytes of
 * anonymous memory charged to it, claim them all and report READY with
 * the claim it got (FAILED and exit on any error).  Returns the open fd.
 */
static int subscribe_in(const char *cg, size_t hold, int out)
{
	__u64 claim = 0;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (cg_join(cg) || !hold_anon(hold)) {
		send_report(out, REPORT_FAILED, errno);
		_exit(1);
	}
	fd = mn_open_nb();
	if (fd < 0 || mn_set_cache(fd, hold) || mn_get_cache(fd, &claim)) {
		send_report(out, REPORT_FAILED, errno);
		_exit(1);
	}
	send_report(out, REPORT_READY, claim);
	return fd;
}

/*
 * A subscriber in @cg: holds @hold bytes of anonymous memory charged to
 * @cg, claims all of it, reports READY with the claim it got and then
 * every RECLAIM request, until killed.  It gives nothing back, so every
 * request comes out of the claim.
 */
static void __attribute__((noreturn)) subscriber(const char *cg, size_t hold,
						 int out)
{
	struct memnotify_event ev;
	int fd = subscribe_in(cg, hold, out);

	for (;;) {
		if (mn_wait_type(fd, MEMNOTIFY_EVENT_RECLAIM, &ev, 1000) == 1)
			send_report(out, REPORT_RECLAIM, ev.reclaim_bytes);
	}
}

/*
 * Read one report within @ms; returns 1 with *r filled in, 0 on timeout,
 * -1 if the child is gone.
 */
static int get_report(int fd, struct report *r, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n = poll(&pfd, 1, ms);

	if (n <= 0)
		return 0;
	return read(fd, r, sizeof(*r)) == (ssize_t)sizeof(*r) ? 1 : -1;
}

/* Bytes asked of a subscriber within @ms (what its reports add up to). */
static __u64 asked_within(int fd, int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000ull;
	struct report r;
	__u64 sum = 0;

	for (;;) {
		int64_t left = (int64_t)(end - now_ns()) / 1000000;

		if (left <= 0 || get_report(fd, &r, (int)left) != 1)
			return sum;
		if (r.kind == REPORT_RECLAIM)
			sum += r.bytes;
	}
}

/*
 * The harness runs a test's body even when its fixture's setup skipped;
 * every body starts with this.
 */
#define SKIP_IF_SETUP_SKIPPED() do {					\
	if (self->skipped)						\
		SKIP(return, "no memory cgroups here");			\
} while (0)

static void cg_remove(const char *cg)
{
	char path[256];

	snprintf(path, sizeof(path), CG_ROOT "/%s", cg);
	rmdir(path);
}

FIXTURE(two_cgroups) {
	pid_t pid[NCG];
	int rep[NCG];
	__u64 claim[NCG];
	bool skipped;
};

FIXTURE_SETUP(two_cgroups)
{
	const char *why = memcg_unavailable();

	for (int i = 0; i < NCG; i++) {
		self->pid[i] = -1;
		self->rep[i] = -1;
	}
	self->skipped = why != NULL;
	if (why)
		SKIP(return, "%s", why);
	for (int i = 0; i < NCG; i++) {
		char path[256];
		struct report r;
		int p[2];

		cg_remove(cg_names[i]);		/* left over by an aborted run */
		snprintf(path, sizeof(path), CG_ROOT "/%s", cg_names[i]);
		ASSERT_EQ(0, mkdir(path, 0755)) TH_LOG("%s: %s", path, strerror(errno));
		ASSERT_EQ(0, cg_write(cg_names[i], "memory.max", "64M"));
		ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
		self->pid[i] = fork();
		ASSERT_LE(0, self->pid[i]);
		if (self->pid[i] == 0) {
			close(p[0]);
			subscriber(cg_names[i], HOLD, p[1]);
		}
		close(p[1]);
		self->rep[i] = p[0];
		ASSERT_EQ(1, get_report(p[0], &r, 10000));
		ASSERT_EQ(REPORT_READY, r.kind) TH_LOG("subscriber: %s", strerror((int)r.bytes));
		self->claim[i] = r.bytes;
		/* The whole claim: what it holds is charged to its cgroup. */
		ASSERT_EQ(HOLD, r.bytes);
		ASSERT_LE((long long)HOLD, cg_read(cg_names[i], "memory.current"));
	}
}

FIXTURE_TEARDOWN(two_cgroups)
{
	for (int i = 0; i < NCG; i++) {
		if (self->pid[i] > 0) {
			kill(self->pid[i], SIGKILL);
			waitpid(self->pid[i], NULL, 0);
		}
		if (self->rep[i] >= 0)
			close(self->rep[i]);
		if (!self->skipped)
			cg_remove(cg_names[i]);
	}
}

/* memory.reclaim in A asks A's subscriber, and B's is asked nothing. */
TEST_F(two_cgroups, limit_reclaim_asks_only_its_cgroup)
{
	long long scans = read_num(MN_STAT("shrinker_scan"));
	__u64 a, b;

	SKIP_IF_SETUP_SKIPPED();
	/* A holds only unreclaimable anonymous memory: the shrinker runs at
	 * falling priorities, and the write fails with EAGAIN in the end.
	 */
	cg_write(cg_names[0], "memory.reclaim", "16M");
	a = asked_within(self->rep[0], 2000);
	b = asked_within(self->rep[1], 500);
	TH_LOG("asked of A %llu, of B %llu bytes; %lld scans",
	       (unsigned long long)a, (unsigned long long)b,
	       read_num(MN_STAT("shrinker_scan")) - scans);
	EXPECT_LT(0, a);
	EXPECT_GE(self->claim[0], a);
	EXPECT_EQ(0, b);

	/* And the other way round. */
	cg_write(cg_names[1], "memory.reclaim", "16M");
	b = asked_within(self->rep[1], 2000);
	a = asked_within(self->rep[0], 500);
	EXPECT_LT(0, b);
	EXPECT_EQ(0, a);
}

/* drop_caches calls the shrinker for every cgroup on every node. */
TEST_F(two_cgroups, drop_caches_asks_both)
{
	SKIP_IF_SETUP_SKIPPED();
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "2"));
	for (int i = 0; i < NCG; i++) {
		EXPECT_EQ(self->claim[i], asked_within(self->rep[i], 2000))
			TH_LOG("cgroup %s", cg_names[i]);
	}
}

/* Reclaim from the root cgroup walks every cgroup below it. */
TEST_F(two_cgroups, root_memory_reclaim_asks_both)
{
	SKIP_IF_SETUP_SKIPPED();
	if (access(CG_ROOT "/memory.reclaim", W_OK))
		SKIP(return, "no " CG_ROOT "/memory.reclaim: %s", strerror(errno));
	write_file(CG_ROOT "/memory.reclaim", "64M");
	for (int i = 0; i < NCG; i++) {
		EXPECT_LT(0, asked_within(self->rep[i], 2000))
			TH_LOG("cgroup %s", cg_names[i]);
	}
}

/*
 * A process that faulted its memory in before it moved into a cgroup
 * holds more than that cgroup is charged (cgroup v2 does not move
 * charges): its claim is clamped to the cgroup's usage.
 */
TEST_F(two_cgroups, claim_clamped_to_cgroup_usage)
{
	long long clamped = read_num(MN_STAT("claims_clamped"));
	int p[2];
	struct report r;
	pid_t pid;

	SKIP_IF_SETUP_SKIPPED();
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		__u64 claim = 0;
		int fd;

		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* 48 MB charged to the test's own cgroup, then a move into A. */
		if (!hold_anon(3 * HOLD) || cg_join(cg_names[0])) {
			send_report(p[1], REPORT_FAILED, errno);
			_exit(1);
		}
		fd = mn_open_nb();
		if (fd < 0 || mn_set_cache(fd, 3 * HOLD) ||
		    mn_get_cache(fd, &claim)) {
			send_report(p[1], REPORT_FAILED, errno);
			_exit(1);
		}
		send_report(p[1], REPORT_READY, claim);
		pause();
		_exit(0);
	}
	close(p[1]);
	ASSERT_EQ(1, get_report(p[0], &r, 10000));
	EXPECT_EQ(REPORT_READY, r.kind);
	TH_LOG("claimed %llu of %llu bytes; A's usage %lld bytes",
	       (unsigned long long)r.bytes, (unsigned long long)(3 * HOLD),
	       cg_read(cg_names[0], "memory.current"));
	/* A is charged for its subscriber's 16 MB and little more. */
	EXPECT_GT(2 * HOLD, r.bytes);
	EXPECT_GE((__u64)cg_read(cg_names[0], "memory.current"), r.bytes);
	EXPECT_LT(clamped, read_num(MN_STAT("claims_clamped")));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
}

/*
 * Starts in cgroup A holding HOLD and claiming it; on a byte from @cmd it
 * moves to cgroup B, faults in HOLD / 2 more there and claims all it
 * holds.  Reports READY with its claim after each claim, and every RECLAIM
 * request.
 */
static void __attribute__((noreturn)) mover(int cmd, int out)
{
	struct pollfd pfd[2];
	struct memnotify_event ev;
	__u64 claim = 0;
	int fd;
	char c;

	fd = subscribe_in(cg_names[0], HOLD, out);
	pfd[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = cmd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, 1000) <= 0)
			continue;
		if ((pfd[0].revents & POLLIN) &&
		    read(fd, &ev, sizeof(ev)) == (ssize_t)sizeof(ev) &&
		    ev.type == MEMNOTIFY_EVENT_RECLAIM)
			send_report(out, REPORT_RECLAIM, ev.reclaim_bytes);
		if (!(pfd[1].revents & (POLLIN | POLLHUP)))
			continue;
		if (read(cmd, &c, 1) != 1)
			_exit(0);
		if (cg_join(cg_names[1]) || !hold_anon(HOLD / 2) ||
		    mn_set_cache(fd, HOLD + HOLD / 2) || mn_get_cache(fd, &claim)) {
			send_report(out, REPORT_FAILED, errno);
			_exit(1);
		}
		send_report(out, REPORT_READY, claim);
	}
}

/* The next READY report within @ms (RECLAIM reports are skipped), or 0. */
static int next_ready(int fd, struct report *r, int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000ull;

	for (;;) {
		int64_t left = (int64_t)(end - now_ns()) / 1000000;

		if (left <= 0 || get_report(fd, r, (int)left) != 1)
			return 0;
		if (r->kind != REPORT_RECLAIM)
			return 1;
	}
}

TEST_F(two_cgroups, claim_follows_process_on_next_set)
{
	int cmd[2], rep[2];
	struct report r;
	pid_t pid;

	SKIP_IF_SETUP_SKIPPED();
	ASSERT_EQ(0, pipe2(cmd, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(rep, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(cmd[1]);
		close(rep[0]);
		mover(cmd[0], rep[1]);
	}
	close(cmd[0]);
	close(rep[1]);
	ASSERT_EQ(1, next_ready(rep[0], &r, 10000));
	ASSERT_EQ(REPORT_READY, r.kind);
	EXPECT_EQ(HOLD, r.bytes);

	/*
	 * Moved to B: the claim stays in A until it is set again.  (Each
	 * memory.reclaim here asks for whole claims: nothing is given back,
	 * so reclaim runs down to the lowest priority.)
	 */
	ASSERT_EQ(0, cg_join_pid(cg_names[1], pid));
	cg_write(cg_names[1], "memory.reclaim", "4M");
	EXPECT_EQ(0, asked_within(rep[0], 1000));
	cg_write(cg_names[0], "memory.reclaim", "4M");
	EXPECT_LT(0, asked_within(rep[0], 2000));

	/* Set again from B: now reclaim in B asks it, and in A it does not. */
	ASSERT_EQ(1, write(cmd[1], "m", 1));
	ASSERT_EQ(1, next_ready(rep[0], &r, 10000));
	ASSERT_EQ(REPORT_READY, r.kind) TH_LOG("mover: %s", strerror((int)r.bytes));
	TH_LOG("claim after the move %llu bytes; B's usage %lld bytes",
	       (unsigned long long)r.bytes, cg_read(cg_names[1], "memory.current"));
	EXPECT_LT(0, r.bytes);
	cg_write(cg_names[0], "memory.reclaim", "4M");
	EXPECT_EQ(0, asked_within(rep[0], 1000));
	cg_write(cg_names[1], "memory.reclaim", "4M");
	EXPECT_LT(0, asked_within(rep[0], 2000));

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(cmd[1]);
	close(rep[0]);
}

TEST_HARNESS_MAIN
