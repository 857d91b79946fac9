// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify pressure sources and the userspace-shrinker protocol.
 *
 * PRESSURE comes from three places:
 *  - the module's shrinker: count_objects() runs at the start of every slab
 *    shrinking pass (kswapd, direct reclaim, drop_caches, memory.reclaim),
 *    which is the earliest sign of reclaim.  kswapd and other callers give
 *    LOW, direct reclaim (PF_MEMALLOC set by the page allocator) MEDIUM;
 *  - available memory below the low/medium/critical thresholds (thousandths
 *    of total RAM, module parameters or MEMNOTIFY_IOC_SET_THRESHOLDS),
 *    sampled in count_objects() and by a work item every sample_ms (ten
 *    times as often while MemAvailable is below twice the low threshold);
 *    the work item reports a new, higher level once per downward crossing;
 *  - the OOM notifier, called by the OOM killer before it picks a victim
 *    (global OOM only; memcg OOM does not call the notifier): CRITICAL.
 *
 * The record's level is the highest level that applies.  Shrinker and
 * threshold events pass a global gate: a level is reported at most once per
 * rate_limit_ms, and only if no equal or higher level was reported in that
 * interval; a higher level always passes at once.  Queued records coalesce
 * per subscriber (memnotify_dev.c), so a reclaim storm costs one gate check
 * per shrinker call.  OOM events are not gated (only coalesced).
 *
 * RECLAIM: subscribers report their free-but-resident cache in bytes.
 * count_objects() returns the sum in pages; scan_objects() splits
 * nr_to_scan over the subscribers in proportion to what each reported,
 * lowers the reported amounts immediately and queues a RECLAIM record for
 * each; it returns the pages requested as freed, so reclaim does not count
 * the same pages twice.  Userspace frees them asynchronously; the shrinker
 * never waits for it.  mn_reclaim_lock (a spinlock, taken only in process
 * context) protects every sub->cache_bytes, sub->dead and mn_cache_pages.
 */
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/oom.h>
#include <linux/sched.h>
#include <linux/swap.h>
#include <linux/workqueue.h>

#include "memnotify.h"
#include "memnotify_compat.h"

static unsigned int low_permille = 100;
static unsigned int medium_permille = 50;
static unsigned int critical_permille = 20;
static unsigned int rate_limit_ms = 100;
static unsigned int sample_ms = 1000;

static int mn_permille_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, 1000);
}

static const struct kernel_param_ops mn_permille_ops = {
	.set = mn_permille_set,
	.get = param_get_uint,
};

module_param_cb(low_permille, &mn_permille_ops, &low_permille, 0644);
MODULE_PARM_DESC(low_permille,
		 "PRESSURE LOW when MemAvailable < this many thousandths of RAM (default 100, 0 = off)");
module_param_cb(medium_permille, &mn_permille_ops, &medium_permille, 0644);
MODULE_PARM_DESC(medium_permille,
		 "PRESSURE MEDIUM when MemAvailable < this many thousandths of RAM (default 50, 0 = off)");
module_param_cb(critical_permille, &mn_permille_ops, &critical_permille,
		0644);
MODULE_PARM_DESC(critical_permille,
		 "PRESSURE CRITICAL when MemAvailable < this many thousandths of RAM (default 20, 0 = off)");

static int mn_rate_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, 60000);
}

static const struct kernel_param_ops mn_rate_ops = {
	.set = mn_rate_set,
	.get = param_get_uint,
};

module_param_cb(rate_limit_ms, &mn_rate_ops, &rate_limit_ms, 0644);
MODULE_PARM_DESC(rate_limit_ms,
		 "Minimum interval between PRESSURE events of one level, 0..60000 ms (default 100)");

static int mn_sample_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 10, 60000);
}

static const struct kernel_param_ops mn_sample_ops = {
	.set = mn_sample_set,
	.get = param_get_uint,
};

module_param_cb(sample_ms, &mn_sample_ops, &sample_ms, 0644);
MODULE_PARM_DESC(sample_ms,
		 "Available-memory sampling interval, 10..60000 ms (default 1000; a tenth near the low threshold)");

DEFINE_SPINLOCK(mn_reclaim_lock);
unsigned long mn_cache_pages;	/* sum of reported caches, in pages */

static DEFINE_SPINLOCK(mn_gate_lock);
static u64 mn_gate_last[MEMNOTIFY_LEVEL_CRITICAL + 1];	/* under the lock */
static atomic_t mn_thresh_level = ATOMIC_INIT(MEMNOTIFY_LEVEL_NONE);
static DEFINE_MUTEX(mn_thresh_lock);	/* serialises threshold updates */

static struct shrinker *mn_shrinker;
static struct delayed_work mn_sample_work;

u32 mn_threshold_level(unsigned long avail)
{
	u64 total = totalram_pages();
	u64 a = (u64)avail * 1000;

	if (a < total * READ_ONCE(critical_permille))
		return MEMNOTIFY_LEVEL_CRITICAL;
	if (a < total * READ_ONCE(medium_permille))
		return MEMNOTIFY_LEVEL_MEDIUM;
	if (a < total * READ_ONCE(low_permille))
		return MEMNOTIFY_LEVEL_LOW;
	return MEMNOTIFY_LEVEL_NONE;
}

void mn_get_thresholds(struct memnotify_thresholds *t)
{
	memset(t, 0, sizeof(*t));
	mutex_lock(&mn_thresh_lock);
	t->low_permille = READ_ONCE(low_permille);
	t->medium_permille = READ_ONCE(medium_permille);
	t->critical_permille = READ_ONCE(critical_permille);
	mutex_unlock(&mn_thresh_lock);
}

int mn_set_thresholds(const struct memnotify_thresholds *t)
{
	if (t->reserved || !t->critical_permille ||
	    t->critical_permille >= t->medium_permille ||
	    t->medium_permille >= t->low_permille || t->low_permille > 1000)
		return -EINVAL;
	mutex_lock(&mn_thresh_lock);
	WRITE_ONCE(low_permille, t->low_permille);
	WRITE_ONCE(medium_permille, t->medium_permille);
	WRITE_ONCE(critical_permille, t->critical_permille);
	mutex_unlock(&mn_thresh_lock);
	return 0;
}

/* Note the threshold level; return true on an upward crossing. */
static bool mn_threshold_crossed(u32 level)
{
	u32 prev = atomic_xchg(&mn_thresh_level, level);

	if (level <= prev)
		return false;
	mn_stat_inc(MN_STAT_THRESHOLD);
	return true;
}

/* Rate limit, see the top of the file.  True if the event may go out. */
static bool mn_pressure_gate(u32 level, u64 now)
{
	u64 interval = (u64)READ_ONCE(rate_limit_ms) * NSEC_PER_MSEC;
	bool pass = true;
	u32 l;

	spin_lock(&mn_gate_lock);
	for (l = level; l <= MEMNOTIFY_LEVEL_CRITICAL; l++) {
		if (mn_gate_last[l] && now - mn_gate_last[l] < interval)
			pass = false;
	}
	if (pass)
		mn_gate_last[level] = now;
	spin_unlock(&mn_gate_lock);
	if (!pass)
		mn_stat_inc(MN_STAT_RATE_LIMITED);
	return pass;
}

static unsigned long mn_count_objects(struct shrinker *s,
				      struct shrink_control *sc)
{
	struct memnotify_event ev;
	u32 level, tl;

	mn_stat_inc(MN_STAT_SHRINKER_COUNT);
	if (atomic_read(&mn_nr_subs)) {
		mn_event_init(&ev, MEMNOTIFY_EVENT_PRESSURE,
			      MEMNOTIFY_LEVEL_LOW, MEMNOTIFY_SOURCE_SHRINKER);
		level = MEMNOTIFY_LEVEL_LOW;
		if (!current_is_kswapd() && (current->flags & PF_MEMALLOC))
			level = MEMNOTIFY_LEVEL_MEDIUM;
		tl = mn_threshold_level(ev.avail_pages);
		mn_threshold_crossed(tl);
		ev.level = max(level, tl);
		if (mn_pressure_gate(ev.level, ev.timestamp_ns))
			mn_broadcast(&ev);
	}
	/* Reports are capped at RAM each, but many add up past it. */
	return min(READ_ONCE(mn_cache_pages), totalram_pages());
}

static unsigned long mn_scan_objects(struct shrinker *s,
				     struct shrink_control *sc)
{
	unsigned long nr, total, have, ask, freed = 0;
	struct memnotify_event ev;
	struct mn_sub *sub;

	mn_stat_inc(MN_STAT_SHRINKER_SCAN);
	mn_event_init(&ev, MEMNOTIFY_EVENT_RECLAIM, MEMNOTIFY_LEVEL_NONE,
		      MEMNOTIFY_SOURCE_SHRINKER);

	rcu_read_lock();
	spin_lock(&mn_reclaim_lock);
	total = mn_cache_pages;
	nr = min(sc->nr_to_scan, total);
	list_for_each_entry_rcu(sub, &mn_subs, node) {
		if (freed >= nr)
			break;
		if (sub->dead)
			continue;
		have = sub->cache_bytes >> PAGE_SHIFT;
		if (!have)
			continue;
		ask = mul_u64_u64_div_u64(nr, have, total);
		ask = clamp_t(unsigned long, ask, 1, min(have, nr - freed));
		sub->cache_bytes -= (u64)ask << PAGE_SHIFT;
		mn_cache_pages -= ask;
		freed += ask;
		ev.reclaim_pages = ask;
		mn_stat_event(&ev);
		mn_sub_post(sub, &ev);
	}
	spin_unlock(&mn_reclaim_lock);
	rcu_read_unlock();

	if (!freed)
		return SHRINK_STOP;
	mn_stat_add(MN_STAT_RECLAIM_PAGES, freed);
	return freed;
}

static const struct mn_shrinker_ops mn_shrinker_ops = {
	.count = mn_count_objects,
	.scan = mn_scan_objects,
};

int mn_sub_set_cache(struct mn_sub *sub, u64 bytes)
{
	if (bytes > (u64)totalram_pages() << PAGE_SHIFT)
		return -EINVAL;
	spin_lock(&mn_reclaim_lock);
	if (!sub->dead) {
		mn_cache_pages -= sub->cache_bytes >> PAGE_SHIFT;
		sub->cache_bytes = bytes;
		mn_cache_pages += bytes >> PAGE_SHIFT;
	}
	spin_unlock(&mn_reclaim_lock);
	return 0;
}

u64 mn_sub_get_cache(struct mn_sub *sub)
{
	u64 bytes;

	spin_lock(&mn_reclaim_lock);
	bytes = sub->cache_bytes;
	spin_unlock(&mn_reclaim_lock);
	return bytes;
}

/* release(): forget the subscriber's cache before it leaves the list. */
void mn_sub_drop_cache(struct mn_sub *sub)
{
	spin_lock(&mn_reclaim_lock);
	mn_cache_pages -= sub->cache_bytes >> PAGE_SHIFT;
	sub->cache_bytes = 0;
	sub->dead = true;
	spin_unlock(&mn_reclaim_lock);
}

/* Next sampling delay: shorter when getting close to the low threshold. */
static unsigned long mn_sample_delay(unsigned long avail)
{
	unsigned int ms = READ_ONCE(sample_ms);

	if ((u64)avail * 1000 < (u64)totalram_pages() * 2 * READ_ONCE(low_permille))
		ms = max(ms / 10, 10U);
	return msecs_to_jiffies(ms);
}

static void mn_sample_fn(struct work_struct *work)
{
	struct memnotify_event ev;
	u32 level;

	mn_event_init(&ev, MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_NONE,
		      MEMNOTIFY_SOURCE_THRESHOLD);
	level = mn_threshold_level(ev.avail_pages);
	if (mn_threshold_crossed(level) && atomic_read(&mn_nr_subs)) {
		ev.level = level;
		if (mn_pressure_gate(level, ev.timestamp_ns))
			mn_broadcast(&ev);
	}
	queue_delayed_work(system_wq, &mn_sample_work,
			   mn_sample_delay(ev.avail_pages));
}

static int mn_oom_notify(struct notifier_block *nb, unsigned long unused,
			 void *freed)
{
	struct memnotify_event ev;

	mn_stat_inc(MN_STAT_OOM);
	if (atomic_read(&mn_nr_subs)) {
		mn_event_init(&ev, MEMNOTIFY_EVENT_PRESSURE,
			      MEMNOTIFY_LEVEL_CRITICAL, MEMNOTIFY_SOURCE_OOM);
		mn_broadcast(&ev);
	}
	/* Nothing freed synchronously: let the OOM killer proceed. */
	return NOTIFY_OK;
}

static struct notifier_block mn_oom_nb = {
	.notifier_call = mn_oom_notify,
};

int mn_pressure_init(void)
{
	int err;

	mn_shrinker = mn_shrinker_create(&mn_shrinker_ops, "memnotify");
	if (IS_ERR(mn_shrinker))
		return PTR_ERR(mn_shrinker);
	err = register_oom_notifier(&mn_oom_nb);
	if (err) {
		mn_shrinker_destroy(mn_shrinker);
		return err;
	}
	INIT_DELAYED_WORK(&mn_sample_work, mn_sample_fn);
	queue_delayed_work(system_wq, &mn_sample_work,
			   msecs_to_jiffies(READ_ONCE(sample_ms)));
	return 0;
}

void mn_pressure_exit(void)
{
	cancel_delayed_work_sync(&mn_sample_work);
	unregister_oom_notifier(&mn_oom_nb);
	mn_shrinker_destroy(mn_shrinker);
}
