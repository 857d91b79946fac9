/* The memory-pressure monitor: where and when reactions run.
 *
 * Invisible to the program it is loaded into:
 *  - no thread in a single-threaded program. While no monitor thread runs,
 *    la_monitor_pending is set and the allocation slow path calls
 *    la_monitor_start_lazy: one clock read every LA_SLOW_EVERY calls, and
 *    once a tick (LA_TICK_MS) is due, a non-blocking look at the source,
 *    the reactions, decay, adaptive sizing and the cache report, all on the
 *    allocating thread (trylock: a slow path never waits for the monitor);
 *  - a waiting thread only while two or more threads hold heaps (started
 *    from la_heap_attach's caller), or after an explicit la_monitor_start.
 *    It blocks every signal, never allocates, and leaves by itself at the
 *    first tick where no thread holds a heap (and, when it was started
 *    automatically, after LA_LINGER_TICKS ticks with fewer than two), so it
 *    never keeps a process alive and a program back to one thread is
 *    single-threaded again;
 *  - no fd number of the program's is ever used: see monitor_src.h;
 *  - la_monitor_inject reacts on the calling thread (no pipe, no wakeup).
 * Locking: mon_lock serialises every reaction, tick and source change; it
 * is the outermost liballoc lock (fork takes it first, see init.c) and is
 * never held across the thread's wait. Only the running thread touches the
 * source while it runs; otherwise whoever holds mon_lock does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "monitor.h"
#include "monitor_src.h"
#include "react.h"

#define LA_TICK_MS 100
#define LA_TICK_NS ((uint64_t)LA_TICK_MS * 1000000u)
#define LA_SLOW_EVERY 16             /* slow paths per clock read */
#define LA_LINGER_TICKS 10           /* auto-started thread, < 2 heaps: leave after 1 s */
#define LA_REPORT_NS 250000000ull    /* at most 4 SET_CACHE per second */
#define LA_REPORT_DELTA ((uint64_t)1 << 20)

static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
/* under mon_lock */
static la_msrc_t src;
static la_mwait_t mwait;
static bool src_open, adaptive_ready;
static uint64_t last_report, reported = UINT64_MAX;
/* thread state: 0 none, 1 starting or running; explicit: la_monitor_start */
static _Atomic(int) thr_state, thr_explicit;
static _Atomic(uint64_t) next_tick;  /* slow-path ticks: not before */
static __thread unsigned slow_calls __attribute__((tls_model("initial-exec")));
static _Atomic(uint64_t) st_source, st_scope, st_cgroup, st_wait, st_events, st_released,
	st_reported, st_latency;

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

/* from_device: the record came from the memnotify device, which is then
 * told what a RECLAIM gave back (MEMNOTIFY_IOC_RELEASED) */
static void handle_locked(const struct memnotify_event *ev, bool from_device)
{
	uint64_t t0 = la_now_ns();
	size_t rel = la_react(ev->type, ev->level, ev->reclaim_bytes);
	uint64_t t1 = la_now_ns();
	if (from_device && ev->type == MEMNOTIFY_EVENT_RECLAIM)
		la_msrc_released(&src, rel);
	uint64_t since = ev->timestamp_ns && ev->timestamp_ns <= t1 ? t1 - ev->timestamp_ns : t1 - t0;
	atomic_store_explicit(&st_latency, since, memory_order_relaxed);
	atomic_fetch_add_explicit(&st_released, rel, memory_order_relaxed);
	atomic_fetch_add_explicit(&st_events, 1, memory_order_release);
	reported = UINT64_MAX; /* report what is left right away */
	verbose("event", type_name(ev->type, ev->level), rel, " bytes released",
		(t1 - t0) / 1000, " us");
}

/* Open the source once; afterwards make sure its fd is still ours. */
static void source_ready_locked(void)
{
	static const char *const names[] = { "none", "decay", "psi", "memnotify" };
	if (!src_open) {
		la_msrc_open(&src, la_opt.monitor);
		src_open = true;
		static const char *const scopes[] = { "", "(system)", "(own cgroup)",
						      "($MEMORY_PRESSURE_WATCH)" };
		verbose("source", names[src.source], 0, NULL, 0, NULL);
		if (src.scope != LA_SCOPE_NONE)
			verbose("scope", scopes[src.scope], 0, NULL, 0, NULL);
	} else if (!src.state) {
		/* With the state page, the fd is checked only when it is used. */
		la_msrc_check(&src);
	}
	atomic_store_explicit(&st_source, (uint64_t)src.source, memory_order_relaxed);
	atomic_store_explicit(&st_scope, (uint64_t)src.scope, memory_order_relaxed);
	atomic_store_explicit(&st_cgroup, src.cgroup_id, memory_order_relaxed);
	if (!adaptive_ready) {
		la_adaptive_init();
		adaptive_ready = true;
	}
}

static void tick_locked(uint64_t now)
{
	size_t d = la_decay_tick(now);
	if (d)
		verbose("decay", NULL, d, " bytes released", 0, NULL);
	la_adaptive_tick(now);
	if (src.source == LA_MONITOR_MEMNOTIFY && now - last_report >= LA_REPORT_NS) {
		uint64_t c = la_cached_bytes();
		uint64_t diff = c > reported ? c - reported : reported - c;
		if ((reported == UINT64_MAX || diff >= LA_REPORT_DELTA ||
		     (c == 0) != (reported == 0)) && la_msrc_report(&src, c)) {
			reported = c;
			last_report = now;
			atomic_store_explicit(&st_reported, c, memory_order_relaxed);
		}
	}
}

static int thread_start(void);

/* Leave when no thread holds a heap; an automatically started thread also
 * leaves once the program has been back to one thread for a while. The
 * thread itself, under mon_lock. */
static bool should_leave(int *lonely)
{
	int live = atomic_load_explicit(&la_heaps_live, memory_order_relaxed);
	LA_ASSERT(live >= 0);
	/* thread_start's 0 -> 1 made this the only running thread */
	LA_ASSERT(atomic_load_explicit(&thr_state, memory_order_relaxed) == 1);
	if (live <= 0)
		return true;
	if (live >= 2 || atomic_load_explicit(&thr_explicit, memory_order_relaxed)) {
		*lonely = 0;
		return false;
	}
	return ++*lonely >= LA_LINGER_TICKS;
}

static void *monitor_main(void *arg)
{
	(void)arg;
	struct memnotify_event ev[16];
	int lonely = 0;
	uint64_t next = la_now_ns();
	pthread_mutex_lock(&mon_lock);
	la_mwait_init(&mwait, la_opt.uring != 0);
	atomic_store_explicit(&st_wait, (uint64_t)mwait.kind, memory_order_relaxed);
	verbose("wait", mwait.kind == LA_WAIT_URING ? "io_uring" : "poll", 0, NULL, 0, NULL);
	for (;;) {
		source_ready_locked();
		pthread_mutex_unlock(&mon_lock);
		uint64_t now = la_now_ns();
		int timeout = now >= next ? 0 : (int)((next - now) / 1000000u) + 1;
		int ready = la_mwait_wait(&mwait, &src, timeout);
		pthread_mutex_lock(&mon_lock);
		atomic_store_explicit(&st_wait, (uint64_t)mwait.kind, memory_order_relaxed);
		int n = ready ? la_msrc_drain(&src, ev, 16) : 0;
		for (int i = 0; i < n; i++)
			handle_locked(&ev[i], src.source == LA_MONITOR_MEMNOTIFY);
		now = la_now_ns();
		if (now < next)
			continue;
		next = now + LA_TICK_NS;
		tick_locked(now);
		if (should_leave(&lonely))
			break;
	}
	la_mwait_exit(&mwait);
	atomic_store_explicit(&st_wait, LA_WAIT_NONE, memory_order_relaxed);
	atomic_store_explicit(&next_tick, 0, memory_order_relaxed);
	atomic_store_explicit(&thr_explicit, 0, memory_order_relaxed);
	/* pending first: a thread_start that wins thr_state after the
	 * release below clears it again, so it is never left set while a
	 * thread runs (invariant 9) */
	atomic_store_explicit(&la_monitor_pending, 1, memory_order_relaxed);
	atomic_store_explicit(&thr_state, 0, memory_order_release);
	pthread_mutex_unlock(&mon_lock);
	verbose("thread leaves", NULL, 0, NULL, 0, NULL);
	return NULL;
}

/* Exactly one caller wins the 0 -> 1 transition and creates the thread,
 * detached, with every signal blocked (it inherits the mask). Never called
 * with mon_lock held (pthread_create may allocate). */
static int thread_start(void)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&thr_state, &expected, 1))
		return 0;
	atomic_store_explicit(&la_monitor_pending, 0, memory_order_relaxed);
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
		atomic_store_explicit(&la_monitor_pending, 1, memory_order_relaxed);
		atomic_store_explicit(&thr_state, 0, memory_order_release);
		return -1;
	}
	return 0;
}

void la_monitor_init(void)
{
	atomic_store_explicit(&la_monitor_pending, la_opt.monitor != LA_MODE_OFF,
			      memory_order_relaxed);
}

void la_monitor_heap_attached(void)
{
	if (la_opt.monitor != LA_MODE_OFF &&
	    atomic_load_explicit(&la_heaps_live, memory_order_relaxed) >= 2 &&
	    !atomic_load_explicit(&thr_state, memory_order_relaxed))
		thread_start();
}

/* The allocation slow path while no monitor thread runs. */
void la_monitor_start_lazy(void)
{
	if (slow_calls++ % LA_SLOW_EVERY || la_opt.monitor == LA_MODE_OFF)
		return;
	uint64_t now = la_now_ns();
	if (now < atomic_load_explicit(&next_tick, memory_order_relaxed))
		return;
	if (pthread_mutex_trylock(&mon_lock))
		return;
	bool start = false;
	if (!atomic_load_explicit(&thr_state, memory_order_acquire)) {
		atomic_store_explicit(&next_tick, now + LA_TICK_NS, memory_order_relaxed);
		source_ready_locked();
		struct memnotify_event ev[8];
		int n = la_msrc_poll(&src, ev, 8);
		for (int i = 0; i < n; i++)
			handle_locked(&ev[i], src.source == LA_MONITOR_MEMNOTIFY);
		tick_locked(now);
		start = atomic_load_explicit(&la_heaps_live, memory_order_relaxed) >= 2;
	}
	pthread_mutex_unlock(&mon_lock);
	if (start)
		thread_start();
}

int la_monitor_start_explicit(void)
{
	if (la_opt.monitor == LA_MODE_OFF)
		return 0;
	pthread_mutex_lock(&mon_lock);
	atomic_store_explicit(&thr_explicit, 1, memory_order_relaxed);
	if (!atomic_load_explicit(&thr_state, memory_order_acquire))
		source_ready_locked();
	pthread_mutex_unlock(&mon_lock);
	thread_start();
	while (atomic_load_explicit(&thr_state, memory_order_acquire) &&
	       atomic_load_explicit(&st_wait, memory_order_relaxed) == LA_WAIT_NONE)
		sched_yield();
	return (int)atomic_load_explicit(&st_source, memory_order_relaxed);
}

int la_monitor_react(uint32_t type, uint32_t level, uint64_t pages)
{
	if (la_opt.monitor == LA_MODE_OFF)
		return -1;
	struct memnotify_event ev;
	memset(&ev, 0, sizeof ev);
	ev.type = type;
	ev.level = level;
	ev.source = MEMNOTIFY_SOURCE_INJECT;
	uint64_t ps = la_os_page_size();
	ev.reclaim_bytes = pages > UINT64_MAX / ps ? UINT64_MAX : pages * ps;
	ev.timestamp_ns = la_now_ns();
	pthread_mutex_lock(&mon_lock);
	if (!atomic_load_explicit(&thr_state, memory_order_acquire))
		source_ready_locked();
	handle_locked(&ev, false);
	pthread_mutex_unlock(&mon_lock);
	return 0;
}

void la_monitor_fork_prepare(void)
{
	pthread_mutex_lock(&mon_lock);
}

void la_monitor_fork_parent(void)
{
	pthread_mutex_unlock(&mon_lock);
}

/* The thread did not survive fork. Drop the inherited ring mappings and our
 * copy of the source fd (closed only if the number is still ours), then
 * start over lazily: the child subscribes on its own. */
void la_monitor_fork_child(void)
{
	pthread_mutex_init(&mon_lock, NULL);
	la_mwait_exit(&mwait);
	if (src_open)
		la_msrc_fork_child(&src);
	src_open = false;
	reported = UINT64_MAX;
	last_report = 0;
	slow_calls = 0;
	atomic_store_explicit(&next_tick, 0, memory_order_relaxed);
	atomic_store_explicit(&st_source, 0, memory_order_relaxed);
	atomic_store_explicit(&st_scope, 0, memory_order_relaxed);
	atomic_store_explicit(&st_cgroup, 0, memory_order_relaxed);
	atomic_store_explicit(&st_wait, 0, memory_order_relaxed);
	atomic_store_explicit(&thr_explicit, 0, memory_order_relaxed);
	atomic_store_explicit(&thr_state, 0, memory_order_relaxed);
	atomic_store_explicit(&la_monitor_pending, la_opt.monitor != LA_MODE_OFF,
			      memory_order_relaxed);
}

void la_monitor_stats(struct la_stats *st)
{
	st->monitor_source = atomic_load_explicit(&st_source, memory_order_relaxed);
	st->monitor_scope = atomic_load_explicit(&st_scope, memory_order_relaxed);
	st->monitor_cgroup_id = atomic_load_explicit(&st_cgroup, memory_order_relaxed);
	st->monitor_wait = atomic_load_explicit(&st_wait, memory_order_relaxed);
	st->monitor_events = atomic_load_explicit(&st_events, memory_order_acquire);
	st->monitor_released = atomic_load_explicit(&st_released, memory_order_relaxed);
	st->monitor_reported = atomic_load_explicit(&st_reported, memory_order_relaxed);
	st->monitor_last_latency_ns = atomic_load_explicit(&st_latency, memory_order_relaxed);
	st->decay_released = atomic_load_explicit(&la_decay_released, memory_order_relaxed);
	st->tcache_cap_sum = la_adaptive_cap_sum();
}
