/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memnotify internal definitions shared by the module's source files.
 *
 * Locking overview (details next to the code):
 *
 *  mn_subs_lock (mutex)	adding/removing subscribers to mn_subs; the
 *				list itself is walked under RCU by event
 *				producers, which may run in reclaim context.
 *  mn_reclaim_lock (spinlock)	every subscriber's cache_bytes/dead and
 *				mn_cache_pages (the shrinker's count).
 *  sub->wqh.lock (spinlock)	the subscriber's ring, counters and seq, like
 *				fs/eventfd.c uses its wait queue lock.
 *  sub->cfg_lock (mutex)	per-fd configuration (mask, idle settings) and
 *				starting/stopping the idle work.
 *  sub->read_lock (mutex)	serialises readers so that a record that could
 *				not be copied out can be put back in order.
 *
 *  Order: mn_reclaim_lock -> sub->wqh.lock.  Nothing allocates or sleeps
 *  while holding either spinlock, so the shrinker and the OOM notifier can
 *  never recurse into reclaim or wait for userspace.
 */
#ifndef _MEMNOTIFY_H
#define _MEMNOTIFY_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/mutex.h>
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

struct mn_idle_sample {
	u64 time_ns;
	u64 cpu_ns;
};

/**
 * struct mn_sub - one open file of /dev/memnotify
 * @node:	entry in mn_subs (RCU list)
 * @rcu:	frees the structure after the last RCU reader
 * @wqh:	readers and pollers; wqh.lock protects the ring fields below
 * @head:	index of the oldest queued record
 * @count:	number of queued records
 * @nr_crit:	queued CRITICAL pressure records (EPOLLPRI)
 * @seq:	sequence number of the last queued record
 * @dropped:	records lost to overflow
 * @mask:	MEMNOTIFY_EVENT_* bits wanted (READ_ONCE by producers)
 * @cache_bytes:	reported userspace cache, under mn_reclaim_lock
 * @dead:	set under mn_reclaim_lock when the file is being released
 * @cfg_lock:	serialises configuration ioctls and idle start/stop
 * @read_lock:	serialises readers
 * @uid:	effective uid of the opener (per-user cap)
 * @tgid:	thread group whose CPU time decides IDLE/ACTIVE
 * @idle_work:	periodic idle sampling (runs only when IDLE|ACTIVE wanted)
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
	struct rcu_head rcu;
	wait_queue_head_t wqh;
	unsigned int head;
	unsigned int count;
	unsigned int nr_crit;
	u64 seq;
	u64 dropped;
	u32 mask;
	u64 cache_bytes;
	bool dead;
	struct mutex cfg_lock;	/* see above */
	struct mutex read_lock;	/* see above */
	kuid_t uid;
	struct pid *tgid;
	struct delayed_work idle_work;
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

/* Statistics, shown under /sys/module/memnotify/stats/. */
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
	MN_STAT_RECLAIM_PAGES,
	MN_STAT_OOM,
	MN_STAT_THRESHOLD,
	MN_STAT_INJECTED,
	MN_STAT_OPENS,
	MN_STAT_NR
};

extern atomic64_t mn_stats[MN_STAT_NR];

static inline void mn_stat_add(enum mn_stat s, u64 v)
{
	atomic64_add(v, &mn_stats[s]);
}

static inline void mn_stat_inc(enum mn_stat s)
{
	atomic64_inc(&mn_stats[s]);
}

/* memnotify_dev.c */
extern struct list_head mn_subs;
extern atomic_t mn_nr_subs;
extern atomic_t mn_max_subs_seen;
extern atomic_long_t mn_sub_bytes;
int mn_dev_init(void);
void mn_dev_exit(void);
void mn_fill_meminfo(struct memnotify_event *ev);
void mn_event_init(struct memnotify_event *ev, u32 type, u32 level,
		   u32 source);
void mn_stat_event(const struct memnotify_event *ev);
bool mn_sub_post(struct mn_sub *sub, const struct memnotify_event *ev);
void mn_broadcast(const struct memnotify_event *ev);

/* memnotify_pressure.c */
extern spinlock_t mn_reclaim_lock;
extern unsigned long mn_cache_pages;
int mn_pressure_init(void);
void mn_pressure_exit(void);
u32 mn_threshold_level(unsigned long avail);
void mn_get_thresholds(struct memnotify_thresholds *t);
int mn_set_thresholds(const struct memnotify_thresholds *t);
int mn_sub_set_cache(struct mn_sub *sub, u64 bytes);
u64 mn_sub_get_cache(struct mn_sub *sub);
void mn_sub_drop_cache(struct mn_sub *sub);

/* memnotify_idle.c */
void mn_idle_init_sub(struct mn_sub *sub);
void mn_idle_update(struct mn_sub *sub);	/* under sub->cfg_lock */
void mn_idle_stop(struct mn_sub *sub);		/* under sub->cfg_lock */

/* memnotify_stats.c */
int mn_stats_init(void);
void mn_stats_exit(void);

#endif /* _MEMNOTIFY_H */
