// SPDX-License-Identifier: GPL-2.0
/*
 * The OOM guarantee, at the kernel's default vm.watermark_scale_factor:
 * when a subscriber holds a reported cache larger than an allocation
 * burst's overshoot, that cache comes back before the OOM killer picks a
 * victim (the OOM notifier asks for it and waits, bounded, for the
 * subscriber's resident memory to fall).
 *  - guarantee: a subscriber child reports 48 MB of touched memory and
 *    gives it back on RECLAIM, nothing else (ordinary priority, no
 *    tuning); a hog child allocates MemAvailable + 16 MB.  Every episode
 *    the hog completes and no OOM kill happens.
 *  - control_no_subscriber: the same hog without a subscriber is killed.
 *  - control_liar: a subscriber that reports the cache and ignores
 *    requests does not save the hog, and delays the kill by at most the
 *    wait's bound.
 *  - sysrq_not_oom_source: sysrq-f kills without any OOM record or wait.
 * The test process protects itself with oom_score_adj -1000, the hog
 * volunteers with 1000.  So that an episode is short under TCG, the test
 * process holds a ballast that leaves about 88 MB available (the hog then
 * allocates about 56 MB per episode instead of the whole VM).
 */
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "memnotify_test.h"
#include "mn_kmsg.h"

#define CACHE		(48ull << 20)
#define OVERSHOOT	(16ull << 20)
#define CHUNK		(4ul << 20)
#define EPISODES	20
#define WAIT_BOUND_MS	200	/* MN_OOMWAIT_MS */

/* Allocate and touch bytes, then exit 0; the OOM killer may take it. */
static pid_t start_hog(size_t bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	pid_t pid = fork();

	if (pid)
		return pid;
	set_oom_score_adj(getpid(), 1000);
	for (size_t done = 0; done < bytes; done += CHUNK) {
		char *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);

		if (p == MAP_FAILED)
			_exit(2);
		for (size_t off = 0; off < CHUNK; off += page)
			p[off] = 1;
	}
	_exit(0);
}

/*
 * A subscriber child: touch CACHE bytes, report them, say so on @ready,
 * then (if @honest) give them back on the first RECLAIM and say so on
 * @ready; else never release.  Exits on SIGTERM.  It releases with
 * MADV_DONTNEED, which allocates nothing: munmap() may need memory (maple
 * tree nodes, a VMA split), and while the OOM path waits, an allocation
 * only retries until the wait ends.
 */
static pid_t start_subscriber(int ready, int honest)
{
	struct memnotify_event ev;
	__u64 bytes = CACHE;
	pid_t pid = fork();
	char *cache;
	int fd;

	if (pid)
		return pid;
	set_oom_score_adj(getpid(), 0);
	fd = mn_open();
	cache = hold_anon(CACHE);
	if (fd < 0 || !cache ||
	    mn_set_mask(fd, MEMNOTIFY_EVENT_PRESSURE | MEMNOTIFY_EVENT_RECLAIM) ||
	    mn_set_cache(fd, bytes) ||
	    write(ready, "r", 1) != 1)
		_exit(1);
	for (;;) {
		if (read(fd, &ev, sizeof(ev)) != (ssize_t)sizeof(ev))
			continue;
		if (ev.type != MEMNOTIFY_EVENT_RECLAIM || !honest || !cache)
			continue;
		madvise(cache, CACHE, MADV_DONTNEED);
		mn_released(fd, CACHE);
		cache = NULL;
		if (write(ready, "f", 1) != 1)
			_exit(1);
	}
}

struct episode {
	int hog_status;
	int released;
	long long kills;
	unsigned long long ms;
};

/* One burst: an optional subscriber, then a hog of MemAvailable + 16 MB. */
static int run_episode(struct episode *e, int subscriber, int honest)
{
	long long kills = mn_proc_num("/proc/vmstat", "oom_kill"), avail;
	uint64_t t0;
	pid_t sub = 0, hog;
	int pfd[2];
	char c;

	memset(e, 0, sizeof(*e));
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	if (subscriber) {
		sub = start_subscriber(pfd[1], honest);
		if (sub < 0 || read(pfd[0], &c, 1) != 1 || c != 'r')
			return -1;
	}
	avail = mn_proc_num("/proc/meminfo", "MemAvailable:");
	if (avail <= 0)
		return -1;
	t0 = now_ns();
	hog = start_hog((size_t)avail * 1024 + OVERSHOOT);
	if (hog < 0 || waitpid(hog, &e->hog_status, 0) != hog)
		return -1;
	e->ms = (now_ns() - t0) / 1000000;
	if (sub) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };

		e->released = poll(&p, 1, 0) == 1 && read(pfd[0], &c, 1) == 1;
		kill(sub, SIGTERM);
		waitpid(sub, NULL, 0);
	}
	close(pfd[0]);
	close(pfd[1]);
	e->kills = mn_proc_num("/proc/vmstat", "oom_kill") - kills;
	return 0;
}

static int hog_killed(const struct episode *e)
{
	return WIFSIGNALED(e->hog_status) && WTERMSIG(e->hog_status) == SIGKILL;
}

#define LEAVE	(88ll << 20)

FIXTURE(oomguard) {
	struct quiet_console qc;
	void *ballast;
	size_t ballast_bytes;
};

FIXTURE_SETUP(oomguard)
{
	long long avail = mn_proc_num("/proc/meminfo", "MemAvailable:") * 1024;

	ASSERT_LE(0, read_num(MN_STAT("oom_waits")));
	set_oom_score_adj(getpid(), -1000);
	self->ballast_bytes = avail > 2 * LEAVE ? avail - LEAVE : 0;
	self->ballast = NULL;
	if (self->ballast_bytes) {
		self->ballast = hold_anon(self->ballast_bytes);
		ASSERT_NE(NULL, self->ballast);
		/* Not in the children: a subscriber claims only its own. */
		ASSERT_EQ(0, madvise(self->ballast, self->ballast_bytes,
				     MADV_DONTFORK));
	}
	quiet_console_begin(&self->qc);
}

FIXTURE_TEARDOWN(oomguard)
{
	EXPECT_EQ(0, quiet_console_end(&self->qc));
	if (self->ballast)
		munmap(self->ballast, self->ballast_bytes);
}

TEST_F_TIMEOUT(oomguard, guarantee, 300)
{
	long long waits = read_num(MN_STAT("oom_waits"));
	long long wait_ns = read_num(MN_STAT("oom_wait_ns"));
	long long averted = read_num(MN_STAT("oom_averted"));
	long long timeouts = read_num(MN_STAT("oom_wait_timeouts"));
	long long freed = read_num(MN_STAT("oom_freed_pages"));
	unsigned long long worst_ms = 0;
	int survived = 0, kills = 0, released = 0;
	uint64_t t0 = now_ns();
	int episodes = EPISODES; /* every target, the debug kernel included */
	struct episode e;

	for (int i = 0; i < episodes; i++) {
		ASSERT_EQ(0, run_episode(&e, 1, 1));
		survived += WIFEXITED(e.hog_status) &&
			    WEXITSTATUS(e.hog_status) == 0;
		kills += e.kills;
		released += e.released;
		worst_ms = e.ms > worst_ms ? e.ms : worst_ms;
		if (e.kills || !WIFEXITED(e.hog_status))
			TH_LOG("episode %d: hog status %#x, %lld OOM kills, released %d",
			       i, e.hog_status, e.kills, e.released);
	}
	waits = read_num(MN_STAT("oom_waits")) - waits;
	wait_ns = read_num(MN_STAT("oom_wait_ns")) - wait_ns;
	averted = read_num(MN_STAT("oom_averted")) - averted;
	timeouts = read_num(MN_STAT("oom_wait_timeouts")) - timeouts;
	freed = read_num(MN_STAT("oom_freed_pages")) - freed;
	TH_LOG("%d episodes in %.1f s (slowest %llu ms): %d hogs completed, "
	       "%d OOM kills, %d releases; %lld OOM waits (%.1f ms each on "
	       "average, %lld at the bound), %lld averted a kill, %lld pages "
	       "credited",
	       episodes, (now_ns() - t0) / 1e9, worst_ms, survived, kills,
	       released, waits, waits ? wait_ns / 1e6 / waits : 0.0, timeouts,
	       averted, freed);
	EXPECT_EQ(0, kills);
	EXPECT_EQ(episodes, survived);
	/*
	 * Each hog overshot: the cache was asked for and came back, by the
	 * shrinker's request alone or with the OOM path waiting for it.
	 */
	EXPECT_EQ(episodes, released);
	EXPECT_EQ(waits, averted);
}

TEST_F_TIMEOUT(oomguard, control_no_subscriber, 120)
{
	struct episode e;

	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, run_episode(&e, 0, 0));
		EXPECT_TRUE(hog_killed(&e))
			TH_LOG("episode %d: hog status %#x", i, e.hog_status);
		EXPECT_LE(1, e.kills);
	}
}

TEST_F_TIMEOUT(oomguard, control_liar, 120)
{
	long long waits = read_num(MN_STAT("oom_waits"));
	long long wait_ns = read_num(MN_STAT("oom_wait_ns"));
	long long freed = read_num(MN_STAT("oom_freed_pages"));
	struct episode e;

	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, run_episode(&e, 1, 0));
		EXPECT_TRUE(hog_killed(&e))
			TH_LOG("episode %d: hog status %#x", i, e.hog_status);
		EXPECT_LE(1, e.kills);
		EXPECT_EQ(0, e.released);
	}
	waits = read_num(MN_STAT("oom_waits")) - waits;
	wait_ns = read_num(MN_STAT("oom_wait_ns")) - wait_ns;
	TH_LOG("%lld OOM waits for the liar, %.1f ms in all", waits,
	       wait_ns / 1e6);
	/* A new liar each episode: one wait each, each within the bound. */
	EXPECT_LE(1, waits);
	EXPECT_GE(3, waits);
	EXPECT_GE((WAIT_BOUND_MS + 50) * 1000000ll * (waits ? waits : 1), wait_ns);
	EXPECT_EQ(freed, read_num(MN_STAT("oom_freed_pages")));
}

TEST_F_TIMEOUT(oomguard, sysrq_not_oom_source, 60)
{
	long long ooms = read_num(MN_STAT("oom"));
	long long waits = read_num(MN_STAT("oom_waits"));
	struct memnotify_event ev;
	int fd = mn_open_nb(), st = 0, r;
	void *held = hold_anon(CACHE);
	__u64 bytes = CACHE;
	pid_t victim;

	if (access("/proc/sysrq-trigger", W_OK))
		SKIP(return, "no /proc/sysrq-trigger");
	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, held);
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_PRESSURE |
				     MEMNOTIFY_EVENT_RECLAIM));
	ASSERT_EQ(0, mn_set_cache(fd, bytes));
	victim = fork();
	ASSERT_LE(0, victim);
	if (!victim) {
		set_oom_score_adj(getpid(), 1000);
		pause();
		_exit(0);
	}
	usleep(100000);
	ASSERT_EQ(0, write_file("/proc/sysrq-trigger", "f"));
	ASSERT_EQ(victim, waitpid(victim, &st, 0));
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	while ((r = mn_wait_event(fd, &ev, 300)) == 1)
		EXPECT_NE(MEMNOTIFY_SOURCE_OOM, ev.source);
	EXPECT_EQ(ooms, read_num(MN_STAT("oom")));
	EXPECT_EQ(waits, read_num(MN_STAT("oom_waits")));
	close(fd);
	munmap(held, CACHE);
}

TEST_HARNESS_MAIN
