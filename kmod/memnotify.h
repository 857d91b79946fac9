/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memnotify internal definitions shared by the module's source files.
 *
 * Files and what each may call (no file calls one that calls it back):
 *
 *  memnotify_params.c	module parameters (MN_PARAMS table); calls nothing
 *  memnotify_stats.c	statistics (MN_COUNTERS/MN_GAUGES tables) in sysfs;
 *			calls nothing
 *  memnotify_queue.c	subscriber list, per-fd ring, post, coalesce,
 *			broadcast, record init; calls stats
 *  memnotify_pressure.c	thresholds, rate gate, sampler and the PRESSURE
 *			record of a shrinker call; calls queue
 *  memnotify_reclaim.c	claims, the shrinker (count/scan); calls queue and
 *			pressure (to hand over a shrinker call)
 *  memnotify_oomwait.c	the OOM notifier: CRITICAL, RECLAIM of all claims
 *			and a bounded wait for them; calls queue and reclaim
 *  memnotify_idle.c	IDLE/ACTIVE tracking; calls queue
 *  memnotify_admit.c	admission: global and per-user caps, reserved
 *			slots; calls queue and pressure (sampler start/stop)
 *  memnotify_dev.c	the device: open/release/read/poll/ioctl; calls all
 *			of the above
 *  memnotify_main.c	module init/exit
 *
 * Locking overview (details next to the code):
 *
 *  mn_subs_lock (mutex)	adding/removing subscribers to mn_subs, the
 *				per-user charges (memnotify_admit.c) and
 *				setting claims; the list itself is walked under
 *				RCU by event producers, which may run in
 *				reclaim context.
 *  sub->claim (atomic)	a subscriber's claim in pages; the sum of all
 *				claims is the cache_pages gauge (atomic).  No
 *				lock: the shrinker takes pages with cmpxchg.
 *				sub->cobj is set under mn_subs_lock.
 *  sub->wqh.lock (spinlock)	the subscriber's ring, counters and seq, and
 *				its pending-reclaim counter and accounting
 *				(sub->rq), like fs/eventfd.c uses its wait
 *				queue lock.  The shrinker takes a claim and
 *				adds it to the counter in one critical
 *				section, and SET_CACHE compares request_seq
 *				and stores the claim in one, so a report can
 *				never re-add memory already requested.
 *  sub->cfg_lock (mutex)	per-fd configuration (mask, idle settings and
 *				target) and starting/stopping the idle work
 *				and the watch on the target's exit.
 *  sub->read_lock (mutex)	serialises readers so that a record that could
 *				not be copied out can be put back in order.
 *  mn_ow_lock (mutex)	the OOM notifier's state (memnotify_oomwait.c);
 *				held across its bounded wait, under oom_lock.
 *
 *  mn_lru's list locks	the claim objects on the shrinker's memcg-aware
 *  (spinlocks, per node)	list_lru (memnotify_reclaim.c); the shrinker
 *				walks a (cgroup, node) list under its lock and
 *				takes subscribers' wqh.lock inside it.  Order:
 *				mn_subs_lock -> list lock -> sub->wqh.lock.
 *
 *  Nothing allocates or sleeps while holding a spinlock, and the shrinker
 *  takes no lock but a list lock of mn_lru and a subscriber's wqh.lock, so
 *  reclaim never waits for userspace or for another reclaimer.
 */
#ifndef _MEMNOTIFY_H
#define _MEMNOTIFY_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <uapi/linux/memnotify.h>

#define MN_IDLE_SLOTS		32	/* idle samples per period */
#define MN_IDLE_RING		(MN_IDLE_SLOTS + 9)	/* > period + 1/8 */
#define MN_QUEUE_LEN_MIN	4
#define MN_QUEUE_LEN_MAX	1024

/*
 * Module parameters: memnotify_params.c holds the one table of defaults and
 * ranges and registers each.  Read them with mn_param().
 */
enum mn_param_id {
	MN_PARAM_QUEUE_LEN,
	MN_PARAM_MAX_SUBSCRIBERS,
	MN_PARAM_MAX_SUBSCRIBERS_PER_USER,
	MN_PARAM_RESERVED_SUBSCRIBERS,
	MN_PARAM_LOW_PERMILLE,
	MN_PARAM_MEDIUM_PERMILLE,
	MN_PARAM_CRITICAL_PERMILLE,
	MN_PARAM_RATE_LIMIT_MS,
	MN_PARAM_SAMPLE_MS,
	MN_PARAM_NR
};

/*
 * A parameter's value and range; with @le set, a write may not exceed that
 * parameter's value either (a range bounded by another parameter).
 */
struct mn_param {
	unsigned int val;
	unsigned int min;
	unsigned int max;
	const struct mn_param *le;
};

extern struct mn_param mn_params[MN_PARAM_NR];

static inline unsigned int mn_param(enum mn_param_id id)
{
	return READ_ONCE(mn_params[id].val);
}

static inline void mn_param_store(enum mn_param_id id, unsigned int val)
{
	WRITE_ONCE(mn_params[id].val, val);
}

/*
 * Statistics: memnotify_stats.c holds the one table of their names and
 * meanings.  Counters only grow and are per-CPU; gauges are current values
 * (atomic), kept by their owners.
 */
enum mn_stat {
	MN_STAT_PRESSURE_LOW,
	MN_STAT_PRESSURE_MEDIUM,
	MN_STAT_PRESSURE_CRITICAL,
	MN_STAT_RECLAIM,
	MN_STAT_IDLE,
	MN_STAT_ACTIVE,
	MN_STAT_DELIVERED,
	MN_STAT_COALESCED,
	MN_STAT_DROPPED,
	MN_STAT_RATE_LIMITED,
	MN_STAT_SHRINKER_COUNT,
	MN_STAT_SHRINKER_SCAN,
	MN_STAT_SHRINKER_SCAN_VISITS,
	MN_STAT_SHRINKER_SCAN_NS,
	MN_STAT_SHRINKER_HANDOFFS,
	MN_STAT_RECLAIM_PAGES,
	MN_STAT_CLAIMS_CLAMPED,
	MN_STAT_OOM,
	MN_STAT_OOM_WAITS,
	MN_STAT_OOM_WAIT_NS,
	MN_STAT_OOM_WAIT_TIMEOUTS,
	MN_STAT_OOM_FREED_PAGES,
	MN_STAT_OOM_AVERTED,
	MN_STAT_THRESHOLD,
	MN_STAT_SAMPLES,
	MN_STAT_INJECTED,
	MN_STAT_OPENS,
	MN_STAT_REQUESTED_BYTES,
	MN_STAT_RELEASED_BYTES,
	MN_STAT_RELEASES,
	MN_STAT_RELEASE_LAT_0,	/* MEMNOTIFY_LATENCY_BUCKETS in a row */
	MN_STAT_RELEASE_LAT_LAST = MN_STAT_RELEASE_LAT_0 +
				   MEMNOTIFY_LATENCY_BUCKETS - 1,
	MN_STAT_NR
};

enum mn_gauge {
	MN_GAUGE_SUBSCRIBERS,
	MN_GAUGE_SUBSCRIBERS_PEAK,
	MN_GAUGE_CACHE_PAGES,
	MN_GAUGE_SHRINKER_BATCH,
	MN_GAUGE_CLAIM_SLACK_PAGES,
	MN_GAUGE_MEMORY_BYTES,
	MN_GAUGE_USERS,
	MN_GAUGE_NR
};

struct mn_counters {
	u64 v[MN_STAT_NR];
};

DECLARE_PER_CPU(struct mn_counters, mn_counters);
extern atomic_long_t mn_gauges[MN_GAUGE_NR];

static inline void mn_stat_add(enum mn_stat s, u64 v)
{
	this_cpu_add(mn_counters.v[s], v);
}

static inline void mn_stat_inc(enum mn_stat s)
{
	this_cpu_inc(mn_counters.v[s]);
}

struct mn_claim_obj;

struct mn_idle_sample {
	u64 time_ns;
	u64 cpu_ns;
};

/**
 * struct mn_reclaim_acct - one subscriber's reclaim requests, all in bytes
 * and all under the subscriber's wqh.lock (like an eventfd's count)
 * @pending:	requested and not yet read; read() turns it into one RECLAIM
 *		record and zeroes it in the same critical section
 * @seq:	requests made so far (struct memnotify_event.request_seq)
 * @source:	MEMNOTIFY_SOURCE_* of the latest pending request
 * @last_ns:	when the latest pending request was made
 * @first_ns:	when the oldest pending request was made (0: none pending)
 * @unanswered_ns: when the oldest request read but not yet answered by
 *		MEMNOTIFY_IOC_RELEASED was made (0: none)
 * @requested:	bytes requested in total
 * @released:	bytes reported released in total
 * @releases:	MEMNOTIFY_IOC_RELEASED calls
 * @latency:	releases per request-to-release latency bucket
 */
struct mn_reclaim_acct {
	u64 pending;
	u64 seq;
	u32 source;
	u64 last_ns;
	u64 first_ns;
	u64 unanswered_ns;
	u64 requested;
	u64 released;
	u64 releases;
	u64 latency[MEMNOTIFY_LATENCY_BUCKETS];
};

/**
 * struct mn_sub - one open file of /dev/memnotify
 * @node:	entry in mn_subs (RCU list)
 * @free_work:	frees the structure one RCU grace period after release
 * @wqh:	readers and pollers; wqh.lock protects the ring fields below
 * @head:	index of the oldest queued record
 * @count:	number of queued records
 * @nr_crit:	queued CRITICAL pressure records (EPOLLPRI)
 * @seq:	sequence number of the last queued record
 * @dropped:	records lost to overflow
 * @gen:	generation: grows by 2 with every record posted, every request
 *		made and every read of pending reclaim
 * @state_page:	the page mmap() maps, once a mapping asked for it (written
 *		under wqh.lock; freed with the subscriber)
 * @level:	level of the latest PRESSURE record posted
 * @level_ns:	when its event was raised
 * @rq:		reclaim requests and their accounting (see struct mn_reclaim_acct)
 * @mask:	MEMNOTIFY_EVENT_* bits wanted (READ_ONCE by producers)
 * @claim:	pages of cache this subscriber claims (memnotify_reclaim.c)
 * @mm:		address space of the opener; claims are clamped to its
 *		resident anonymous pages (pinned with mmgrab(), may be NULL)
 * @cobj:	the claim's object on the shrinker's memcg-aware list_lru,
 *		charged to the opener's cgroup (memnotify_reclaim.c)
 * @claim_memcg_id: id of that cgroup (set with @cobj)
 * @ask_pages:	pages asked by RECLAIM since @ask_jiffies (memnotify_reclaim.c)
 * @ask_anon:	the opener's resident anonymous pages when that began
 * @ask_jiffies:	when the last RECLAIM was asked
 * @cfg_lock:	serialises configuration ioctls and idle start/stop
 * @read_lock:	serialises readers
 * @tgid:	thread group of the opener, the default idle target
 * @idle_pid:	the idle target when set by pidfd (a reference, dropped by
 *		mn_idle_free()), else NULL: the opener
 * @idle_work:	periodic idle sampling (deferrable; runs only while IDLE or
 *		ACTIVE is wanted and the target has not exited)
 * @idle_exit_work:	notes the target's exit after its wait_pidfd woke us
 * @idle_exit_wait:	our entry in the target pid's wait_pidfd queue
 * @idle_exit_watched:	@idle_exit_wait is queued (IDLE, ACTIVE or EXITED
 *		wanted)
 * @idle_exited:	MN_IDLE_EXITED: the target's exit was noted (set once
 *		per target, read locklessly by poll())
 * @idle_period_ms:	idle period of this fd
 * @idle_threshold_ppm:	CPU share below which the group is idle
 * @idle_running:	idle_work is scheduled
 * @idle_state_idle:	IDLE was reported and ACTIVE not yet
 * @idle_nr:	samples in @idle_ring
 * @idle_pos:	next slot to write in @idle_ring
 * @idle_ring:	CPU time samples, MN_IDLE_SLOTS per idle period
 * @qlen:	capacity of @ring
 * @ring:	the queue
 */
struct mn_sub {
	struct list_head node;
	struct rcu_work free_work;
	wait_queue_head_t wqh;
	unsigned int head;
	unsigned int count;
	unsigned int nr_crit;
	u64 seq;
	u64 dropped;
	u64 gen;
	struct memnotify_state_page *state_page;
	u32 level;
	u64 level_ns;
	struct mn_reclaim_acct rq;
	u32 mask;
	atomic_long_t claim;
	struct mm_struct *mm;
	struct mn_claim_obj *cobj;
	u64 claim_memcg_id;
	atomic_long_t ask_pages;
	unsigned long ask_anon;
	unsigned long ask_jiffies;
	struct mutex cfg_lock;	/* see above */
	struct mutex read_lock;	/* see above */
	struct pid *tgid;
	struct pid *idle_pid;
	struct delayed_work idle_work;
	struct work_struct idle_exit_work;
	struct wait_queue_entry idle_exit_wait;
	bool idle_exit_watched;
	unsigned long idle_exited;
	u32 idle_period_ms;
	u32 idle_threshold_ppm;
	bool idle_running;
	bool idle_state_idle;
	unsigned int idle_nr;
	unsigned int idle_pos;
	struct mn_idle_sample idle_ring[MN_IDLE_RING];
	unsigned int qlen;
	struct memnotify_event ring[];
};

/* memnotify_stats.c */
int mn_stats_init(void);
void mn_stats_exit(void);

/* memnotify_queue.c */
extern struct list_head mn_subs;
extern struct mutex mn_subs_lock;
void mn_event_init(struct memnotify_event *ev, u32 type, u32 level,
		   u32 source);
void mn_stat_event(const struct memnotify_event *ev);
bool mn_sub_post(struct mn_sub *sub, const struct memnotify_event *ev);
void mn_sub_request_locked(struct mn_sub *sub, u64 bytes, u32 source);
bool mn_sub_request(struct mn_sub *sub, u64 bytes, u32 source);
void mn_sub_reclaim_off(struct mn_sub *sub);
void mn_sub_released(struct mn_sub *sub, u64 bytes);
void mn_sub_state(struct mn_sub *sub, struct memnotify_state *st);
struct memnotify_state_page *
mn_sub_state_page(struct mn_sub *sub, struct memnotify_state_page *page);
void mn_broadcast(const struct memnotify_event *ev);
int mn_queue_pop(struct mn_sub *sub, struct memnotify_event *ev,
		 bool nonblock);
void mn_queue_unpop(struct mn_sub *sub, const struct memnotify_event *ev);
__poll_t mn_queue_poll(struct mn_sub *sub);

/* memnotify_pressure.c */
int mn_pressure_init(void);
void mn_pressure_exit(void);
void mn_pressure_shrinker_call(void);
void mn_pressure_sampler_start(void);	/* under mn_subs_lock */
void mn_pressure_sampler_stop(void);	/* under mn_subs_lock */
void mn_get_thresholds(struct memnotify_thresholds *t);
int mn_set_thresholds(const struct memnotify_thresholds *t);

/* memnotify_reclaim.c */
int mn_reclaim_init(void);
void mn_reclaim_exit(void);
int mn_claim_set(struct mn_sub *sub, u64 bytes, u64 request_seq);
u64 mn_claim_get(struct mn_sub *sub);
void mn_claim_drop(struct mn_sub *sub);
void mn_claim_release(struct mn_sub *sub);
unsigned long mn_claim_request_all(struct mn_sub *sub, u32 source);
unsigned long mn_ask_outstanding(struct mn_sub *sub, unsigned long anon);

/* memnotify_oomwait.c */
int mn_oomwait_init(void);
void mn_oomwait_exit(void);

/* memnotify_idle.c */
#define MN_IDLE_EXITED		0	/* bit of mn_sub.idle_exited */
void mn_idle_init_sub(struct mn_sub *sub);
void mn_idle_free(struct mn_sub *sub);
void mn_idle_update(struct mn_sub *sub);	/* under sub->cfg_lock */
void mn_idle_stop(struct mn_sub *sub);		/* under sub->cfg_lock */
int mn_idle_set(struct mn_sub *sub, const struct memnotify_idle *idle);
void mn_idle_get(struct mn_sub *sub, struct memnotify_idle *idle);
__poll_t mn_idle_poll(struct mn_sub *sub);

/* memnotify_admit.c */
struct cred;
int mn_admit(struct mn_sub *sub, const struct cred *cred);
void mn_leave(struct mn_sub *sub, const struct cred *cred);

/* memnotify_dev.c */
int mn_dev_init(void);
void mn_dev_exit(void);

#endif /* _MEMNOTIFY_H */
