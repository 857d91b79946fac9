// SPDX-License-Identifier: GPL-2.0
/*
 * Resource bounds: what any user can make the module hold.
 *  - one user's open files stop at max_subscribers_per_user (EMFILE), while
 *    other users can still subscribe;
 *  - each open file costs one bounded allocation (the memory_bytes
 *    statistic, which the slab's growth agrees with), freed on close;
 *  - a subscriber that never reads costs the same however many events come;
 *  - a reported cache beyond RAM is refused and the report stays as it was.
 */
#include <sys/resource.h>

#include "memnotify_test.h"

/*
 * One open file holds at most this much: the subscriber structure (under
 * 2 KiB, lock debugging included) and its ring of queue_len records,
 * rounded up to the allocator's power-of-two size classes.
 */
static long long per_fd_bound(void)
{
	long long need = 2048 + read_num(MN_PARAM("queue_len")) * (long long)MN_REC;
	long long b = 4096;

	while (b < need)
		b <<= 1;
	return b;
}

/* The kernel's unreclaimable slab, in bytes. */
static long long slab_bytes(void)
{
	char line[128];
	long long kb = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "SUnreclaim: %lld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb * 1024;
}

struct hoard {
	int opened;		/* files the child got */
	int err;		/* errno of the open that failed */
	long long mem;		/* memory_bytes with all of them open */
	long long slab;		/* SUnreclaim likewise */
};

/*
 * As nobody, with the fd limit raised as far as it goes, open until the
 * module says no; report, then hold the files until told to exit.
 */
static void hoard_files(int report, int go)
{
	struct hoard h = { 0 };
	struct rlimit rl;
	char c;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		_exit(100);
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	while (mn_open() >= 0)
		h.opened++;
	h.err = errno;
	h.mem = read_num(MN_STAT("memory_bytes"));
	h.slab = slab_bytes();
	if (write(report, &h, sizeof(h)) != sizeof(h))
		_exit(101);
	_exit(read(go, &c, 1) == 1 ? 0 : 102);
}

TEST(one_user_cannot_hoard)
{
	long long cap = read_num(MN_PARAM("max_subscribers_per_user"));
	long long bound = per_fd_bound();
	long long mem0 = read_num(MN_STAT("memory_bytes"));
	long long subs0 = read_num(MN_STAT("subscribers"));
	long long slab0 = slab_bytes();
	int report[2], go[2], st, fd;
	struct hoard h;
	pid_t pid;

	ASSERT_LT(0, cap);
	ASSERT_LE(0, mem0);
	ASSERT_EQ(0, pipe(report));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		hoard_files(report[1], go[0]);
	ASSERT_EQ(sizeof(h), read(report[0], &h, sizeof(h)));

	EXPECT_EQ(cap, h.opened);
	EXPECT_EQ(EMFILE, h.err);
	/* Exactly one bounded allocation per file. */
	EXPECT_EQ(0, (h.mem - mem0) % h.opened);
	EXPECT_GE(h.opened * bound, h.mem - mem0);
	/*
	 * The slab grew by no more than twice that (a debug kernel's redzones
	 * and tracking metadata), the VFS's own struct file and a margin for
	 * unrelated activity: nothing else is allocated per open.
	 */
	EXPECT_GE(h.opened * (2 * bound + 2048) + (1 << 20), h.slab - slab0);
	note("%d files of one user: %lld bytes held (%lld each, bound %lld), slab +%lld KiB\n",
		       h.opened, h.mem - mem0, (h.mem - mem0) / h.opened, bound,
		       (h.slab - slab0) / 1024);

	/* Another user (root here) can still subscribe. */
	fd = mn_open();
	EXPECT_LE(0, fd);
	close(fd);

	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_EQ(subs0, read_num(MN_STAT("subscribers")));
	EXPECT_EQ(mem0, read_num(MN_STAT("memory_bytes")));
}

TEST(per_user_cap_param)
{
	long long old = read_num(MN_PARAM("max_subscribers_per_user"));

	ASSERT_LT(0, old);
	EXPECT_NE(0, write_num(MN_PARAM("max_subscribers_per_user"), 0));
	EXPECT_NE(0, write_num(MN_PARAM("max_subscribers_per_user"), 65537));
	EXPECT_EQ(old, read_num(MN_PARAM("max_subscribers_per_user")));
}

/* A subscriber that never reads: its queue overflows, nothing grows. */
TEST(silent_reader_costs_a_fixed_amount)
{
	long long qlen = read_num(MN_PARAM("queue_len"));
	long long mem0, slab0, dropped0 = read_num(MN_STAT("dropped"));
	struct memnotify_event ev;
	int fd = mn_open_nb(), i, n = 0;

	ASSERT_LE(0, fd);
	ASSERT_LT(0, qlen);
	mem0 = read_num(MN_STAT("memory_bytes"));
	slab0 = slab_bytes();
	for (i = 0; i < 20 * qlen; i++)
		ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
				       MEMNOTIFY_LEVEL_LOW, 0, 0));
	EXPECT_EQ(mem0, read_num(MN_STAT("memory_bytes")));
	EXPECT_GE(256 * 1024, slab_bytes() - slab0);
	EXPECT_EQ(dropped0 + 19 * qlen, read_num(MN_STAT("dropped")));
	while (read(fd, &ev, sizeof(ev)) == sizeof(ev))
		n++;
	EXPECT_EQ(qlen, n);
	EXPECT_EQ(19 * qlen, ev.dropped);
	close(fd);
}

/*
 * A report larger than RAM (an overflowed computation, a negative delta
 * taken as unsigned) is refused with EINVAL and the previous report stays;
 * the reports of many files are summed without overflow, and what the
 * files of one process claim together is clamped to the anonymous memory
 * that process holds (plus the slack for the kernel's approximate
 * counters).
 */
TEST(cache_reports_bounded)
{
	long page = sysconf(_SC_PAGESIZE);
	__u64 total = (__u64)mem_total_pages() * page;
	__u64 good = 1 << 20, got, bad[] = { total + 1, ~0ull, ~0ull - (1 << 20),
					     1ull << 63, -(__s64)page };
	long long pages0 = read_num(MN_STAT("cache_pages")), sum, anon;
	size_t hold = 24 << 20;
	void *held = hold_anon(hold);
	int fds[16], i;

	ASSERT_NE(NULL, held);
	for (i = 0; i < 16; i++) {
		fds[i] = mn_open();
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ(0, mn_set_cache(fds[i], good));
	}
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		EXPECT_EQ(-1, mn_set_cache(fds[0], bad[i]));
		EXPECT_EQ(EINVAL, errno);
		ASSERT_EQ(0, mn_get_cache(fds[0], &got));
		EXPECT_EQ(good, got);
	}
	EXPECT_EQ(pages0 + 16 * (long long)(good / page), read_num(MN_STAT("cache_pages")));
	/*
	 * Every file claims all of RAM: together they get what the process
	 * holds, at least the 24 MB held here, and no more.
	 */
	for (i = 0; i < 16; i++)
		ASSERT_EQ(0, mn_set_cache(fds[i], total));
	anon = rss_anon_bytes(0);
	sum = read_num(MN_STAT("cache_pages")) - pages0;
	EXPECT_LE(sum, anon / page + read_num(MN_STAT("claim_slack_pages")));
	EXPECT_LE((long long)(hold / page), sum);
	for (i = 0; i < 16; i++)
		close(fds[i]);
	EXPECT_EQ(pages0, read_num(MN_STAT("cache_pages")));
	munmap(held, hold);
}

TEST_HARNESS_MAIN
