/* The memory-pressure monitor thread: lifecycle and main loop.
 *
 * Started lazily (first allocation slow path, or la_monitor_start) when
 * LIBALLOC_MONITOR is not off. Contracts:
 *  - every signal is blocked in the thread, so the application's handlers
 *    never run on it;
 *  - it never allocates through malloc (no heap is ever attached to it: it
 *    calls only internal release functions, read/ioctl/poll and liburing);
 *  - it is detached and holds no lock while waiting, so exit never waits
 *    for it;
 *  - after fork the child has no monitor thread; the atfork child handler
 *    forgets the parent's fds and re-arms the lazy start.
 * Main loop: wait for events (with a tick timeout), react, then on ticks
 * report the cache size to memnotify (rate-limited), run decay and adaptive
 * sizing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "monitor_src.h"
#include "react.h"

#define LA_TICK_MS 100
#define LA_REPORT_NS 250000000ull   /* at most 4 SET_CACHE per second */
#define LA_REPORT_DELTA ((uint64_t)1 << 20)

_Atomic(int) la_monitor_pending;
static _Atomic(int) mon_state;       /* 0 off, 1 starting, 2 running */
static la_msrc_t src;
static int pipe_fd[2] = { -1, -1 };
static _Atomic(uint64_t) st_source, st_wait, st_events, st_released, st_reported, st_latency;

uint64_t la_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *type_name(uint32_t t, uint32_t level)
{
	static const char *const lv[] = { "PRESSURE", "PRESSURE LOW", "PRESSURE MEDIUM",
					  "PRESSURE CRITICAL" };
	switch (t) {
	case MEMNOTIFY_EVENT_PRESSURE: return lv[level <= 3 ? level : 0];
	case MEMNOTIFY_EVENT_RECLAIM: return "RECLAIM";
	case MEMNOTIFY_EVENT_IDLE: return "IDLE";
	case MEMNOTIFY_EVENT_ACTIVE: return "ACTIVE";
	default: return "?";
	}
}

/* One line to stderr with LIBALLOC_VERBOSE=1, built without allocating. */
static void verbose(const char *what, const char *arg, uint64_t a, const char *unit_a,
		    uint64_t b, const char *unit_b)
{
	if (!la_opt.verbose)
		return;
	char buf[256], *p = buf;
#define PUT(s) do { size_t l_ = strlen(s); if (l_ > 60) l_ = 60; memcpy(p, s, l_); p += l_; } while (0)
	PUT("liballoc: monitor: ");
	PUT(what);
	if (arg) {
		*p++ = ' ';
		PUT(arg);
	}
	if (unit_a) {
		*p++ = ' ';
		p = la_fmt_u64(p, a);
		PUT(unit_a);
	}
	if (unit_b) {
		*p++ = ' ';
		p = la_fmt_u64(p, b);
		PUT(unit_b);
	}
#undef PUT
	*p++ = '\n';
	*p = 0;
	la_write_err(buf);
}

static void handle(const struct memnotify_event *ev)
{
	uint64_t t0 = la_now_ns();
	size_t rel = la_react(ev->type, ev->level, ev->reclaim_pages);
	uint64_t t1 = la_now_ns();
	uint64_t since = ev->timestamp_ns && ev->timestamp_ns <= t1 ? t1 - ev->timestamp_ns : t1 - t0;
	atomic_store_explicit(&st_latency, since, memory_order_relaxed);
	atomic_fetch_add_explicit(&st_released, rel, memory_order_relaxed);
	atomic_fetch_add_explicit(&st_events, 1, memory_order_release);
	verbose("event", type_name(ev->type, ev->level), rel, " bytes released",
		(t1 - t0) / 1000, " us");
}

static void *monitor_main(void *arg)
{
	(void)arg;
	static const char *const names[] = { "none", "decay", "psi", "memnotify" };
	verbose("source", names[src.source], 0, NULL, 0, NULL);
	verbose("wait", src.wait == LA_WAIT_URING ? "io_uring" : "poll", 0, NULL, 0, NULL);
	la_adaptive_init();
	struct memnotify_event ev[16];
	uint64_t last_report = 0, reported = UINT64_MAX, next_tick = la_now_ns();
	for (;;) {
		uint64_t now = la_now_ns();
		int timeout = now >= next_tick ? 0 : (int)((next_tick - now) / 1000000u) + 1;
		int n = la_msrc_wait(&src, ev, 16, timeout);
		atomic_store_explicit(&st_wait, (uint64_t)src.wait, memory_order_relaxed);
		for (int i = 0; i < n; i++)
			handle(&ev[i]);
		now = la_now_ns();
		if (n > 0)
			reported = UINT64_MAX; /* report what is left right away */
		if (now < next_tick)
			continue;
		next_tick = now + LA_TICK_MS * 1000000ull;
		size_t d = la_decay_tick(now);
		if (d)
			verbose("decay", NULL, d, " bytes released", 0, NULL);
		la_adaptive_tick(now);
		if (src.source == LA_MONITOR_MEMNOTIFY && now - last_report >= LA_REPORT_NS) {
			uint64_t c = la_cached_bytes();
			uint64_t diff = c > reported ? c - reported : reported - c;
			if (reported == UINT64_MAX || diff >= LA_REPORT_DELTA || (c == 0) != (reported == 0)) {
				la_msrc_report(&src, c);
				reported = c;
				last_report = now;
				atomic_store_explicit(&st_reported, c, memory_order_relaxed);
			}
		}
	}
	return NULL;
}

/* Create the thread with every signal blocked (it inherits the mask). */
static int monitor_spawn(void)
{
	if (pipe2(pipe_fd, O_CLOEXEC | O_NONBLOCK))
		return -1;
	la_msrc_open(&src, la_opt.monitor, pipe_fd[0], la_opt.uring != 0);
	atomic_store_explicit(&st_source, (uint64_t)src.source, memory_order_relaxed);
	atomic_store_explicit(&st_wait, (uint64_t)src.wait, memory_order_relaxed);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t at;
	pthread_t t;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 64 * 1024);
	int r = pthread_create(&t, &at, monitor_main, NULL);
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		la_msrc_close(&src);
		close(pipe_fd[0]);
		close(pipe_fd[1]);
		pipe_fd[0] = pipe_fd[1] = -1;
		atomic_store_explicit(&st_source, 0, memory_order_relaxed);
		return -1;
	}
	return 0;
}

/* Exactly one caller wins the 0 -> 1 transition and spawns; the others (and
 * recursive mallocs from inside pthread_create) return at once. */
static void monitor_try_start(void)
{
	atomic_store_explicit(&la_monitor_pending, 0, memory_order_relaxed);
	int expected = 0;
	if (!atomic_compare_exchange_strong(&mon_state, &expected, 1))
		return;
	atomic_store_explicit(&mon_state, monitor_spawn() == 0 ? 2 : 0, memory_order_release);
}

void la_monitor_start_lazy(void)
{
	if (la_opt.monitor != LA_MODE_OFF)
		monitor_try_start();
}

LA_API int la_monitor_start(void)
{
	la_ensure_init();
	if (la_opt.monitor == LA_MODE_OFF)
		return 0;
	monitor_try_start();
	while (atomic_load_explicit(&mon_state, memory_order_acquire) == 1)
		sched_yield();
	return (int)atomic_load_explicit(&st_source, memory_order_relaxed);
}

LA_API int la_monitor_inject(uint32_t type, uint32_t level, uint64_t pages)
{
	if (la_monitor_start() == 0 || atomic_load_explicit(&mon_state, memory_order_acquire) != 2)
		return -1;
	struct memnotify_event ev;
	memset(&ev, 0, sizeof ev);
	ev.type = type;
	ev.level = level;
	ev.source = MEMNOTIFY_SOURCE_INJECT;
	ev.reclaim_pages = pages;
	ev.timestamp_ns = la_now_ns();
	return write(pipe_fd[1], &ev, sizeof ev) == (ssize_t)sizeof ev ? 0 : -1;
}

void la_monitor_fork_child(void)
{
	if (atomic_load_explicit(&mon_state, memory_order_relaxed) == 0)
		return;
	/* The thread did not survive fork; its ring and fds are the parent's
	 * subscriber: close them here, the child subscribes on its own. */
	la_msrc_close(&src);
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	pipe_fd[0] = pipe_fd[1] = -1;
	atomic_store_explicit(&st_source, 0, memory_order_relaxed);
	atomic_store_explicit(&st_wait, 0, memory_order_relaxed);
	atomic_store_explicit(&mon_state, 0, memory_order_relaxed);
	atomic_store_explicit(&la_monitor_pending, la_opt.monitor != LA_MODE_OFF,
			      memory_order_relaxed);
}

void la_monitor_stats(struct la_stats *st)
{
	st->monitor_source = atomic_load_explicit(&st_source, memory_order_relaxed);
	st->monitor_wait = atomic_load_explicit(&st_wait, memory_order_relaxed);
	st->monitor_events = atomic_load_explicit(&st_events, memory_order_acquire);
	st->monitor_released = atomic_load_explicit(&st_released, memory_order_relaxed);
	st->monitor_reported = atomic_load_explicit(&st_reported, memory_order_relaxed);
	st->monitor_last_latency_ns = atomic_load_explicit(&st_latency, memory_order_relaxed);
	st->decay_released = atomic_load_explicit(&la_decay_released, memory_order_relaxed);
	st->tcache_cap_sum = la_adaptive_cap_sum();
}
