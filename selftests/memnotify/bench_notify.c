// SPDX-License-Identifier: GPL-2.0
/*
 * bench_notify: how fast does a subscriber learn about memory pressure?
 *
 * 1. INJECT: a thread injects records into an fd another thread sleeps on
 *    in poll(); latency = wakeup time - record timestamp.
 * 2. Pressure episodes: a child keeps most of RAM allocated, including a
 *    32 MB free-but-resident cache it reports with MEMNOTIFY_IOC_SET_CACHE
 *    and releases (MADV_DONTNEED) as RECLAIM requests come in, like an
 *    allocator would; per episode it allocates and touches more until
 *    told to give the episode's memory back (and then refills its cache).
 *    The subscriber sleeps in poll() on /dev/memnotify and
 *    on a PSI trigger on /proc/pressure/memory with the smallest window
 *    the kernel accepts (500 ms).  memnotify latency = wakeup time - the
 *    timestamp taken in the first shrinker call of the episode; PSI
 *    latency = PSI wakeup time - that same shrinker call.  An episode ends
 *    when PSI fired, 1 s after the shrinker call, or when less than 4% of
 *    RAM is available, and is followed by a 700 ms pause (PSI reports at
 *    most once per window; memnotify rate-limits a level to once per
 *    rate_limit_ms).
 *
 * The swapless, diskless VM has nothing else the kernel could reclaim:
 * kswapd would fail, go dormant after 16 fruitless runs and leave the
 * OOM killer as the only way out.  The child therefore also keeps a 64 MB
 * pool it has touched and then given away with MADV_FREE, as allocators
 * do: the kernel reclaims such lazily freed pages without swap, so every
 * episode is ordinary reclaim (the pool is touched and freed again
 * between episodes).
 *
 * The episodes run twice: with the subscriber at normal priority and as a
 * SCHED_FIFO task, as a memory-pressure daemon would be deployed.
 *
 * Usage: bench_notify [EPISODES [PSI_THRESHOLD_US]]  (defaults 100 per
 * policy, 1000)
 * Needs root (INJECT, thresholds, PSI trigger below 2 s windows).  It takes
 * minutes under TCG, so it skips itself (kselftest exit code 4) unless
 * started from /bench, where `make bench-notify` puts it.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>

#include "mn_common.h"

#define CHUNK		(1ul << 20)
#define HEADROOM	(48ul << 20)
#define MAX_CHUNKS	4096

#define CACHE		(32ul << 20)
#define POOL		(64ul << 20)

struct shared {
	volatile int cmd;	/* 0 idle, 1 allocate, 2 release, 3 exit */
	volatile int ready;
	volatile unsigned long reclaimed;	/* cache pages given back */
};

static long page_size;

static void touch(char *p, size_t len)
{
	for (size_t off = 0; off < len; off += page_size)
		p[off] = 1;
}

/* The hog's userspace cache and the thread that honours RECLAIM. */
static struct {
	char *mem;
	size_t used;		/* bytes still resident, from the start */
	pthread_mutex_t lock;
	int fd;
	struct shared *sh;
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *reclaimer(void *arg)
{
	struct memnotify_event ev;

	(void)arg;
	while (read(cache.fd, &ev, sizeof(ev)) == (ssize_t)sizeof(ev)) {
		size_t len = ev.reclaim_bytes;

		if (ev.type != MEMNOTIFY_EVENT_RECLAIM)
			continue;
		pthread_mutex_lock(&cache.lock);
		len = len < cache.used ? len : cache.used;
		cache.used -= len;
		madvise(cache.mem + cache.used, len, MADV_DONTNEED);
		cache.sh->reclaimed += len / page_size;
		pthread_mutex_unlock(&cache.lock);
		mn_released(cache.fd, len);
	}
	return NULL;
}

static void cache_refill(void)
{
	__u64 bytes = CACHE;

	pthread_mutex_lock(&cache.lock);
	touch(cache.mem, CACHE);
	cache.used = CACHE;
	mn_set_cache(cache.fd, bytes);
	pthread_mutex_unlock(&cache.lock);
}

static void __attribute__((noreturn)) hog(struct shared *sh)
{
	static char *chunks[MAX_CHUNKS];
	long avail = mn_proc_num("/proc/meminfo", "MemAvailable:") * 1024;
	size_t base = avail > (long)(HEADROOM + CACHE + POOL) ?
		      avail - HEADROOM - CACHE - POOL : 0;
	char *b, *pool;
	pthread_t th;
	int n = 0;

	set_oom_score_adj(getpid(), 1000);
	cache.sh = sh;
	cache.fd = mn_open();
	cache.mem = mmap(NULL, CACHE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pool = mmap(NULL, POOL, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (cache.fd < 0 || cache.mem == MAP_FAILED || pool == MAP_FAILED ||
	    mn_set_mask(cache.fd, MEMNOTIFY_EVENT_RECLAIM) ||
	    pthread_create(&th, NULL, reclaimer, NULL))
		_exit(1);
	if (base) {
		b = mmap(NULL, base, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b != MAP_FAILED)
			touch(b, base);
	}
	cache_refill();
	touch(pool, POOL);
	madvise(pool, POOL, MADV_FREE);
	sh->ready = 1;
	for (;;) {
		switch (sh->cmd) {
		case 1:
			if (n < MAX_CHUNKS) {
				chunks[n] = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (chunks[n] != MAP_FAILED) {
					for (size_t off = 0; off < CHUNK && sh->cmd == 1;
					     off += page_size)
						chunks[n][off] = 1;
					n++;
				}
			}
			break;
		case 2:
			while (n > 0)
				munmap(chunks[--n], CHUNK);
			cache_refill();
			touch(pool, POOL);
			madvise(pool, POOL, MADV_FREE);
			sh->cmd = 0;
			break;
		case 3:
			_exit(0);
		default:
			usleep(1000);
		}
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void row(const char *name, int64_t *v, int n, int missed)
{
	if (!n) {
		printf("%-40s %6d %10s %10s %10s %8d\n", name, 0, "-", "-", "-", missed);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("%-40s %6d %10.1f %10.1f %10.1f %8d\n", name, n, v[n / 2] / 1e3,
	       v[(n * 99 + 99) / 100 - 1] / 1e3, v[n - 1] / 1e3, missed);
}

struct inj {
	int fd, n;
	volatile int waiting;
};

static void *injector(void *arg)
{
	struct inj *in = arg;

	for (int i = 0; i < in->n; i++) {
		while (!in->waiting)
			usleep(100);
		usleep(2000);	/* let the waiter block in poll() */
		in->waiting = 0;
		mn_inject(in->fd, MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_LOW, 0, 0);
	}
	return NULL;
}

static int bench_inject(int n, int64_t *lat)
{
	struct inj in = { .fd = mn_open(), .n = n };
	struct memnotify_event ev;
	pthread_t th;
	int got = 0;

	if (in.fd < 0 || pthread_create(&th, NULL, injector, &in))
		return 0;
	for (int i = 0; i < n; i++) {
		struct pollfd pfd = { .fd = in.fd, .events = POLLIN };

		in.waiting = 1;
		if (poll(&pfd, 1, 5000) != 1)
			break;
		lat[got] = now_ns();
		if (read(in.fd, &ev, sizeof(ev)) != (ssize_t)sizeof(ev))
			break;
		lat[got] -= ev.timestamp_ns;
		got++;
	}
	pthread_join(th, NULL);
	close(in.fd);
	return got;
}

struct pass {
	int64_t *mn, *psi;
	int n_mn, n_psi, mn_missed, psi_missed, psi_before, kswapd, direct;
};

/* Runs pressure episodes until done or the hog died; returns 0 if it died. */
static int episodes_run(struct pass *ps, int episodes, int fd, int psi,
			struct shared *sh, pid_t pid)
{
	long total_pages = mem_total_pages();
	int st;

	for (int e = 0; e < episodes; e++) {
		uint64_t first = 0, start, now;
		int psi_seen = 0, low = 0;
		struct pollfd p = { .fd = psi, .events = POLLPRI };

		usleep(700 * 1000);
		mn_drain(fd);
		while (poll(&p, 1, 0) == 1)	/* stale PSI event */
			usleep(100 * 1000);
		start = now_ns();
		sh->cmd = 1;
		for (;;) {
			struct pollfd pfd[2] = {
				{ .fd = fd, .events = POLLIN },
				{ .fd = psi, .events = POLLPRI },
			};
			struct memnotify_event ev;
			int r = poll(pfd, 2, 50);

			now = now_ns();
			if (r > 0 && (pfd[1].revents & POLLPRI) && !psi_seen) {
				psi_seen = 1;
				if (first)
					ps->psi[ps->n_psi++] = now - first;
				else
					ps->psi_before++;
			}
			if (r > 0 && (pfd[0].revents & POLLIN)) {
				while (read(fd, &ev, sizeof(ev)) == (ssize_t)sizeof(ev)) {
					if (!first && ev.source == MEMNOTIFY_SOURCE_SHRINKER) {
						first = ev.timestamp_ns;
						ps->mn[ps->n_mn++] = now - first;
						if (ev.level == MEMNOTIFY_LEVEL_LOW)
							ps->kswapd++;
						else
							ps->direct++;
					}
					if (ev.avail_bytes * 25 < (__u64)total_pages * page_size)
						low = 1;
				}
			}
			if (psi_seen || low || (first && now - first > 1000000000ull) ||
			    now - start > 30000000000ull)
				break;
		}
		if (!first)
			ps->mn_missed++;
		else if (!psi_seen)
			ps->psi_missed++;
		sh->cmd = 2;
		while (sh->cmd == 2) {
			if (waitpid(pid, &st, WNOHANG) == pid) {
				printf("allocating child died (OOM kill?) in episode %d\n", e + 1);
				return 0;
			}
			usleep(1000);
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	static const char *const pass_name[2] = { "SCHED_OTHER", "SCHED_FIFO 10" };
	int episodes = argc > 1 ? atoi(argv[1]) : 100;
	int psi_us = argc > 2 ? atoi(argv[2]) : 1000;
	struct memnotify_thresholds old_t, t = { 3, 2, 1, 0 };
	struct sched_param sp = { .sched_priority = 10 };
	int n_inject = 1000, alive = 1, st, fd, psi;
	struct pass ps[2] = { { 0 } };
	char trig[64], name[64];
	int64_t *lat_inj;
	struct shared *sh;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	if (strncmp(argv[0], "/bench/", 7)) {
		printf("1..0 # SKIP a benchmark, not a test: run it from /bench\n");
		return 4;
	}
	printf("1..1\n");
	page_size = sysconf(_SC_PAGESIZE);
	lat_inj = calloc(n_inject, sizeof(int64_t));
	for (int i = 0; i < 2; i++) {
		ps[i].mn = calloc(episodes, sizeof(int64_t));
		ps[i].psi = calloc(episodes, sizeof(int64_t));
		if (!ps[i].mn || !ps[i].psi)
			return 1;
	}
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!lat_inj || sh == MAP_FAILED)
		return 1;
	set_oom_score_adj(getpid(), -1000);

	n_inject = bench_inject(n_inject, lat_inj);

	fd = mn_open_nb();
	psi = open("/proc/pressure/memory", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || psi < 0) {
		printf("not ok 1 bench_notify: cannot open %s: %m\n",
		       fd < 0 ? MN_DEV : "/proc/pressure/memory");
		return 1;
	}
	snprintf(trig, sizeof(trig), "some %d 500000", psi_us);
	if (write(psi, trig, strlen(trig) + 1) < 0) {
		printf("not ok 1 bench_notify: PSI trigger '%s': %m\n", trig);
		return 1;
	}
	/* Thresholds out of the way: the shrinker is the first source. */
	ioctl(fd, MEMNOTIFY_IOC_GET_THRESHOLDS, &old_t);
	ioctl(fd, MEMNOTIFY_IOC_SET_THRESHOLDS, &t);
	mn_set_mask(fd, MEMNOTIFY_EVENT_PRESSURE);

	pid = fork();
	if (pid == 0)
		hog(sh);
	while (!sh->ready && waitpid(pid, &st, WNOHANG) == 0)
		usleep(10000);
	alive = sh->ready;

	/* The subscriber first at normal priority, then as a real-time task. */
	for (int i = 0; i < 2 && alive; i++) {
		/* musl's sched_setscheduler() is a stub: use the system call. */
		if (i == 1 && syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &sp)) {
			printf("SCHED_FIFO: %m\n");
			break;
		}
		alive = episodes_run(&ps[i], episodes, fd, psi, sh, pid);
	}
	sp.sched_priority = 0;
	syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp);
	sh->cmd = 3;
	if (alive)
		waitpid(pid, &st, 0);
	ioctl(fd, MEMNOTIFY_IOC_SET_THRESHOLDS, &old_t);

	printf("memnotify wakeup latency: %d pressure episodes per subscriber policy, %ld MB RAM\n",
	       episodes, mem_total_pages() * page_size >> 20);
	printf("%-40s %6s %10s %10s %10s %8s\n", "source -> subscriber wakeup", "n",
	       "median_us", "p99_us", "max_us", "missed");
	row("memnotify INJECT (SCHED_OTHER)", lat_inj, n_inject, 1000 - n_inject);
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "memnotify 1st shrinker call (%s)", pass_name[i]);
		row(name, ps[i].mn, ps[i].n_mn, ps[i].mn_missed);
		snprintf(name, sizeof(name), "PSI some %dus/500ms (%s)", psi_us, pass_name[i]);
		row(name, ps[i].psi, ps[i].n_psi, ps[i].psi_missed);
	}
	for (int i = 0; i < 2; i++)
		printf("%s: first call from kswapd %d, direct reclaim %d; PSI before it %d\n",
		       pass_name[i], ps[i].kswapd, ps[i].direct, ps[i].psi_before);
	printf("the allocating child released %lu MB of its cache on RECLAIM requests\n",
	       sh->reclaimed * page_size >> 20);
	/* The table is the result; "not ok" only if episodes could not run. */
	alive = alive && ps[0].n_mn && ps[1].n_mn;
	printf("%s 1 bench_notify: pressure episodes %s\n", alive ? "ok" : "not ok",
	       alive ? "measured" : "incomplete");
	return alive ? 0 : 1;
}
