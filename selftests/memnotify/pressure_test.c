// SPDX-License-Identifier: GPL-2.0
/*
 * Real memory pressure in the (256 MB, swapless) test VM:
 *  - drop_caches calls the shrinker: the reported cache turned entirely
 *    into RECLAIM requests, and no PRESSURE (drop_caches is not pressure);
 *  - a child that allocates and touches memory until told to stop: the
 *    subscriber, which reported a cache, gets PRESSURE and RECLAIM
 *    requests for the cache, gives it back and then stops the child, and
 *    no OOM kill happens;
 *  - a child overcommitting until the OOM killer acts gives a CRITICAL
 *    record from the OOM notifier.
 * The test process protects itself with oom_score_adj -1000, the children
 * volunteer with 1000.  Everything runs at the kernel's default
 * vm.watermark_scale_factor: with nothing to reclaim (no swap, no disk)
 * kswapd then wakes only about 1 MB before the OOM path in a 256 MB VM, so
 * the cache may be asked for by the shrinker or only from the OOM path,
 * which waits (bounded) for it before the OOM killer picks a victim.
 */
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "memnotify_test.h"
#include "mn_kmsg.h"

#define CHUNK	(4ul << 20)

/*
 * Allocate and touch up to limit bytes, 4 MB at a time, until *stop is set.
 * Exit 0 when stopped, 3 when the limit was reached.
 */

static void __attribute__((noreturn)) hog(volatile int *stop, size_t limit)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t done = 0;

	set_oom_score_adj(getpid(), 1000);
	while (done < limit && !*stop) {
		char *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);

		if (p == MAP_FAILED) {
			usleep(1000);
			continue;
		}
		for (size_t off = 0; off < CHUNK && !*stop; off += page)
			p[off] = 1;
		done += CHUNK;
	}
	_exit(*stop ? 0 : 3);
}

FIXTURE(pressure) {
	int fd;
	volatile int *stop;
	size_t ram;
	struct quiet_console qc;
};

FIXTURE_SETUP(pressure)
{
	self->ram = (size_t)mem_total_pages() * sysconf(_SC_PAGESIZE);
	self->fd = mn_open_nb();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mn_set_mask(self->fd, MEMNOTIFY_EVENT_PRESSURE |
					   MEMNOTIFY_EVENT_RECLAIM));
	self->stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->stop);
	set_oom_score_adj(getpid(), -1000);
	quiet_console_begin(&self->qc);
}

FIXTURE_TEARDOWN(pressure)
{
	EXPECT_EQ(0, quiet_console_end(&self->qc));
	munmap((void *)self->stop, 4096);
	close(self->fd);
}

TEST_F_TIMEOUT(pressure, drop_caches_reclaim, 120)
{
	long page = sysconf(_SC_PAGESIZE);
	long long scans = read_num(MN_STAT("shrinker_scan"));
	long long batch = read_num(MN_STAT("shrinker_batch"));
	__u64 bytes = 32ull << 20, left, want = bytes / page, got = 0;
	struct memnotify_event ev;
	int shrinker_pressure = 0;
	void *held = hold_anon(bytes);	/* the claim is real */

	ASSERT_NE(NULL, held);
	ASSERT_EQ(0, mn_set_cache(self->fd, bytes));
	ASSERT_EQ(0, mn_get_cache(self->fd, &left));
	ASSERT_EQ(bytes, left);
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "2"));
	while (got < want && mn_wait_event(self->fd, &ev, 2000) == 1) {
		if (ev.type == MEMNOTIFY_EVENT_RECLAIM) {
			EXPECT_EQ(MEMNOTIFY_SOURCE_SHRINKER, ev.source);
			got += ev.reclaim_bytes;
		} else if (ev.source == MEMNOTIFY_SOURCE_SHRINKER) {
			shrinker_pressure++;
		}
	}
	/*
	 * Requests plus what is still reported add up to the report; the core
	 * leaves less than a batch behind when it stops.
	 */
	ASSERT_EQ(0, mn_get_cache(self->fd, &left));
	EXPECT_EQ(want, (got + left) / page);
	EXPECT_GT(batch, (long long)(left / page));
	EXPECT_LT(scans, read_num(MN_STAT("shrinker_scan")));
	/*
	 * drop_caches asks for the caches but is not memory pressure: its
	 * shrinker calls raise no PRESSURE record (the hand-over is
	 * asynchronous, hence the wait).
	 */
	while (mn_wait_event(self->fd, &ev, 500) == 1)
		shrinker_pressure += ev.type == MEMNOTIFY_EVENT_PRESSURE &&
				     ev.source == MEMNOTIFY_SOURCE_SHRINKER;
	EXPECT_EQ(0, shrinker_pressure);
	munmap(held, bytes);
}

/* Two subscribers share a request in proportion to what they reported. */
TEST_F_TIMEOUT(pressure, reclaim_split_proportionally, 120)
{
	long page = sysconf(_SC_PAGESIZE);
	__u64 a_bytes = 24ull << 20, b_bytes = 8ull << 20, left, b_left;
	long long batch = read_num(MN_STAT("shrinker_batch"));
	void *held = hold_anon(a_bytes + b_bytes);	/* the claims are real */
	struct memnotify_event ev;
	int b = mn_open_nb();

	ASSERT_NE(NULL, held);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, mn_set_cache(self->fd, a_bytes));
	ASSERT_EQ(0, mn_set_cache(b, b_bytes));
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "2"));
	ASSERT_EQ(1, mn_wait_type(self->fd, MEMNOTIFY_EVENT_RECLAIM, &ev, 5000));
	EXPECT_EQ(1, mn_wait_type(b, MEMNOTIFY_EVENT_RECLAIM, &ev, 5000));
	/* What is left keeps the 3:1 proportion, within a batch. */
	ASSERT_EQ(0, mn_get_cache(self->fd, &left));
	ASSERT_EQ(0, mn_get_cache(b, &b_left));
	EXPECT_GE((long long)(left / page), 3 * (long long)(b_left / page) - batch);
	EXPECT_LE((long long)(left / page), 3 * (long long)(b_left / page) + batch);
	EXPECT_GT(a_bytes / 2, left);
	EXPECT_GT(b_bytes / 2, b_left);
	close(b);
	munmap(held, a_bytes + b_bytes);
}

/*
 * A subscriber doing what the header asks, no more: it reports a cache it
 * really holds and gives back what each RECLAIM asks for (MADV_DONTNEED,
 * which allocates nothing).  The hog it stands for stops once the
 * subscriber has had both PRESSURE and a RECLAIM, or once the whole cache
 * has been asked for and given back (there is nothing left to give, and the
 * shrinker's PRESSURE, handed to a work item, may still be on its way while
 * direct reclaim runs into the OOM path: seen on arm64-6.1): the hog needs
 * twice the RAM, and the OOM killer would take it if the cache did not come
 * back first.  Either record may come first: a threshold's PRESSURE before
 * the shrinker asks, or a RECLAIM from kswapd paying back a watermark boost,
 * which asks caches for memory with memory to spare (no PRESSURE, that is
 * not pressure).  PRESSURE must still arrive, within a second of the hog's
 * end at the latest.
 */
TEST_F_TIMEOUT(pressure, pressure_before_oom_kill, 300)
{
	long long ooms = mn_proc_num("/proc/vmstat", "oom_kill");
	long long waits = read_num(MN_STAT("oom_waits"));
	long long averted = read_num(MN_STAT("oom_averted"));
	__u64 bytes = 32ull << 20, reclaim = 0, given = 0, n;
	char *held = hold_anon(bytes);	/* the claim is real */
	struct memnotify_event ev, first = { 0 };
	struct sched_param sp = { .sched_priority = 10 };
	uint64_t t0 = now_ns(), t_reclaim = 0, t_end = 0;
	int st = 0, r, pressure = 0;
	unsigned int sources = 0;
	pid_t pid;

	ASSERT_NE(NULL, held);
	/* Not shared with the hog, or giving it back would free nothing. */
	ASSERT_EQ(0, madvise(held, bytes, MADV_DONTFORK));
	ASSERT_EQ(0, mn_set_cache(self->fd, bytes));
	/*
	 * The subscriber runs SCHED_FIFO (as a pressure daemon would) so that
	 * it answers within the OOM wait's bound even on a busy TCG host;
	 * musl's sched_setscheduler() is a stub, hence the system call.
	 */
	syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &sp);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		hog(self->stop, 2 * self->ram);

	while (now_ns() - t0 < 240 * 1000000000ull) {
		r = mn_wait_event(self->fd, &ev, 100);
		ASSERT_LE(0, r);
		if (pid && waitpid(pid, &st, WNOHANG) == pid) {
			pid = 0;
			t_end = now_ns();
		}
		if (r == 0) {
			if (!pid && (pressure || now_ns() - t_end > 1000000000ull))
				break;
			continue;
		}
		if (ev.type == MEMNOTIFY_EVENT_PRESSURE) {
			if (!pressure++)
				first = ev;
			sources |= 1u << ev.source;
		}
		if (ev.type == MEMNOTIFY_EVENT_RECLAIM) {
			n = ev.reclaim_bytes < bytes - given ?
			    ev.reclaim_bytes : bytes - given;
			madvise(held + given, n, MADV_DONTNEED);
			mn_released(self->fd, n);
			given += n;
			reclaim += ev.reclaim_bytes;
			if (!t_reclaim)
				t_reclaim = ev.timestamp_ns;
		}
		if ((pressure && reclaim) || given == bytes)
			*self->stop = 1;
	}
	*self->stop = 1;
	sp.sched_priority = 0;
	syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp);
	if (pid)
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
	waits = read_num(MN_STAT("oom_waits")) - waits;
	averted = read_num(MN_STAT("oom_averted")) - averted;
	TH_LOG("first PRESSURE after %.0f ms: level %u source %u free %llu bytes; "
	       "sources %#x; first RECLAIM after %.0f ms, %llu bytes in all; "
	       "%lld OOM waits, %lld averted a kill; hog status %#x",
	       first.timestamp_ns ? (first.timestamp_ns - t0) / 1e6 : -1.0,
	       first.level, first.source, (unsigned long long)first.free_bytes,
	       sources, t_reclaim ? (t_reclaim - t0) / 1e6 : -1.0,
	       (unsigned long long)reclaim, waits, averted, st);
	/*
	 * The contract at default watermarks: PRESSURE reached the
	 * subscriber, from the shrinker, a threshold or the OOM path, the
	 * cache was asked for and came back, and all that before any victim
	 * was chosen: no OOM kill at all, and the hog stopped when told.
	 */
	EXPECT_LT(0, pressure);
	EXPECT_LT(0, reclaim);
	EXPECT_EQ(ooms, mn_proc_num("/proc/vmstat", "oom_kill"));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* An OOM path entered for this hog was averted by the release. */
	EXPECT_EQ(waits, averted);
	munmap(held, bytes);
}

TEST_F_TIMEOUT(pressure, oom_notifier_critical, 300)
{
	long long ooms = read_num(MN_STAT("oom"));
	struct memnotify_event ev;
	uint64_t t0 = now_ns();
	int st = 0, critical = 0, pri = 0, r;
	struct pollfd pfd;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		hog(self->stop, 4 * self->ram);	/* never stopped: OOM */

	while (!critical && now_ns() - t0 < 240 * 1000000000ull) {
		pfd = (struct pollfd){ .fd = self->fd, .events = POLLIN | POLLPRI };
		r = poll(&pfd, 1, 100);
		if (r <= 0)
			continue;
		if (pfd.revents & POLLPRI)
			pri = 1;
		while (read(self->fd, &ev, sizeof(ev)) == (ssize_t)MN_REC) {
			if (ev.type == MEMNOTIFY_EVENT_PRESSURE &&
			    ev.source == MEMNOTIFY_SOURCE_OOM) {
				EXPECT_EQ(MEMNOTIFY_LEVEL_CRITICAL, ev.level);
				critical = 1;
			}
		}
	}
	if (!critical)
		*self->stop = 1;	/* else the OOM killer has it */
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(critical);
	EXPECT_TRUE(pri);
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		TH_LOG("hog status %#x", st);
	EXPECT_LT(ooms, read_num(MN_STAT("oom")));
}

TEST_HARNESS_MAIN
