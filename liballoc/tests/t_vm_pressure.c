/* liballoc + memnotify in the VM (skipped where /dev/memnotify is absent,
 * e.g. on the host):
 *  - INJECTed RECLAIM(n) and IDLE really shrink a liballoc process's Rss;
 *  - the OOM-avoidance scenario: a liballoc service frees ~120 MiB into its
 *    caches (decay off), then a hog needs more than what is left. With
 *    memnotify loaded the hog completes, /proc/vmstat oom_kill is unchanged
 *    and the service's Rss falls; in the control run (module unloaded, the
 *    service's monitor off: no PSI, no decay) the OOM killer fires.
 * Every scenario process is re-executed with its LIBALLOC_* environment; the
 * harness process itself runs with LIBALLOC_MONITOR=off so that it holds no
 * /dev/memnotify file and the module can be unloaded for the control run. */
#include <linux/memnotify.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "common.h"
#include "../demo/scenario.h"

#define MB (1024L * 1024)
#define MN_DEV "/dev/memnotify"
#define MN_KO "/lib/modules/memnotify.ko"
#define MN_RELEASED "/sys/module/memnotify/stats/released_bytes"

static void *blk[32768];

/* n MiB touched then freed into the caches: half 4000 B blocks, half
 * 256 KiB spans (the large-span cache keeps 4 MiB of those per thread). */
static void fill_and_free(long mib)
{
	long ns = mib * MB / 2 / 4000, nl = mib * MB / 2 / (256 << 10), n = 0;
	for (long i = 0; i < ns; i++)
		memset(blk[n++] = malloc(4000), 0x5a, 4000);
	for (long i = 0; i < nl; i++)
		memset(blk[n++] = malloc(256 << 10), 0x5a, 256 << 10);
	while (n)
		free(blk[--n]);
}

/* The value of @key in /proc/vmstat (whole-word match), or -1. */
static long vmstat(const char *key)
{
	char word[64];
	snprintf(word, sizeof word, "\n%s ", key);
	return scn_file_num("/proc/vmstat", word);
}

static int inject_all(uint32_t type, uint32_t level, uint64_t bytes)
{
	int fd = open(MN_DEV, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct memnotify_inject in = { .type = type, .level = level,
				       .flags = MEMNOTIFY_INJECT_ALL, .reclaim_bytes = bytes };
	int r = ioctl(fd, MEMNOTIFY_IOC_INJECT, &in);
	close(fd);
	return r;
}

static int wait_events(uint64_t ev0, double secs)
{
	double t0 = now_s();
	while (stats_now().monitor_events == ev0)
		if (now_s() - t0 > secs)
			return -1;
		else
			usleep(1000);
	return 0;
}

/* ---- child: RECLAIM(n) and IDLE injected by a second fd ---- */
static int inject_child(void)
{
	if (la_monitor_start() != LA_MONITOR_MEMNOTIFY) {
		printf("# monitor source %lu, not memnotify\n", (unsigned long)stats_now().monitor_source);
		return 1;
	}
	fill_and_free(4);
	la_trim(0);
	long live = rss_kb();
	fill_and_free(40);
	long high = rss_kb();
	usleep(500 * 1000); /* let the monitor report its cache */
	struct la_stats st = stats_now();
	printf("# live %ld KiB, cached %ld KiB, reported %lu KiB, wait %s\n", live, high,
	       (unsigned long)(st.monitor_reported >> 10),
	       st.monitor_wait == LA_WAIT_URING ? "io_uring" : "poll");
	if (st.monitor_reported < 30 * MB)
		return 2;
	uint64_t ev = st.monitor_events;
	long rel0 = scn_file_num(MN_RELEASED, "");
	if (inject_all(MEMNOTIFY_EVENT_RECLAIM, 0, 10 * MB) || wait_events(ev, 10))
		return 3;
	long mid = rss_kb();
	/* The monitor tells the kernel what it gave back before it counts the
	 * event, so the module's statistics already show it. */
	long rel = scn_file_num(MN_RELEASED, "") - rel0;
	printf("# after RECLAIM(10 MiB): %ld KiB, RELEASED %ld KiB\n", mid, rel >> 10);
	if (mid > high - 9 * 1024 || mid < live + 15 * 1024)
		return 4;
	if (rel < 9 * MB || rel > (high - mid + 1024) * 1024)
		return 7;
	ev = stats_now().monitor_events;
	if (inject_all(MEMNOTIFY_EVENT_IDLE, 0, 0) || wait_events(ev, 10))
		return 5;
	long low = rss_kb();
	st = stats_now();
	printf("# after IDLE: %ld KiB (live %ld), latency %.2f ms\n", low, live,
	       st.monitor_last_latency_ns / 1e6);
	return low <= live + 1024 ? 0 : 6;
}

/* ---- child: the service. Frees `mib` into its caches, says "R" on stdout,
 * then keeps serving small requests (a few % of a CPU, so it never goes
 * IDLE: only pressure and reclaim can make it give memory back) until
 * stdin closes. ---- */
static int service_child(long mib)
{
	fill_and_free(mib);
	if (write(1, "R", 1) != 1)
		return 1;
	fcntl(0, F_SETFL, O_NONBLOCK);
	uint64_t seed = 1, sum = 0;
	void *req[64];
	for (;;) {
		char c;
		ssize_t n = read(0, &c, 1);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
		for (int i = 0; i < 64; i++) {
			req[i] = malloc(16 + rnd(&seed) % 512);
			memset(req[i], (int)i, 16);
		}
		for (int i = 0; i < 64; i++) {
			sum += ((unsigned char *)req[i])[3];
			free(req[i]);
		}
		usleep(2000);
	}
	return (int)(sum & 0);
}

static char *self_exe(void)
{
	static char p[] = "/proc/self/exe";
	return p;
}

struct run_result {
	long svc_before, svc_after, avail_before, hog_mib, oom_kills;
	int hog_status;
};

/*
 * Both runs use the kernel's default vm.watermark_scale_factor: kswapd then
 * wakes only about a megabyte above the point where allocations stall in
 * direct reclaim, too little for a userspace reaction in a 256 MB emulated
 * machine, and the service's cache comes back through the module's OOM
 * notifier, which asks for it and waits (bounded) before the OOM killer
 * picks a victim.
 */
/* One scenario run. monitor: LIBALLOC_MONITOR value of the service. */
static int scenario(const char *monitor, struct run_result *r)
{
	if (!scn_small_machine()) /* never outside the small VM */
		return -1;
	char env_mon[64];
	snprintf(env_mon, sizeof env_mon, "LIBALLOC_MONITOR=%s", monitor);
	char *envp[] = { env_mon, "LIBALLOC_DECAY_MS=-1", "LIBALLOC_VERBOSE=1", NULL };
	char *argv[] = { "t_vm_pressure", "--service", "120", NULL };
	int to, from;
	long oom0 = vmstat("oom_kill");
	pid_t svc = scn_spawn_self(argv, envp, &to, &from, NULL);
	if (svc < 0)
		return -1;
	scn_oom_adj(svc, "1000");
	char c;
	if (read(from, &c, 1) != 1)
		return -2;
	usleep(600 * 1000); /* the service reports its cache (250 ms rate) */
	r->svc_before = scn_rss_kb(svc);
	r->avail_before = scn_file_num("/proc/meminfo", "MemAvailable:");
	/* More than is available without the service's cache, less than with
	 * it. Pages the service already gave the kernel with MADV_FREE count
	 * in MemAvailable (the kernel may take them): leave them out.
	 * MemAvailable stops at the high watermarks, the hog may allocate
	 * down to the min ones (about 2 MiB more at the default
	 * watermark_scale_factor in this VM, measured): 8 MiB more than the
	 * 48 MiB the service must give back covers that. */
	long lazy = scn_lazyfree_kb(svc);
	r->hog_mib = (r->avail_before - lazy) / 1024 + 56;
	printf("# [%s] service Rss %ld MiB (LazyFree %ld MiB), MemAvailable %ld MiB, hog %ld MiB\n",
	       monitor, r->svc_before >> 10, lazy >> 10, r->avail_before >> 10, r->hog_mib);
	pid_t hog = scn_hog(r->hog_mib * MB);
	int st = 0;
	double t0 = now_s();
	while (waitpid(hog, &st, WNOHANG) == 0) {
		if (now_s() - t0 > 300) {
			kill(hog, SIGKILL);
			waitpid(hog, &st, 0);
			break;
		}
		usleep(20 * 1000);
	}
	r->hog_status = st;
	r->svc_after = scn_rss_kb(svc);
	r->oom_kills = vmstat("oom_kill") - oom0;
	printf("# [%s] hog %s after %.1f s; service Rss %ld -> %ld MiB; oom_kill +%ld\n", monitor,
	       WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "completed" : "killed", now_s() - t0,
	       r->svc_before >> 10, r->svc_after < 0 ? -1 : r->svc_after >> 10, r->oom_kills);
	close(to);
	close(from);
	kill(svc, SIGTERM);
	waitpid(svc, NULL, 0);
	return 0;
}

static int load_module(void)
{
	int fd = open(MN_KO, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = (int)syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	return r;
}

static int unload_module(void)
{
	for (int i = 0; i < 100; i++) {
		if (syscall(SYS_delete_module, "memnotify", O_NONBLOCK) == 0)
			return 0;
		usleep(50 * 1000);
	}
	return -1;
}

/* The console shows KERN_WARNING; the OOM killer's report (with a stack
 * dump) would make the runner fail the boot although this test wants it.
 * Lower the console loglevel around the control run only. */
static char printk_saved[64];
static void console_quiet(bool quiet)
{
	if (quiet) {
		int fd = open("/proc/sys/kernel/printk", O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, printk_saved, sizeof printk_saved - 1);
		printk_saved[n > 0 ? n : 0] = 0;
		if (fd >= 0)
			close(fd);
	}
	/* a fresh open: sysctl writes at a non-zero offset are ignored */
	int fd = open("/proc/sys/kernel/printk", O_WRONLY);
	if (fd < 0)
		return;
	char lvl[8] = "1";
	size_t n = 1;
	if (!quiet) {
		for (n = 0; n < 7 && printk_saved[n] >= '0' && printk_saved[n] <= '9'; n++)
			lvl[n] = printk_saved[n];
	}
	if (n && write(fd, lvl, n) < 0)
		perror("printk");
	close(fd);
}

#define NEED_VM() do { if (!scn_in_test_vm()) \
	SKIP(return, "needs root, " MN_DEV " and < 1 GiB RAM (the QEMU VM)"); } while (0)

FIXTURE(vm) {};
FIXTURE_SETUP(vm) {}
FIXTURE_TEARDOWN(vm) {}

TEST_F_TIMEOUT(vm, inject_reclaim_and_idle_shrink_rss, 300)
{
	NEED_VM();
	char *argv[] = { "t_vm_pressure", "--inject", NULL };
	char *envp[] = { "LIBALLOC_MONITOR=memnotify", "LIBALLOC_DECAY_MS=-1", NULL };
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		execve(self_exe(), argv, envp);
		_exit(127);
	}
	int st;
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(0, WEXITSTATUS(st));
}

TEST_F_TIMEOUT(vm, oom_avoided_with_memnotify_oom_without, 1200)
{
	NEED_VM();
	struct run_result on, off;
	scn_oom_adj(getpid(), "-1000"); /* never the runner */
	ASSERT_EQ(0, scenario("memnotify", &on));
	EXPECT_TRUE(WIFEXITED(on.hog_status) && WEXITSTATUS(on.hog_status) == 0)
		TH_LOG("with memnotify the hog did not complete (status %#x)", on.hog_status);
	EXPECT_EQ(0, on.oom_kills);
	/* the service gave back most of its 120 MiB cache (at default
	 * watermarks the hog completed after 45 MiB in some runs) */
	EXPECT_LT(on.svc_after, on.svc_before - 32 * 1024);

	ASSERT_EQ(0, unload_module()) TH_LOG("delete_module: %m");
	ASSERT_NE(0, access(MN_DEV, F_OK));
	console_quiet(true);
	int rc = scenario("off", &off);
	usleep(200 * 1000);
	console_quiet(false);
	EXPECT_EQ(0, load_module()) TH_LOG("finit_module: %m");
	ASSERT_EQ(0, rc);
	EXPECT_GE(off.oom_kills, 1) TH_LOG("control run: the OOM killer did not fire");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "--inject"))
		return inject_child();
	if (argc > 2 && !strcmp(argv[1], "--service"))
		return service_child(strtol(argv[2], NULL, 10));
	/* The harness process must hold no /dev/memnotify subscription (the
	 * control run unloads the module): re-exec with the monitor off. */
	if (!getenv("LIBALLOC_MONITOR")) {
		char *envp[] = { "LIBALLOC_MONITOR=off", NULL };
		execve(self_exe(), argv, envp);
	}
	return test_harness_run(argc, argv);
}
