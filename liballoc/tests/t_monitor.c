/* The memory-pressure monitor, driven by its scripted event source
 * (la_monitor_inject): what each event level releases, how fast Rss falls,
 * fork and exit with a running monitor, time decay and adaptive sizing.
 * Every TEST runs in a child the harness forks, so each one also checks
 * that a forked process starts its own monitor. */
#include <linux/memnotify.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include "common.h"

#define MB (1024L * 1024)
#define NSMALL 12800  /* 4000 B blocks: 50 MiB */
#define NLARGE 200    /* 256 KiB blocks: 50 MiB */

static void *sblk[NSMALL], *lblk[NLARGE];

/* ~100 MiB touched, then freed into liballoc's caches. */
static void fill_and_free(int small, int large)
{
	for (int i = 0; i < small; i++)
		memset(sblk[i] = malloc(4000), 0x5a, 4000);
	for (int i = 0; i < large; i++)
		memset(lblk[i] = malloc(256 << 10), 0x5a, 256 << 10);
	for (int i = 0; i < small; i++)
		free(sblk[i]);
	for (int i = 0; i < large; i++)
		free(lblk[i]);
}

/* Inject an event and wait until the monitor has handled it (2 s max). */
static int inject_wait(uint32_t type, uint32_t level, uint64_t pages)
{
	uint64_t ev = stats_now().monitor_events;
	if (la_monitor_inject(type, level, pages))
		return -1;
	double t0 = now_s();
	while (stats_now().monitor_events == ev)
		if (now_s() - t0 > 2.0)
			return -1;
	return 0;
}

static uint64_t pool_dirty(void)
{
	return stats_now().bytes_pool_dirty;
}

TEST(starts_without_a_heap)
{
	int src = la_monitor_start();
	ASSERT_GE(src, LA_MONITOR_DECAY);
	struct la_stats st = stats_now();
	ASSERT_EQ((uint64_t)src, st.monitor_source);
	ASSERT_NE(LA_WAIT_NONE, st.monitor_wait);
	ASSERT_EQ(0, inject_wait(MEMNOTIFY_EVENT_ACTIVE, 0, 0));
	/* the monitor thread never attached a heap: it allocates nothing */
	ASSERT_EQ(1, stats_now().threads);
	ASSERT_EQ(src, la_monitor_start());
}

TEST(low_halves_the_pool)
{
	la_monitor_start();
	fill_and_free(NSMALL, 0);
	uint64_t before = pool_dirty();
	ASSERT_GT(before, 40 * MB);
	ASSERT_EQ(0, inject_wait(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_LOW, 0));
	uint64_t after = pool_dirty();
	ASSERT_LE(after, before / 2 + MB) TH_LOG("before %lu after %lu", before, after);
	ASSERT_GT(after, before / 4) TH_LOG("LOW released too much");
}

TEST(medium_empties_pools_keeps_thread_cache)
{
	la_monitor_start();
	fill_and_free(NSMALL, NLARGE);
	ASSERT_GT(pool_dirty(), 40 * MB);
	ASSERT_GT(stats_now().bytes_thread_cached[LA_TIER_LARGE], 0);
	ASSERT_EQ(0, inject_wait(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_MEDIUM, 0));
	struct la_stats st = stats_now();
	/* (the monitor's adaptive tick may have trimmed a page or two since) */
	ASSERT_LT(st.bytes_pool_dirty, 4 * MB);
	/* the large-span cache of this thread is not MEDIUM's business */
	ASSERT_GT(st.bytes_thread_cached[LA_TIER_LARGE], 0);
	ASSERT_GT(st.monitor_released, 40 * MB);
}

static sem_t go, done;
static void *cacher(void *arg)
{
	(void)arg;
	/* 8 spans of 512 KiB: the whole 4 MiB large-span cache of this thread */
	for (int i = 0; i < 8; i++)
		memset(lblk[i] = malloc(512 << 10), 1, 512 << 10);
	for (int i = 0; i < 8; i++)
		free(lblk[i]);
	sem_post(&done);
	sem_wait(&go);
	return NULL;
}

TEST(critical_reaches_sleeping_threads)
{
	la_monitor_start();
	pthread_t t;
	sem_init(&go, 0, 0);
	sem_init(&done, 0, 0);
	ASSERT_EQ(0, pthread_create(&t, NULL, cacher, NULL));
	sem_wait(&done);
	struct la_stats st = stats_now();
	ASSERT_GE(st.bytes_thread_cached[LA_TIER_LARGE], 3 * MB);
	uint64_t gen = st.count_flush_requests;
	ASSERT_EQ(0, inject_wait(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_CRITICAL, 0));
	st = stats_now();
	/* taken from the sleeping thread directly, no wait for its next malloc */
	ASSERT_EQ(0, st.bytes_thread_cached[LA_TIER_LARGE]);
	ASSERT_LT(st.bytes_pool_dirty, MB);
	ASSERT_GT(st.count_flush_requests, gen);
	sem_post(&go);
	pthread_join(t, NULL);
}

TEST(reclaim_releases_at_least_n_pages)
{
	la_monitor_start();
	fill_and_free(NSMALL, 0);
	uint64_t before = pool_dirty(), rel0 = stats_now().monitor_released;
	ASSERT_GT(before, 40 * MB);
	uint64_t pages = (10 * MB) / (uint64_t)sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, inject_wait(MEMNOTIFY_EVENT_RECLAIM, 0, pages));
	struct la_stats st = stats_now();
	uint64_t rel = st.monitor_released - rel0;
	ASSERT_GE(rel, 10 * MB);
	ASSERT_LT(rel, 20 * MB) TH_LOG("RECLAIM took far more than asked: %lu", rel);
	ASSERT_LE(st.bytes_pool_dirty, before - 10 * MB);
	/* more than is held: everything goes, no error */
	ASSERT_EQ(0, inject_wait(MEMNOTIFY_EVENT_RECLAIM, 0, 1u << 30));
	ASSERT_LT(pool_dirty(), MB);
}

/* How long a release may take before the test calls it lost: generous,
 * because this is a test, not a benchmark (the time is logged; the target of
 * 50 ms is a performance goal, not a pass criterion). Under QEMU TCG (the
 * Kimigayo VM) everything runs 10-50x slower, and a debug kernel there
 * (lock checking and KASAN: /proc/lockdep exists) several times more. */
static double release_deadline_s(void)
{
	char buf[1024];
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	/* the module is only ever loaded in the VM */
	if (!strstr(buf, "kimigayo") && access("/dev/memnotify", F_OK))
		return 2.0;
	return access("/proc/lockdep", F_OK) ? 5.0 : 20.0;
}

/* Rss <= live set + 1 MiB after the event, after 100 MiB were freed into
 * caches. The live set is the Rss before the fill (nothing the test
 * allocates stays live). */
static void rss_after_event(struct __test_metadata *_metadata, uint32_t type, uint32_t level)
{
	la_monitor_start();
	fill_and_free(NSMALL / 10, NLARGE / 10); /* warm up: code, stacks, tables */
	la_trim(0);
	long live = rss_kb();
	fill_and_free(NSMALL, NLARGE);
	long high = rss_kb();
	ASSERT_GT(high, live + 90 * 1024) TH_LOG("live %ld high %ld", live, high);
	double t0 = now_s(), t, limit = release_deadline_s();
	ASSERT_EQ(0, la_monitor_inject(type, level, 0));
	long r;
	do {
		r = rss_kb();
		t = now_s() - t0;
		if (r <= live + 1024)
			break;
		usleep(500);
	} while (t < limit);
	TH_LOG("Rss live %ld KiB, cached %ld KiB, %ld KiB after %.1f ms (latency %.2f ms)",
	       live, high, r, t * 1e3, stats_now().monitor_last_latency_ns / 1e6);
	ASSERT_LE(r, live + 1024);
}

TEST(idle_rss_back_to_live)
{
	rss_after_event(_metadata, MEMNOTIFY_EVENT_IDLE, 0);
}

TEST(critical_rss_back_to_live)
{
	rss_after_event(_metadata, MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_CRITICAL);
}

static void *spinner(void *arg)
{
	(void)arg;
	for (;;) {
		void *p = malloc(100);
		free(p);
	}
	return NULL;
}

TEST(fork_and_exit_with_running_monitor)
{
	la_monitor_start();
	ASSERT_EQ(0, inject_wait(MEMNOTIFY_EVENT_IDLE, 0, 0));
	for (int i = 0; i < 10; i++) {
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			/* child: no monitor until it allocates; then its own */
			if (stats_now().monitor_source != LA_MONITOR_NONE)
				_exit(10);
			fill_and_free(100, 4);
			if (stats_now().monitor_source == LA_MONITOR_NONE)
				_exit(11);
			if (inject_wait(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_CRITICAL, 0))
				_exit(12);
			/* exit while another thread allocates and the monitor
			 * reacts: must not hang */
			pthread_t t;
			pthread_create(&t, NULL, spinner, NULL);
			la_monitor_inject(MEMNOTIFY_EVENT_IDLE, 0, 0);
			exit(0);
		}
		int status = -1;
		double t0 = now_s();
		while (waitpid(pid, &status, WNOHANG) == 0) {
			if (now_s() - t0 > 10) {
				kill(pid, SIGKILL);
				ASSERT_TRUE(0) TH_LOG("child hung at exit");
			}
			usleep(1000);
		}
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status));
	}
	/* the parent's monitor still works */
	ASSERT_EQ(0, inject_wait(MEMNOTIFY_EVENT_ACTIVE, 0, 0));
}

TEST(signals_never_reach_the_monitor)
{
	/* SIGUSR1 to the process is delivered to a thread that does not block
	 * it: with the monitor blocking everything, that is this thread. */
	la_monitor_start();
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &s, NULL));
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	sigset_t pend;
	sigpending(&pend);
	ASSERT_TRUE(sigismember(&pend, SIGUSR1)); /* still pending: nobody took it */
	int sig;
	ASSERT_EQ(0, sigwait(&s, &sig));
}

/* ---- decay and adaptive sizing run in a re-executed child, since their
 * options are read from the environment at start-up ---- */
static int decay_child(void)
{
	la_monitor_start();
	fill_and_free(NSMALL, 0);
	long high = rss_kb();
	double t0 = now_s();
	usleep(200 * 1000);
	struct la_stats st = stats_now();
	if (st.decay_released) {
		fprintf(stderr, "decay released %lu bytes before its 500 ms delay\n",
			(unsigned long)st.decay_released);
		return 1;
	}
	long r = rss_kb();
	if (r < high - 4 * 1024) {
		fprintf(stderr, "Rss fell before the delay: %ld -> %ld KiB\n", high, r);
		return 2;
	}
	/* After the delay, decay goes on at the monitor's pace: allow a slow
	 * (emulated) machine time; the "not before" half above is the sharp one. */
	while (now_s() - t0 < 20.0 && (r = rss_kb()) > high - 40 * 1024)
		usleep(10 * 1000);
	double t = now_s() - t0;
	st = stats_now();
	fprintf(stderr, "decay: Rss %ld -> %ld KiB after %.0f ms, decay_released %lu\n",
		high, r, t * 1e3, (unsigned long)st.decay_released);
	if (r > high - 40 * 1024 || t < 0.5)
		return 3;
	return 0;
}

static int run_child(const char *mode, const char *decay)
{
	char *argv[] = { "t_monitor", (char *)mode, NULL };
	char env_decay[64];
	snprintf(env_decay, sizeof env_decay, "LIBALLOC_DECAY_MS=%s", decay);
	char *envp[] = { env_decay, "LIBALLOC_MONITOR=auto", NULL };
	pid_t pid;
	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, envp))
		return -1;
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST(decay_after_delay_not_before)
{
	ASSERT_EQ(0, run_child("--decay", "500"));
}

static int nodecay_child(void)
{
	la_monitor_start();
	fill_and_free(NSMALL, 0);
	long high = rss_kb();
	usleep(1000 * 1000);
	long r = rss_kb();
	if (stats_now().decay_released || r < high - 4 * 1024) {
		fprintf(stderr, "decay ran with LIBALLOC_DECAY_MS=-1: %ld -> %ld\n", high, r);
		return 1;
	}
	return 0;
}

TEST(decay_disabled)
{
	ASSERT_EQ(0, run_child("--nodecay", "-1"));
}

TEST(adaptive_grows_under_burst_and_shrinks_after)
{
	la_monitor_start();
	uint64_t base = stats_now().tcache_cap_sum, peak = base;
	/* a burst: 2 MiB of 1000 B blocks allocated and freed over and over,
	 * so pages keep bouncing through the pool, until the capacity grew (a
	 * few 100 ms ticks; 5 s allow for a machine busy with other work) */
	double t0 = now_s();
	while (now_s() - t0 < 5.0 && peak <= base + 8) {
		for (int i = 0; i < 2000; i++)
			sblk[i] = malloc(1000);
		for (int i = 0; i < 2000; i++)
			free(sblk[i]);
		uint64_t c = stats_now().tcache_cap_sum;
		peak = c > peak ? c : peak;
	}
	ASSERT_GT(peak, base + 8) TH_LOG("base %lu peak %lu", base, peak);
	/* quiet: capacity halves back to the baseline */
	uint64_t c;
	t0 = now_s();
	while ((c = stats_now().tcache_cap_sum) > base && now_s() - t0 < 8)
		usleep(50 * 1000);
	TH_LOG("tcache capacity: base %lu, burst %lu, back to %lu after %.1f s", base, peak, c,
	       now_s() - t0);
	ASSERT_EQ(base, c);
}

/* Mappings of /dev/memnotify in this process (its state page). */
static int memnotify_maps(void)
{
	static char buf[256 << 10];
	int fd = open("/proc/self/maps", O_RDONLY), n = 0;
	ssize_t len = 0, r;
	if (fd < 0)
		return -1;
	while (len < (ssize_t)sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += r;
	close(fd);
	buf[len] = 0;
	for (char *p = buf; (p = strstr(p, " /dev/memnotify\n")); p++) {
		char *line = p;
		while (line > buf && line[-1] != '\n')
			line--;
		n += strstr(line, " r--s ") && strstr(line, " r--s ") < p ? 1 : 100;
	}
	return n;
}

/* With memnotify the monitor maps the fd's read-only state page, once; a
 * forked child drops the inherited mapping (it would keep the parent's
 * subscription alive) and maps its own when its monitor starts. */
TEST(memnotify_state_page_mapped_once)
{
	if (la_monitor_start() != LA_MONITOR_MEMNOTIFY)
		SKIP(return, "monitor source is not memnotify");
	ASSERT_EQ(1, memnotify_maps());
	pid_t pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (memnotify_maps() != 0)
			_exit(1);
		if (la_monitor_start() != LA_MONITOR_MEMNOTIFY || memnotify_maps() != 1)
			_exit(2);
		_exit(0);
	}
	int st;
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(0, WEXITSTATUS(st));
	ASSERT_EQ(1, memnotify_maps());
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--decay"))
		return decay_child();
	if (argc > 1 && !strcmp(argv[1], "--nodecay"))
		return nodecay_child();
	return test_harness_run(argc, argv);
}
