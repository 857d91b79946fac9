/* make demo: the OOM-avoidance scenario in the x86_64 VM, with a timeline.
 * A liballoc service frees 120 MiB into its caches (LIBALLOC_DECAY_MS=-1)
 * and keeps serving small requests; a hog then touches MemAvailable + 48 MiB,
 * less what the service already gave the kernel with MADV_FREE. Run 1: memnotify loaded, the service's monitor subscribed.
 * Run 2 (control): module unloaded, the service's monitor off.
 * Every 100 ms it prints "T <run> <ms> <service Rss KiB> <MemAvailable KiB>
 * <hog Rss KiB>"; the service's monitor lines ("E <run> <ms> <text>") are
 * read from its stderr and timestamped. Speaks TAP for the Kimigayo init.
 * The scenario itself (service, hog) is demo/scenario.h, shared with
 * make bench-pressure (bench/pressure.c), which runs it over allocators. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "scenario.h"

#define MB SCN_MB

static void *blk[SCN_MAX_BLOCKS];

static int service(void)
{
	if (scn_fill_and_free(blk) || write(1, "R", 1) != 1)
		return 1;
	fcntl(0, F_SETFL, O_NONBLOCK);
	for (;;) { /* serve small requests: a few % CPU, never IDLE */
		char c;
		ssize_t r = read(0, &c, 1);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			return 0;
		scn_request(blk);
		usleep(2000);
	}
}

/* One run; returns OOM kills during it, *hog_ok = hog completed. */
static long run(int id, const char *monitor, int *hog_ok)
{
	char env[64];
	snprintf(env, sizeof env, "LIBALLOC_MONITOR=%s", monitor);
	char *envp[] = { env, "LIBALLOC_DECAY_MS=-1", "LIBALLOC_VERBOSE=1", NULL };
	char *argv[] = { "oom_demo", "--service", NULL };
	int to, from, err;
	long oom0 = scn_file_num("/proc/vmstat", "oom_kill ");
	pid_t svc = scn_spawn_self(argv, envp, &to, &from, &err);
	if (svc < 0)
		return -1;
	fcntl(err, F_SETFL, O_NONBLOCK);
	scn_oom_adj(svc, "1000");
	double t0 = scn_now_ms();
	char c, line[512];
	size_t ll = 0;
	if (read(from, &c, 1) != 1)
		return -1;
	pid_t h = 0;
	int st = 0;
	double hog_at = scn_now_ms() + 1000;
	long hog_mib = 0;
	for (;;) {
		double t = scn_now_ms();
		ssize_t n;
		char buf[512];
		while ((n = read(err, buf, sizeof buf)) > 0)
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == '\n' || ll == sizeof line - 1) {
					line[ll] = 0;
					printf("E %d %.0f %s\n", id, t - t0, line);
					ll = 0;
				} else {
					line[ll++] = buf[i];
				}
			}
		long avail = scn_file_num("/proc/meminfo", "MemAvailable:");
		printf("T %d %.0f %ld %ld %ld\n", id, t - t0, scn_rss_kb(svc), avail, h ? scn_rss_kb(h) : 0);
		if (!h && t >= hog_at) {
			/* more than is available without the service's cache:
			 * what it already gave the kernel (MADV_FREE) is left out */
			long lazy = scn_lazyfree_kb(svc);
			hog_mib = (avail - lazy) / 1024 + 48;
			printf("# run %d (%s): hog starts, %ld MiB (MemAvailable %ld MiB - LazyFree %ld"
			       " MiB + 48)\n", id, monitor, hog_mib, avail / 1024, lazy / 1024);
			h = scn_hog(hog_mib * MB);
		}
		if (h && waitpid(h, &st, WNOHANG) == h)
			break;
		usleep(100 * 1000);
	}
	*hog_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	usleep(300 * 1000);
	long svc_rss = scn_rss_kb(svc);
	long ooms = scn_file_num("/proc/vmstat", "oom_kill ") - oom0;
	printf("# run %d (%s): hog %s, service Rss now %ld MiB, OOM kills %ld\n", id, monitor,
	       *hog_ok ? "completed" : "was killed", svc_rss < 0 ? -1 : svc_rss / 1024, ooms);
	close(to);
	kill(svc, SIGTERM);
	waitpid(svc, NULL, 0);
	close(from);
	close(err);
	return ooms;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--service"))
		return service();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	if (!scn_small_machine()) {
		printf("1..0 # SKIP the hog runs only in a VM with MemTotal < 1 GiB\n");
		return 0;
	}
	printf("1..2\n");
	scn_oom_adj(getpid(), "-1000");
	int ok1 = 0, ok2 = 0;
	long o1 = run(1, "memnotify", &ok1);
	printf("%s 1 with memnotify: hog %s, %ld OOM kills\n", ok1 && o1 == 0 ? "ok" : "not ok",
	       ok1 ? "completed" : "killed", o1);
	if (syscall(SYS_delete_module, "memnotify", O_NONBLOCK))
		perror("delete_module");
	/* the OOM report is expected here: keep it off the console (the
	 * runner treats stack dumps as kernel failures) */
	long lvl = scn_file_num("/proc/sys/kernel/printk", "");
	char lv[24];
	snprintf(lv, sizeof lv, "%ld", lvl > 0 ? lvl : 5);
	scn_write_file("/proc/sys/kernel/printk", "1");
	long o2 = run(2, "off", &ok2);
	scn_write_file("/proc/sys/kernel/printk", lv);
	printf("%s 2 control (module unloaded, monitor off): %ld OOM kills\n",
	       o2 >= 1 ? "ok" : "not ok", o2);
	/* a "not ok" fails the program, and so make demo */
	return ok1 && o1 == 0 && o2 >= 1 ? 0 : 1;
}
