/* liballoc with default settings (no LIBALLOC_* in the environment) in the
 * VM, against real events rather than injected ones (skipped outside the
 * small test VM):
 *  - RECLAIM: drop_caches runs every shrinker, so memnotify asks the service
 *    for the cache it reported, and the service gives it back;
 *  - memory pressure: a hog lowers MemAvailable towards the module's low
 *    threshold, and the service gives memory back before it gets there, on
 *    whichever event the kernel raises first (kswapd's shrinker call, a
 *    RECLAIM, comes before the threshold's PRESSURE at default watermarks);
 *  - IDLE: the service goes quiet and gives its cache back.
 * The service is a daemon-shaped program: a worker thread that keeps
 * moving spans (so time decay, the fallback, never fires while it works and
 * the process never looks idle) and a main thread that answers the test's
 * questions over a pipe. What gave the memory back is read from its
 * la_stats: monitor_released (an event) against decay_released (time). */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "common.h"
#include "../demo/scenario.h"

#define MB (1024L * 1024)
#define MN_DEV "/dev/memnotify"
#define CACHE_MIB 64

/* ---- the service ---- */
static _Atomic int svc_quiet;
static int svc_park[2];

/* Busy until told to be quiet: 6 MiB of 1 MiB blocks in and out (more than
 * the thread's large-span cache holds, so spans move through the pool),
 * then parked on a pipe: alive, holding its heap, using no CPU. */
static void *svc_worker(void *arg)
{
	(void)arg;
	void *b[6];
	while (!svc_quiet) {
		for (int i = 0; i < 6; i++)
			memset(b[i] = malloc(MB), 1, 4096);
		for (int i = 0; i < 6; i++)
			free(b[i]);
	}
	char c;
	while (read(svc_park[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

struct svc_reply {
	struct la_stats st;
	long rss_kb;
};

/* Fills and frees CACHE_MIB, says "R", then answers: 's' stats, 'q' quiet. */
static int service(void)
{
	pthread_t w;
	if (pipe(svc_park) || pthread_create(&w, NULL, svc_worker, NULL))
		return 1;
	static void *blk[CACHE_MIB * 256];
	int n = 0;
	for (int i = 0; i < CACHE_MIB * 256; i++)
		memset(blk[n++] = malloc(4000), 0x5a, 4000);
	while (n)
		free(blk[--n]);
	if (write(1, "R", 1) != 1)
		return 1;
	for (char c; read(0, &c, 1) == 1;) {
		if (c == 'q')
			svc_quiet = 1;
		struct svc_reply r = { .st = stats_now(), .rss_kb = rss_kb() };
		if (write(1, &r, sizeof r) != (ssize_t)sizeof r)
			return 1;
	}
	return 0;
}

/* ---- the test side ---- */
FIXTURE(svc) {
	pid_t pid;
	int to, from;
};

FIXTURE_SETUP(svc)
{
	self->pid = -1;
	if (!scn_in_test_vm())
		SKIP(return, "needs root, " MN_DEV " and < 1 GiB RAM (the QEMU VM)");
	char *argv[] = { "t_vm_defaults", "--service", NULL };
	char *envp[] = { NULL }; /* default settings: no LIBALLOC_* at all */
	self->pid = scn_spawn_self(argv, envp, &self->to, &self->from, NULL);
	ASSERT_GT(self->pid, 0);
	char c = 0;
	ASSERT_EQ(1, read(self->from, &c, 1));
	ASSERT_EQ('R', c);
}

FIXTURE_TEARDOWN(svc)
{
	if (self->pid <= 0)
		return;
	close(self->to);
	close(self->from);
	kill(self->pid, SIGKILL);
	waitpid(self->pid, NULL, 0);
}

static struct svc_reply ask(FIXTURE_DATA(svc) *self, char cmd)
{
	struct svc_reply r;
	memset(&r, 0, sizeof r);
	if (write(self->to, &cmd, 1) != 1 || read(self->from, &r, sizeof r) != (ssize_t)sizeof r)
		r.rss_kb = -1;
	return r;
}

/* Polls the service every `step_ms` for up to `secs` until its monitor has
 * released `bytes` more than `base`; returns the last reply. */
static struct svc_reply wait_released(FIXTURE_DATA(svc) *self, uint64_t base, uint64_t bytes,
				      double secs, int step_ms)
{
	double t0 = now_s();
	struct svc_reply r;
	do {
		usleep((useconds_t)step_ms * 1000);
		r = ask(self, 's');
	} while (r.rss_kb >= 0 && r.st.monitor_released < base + bytes && now_s() - t0 < secs);
	return r;
}

/* A skip in FIXTURE_SETUP does not keep every harness version from running
 * the test body: each test checks again. */
#define NEED_VM() do { if (self->pid <= 0) \
	SKIP(return, "needs root, " MN_DEV " and < 1 GiB RAM (the QEMU VM)"); } while (0)

/* The service runs on memnotify and has told the kernel about its cache. */
static struct svc_reply reported(struct __test_metadata *_metadata, FIXTURE_DATA(svc) *self)
{
	double t0 = now_s();
	struct svc_reply r;
	do {
		usleep(100 * 1000);
		r = ask(self, 's');
	} while (r.rss_kb >= 0 && r.st.monitor_reported < 32 * MB && now_s() - t0 < 10);
	EXPECT_EQ(LA_MONITOR_MEMNOTIFY, r.st.monitor_source);
	EXPECT_GE(r.st.monitor_reported, 32 * MB)
		TH_LOG("reported %lu KiB of cache", (unsigned long)(r.st.monitor_reported >> 10));
	return r;
}

TEST_F_TIMEOUT(svc, reclaim_from_drop_caches_gives_cache_back, 120)
{
	NEED_VM();
	struct svc_reply r0 = reported(_metadata, self);
	scn_write_file("/proc/sys/vm/drop_caches", "2");
	struct svc_reply r = wait_released(self, r0.st.monitor_released, 8 * MB, 10, 100);
	TH_LOG("Rss %ld -> %ld KiB, monitor released %lu KiB, decay %lu KiB", r0.rss_kb,
	       r.rss_kb, (unsigned long)((r.st.monitor_released - r0.st.monitor_released) >> 10),
	       (unsigned long)(r.st.decay_released >> 10));
	EXPECT_GE(r.st.monitor_released, r0.st.monitor_released + 8 * MB);
	EXPECT_EQ(0, r.st.decay_released); /* the worker keeps decay away */
	EXPECT_LT(r.rss_kb, r0.rss_kb - 8 * 1024);
}

/* A hog in 4 MiB steps, 50 ms apart, until the service gives memory back or
 * MemAvailable reaches a third of the low threshold, where it holds for up
 * to 5 s; it then frees. */
TEST_F_TIMEOUT(svc, memory_pressure_from_a_hog_gives_cache_back, 300)
{
	NEED_VM();
	struct svc_reply r0 = reported(_metadata, self);
	long total = scn_file_num("/proc/meminfo", "MemTotal:");
	long low = scn_file_num("/sys/module/memnotify/parameters/low_permille", "");
	ASSERT_GT(low, 0);
	long floor_kb = total * low / 1000 / 3;
	size_t cap = (size_t)total * 1024, used = 0;
	char *hog = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0);
	ASSERT_NE(MAP_FAILED, hog);
	scn_oom_adj(self->pid, "-1000"); /* if anything is killed, the runner's hog is */
	struct svc_reply r = r0;
	long avail = 0;
	while (used + 4 * MB <= cap) {
		avail = scn_file_num("/proc/meminfo", "MemAvailable:");
		if (avail < floor_kb)
			break;
		for (size_t o = 0; o < 4 * (size_t)MB; o += 4096)
			hog[used + o] = 1;
		used += 4 * MB;
		usleep(50 * 1000);
		r = ask(self, 's');
		if (r.rss_kb < 0 || r.st.monitor_released >= r0.st.monitor_released + 4 * MB)
			break;
	}
	/* At the floor, hold: the module samples MemAvailable every second
	 * (ten times as often near the low threshold), faster than a hog can
	 * be stepped down to it. */
	if (r.rss_kb >= 0 && r.st.monitor_released < r0.st.monitor_released + 4 * MB)
		r = wait_released(self, r0.st.monitor_released, 4 * MB, 5, 100);
	munmap(hog, cap);
	TH_LOG("hog %zu MiB, MemAvailable %ld MiB (low threshold %ld MiB); Rss %ld -> %ld KiB, "
	       "monitor released %lu KiB after %lu events, decay %lu KiB",
	       used / MB, avail >> 10, total * low / 1000 >> 10, r0.rss_kb, r.rss_kb,
	       (unsigned long)((r.st.monitor_released - r0.st.monitor_released) >> 10),
	       (unsigned long)(r.st.monitor_events - r0.st.monitor_events),
	       (unsigned long)(r.st.decay_released >> 10));
	EXPECT_GE(r.st.monitor_released, r0.st.monitor_released + 4 * MB);
	EXPECT_EQ(0, r.st.decay_released);
}

/* Quiet: the kernel's IDLE (1 s period by default) comes well before time
 * decay (5 s by default), so the monitor, not decay, gives the cache back. */
TEST_F_TIMEOUT(svc, idle_gives_cache_back, 120)
{
	NEED_VM();
	struct svc_reply r0 = reported(_metadata, self);
	ask(self, 'q');
	/* few questions: each answer costs the quiet process CPU time */
	struct svc_reply r = wait_released(self, r0.st.monitor_released, 32 * MB, 12, 1500);
	TH_LOG("Rss %ld -> %ld KiB, monitor released %lu KiB, decay %lu KiB", r0.rss_kb,
	       r.rss_kb, (unsigned long)((r.st.monitor_released - r0.st.monitor_released) >> 10),
	       (unsigned long)(r.st.decay_released >> 10));
	EXPECT_GE(r.st.monitor_released, r0.st.monitor_released + 32 * MB);
	EXPECT_LT(r.rss_kb, r0.rss_kb - 32 * 1024);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--service"))
		return service();
	return test_harness_run(argc, argv);
}
