/* make bench-pressure: the OOM-avoidance scenario of `make demo`
 * (demo/scenario.h) run with several allocators in the x86_64 VM, memnotify
 * loaded for every run. A benchmark, not a test: it prints figures and its
 * TAP says only that each allocator's runs completed.
 *
 * Per run: MemAvailable A0 is read; the service (this program re-exec'd with
 * --service and LD_PRELOAD=<allocator>) frees 120 MiB into its allocator and
 * then serves requests (64 malloc/free of 16..520 B each) as fast as it can,
 * counting them in a shared memfd; 1 s later a hog touches A0 - 72 MiB, which
 * fits only if the service's allocator gives its cache back. Every 20 ms the
 * driver samples the service's Rss (smaps_rollup), the request counter and
 * its own /dev/memnotify fd (PRESSURE only; it reports no cache). Reported:
 *   first pressure  first PRESSURE record after the hog started, ms after it
 *                   (the hog's start if there was none)
 *   returned        ms from first pressure until the service's Rss is within
 *                   8 MiB of its Rss before it filled its cache (0 = before)
 *   MiB*s           integral of the service's Rss while the hog ran
 *   LazyFree        of the Rss held at the end, what the service gave the
 *                   kernel with MADV_FREE (taken unasked when needed)
 *   OOM kills       /proc/vmstat oom_kill delta, and who was killed
 *   req/s           requests before the hog and while it ran
 * The service is single-threaded, except in the "2 threads" variant, where
 * an idle second thread makes liballoc run its monitor thread (a
 * single-threaded program hears events only on its allocation slow paths).
 * A second table gives what memnotify requested from the service, what the
 * service reported released and the module's request -> release latency.
 * Kernel command-line words: pressure.reps=N (default 3). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/memnotify.h>
#include "../demo/scenario.h"

#define LIBDIR "/lib/x86_64-linux-gnu/"
#define SAMPLE_MS 20
#define HOG_DELAY_MS 1000
#define AFTER_MS 3000          /* observe this long after the hog ended */
#define RETURNED_SLACK_KB (8 * 1024)
#define MAX_REPS 15
#define PROBE_SETTLE_MS 500    /* reclaim probe: time for the cache report */
#define PROBE_WAIT_MS 1500     /* reclaim probe: time for the answer */

struct variant {
	const char *name;
	const char *env[5];
};

static const struct variant variants[] = {
	{ "liballoc", { "LD_PRELOAD=" LIBDIR "liballoc.so", "LIBALLOC_MONITOR=auto",
			"LIBALLOC_VERBOSE=1" } },
	{ "liballoc decay off", { "LD_PRELOAD=" LIBDIR "liballoc.so", "LIBALLOC_MONITOR=auto",
				  "LIBALLOC_DECAY_MS=-1", "LIBALLOC_VERBOSE=1" } },
	{ "liballoc 2 threads", { "LD_PRELOAD=" LIBDIR "liballoc.so", "LIBALLOC_MONITOR=auto",
				  "PRESSURE_SERVICE_THREADS=2", "LIBALLOC_VERBOSE=1" } },
	{ "glibc", { NULL } },
	{ "mimalloc", { "LD_PRELOAD=" LIBDIR "libmimalloc.so.2" } },
	{ "jemalloc", { "LD_PRELOAD=" LIBDIR "libjemalloc.so.2" } },
};
#define NV ((int)(sizeof variants / sizeof variants[0]))

/* The module's request -> release latency histogram (its statistics). */
#define MN_STATS "/sys/module/memnotify/stats/"
static const char *const lat_stat[] = {
	"release_latency_lt_1ms", "release_latency_lt_10ms", "release_latency_lt_100ms",
	"release_latency_lt_1s", "release_latency_ge_1s",
};
#define NLAT ((int)(sizeof lat_stat / sizeof lat_stat[0]))
static const char *const lat_name[NLAT] = { "<1 ms", "<10 ms", "<100 ms", "<1 s", ">=1 s" };

static long mn_stat(const char *name)
{
	char path[128];
	snprintf(path, sizeof path, MN_STATS "%s", name);
	return scn_file_num(path, "");
}

/* The protocol's figures over an interval, from the module's statistics:
 * what memnotify requested from subscribers, what they reported released
 * (MEMNOTIFY_IOC_RELEASED) and the releases by request -> release latency. */
struct probe {
	int ok;
	long requested_kb, released_kb, lat[NLAT];
	long req0, rel0, lat0[NLAT];    /* the statistics at the start */
};

static void probe_begin(struct probe *p)
{
	p->req0 = mn_stat("requested_bytes");
	p->rel0 = mn_stat("released_bytes");
	for (int i = 0; i < NLAT; i++)
		p->lat0[i] = mn_stat(lat_stat[i]);
}

static void probe_end(struct probe *p)
{
	p->requested_kb = (mn_stat("requested_bytes") - p->req0) >> 10;
	p->released_kb = (mn_stat("released_bytes") - p->rel0) >> 10;
	for (int i = 0; i < NLAT; i++)
		p->lat[i] = mn_stat(lat_stat[i]) - p->lat0[i];
	p->ok = 1;
}

struct result {
	int ok;
	int pressure_seen;      /* a PRESSURE record arrived while the hog ran */
	double press_ms;        /* first pressure, after the hog's start */
	double ret_ms;          /* first pressure -> returned; INFINITY = not seen */
	long held_kb;           /* service Rss above its baseline at first pressure */
	double mib_s;           /* service Rss integrated over the hog's run */
	long end_kb;            /* service Rss above its baseline at the end */
	long end_lazy_kb;       /* of the service's Rss at the end, MADV_FREE'd */
	long ooms;
	struct probe proto;     /* the protocol's figures over the run */
	int hog_ok, svc_alive;
	double rps_before, rps_during;
};

static void *blk[SCN_MAX_BLOCKS];

/* The service's second thread: one allocation (its heap makes the program
 * multithreaded for liballoc, which then runs its monitor thread), then
 * asleep, as a daemon's idle worker would be. */
static void *idle_worker(void *arg)
{
	(void)arg;
	void *volatile p = malloc(64); /* volatile: not elided with the free */
	free(p);
	for (;;)
		pause();
	return NULL;
}

static int service(void)
{
	volatile uint64_t *ctr = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
	char line[64];
	if (ctr == MAP_FAILED)
		return 1;
	const char *threads = getenv("PRESSURE_SERVICE_THREADS");
	pthread_t th;
	if (threads && !strcmp(threads, "2") && pthread_create(&th, NULL, idle_worker, NULL))
		return 1;
	int n = snprintf(line, sizeof line, "B %ld\n", scn_rss_kb(getpid()));
	if (write(1, line, (size_t)n) != n || scn_fill_and_free(blk) || write(1, "R\n", 2) != 2)
		return 1;
	fcntl(0, F_SETFL, O_NONBLOCK);
	for (;;) {
		for (int i = 0; i < 16; i++) {
			scn_request(blk);
			__atomic_store_n(ctr, *ctr + 1, __ATOMIC_RELAXED);
		}
		char c;
		ssize_t r = read(0, &c, 1);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			return 0;
	}
}

/* First PRESSURE record's time in ms (CLOCK_MONOTONIC), or -1 if none. */
static double first_pressure(int fd, double after_ms)
{
	struct memnotify_event ev[16];
	double t = -1;
	ssize_t n;
	while (fd >= 0 && (n = read(fd, ev, sizeof ev)) > 0)
		for (size_t i = 0; i < (size_t)n / sizeof ev[0]; i++) {
			double ts = ev[i].timestamp_ns / 1e6;
			if (ev[i].type == MEMNOTIFY_EVENT_PRESSURE && ts >= after_ms && t < 0)
				t = ts;
		}
	return t;
}

static int read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	while (n + 1 < size) {
		if (read(fd, buf + n, 1) != 1)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return 0;
}

/* A running service and the driver's ends of its pipes and counter. */
struct svc {
	pid_t pid;
	int in, out, mfd;       /* its stdin, its stdout, the request counter */
	volatile uint64_t *ctr;
	long base_kb;           /* its Rss before it filled its cache */
};

/* Start the service with @v's environment and wait until its cache is full;
 * -1 if it did not start (then svc_stop() still cleans up). */
static int svc_start(const struct variant *v, struct svc *s)
{
	char *envp[8] = { "PATH=/bin:/sbin", "HOME=/tmp" };
	int ne = 2;
	for (int i = 0; i < 5 && v->env[i]; i++)
		envp[ne++] = (char *)v->env[i];
	envp[ne] = NULL;
	char *argv[] = { "pressure", "--service", NULL };
	int in[2], out[2];
	*s = (struct svc){ .pid = -1, .in = -1, .out = -1, .ctr = MAP_FAILED, .base_kb = -1 };
	s->mfd = memfd_create("requests", 0);
	if (s->mfd < 0 || ftruncate(s->mfd, 4096) || pipe(in) || pipe(out))
		return -1;
	s->ctr = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, s->mfd, 0);
	if (s->ctr == MAP_FAILED)
		return -1;
	s->pid = fork();
	if (s->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(s->mfd, 3);
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	s->in = in[1];
	s->out = out[0];
	char line[64];
	if (s->pid < 0 || read_line(s->out, line, sizeof line) ||
	    sscanf(line, "B %ld", &s->base_kb) != 1 ||
	    read_line(s->out, line, sizeof line) || strcmp(line, "R")) {
		printf("# %s: the service did not start\n", v->name);
		return -1;
	}
	return 0;
}

static void svc_stop(struct svc *s)
{
	if (s->in >= 0)
		close(s->in);
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	if (s->out >= 0)
		close(s->out);
	if (s->ctr != MAP_FAILED)
		munmap((void *)s->ctr, 4096);
	if (s->mfd >= 0)
		close(s->mfd);
}

static struct result run(const struct variant *v, int rep)
{
	struct result r = { .ret_ms = INFINITY };
	int obs = open("/dev/memnotify", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	uint32_t mask = MEMNOTIFY_EVENT_PRESSURE;
	if (obs >= 0 && ioctl(obs, MEMNOTIFY_IOC_SET_MASK, &mask))
		perror("MEMNOTIFY_IOC_SET_MASK");
	long avail0 = scn_file_num("/proc/meminfo", "MemAvailable:");
	long oom0 = scn_file_num("/proc/vmstat", "oom_kill ");
	probe_begin(&r.proto);
	struct svc sv;
	if (svc_start(v, &sv))
		goto out;
	pid_t svc = sv.pid;
	volatile uint64_t *ctr = sv.ctr;
	long base_kb = sv.base_kb;
	scn_oom_adj(svc, "1000");
	double t_ready = scn_now_ms(), hog_at = t_ready + HOG_DELAY_MS, t_press = -1;
	double t_ret = -1, t_hog_end = -1, last = t_ready;
	uint64_t c_ready = *ctr, c_hog = 0;
	long hog_kb = avail0 - 72 * 1024, rss;
	pid_t hog = 0;
	int st = 0;
	first_pressure(obs, 0); /* drop anything from before this run */
	for (;;) {
		double t = scn_now_ms();
		rss = scn_rss_kb(svc);
		if (rss >= 0 && rss <= base_kb + RETURNED_SLACK_KB && t_ret < 0)
			t_ret = t;
		if (hog && t_hog_end < 0) {
			double p = first_pressure(obs, hog_at);
			if (p >= 0 && t_press < 0) {
				t_press = p;
				r.pressure_seen = 1;
				r.held_kb = rss - base_kb;
			}
			if (rss > 0)
				r.mib_s += rss / 1024.0 * (t - last) / 1e3;
			if (waitpid(hog, &st, WNOHANG) == hog) {
				t_hog_end = t;
				uint64_t c = *ctr;
				r.rps_during = (double)(c - c_hog) * 1e3 / (t - hog_at);
			}
		}
		last = t;
		if (!hog && t >= hog_at) {
			c_hog = *ctr;
			r.held_kb = rss - base_kb; /* replaced at the first PRESSURE record */
			r.rps_before = (double)(c_hog - c_ready) * 1e3 / (t - t_ready);
			hog_at = t;
			hog = scn_hog(hog_kb * 1024);
		}
		if (t_hog_end >= 0 && (t_ret >= 0 || t > t_hog_end + AFTER_MS || rss < 0))
			break;
		usleep(SAMPLE_MS * 1000);
	}
	if (t_press < 0)
		t_press = hog_at;
	r.press_ms = t_press - hog_at;
	if (t_ret >= 0)
		r.ret_ms = t_ret <= t_press ? 0 : t_ret - t_press;
	r.end_kb = rss < 0 ? 0 : rss - base_kb;
	r.end_lazy_kb = rss < 0 ? 0 : scn_lazyfree_kb(svc);
	r.hog_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	r.svc_alive = scn_rss_kb(svc) >= 0 && waitpid(svc, NULL, WNOHANG) == 0;
	r.ooms = scn_file_num("/proc/vmstat", "oom_kill ") - oom0;
	probe_end(&r.proto);
	r.ok = 1;
	printf("P run %-18s rep %d: hog %ld MiB (MemAvailable %ld MiB - 72), first pressure +%.0f ms%s, "
	       "returned %s%.0f ms, held at pressure %ld MiB, at the end %ld MiB (%ld LazyFree), %.1f MiB*s, OOM kills %ld (%s), "
	       "req/s %.0f before, %.0f during\n",
	       v->name, rep, hog_kb / 1024, avail0 / 1024, r.press_ms, r.pressure_seen ? "" : " (no event)",
	       isinf(r.ret_ms) ? "never, >" : "", isinf(r.ret_ms) ? t_hog_end - t_press + AFTER_MS : r.ret_ms,
	       r.held_kb / 1024, r.end_kb / 1024, r.end_lazy_kb / 1024, r.mib_s, r.ooms,
	       !r.svc_alive ? "service killed" : !r.hog_ok ? "hog killed" : "none",
	       r.rps_before, r.rps_during);
out:
	svc_stop(&sv);
	if (obs >= 0)
		close(obs);
	return r;
}

/* A RECLAIM request with no pressure: the service's cache is reported (its
 * allocator's first ticks), then drop_caches runs every shrinker, which asks
 * memnotify's subscribers for their claims.  The module's statistics say
 * what was requested, what the service reported released and how long its
 * answer took. */
static struct probe reclaim_probe(const struct variant *v)
{
	struct probe p = { 0 };
	struct svc sv;
	if (svc_start(v, &sv) == 0) {
		usleep(PROBE_SETTLE_MS * 1000);
		probe_begin(&p);
		scn_write_file("/proc/sys/vm/drop_caches", "2");
		usleep(PROBE_WAIT_MS * 1000);
		probe_end(&p);
	}
	svc_stop(&sv);
	return p;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *x, int n)
{
	qsort(x, (size_t)n, sizeof *x, cmp_double);
	return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

/* Only a memnotify subscriber is asked and answers: the others' rows are zero. */
static void print_protocol_table(struct probe p[NV][MAX_REPS], int reps)
{
	printf("P\nP | allocator | requested by memnotify, MiB | reported released, MiB |");
	for (int j = 0; j < NLAT; j++)
		printf(" request -> release %s |", lat_name[j]);
	printf("\nP |---|---|---|");
	for (int j = 0; j < NLAT; j++)
		printf("---|");
	printf("\n");
	for (int i = 0; i < NV; i++) {
		double q[MAX_REPS], d[MAX_REPS];
		long lat[NLAT] = { 0 };
		int n = 0;
		for (int rep = 0; rep < reps; rep++) {
			if (!p[i][rep].ok)
				continue;
			q[n] = p[i][rep].requested_kb / 1024.0;
			d[n++] = p[i][rep].released_kb / 1024.0;
			for (int j = 0; j < NLAT; j++)
				lat[j] += p[i][rep].lat[j];
		}
		if (!n)
			continue;
		printf("P | %s | %.0f | %.0f |", variants[i].name, median(q, n), median(d, n));
		for (int j = 0; j < NLAT; j++)
			printf(" %ld |", lat[j]);
		printf("\n");
	}
}

static int cmdline_reps(void)
{
	long reps = scn_file_num("/proc/cmdline", "pressure.reps=");
	return reps < 1 ? 3 : reps > MAX_REPS ? MAX_REPS : (int)reps;
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
	printf("1..%d\n", NV);
	scn_oom_adj(getpid(), "-1000");
	/* OOM reports are expected: keep them off the console (the runner
	 * treats stack dumps as kernel failures) */
	long lvl = scn_file_num("/proc/sys/kernel/printk", "");
	char lv[24];
	snprintf(lv, sizeof lv, "%ld", lvl > 0 ? lvl : 5);
	scn_write_file("/proc/sys/kernel/printk", "1");
	int reps = cmdline_reps();
	static struct result res[NV][MAX_REPS];
	for (int rep = 0; rep < reps; rep++)
		for (int k = 0; k < NV; k++) { /* rotate the order every repetition */
			int i = (k + rep) % NV;
			res[i][rep] = run(&variants[i], rep + 1);
			usleep(500 * 1000);
		}
	static struct probe probes[NV][MAX_REPS];
	for (int rep = 0; rep < reps; rep++)
		for (int k = 0; k < NV; k++) {
			int i = (k + rep) % NV;
			probes[i][rep] = reclaim_probe(&variants[i]);
		}
	scn_write_file("/proc/sys/kernel/printk", lv);
	printf("P\nP | allocator | first pressure, ms after hog start | pressure -> memory returned, ms "
	       "| Rss held at pressure, MiB | held at the end, MiB | of it LazyFree, MiB "
	       "| service Rss while the hog ran, MiB*s | OOM kills (runs) "
	       "| req/s before | req/s during hog |\n");
	printf("P |---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < NV; i++) {
		double a[MAX_REPS], b[MAX_REPS], c[MAX_REPS], d[MAX_REPS], e[MAX_REPS], f[MAX_REPS];
		double g[MAX_REPS], h[MAX_REPS];
		int n = 0, kills = 0, killed_runs = 0, noevent = 0, svc_killed = 0, alive = 0;
		for (int rep = 0; rep < reps; rep++) {
			struct result *r = &res[i][rep];
			if (!r->ok)
				continue;
			a[n] = r->press_ms;
			b[n] = r->ret_ms;
			c[n] = r->held_kb / 1024.0;
			d[n] = r->mib_s;
			e[n] = r->rps_before;
			f[n] = r->rps_during;
			n++;
			kills += (int)r->ooms;
			killed_runs += r->ooms > 0;
			noevent += !r->pressure_seen;
			svc_killed += !r->svc_alive;
			if (r->svc_alive) {
				h[alive] = r->end_lazy_kb / 1024.0;
				g[alive++] = r->end_kb / 1024.0;
			}
		}
		if (!n) {
			printf("P | %s | runs failed | | | | | | | |\n", variants[i].name);
		} else {
			double ret = median(b, n);
			char rets[64];
			if (svc_killed)
				snprintf(rets, sizeof rets, "service killed (%d of %d)", svc_killed, n);
			else if (isinf(ret))
				snprintf(rets, sizeof rets, "not within %d s", AFTER_MS / 1000);
			else
				snprintf(rets, sizeof rets, "%.0f", ret);
			char ends[64] = "-", lazy[64] = "-";
			if (alive) {
				snprintf(ends, sizeof ends, "%.0f", median(g, alive));
				snprintf(lazy, sizeof lazy, "%.0f", median(h, alive));
			}
			printf("P | %s | %.0f%s | %s | %.0f | %s | %s | %.0f | %d (%d of %d) | %.0f | %.0f |\n",
			       variants[i].name, median(a, n), noevent ? " (no event)" : "", rets,
			       median(c, n), ends, lazy, median(d, n), kills, killed_runs, n,
			       median(e, n), median(f, n));
		}
	}
	printf("P\nP medians of %d runs per allocator, interleaved; memnotify loaded in every run\n", reps);
	static struct probe during[NV][MAX_REPS];
	for (int i = 0; i < NV; i++)
		for (int rep = 0; rep < reps; rep++)
			during[i][rep] = res[i][rep].ok ? res[i][rep].proto : (struct probe){ 0 };
	printf("P\nP the protocol during the runs above:\n");
	print_protocol_table(during, reps);
	printf("P\nP reclaim probe (drop_caches %d ms after the service filled its cache, %d ms to answer):\n",
	       PROBE_SETTLE_MS, PROBE_WAIT_MS);
	print_protocol_table(probes, reps);
	printf("P\nP requested and released: medians per run; latency: releases in all runs, "
	       "from the oldest request read and not yet answered to the RELEASED call\n");
	for (int i = 0; i < NV; i++) {
		int done = 0;
		for (int rep = 0; rep < reps; rep++)
			done += res[i][rep].ok;
		printf("%s %d %s: %d of %d runs completed\n", done == reps ? "ok" : "not ok", i + 1,
		       variants[i].name, done, reps);
	}
	return 0;
}
