// SPDX-License-Identifier: GPL-2.0
/*
 * The reclaim protocol under hostile callers:
 *  - a claim is clamped to the resident anonymous memory of the process
 *    that opened the file, when set (all its files together) and when the
 *    shrinker scans (memory freed since no longer attracts requests);
 *  - unprivileged processes holding 252 files, each claiming all of RAM
 *    over and over, while a hog (at the kernel's default watermarks) and
 *    drop_caches force reclaim: every do_shrink_slab() makes at most
 *    2 * RAM / batch + 1 scan_objects() calls, each visits every subscriber
 *    at most once, an honest subscriber still gets its whole claim asked
 *    for, and, as it gives back what it is asked, nobody is OOM-killed;
 *  - which reclaim contexts raise PRESSURE, and at which level:
 *    drop_caches and the shrinker debugfs count file none, root
 *    memory.reclaim with free memory LOW, direct reclaim of a hog that
 *    runs into the OOM killer MEDIUM.
 */
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "memnotify_test.h"
#include "mn_kmsg.h"

#define MB		(1ull << 20)
#define NLIARS		4	/* processes, all as nobody */
#define LIAR_FDS	63	/* 4 * 63 = 252 <= max_subscribers_per_user */
#define RATE		MN_PARAM("rate_limit_ms")

static long long stat_of(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), MN_STAT("%s"), name);
	return read_num(path);
}

/* How far a claim may exceed the counted anonymous memory, in bytes. */
static __u64 slack_bytes(void)
{
	return (__u64)stat_of("claim_slack_pages") * sysconf(_SC_PAGESIZE);
}

static __u64 get_cache(int fd)
{
	__u64 v = ~0ull;

	mn_get_cache(fd, &v);
	return v;
}

/* Claim all of RAM while holding 8 MB: the claim is what is held. */
TEST(claim_clamped_when_set)
{
	long page = sysconf(_SC_PAGESIZE);
	__u64 ram = (__u64)mem_total_pages() * page, got;
	long long clamped = stat_of("claims_clamped");
	void *held = hold_anon(8 * MB);
	int fd = mn_open();

	ASSERT_NE(NULL, held);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mn_set_cache(fd, ram));
	got = get_cache(fd);
	EXPECT_LE(got, (__u64)rss_anon_bytes(0) + slack_bytes());
	EXPECT_LE(8 * MB, got);
	EXPECT_LT(clamped, stat_of("claims_clamped"));
	/* Above RAM is still refused, and the clamped claim stays. */
	ram += page;
	EXPECT_EQ(-1, mn_set_cache(fd, ram));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(got, get_cache(fd));
	close(fd);
	munmap(held, 8 * MB);
}

/* Two files of one process share what it holds; they do not double it. */
TEST(claims_of_one_process_share_its_memory)
{
	long page = sysconf(_SC_PAGESIZE);
	__u64 ram = (__u64)mem_total_pages() * page;
	void *held = hold_anon(8 * MB);
	int a = mn_open(), b = mn_open();

	ASSERT_NE(NULL, held);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, mn_set_cache(a, ram));
	ASSERT_EQ(0, mn_set_cache(b, ram));
	EXPECT_LE(get_cache(a) + get_cache(b),
		  (__u64)rss_anon_bytes(0) + slack_bytes());
	EXPECT_EQ(0, get_cache(b));	/* a took all there was */
	close(a);
	close(b);
	munmap(held, 8 * MB);
}

/*
 * Claim 16 MB honestly, then free 12 MB of it: the shrinker asks for no
 * more than is still held (within the slack).
 */
TEST(claim_clamped_when_scanned)
{
	long page = sysconf(_SC_PAGESIZE);
	__u64 claim = 16 * MB, asked = 0;
	long long clamped = stat_of("claims_clamped");
	char *held = hold_anon(claim);
	struct memnotify_event ev;
	long long anon;
	int fd = mn_open_nb();

	ASSERT_NE(NULL, held);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mn_set_cache(fd, claim));
	ASSERT_EQ(claim, get_cache(fd));
	ASSERT_EQ(0, munmap(held, 12 * MB));
	anon = rss_anon_bytes(0);
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "2"));
	while (mn_wait_event(fd, &ev, 1000) == 1) {
		if (ev.type == MEMNOTIFY_EVENT_RECLAIM)
			asked += ev.reclaim_bytes;
	}
	EXPECT_LT(0, asked);
	/* the clamp used what was held at the scan, between the two reads */
	if (rss_anon_bytes(0) > anon)
		anon = rss_anon_bytes(0);
	EXPECT_GE(((__u64)anon + slack_bytes()) / page, asked / page);
	EXPECT_LT(clamped, stat_of("claims_clamped"));
	close(fd);
	munmap(held + 12 * MB, 4 * MB);
}

struct liar_run {
	volatile int ready;
	volatile int stop;
	volatile long long sets;
	volatile long long bad;	/* a claim above what the liar held */
	volatile long long excess;	/* the largest such excess, bytes */
	volatile long long transient;	/* excess seen once */
	volatile long long final_sum, final_anon;	/* after reclaim */
	volatile long long ex_sum, ex_before, ex_after, ex_iter, iters;
	volatile int hog_stop;
};

/* Open LIAR_FDS files and claim all of RAM on each until told to stop. */
static int liar(struct liar_run *run)
{
	__u64 ram = (__u64)mem_total_pages() * sysconf(_SC_PAGESIZE), sum;
	__u64 slack = slack_bytes();
	int fds[LIAR_FDS], i;
	bool over, was_over = false;
	long long iter = 0;
	long long anon;

	for (i = 0; i < LIAR_FDS; i++) {
		fds[i] = mn_open_nb();
		if (fds[i] < 0)
			return 10;
	}
	__atomic_fetch_add(&run->ready, 1, __ATOMIC_SEQ_CST);
	while (!run->stop) {
		long long before = rss_anon_bytes(0);

		/*
		 * Set all, then read all: a claim read right after its own set
		 * can be followed by a scan taking it and the next set claiming
		 * the same memory again, legitimately (it was asked for).
		 */
		sum = 0;
		for (i = 0; i < LIAR_FDS; i++) {
			/* EAGAIN: asked meanwhile; the next round reports again */
			if (mn_set_cache(fds[i], ram) && errno != EAGAIN)
				return 11;
		}
		for (i = 0; i < LIAR_FDS; i++)
			sum += get_cache(fds[i]);
		/* The claims were clamped to what was held while they were set. */
		anon = rss_anon_bytes(0);
		iter++;
		if (anon < before)
			anon = before;
		/*
		 * The kernel's counter can still move between the claims and
		 * the reads of RssAnon; every set re-clamps all of this
		 * process's claims, so only an excess seen twice in a row is
		 * the kernel's.
		 */
		over = sum > (__u64)anon + slack;
		if (over)
			__atomic_fetch_add(&run->transient, 1, __ATOMIC_SEQ_CST);
		if (over && was_over) {
			__atomic_fetch_add(&run->bad, 1, __ATOMIC_SEQ_CST);
			if ((long long)(sum - anon - slack) > run->excess) {
				run->excess = sum - anon - slack;
				run->ex_sum = sum;
				run->ex_before = before;
				run->ex_after = rss_anon_bytes(0);
				run->ex_iter = iter;
			}
		}
		was_over = over;
		__atomic_fetch_add(&run->sets, LIAR_FDS, __ATOMIC_SEQ_CST);
		for (i = 0; i < LIAR_FDS; i++)
			mn_drain(fds[i]);
	}
	/*
	 * Reclaim is over: one more round of claims must add up to no more
	 * than this process holds (RssAnon stable before and after it).
	 */
	for (int tries = 0; tries < 10; tries++) {
		long long before = rss_anon_bytes(0);

		sum = 0;
		for (i = 0; i < LIAR_FDS; i++) {
			/* EAGAIN: asked meanwhile; the next round reports again */
			if (mn_set_cache(fds[i], ram) && errno != EAGAIN)
				return 11;
		}
		for (i = 0; i < LIAR_FDS; i++)
			sum += get_cache(fds[i]);
		anon = rss_anon_bytes(0);
		if (anon != before)
			continue;
		__atomic_fetch_add(&run->final_sum, sum, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&run->final_anon, anon, __ATOMIC_SEQ_CST);
		return sum > (__u64)anon + slack ? 12 : 0;
	}
	return 13;
}

/*
 * The honest subscriber's answer to a RECLAIM: give back @bytes more of
 * @held, from where the last answer stopped (MADV_DONTNEED allocates
 * nothing, so it works while the OOM path waits), and say so.
 */
static void give_back(int fd, char *held, __u64 *given, __u64 bytes)
{
	if (bytes > 32 * MB - *given)
		bytes = 32 * MB - *given;
	madvise(held + *given, bytes, MADV_DONTNEED);
	mn_released(fd, bytes);
	*given += bytes;
}

/* Allocate and touch memory until *stop, 4 MB at a time. */
static void __attribute__((noreturn)) hog(volatile int *stop)
{
	long page = sysconf(_SC_PAGESIZE);

	prctl(PR_SET_PDEATHSIG, SIGKILL);	/* test aborted */
	set_oom_score_adj(getpid(), 1000);
	while (!*stop) {
		char *p = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);

		if (p == MAP_FAILED) {
			usleep(1000);
			continue;
		}
		for (size_t off = 0; off < 4 * MB && !*stop; off += page)
			p[off] = 1;
	}
	_exit(0);
}

FIXTURE(storm) {
	int unused;
};

FIXTURE_SETUP(storm)
{
}

FIXTURE_TEARDOWN(storm)
{
}

TEST_F_TIMEOUT(storm, liars_bounded_honest_served, 300)
{
	long page = sysconf(_SC_PAGESIZE);
	long long ram_pages = mem_total_pages(), batch = stat_of("shrinker_batch");
	long long count0, scan0, visits0, ns0, peak;
	long long ooms, waits, averted;
	long long d_count, d_scan, d_visits, d_ns;
	__u64 claim = 32 * MB, asked = 0, left, given = 0;
	struct sched_param sp = { .sched_priority = 10 };
	struct liar_run *run;
	struct memnotify_event ev;
	pid_t liars[NLIARS], hog_pid;
	struct quiet_console qc;
	uint64_t t0;
	char *held;
	int i, st, fd;

	run = mmap(NULL, sizeof(*run), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, run);
	memset((void *)run, 0, sizeof(*run));
	set_oom_score_adj(getpid(), -1000);
	for (i = 0; i < NLIARS; i++) {
		liars[i] = fork();
		ASSERT_LE(0, liars[i]);
		if (liars[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);	/* test aborted */
			set_oom_score_adj(getpid(), 0);
			/*
			 * Pin what the liar holds, so that reclaim of pages
			 * the allocator freed lazily (MADV_FREE) or a huge
			 * page collapse cannot change it between a claim and
			 * the check of that claim.
			 */
			if (mlockall(MCL_CURRENT) ||
			    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
				_exit(101);
			if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
				_exit(100);
			_exit(liar(run));
		}
	}
	t0 = now_ns();
	while (run->ready < NLIARS && now_ns() - t0 < 30000000000ull)
		usleep(10000);
	ASSERT_EQ(NLIARS, run->ready);

	/* The honest subscriber holds what it claims (after the forks). */
	held = hold_anon(claim);
	ASSERT_NE(NULL, held);
	/* Not shared with the hog, or giving it back would free nothing. */
	ASSERT_EQ(0, madvise(held, claim, MADV_DONTFORK));
	fd = mn_open_nb();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mn_set_cache(fd, claim));
	ASSERT_EQ(claim, get_cache(fd));

	count0 = stat_of("shrinker_count");
	scan0 = stat_of("shrinker_scan");
	visits0 = stat_of("shrinker_scan_visits");
	ns0 = stat_of("shrinker_scan_ns");

	/*
	 * A hog forces reclaim, at the kernel's default watermarks, until the
	 * honest subscriber is asked; the subscriber then stops it and gives
	 * back what was asked, as the header says to, and keeps doing so.
	 * It runs SCHED_FIFO, as a pressure daemon would, so that it answers
	 * within the OOM wait's bound while four liars spin on two CPUs.  The
	 * shrinker may ask first or only the OOM path (which also asks every
	 * liar, and waits at most its bound for them): either way the honest
	 * cache comes back before the OOM killer would pick a victim.
	 */
	ooms = mn_proc_num("/proc/vmstat", "oom_kill");
	waits = stat_of("oom_waits");
	averted = stat_of("oom_averted");
	quiet_console_begin(&qc);
	syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &sp);
	hog_pid = fork();
	ASSERT_LE(0, hog_pid);
	if (hog_pid == 0)
		hog(&run->hog_stop);
	t0 = now_ns();
	st = 0;
	while (hog_pid && now_ns() - t0 < 120000000000ull) {
		if (mn_wait_event(fd, &ev, 100) == 1 &&
		    ev.type == MEMNOTIFY_EVENT_RECLAIM) {
			run->hog_stop = 1;
			give_back(fd, held, &given, ev.reclaim_bytes);
			asked += ev.reclaim_bytes;
		}
		if (waitpid(hog_pid, &st, WNOHANG) == hog_pid)
			hog_pid = 0;
	}
	sp.sched_priority = 0;
	syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp);
	if (hog_pid) {
		kill(hog_pid, SIGKILL);
		waitpid(hog_pid, &st, 0);
	}
	EXPECT_EQ(0, quiet_console_end(&qc));
	waits = stat_of("oom_waits") - waits;
	averted = stat_of("oom_averted") - averted;
	note("hog phase: asked %llu bytes of the honest claim in %.0f ms; "
	     "%lld OOM waits, %lld averted a kill\n",
	     (unsigned long long)asked, (now_ns() - t0) / 1e6, waits, averted);
	/* Asked, answered, and nobody OOM-killed: not the hog, not a liar. */
	EXPECT_LT(0, asked);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("hog status %#x", st);
	EXPECT_EQ(ooms, mn_proc_num("/proc/vmstat", "oom_kill"));

	/* drop_caches then asks for every claim that is left. */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "2"));
	while (mn_wait_event(fd, &ev, 1000) == 1) {
		if (ev.type == MEMNOTIFY_EVENT_RECLAIM) {
			give_back(fd, held, &given, ev.reclaim_bytes);
			asked += ev.reclaim_bytes;
		}
	}
	left = get_cache(fd);

	d_count = stat_of("shrinker_count") - count0;
	d_scan = stat_of("shrinker_scan") - scan0;
	d_visits = stat_of("shrinker_scan_visits") - visits0;
	d_ns = stat_of("shrinker_scan_ns") - ns0;
	peak = stat_of("subscribers_peak");

	run->stop = 1;
	for (i = 0; i < NLIARS; i++) {
		ASSERT_EQ(liars[i], waitpid(liars[i], &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
			TH_LOG("liar %d status %#x", i, st);
	}
	note("%lld liar rounds saw a transient excess over RssAnon\n", run->transient);
	note("%lld claims set by the liars; %lld count_objects, %lld scan_objects "
	     "(batch %lld pages), %.1f subscribers visited and %.0f ns per scan\n",
	     run->sets, d_count, d_scan, batch,
	     d_scan ? (double)d_visits / d_scan : 0.0,
	     d_scan ? (double)d_ns / d_scan : 0.0);

	/*
	 * Liars never held more than their own resident memory: not in two
	 * rounds in a row while reclaim ran (a single round can see RssAnon
	 * move between the claims and its reads), and not after it (exit
	 * status 12 otherwise).
	 */
	EXPECT_LT(0, run->sets);
	note("after reclaim the liars claimed %lld bytes holding %lld bytes of RssAnon\n",
	     run->final_sum, run->final_anon);
	EXPECT_EQ(0, run->bad)
		TH_LOG("%lld rounds saw an excess twice in a row, largest %lld bytes: "
		       "claims %lld, RssAnon %lld before, %lld after, round %lld",
		       run->bad, run->excess, run->ex_sum, run->ex_before, run->ex_after,
		       run->ex_iter);
	/* Bounded work: scans per shrinker pass, visits per scan. */
	EXPECT_LT(0, d_scan);
	EXPECT_GE(d_count * (2 * ram_pages / batch + 1), d_scan);
	EXPECT_GE(d_scan * peak, d_visits);
	/* The honest subscriber got its claim asked for, all of it accounted. */
	EXPECT_EQ(claim / page, (asked + left) / page);
	EXPECT_EQ(asked > claim ? claim : asked, given);
	EXPECT_GT(batch, (long long)(left / page));
	close(fd);
	munmap(held, claim);
	munmap(run, sizeof(*run));
}

/*
 * PRESSURE per reclaim context: drop_caches and the shrinker debugfs count
 * file raise none; root memory.reclaim with plenty of free memory is LOW.
 */
static int wait_shrinker_pressure(int fd, __u32 *level, int ms)
{
	struct memnotify_event ev;
	int n = 0;

	while (mn_wait_event(fd, &ev, ms) == 1) {
		if (ev.type == MEMNOTIFY_EVENT_PRESSURE &&
		    ev.source == MEMNOTIFY_SOURCE_SHRINKER) {
			n++;
			if (ev.level > *level)
				*level = ev.level;
		}
	}
	return n;
}

static const char *const threshold_params[] = {
	MN_PARAM("low_permille"), MN_PARAM("medium_permille"),
	MN_PARAM("critical_permille"),
};

/*
 * The rate limit is off for these tests, and a test may turn the
 * thresholds off; both are put back for the programs after this one.
 */
FIXTURE(levels) {
	int fd;
	long long rate;
	long long thresholds[3];
	void *held;
};

FIXTURE_SETUP(levels)
{
	__u64 claim = 4 * MB;

	for (int i = 0; i < 3; i++) {
		self->thresholds[i] = read_num(threshold_params[i]);
		ASSERT_LE(0, self->thresholds[i]);
	}
	self->rate = read_num(RATE);
	ASSERT_EQ(0, write_num(RATE, 0));
	self->held = hold_anon(claim);
	ASSERT_NE(NULL, self->held);
	self->fd = mn_open_nb();
	ASSERT_LE(0, self->fd);
	/* A claim, so that count_objects() is not skipped for an empty cache. */
	ASSERT_EQ(0, mn_set_cache(self->fd, claim));
}

FIXTURE_TEARDOWN(levels)
{
	close(self->fd);
	munmap(self->held, 4 * MB);
	write_num(RATE, self->rate);
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(0, write_num(threshold_params[i], self->thresholds[i]));
}

TEST_F(levels, drop_caches_none)
{
	long long count = stat_of("shrinker_count");
	__u32 level = 0;

	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "2"));
	EXPECT_LT(count, stat_of("shrinker_count"));
	EXPECT_EQ(0, wait_shrinker_pressure(self->fd, &level, 300));
}

TEST_F(levels, debugfs_count_none)
{
	const char *dir = "/sys/kernel/debug/shrinker";
	char path[512] = "", buf[64];
	long long count = stat_of("shrinker_count");
	struct dirent *de;
	__u32 level = 0;
	DIR *d = opendir(dir);
	int f;

	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "memnotify-", 10))
			snprintf(path, sizeof(path), "%s/%s/count", dir, de->d_name);
	if (d)
		closedir(d);
	if (!path[0])
		SKIP(return, "no shrinker debugfs (CONFIG_SHRINKER_DEBUG off)");
	f = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, f) TH_LOG("%s", path);
	EXPECT_LT(0, read(f, buf, sizeof(buf)));
	close(f);
	EXPECT_LT(count, stat_of("shrinker_count"));
	EXPECT_EQ(0, wait_shrinker_pressure(self->fd, &level, 300));
}

TEST_F(levels, root_memory_reclaim_low)
{
	const char *file = "/sys/fs/cgroup/memory.reclaim";
	long long count = stat_of("shrinker_count");
	__u32 level = 0;

	int err = 0;

	if (access(file, W_OK)) {
		mkdir("/sys/fs/cgroup", 0755);
		if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL) &&
		    errno != EBUSY)
			err = errno;
	}
	if (access(file, W_OK))
		SKIP(return, "no %s (%s)", file, err ? strerror(err) :
		     "memory controller disabled?");
	/* It may reclaim less than asked (EAGAIN); the shrinker ran anyway. */
	write_file(file, "1M");
	if (stat_of("shrinker_count") == count)
		SKIP(return, "memory.reclaim did not call the shrinker");
	EXPECT_LT(0, wait_shrinker_pressure(self->fd, &level, 500));
	EXPECT_EQ(MEMNOTIFY_LEVEL_LOW, level);
}

/* Direct reclaim entries so far (allocstall_* of /proc/vmstat). */
static long long allocstalls(void)
{
	static const char *const zones[] = { "dma", "dma32", "normal", "movable", "device" };
	long long sum = 0, v;
	char key[32];

	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		snprintf(key, sizeof(key), "allocstall_%s", zones[i]);
		v = mn_proc_num("/proc/vmstat", key);
		sum += v > 0 ? v : 0;
	}
	return sum;
}

/* The zones' watermark boosts, in pages (the "boost" lines of zoneinfo). */
static long long watermark_boost(void)
{
	char buf[16384], *p;
	int fd = open("/proc/zoneinfo", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	long long sum = 0;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (p = strstr(buf, " boost "); p; p = strstr(p + 1, " boost "))
		sum += strtoll(p + 7, NULL, 10);
	return sum;
}

/*
 * A hog driven to the OOM killer at the default watermarks: direct reclaim
 * runs with a zone below its low watermark (an allocation enters it below
 * the min watermark, boost included, and so does the level's check), so its
 * PRESSURE is MEDIUM; kswapd's is at most LOW.
 * The thresholds are off, so no record is raised to a threshold's level,
 * and the OOM notifier's CRITICAL has source OOM, not SHRINKER.  The test
 * keeps the fixture's claim (the OOM path asks for it and waits its bound,
 * then the hog is killed).
 */
TEST_F_TIMEOUT(levels, direct_reclaim_medium, 120)
{
	long long stalls = allocstalls(), kills;
	struct memnotify_event ev;
	struct quiet_console qc;
	__u32 level = 0;
	int st = 0, n = 0, r;
	uint64_t t0;
	pid_t hog;

	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, write_num(threshold_params[i], 0));
	mn_drain(self->fd);
	set_oom_score_adj(getpid(), -1000);
	kills = mn_proc_num("/proc/vmstat", "oom_kill");
	quiet_console_begin(&qc);
	hog = fork();
	ASSERT_LE(0, hog);
	if (hog == 0) {
		long page = sysconf(_SC_PAGESIZE);

		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* test aborted */
		set_oom_score_adj(getpid(), 1000);
		for (;;) {
			char *p = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				       -1, 0);

			if (p == MAP_FAILED)
				_exit(2);
			for (size_t off = 0; off < 4 * MB; off += page)
				p[off] = 1;
		}
	}
	t0 = now_ns();
	while (hog && now_ns() - t0 < 90000000000ull) {
		r = mn_wait_event(self->fd, &ev, 100);
		ASSERT_LE(0, r);
		if (r && ev.type == MEMNOTIFY_EVENT_PRESSURE &&
		    ev.source == MEMNOTIFY_SOURCE_SHRINKER) {
			n++;
			if (ev.level > level)
				level = ev.level;
		}
		if (waitpid(hog, &st, WNOHANG) == hog)
			hog = 0;
	}
	if (hog) {
		kill(hog, SIGKILL);
		waitpid(hog, &st, 0);
	}
	/* the hand-over is asynchronous: what the last reclaim raised */
	n += wait_shrinker_pressure(self->fd, &level, 500);
	EXPECT_EQ(0, quiet_console_end(&qc));
	TH_LOG("%d shrinker PRESSURE records, highest level %u; %lld direct "
	       "reclaim entries; hog status %#x; watermark boost %lld pages",
	       n, level, allocstalls() - stalls, st, watermark_boost());
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	EXPECT_LT(kills, mn_proc_num("/proc/vmstat", "oom_kill"));
	EXPECT_LT(stalls, allocstalls());
	EXPECT_EQ(MEMNOTIFY_LEVEL_MEDIUM, level);
}

TEST_HARNESS_MAIN
