// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify PRESSURE sources.
 *
 * PRESSURE comes from these places, and from the OOM notifier
 * (memnotify_oomwait.c):
 *  - a shrinker call (memnotify_reclaim.c hands every count_objects() to
 *    mn_pressure_shrinker_call()).  The level says which reclaim ran, and
 *    how short memory is: whether a populated zone, of any node, has fewer
 *    free pages than one of its watermarks:
 *	kswapd					LOW while a zone is below its
 *						high watermark without the
 *						boost, else nothing
 *	direct reclaim by an allocating task	MEDIUM while a zone is below
 *	(PF_MEMALLOC, not kswapd)		its low watermark with the
 *						boost, else LOW
 *	memory.reclaim, node_reclaim		as direct reclaim: they run
 *						with PF_MEMALLOC, so LOW unless
 *						a zone is below its low
 *						watermark
 *	drop_caches, the shrinker debugfs	no PRESSURE: they are not
 *	files, anything else			memory pressure
 *    The boost (zone->watermark_boost, raised after an allocation fell back
 *    to another migrate type) is added to every watermark the allocator
 *    enforces (the *_wmark_pages() helpers) until kswapd has reclaimed it.
 *    kswapd runs to pay it back, and to make a high-order page, while
 *    order-0 pages are plentiful: that is not pressure, so kswapd's call
 *    counts only while a zone is short of its own high watermark,
 *    zone->_watermark[WMARK_HIGH] without the boost, which is as far as
 *    kswapd reclaims for pressure.  Direct reclaim is different: an
 *    allocation is held back by the boosted watermarks, stalls and
 *    reclaims itself, and while kswapd cannot pay the boost back (nothing
 *    reclaimable, or kswapd given up after failed runs) allocations fail
 *    and the OOM killer runs above the unboosted watermarks.  So MEDIUM,
 *    allocations stalled below the low watermark, uses the watermark in
 *    force, boost included.
 *    Zones are judged one by one, not by sums: a lower zone keeps its
 *    lowmem_reserve free above its watermarks from allocations that could
 *    use a higher zone (about 1 MB of ZONE_DMA in a 256 MB x86_64 VM), and
 *    in a sum those free pages would hide the shortage of the zone the
 *    allocations come from.  Any node's zone counts: the shrinker is not
 *    NUMA-aware (memnotify_reclaim.c), and one node's kswapd reclaiming for
 *    pressure is pressure whatever the other nodes hold.
 *    The call itself only checks the gate without a lock and, if the level
 *    may pass, notes it and queues mn_shrink_work; the work item (on a
 *    WQ_MEM_RECLAIM, WQ_HIGHPRI workqueue, so it runs even when no worker
 *    can be created) reads the memory figures, raises the level to the
 *    threshold level if that is higher, and broadcasts.  Nothing in the
 *    shrinker walks subscribers for PRESSURE.
 *  - available memory below the low/medium/critical thresholds (thousandths
 *    of total RAM, module parameters or MEMNOTIFY_IOC_SET_THRESHOLDS),
 *    sampled by a work item every sample_ms (ten times as often while
 *    MemAvailable is below twice the low threshold) while at least one
 *    file is open (no wakeups otherwise); it reports a new, higher level
 *    once per downward crossing, and the level at once when sampling
 *    starts.
 *
 * Shrinker and threshold events pass a global gate: a level is reported at
 * most once per rate_limit_ms, and only if no equal or higher level was
 * reported in that interval; a higher level always passes at once.  Queued
 * records coalesce per subscriber (memnotify_queue.c).  OOM events (memnotify_oomwait.c)
 * are not gated (only coalesced).
 */
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/swap.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>

#include "memnotify.h"

static DEFINE_SPINLOCK(mn_gate_lock);	/* writers of mn_gate_last */
static atomic64_t mn_gate_last[MEMNOTIFY_LEVEL_CRITICAL + 1];	/* ns */
static atomic_t mn_thresh_level = ATOMIC_INIT(MEMNOTIFY_LEVEL_NONE);
static DEFINE_MUTEX(mn_thresh_lock);	/* serialises threshold updates */
static atomic_t mn_shrink_levels;	/* BIT(level) of pending shrinker calls */

static struct workqueue_struct *mn_wq;
static struct work_struct mn_shrink_work;
static struct delayed_work mn_sample_work;

static u32 mn_threshold_level(unsigned long avail)
{
	u64 total = totalram_pages();
	u64 a = (u64)avail * 1000;

	if (a < total * mn_param(MN_PARAM_CRITICAL_PERMILLE))
		return MEMNOTIFY_LEVEL_CRITICAL;
	if (a < total * mn_param(MN_PARAM_MEDIUM_PERMILLE))
		return MEMNOTIFY_LEVEL_MEDIUM;
	if (a < total * mn_param(MN_PARAM_LOW_PERMILLE))
		return MEMNOTIFY_LEVEL_LOW;
	return MEMNOTIFY_LEVEL_NONE;
}

void mn_get_thresholds(struct memnotify_thresholds *t)
{
	memset(t, 0, sizeof(*t));
	mutex_lock(&mn_thresh_lock);
	t->low_permille = mn_param(MN_PARAM_LOW_PERMILLE);
	t->medium_permille = mn_param(MN_PARAM_MEDIUM_PERMILLE);
	t->critical_permille = mn_param(MN_PARAM_CRITICAL_PERMILLE);
	mutex_unlock(&mn_thresh_lock);
}

int mn_set_thresholds(const struct memnotify_thresholds *t)
{
	if (t->reserved || !t->critical_permille ||
	    t->critical_permille >= t->medium_permille ||
	    t->medium_permille >= t->low_permille || t->low_permille > 1000)
		return -EINVAL;
	mutex_lock(&mn_thresh_lock);
	mn_param_store(MN_PARAM_LOW_PERMILLE, t->low_permille);
	mn_param_store(MN_PARAM_MEDIUM_PERMILLE, t->medium_permille);
	mn_param_store(MN_PARAM_CRITICAL_PERMILLE, t->critical_permille);
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

/* True if @level or a higher one was reported less than rate_limit_ms ago. */
static bool mn_gate_recent(u32 level, u64 now)
{
	u64 interval = (u64)mn_param(MN_PARAM_RATE_LIMIT_MS) * NSEC_PER_MSEC;
	u64 last;
	u32 l;

	for (l = level; l <= MEMNOTIFY_LEVEL_CRITICAL; l++) {
		last = atomic64_read(&mn_gate_last[l]);
		if (last && now - last < interval)
			return true;
	}
	return false;
}

/* Rate limit, see the top of the file.  True if the event may go out. */
static bool mn_pressure_gate(u32 level, u64 now)
{
	bool pass;

	spin_lock(&mn_gate_lock);
	pass = !mn_gate_recent(level, now);
	if (pass)
		atomic64_set(&mn_gate_last[level], now);
	spin_unlock(&mn_gate_lock);
	if (!pass)
		mn_stat_inc(MN_STAT_RATE_LIMITED);
	return pass;
}

/*
 * A populated zone of any node has fewer free pages than its watermark
 * @wmark, with its boost if @boosted.  Modules cannot use
 * for_each_populated_zone() (first_online_pgdat() is not exported), hence
 * the walk of the nodes.  Reads counters that may be a moment stale, like
 * every watermark check outside the zone lock.
 */
static bool mn_zone_below(enum zone_watermarks wmark, bool boosted)
{
	unsigned long mark;
	struct zone *zone;
	int nid, z;

	for_each_online_node(nid) {
		for (z = 0; z < MAX_NR_ZONES; z++) {
			zone = &NODE_DATA(nid)->node_zones[z];
			if (!populated_zone(zone))
				continue;
			mark = READ_ONCE(zone->_watermark[wmark]);
			if (boosted)
				mark += READ_ONCE(zone->watermark_boost);
			if (zone_page_state(zone, NR_FREE_PAGES) < mark)
				return true;
		}
	}
	return false;
}

/**
 * mn_pressure_shrinker_call - count_objects() was called
 *
 * Runs in reclaim context on any CPU: no lock, no allocation, no walk of
 * the subscribers; kswapd and direct reclaim read the zones' watermarks
 * (MAX_NR_ZONES per node).  Work is only queued when the level would pass
 * the gate.
 */
void mn_pressure_shrinker_call(void)
{
	u32 level;

	if (current_is_kswapd()) {
		if (!mn_zone_below(WMARK_HIGH, false))
			return;		/* a boost or a high-order wakeup */
		level = MEMNOTIFY_LEVEL_LOW;
	} else if (current->flags & PF_MEMALLOC) {
		level = mn_zone_below(WMARK_LOW, true) ?
			MEMNOTIFY_LEVEL_MEDIUM : MEMNOTIFY_LEVEL_LOW;
	} else {
		return;
	}
	if (mn_gate_recent(level, ktime_get_ns()))
		return;
	if (atomic_fetch_or(BIT(level), &mn_shrink_levels) & BIT(level))
		return;		/* already on its way */
	mn_stat_inc(MN_STAT_SHRINKER_HANDOFFS);
	queue_work(mn_wq, &mn_shrink_work);
}

static void mn_shrink_fn(struct work_struct *work)
{
	u32 levels = atomic_xchg(&mn_shrink_levels, 0);
	struct memnotify_event ev;

	if (!levels || list_empty(&mn_subs))
		return;
	mn_event_init(&ev, MEMNOTIFY_EVENT_PRESSURE, fls(levels) - 1,
		      MEMNOTIFY_SOURCE_SHRINKER);
	/* Below a threshold too: say how bad it is (not a crossing). */
	ev.level = max_t(u32, ev.level,
			 mn_threshold_level(ev.avail_bytes >> PAGE_SHIFT));
	if (mn_pressure_gate(ev.level, ev.timestamp_ns))
		mn_broadcast(&ev);
}

/* Next sampling delay: shorter when getting close to the low threshold. */
static unsigned long mn_sample_delay(unsigned long avail)
{
	unsigned int ms = mn_param(MN_PARAM_SAMPLE_MS);

	if ((u64)avail * 1000 <
	    (u64)totalram_pages() * 2 * mn_param(MN_PARAM_LOW_PERMILLE))
		ms = max(ms / 10, 10U);
	return msecs_to_jiffies(ms);
}

static void mn_sample_fn(struct work_struct *work)
{
	struct memnotify_event ev;
	u32 level;

	mn_stat_inc(MN_STAT_SAMPLES);
	mn_event_init(&ev, MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_NONE,
		      MEMNOTIFY_SOURCE_THRESHOLD);
	level = mn_threshold_level(ev.avail_bytes >> PAGE_SHIFT);
	if (mn_threshold_crossed(level) && !list_empty(&mn_subs)) {
		ev.level = level;
		if (mn_pressure_gate(level, ev.timestamp_ns))
			mn_broadcast(&ev);
	}
	queue_delayed_work(mn_wq, &mn_sample_work,
			   mn_sample_delay(ev.avail_bytes >> PAGE_SHIFT));
}

/*
 * The first file was opened: start sampling, at once, from no level (so a
 * level already reached is reported).  Called under mn_subs_lock, like
 * mn_pressure_sampler_stop(), which orders the two.
 */
void mn_pressure_sampler_start(void)
{
	lockdep_assert_held(&mn_subs_lock);
	atomic_set(&mn_thresh_level, MEMNOTIFY_LEVEL_NONE);
	queue_delayed_work(mn_wq, &mn_sample_work, 0);
}

/* The last file was closed: stop sampling (the work never takes the lock). */
void mn_pressure_sampler_stop(void)
{
	lockdep_assert_held(&mn_subs_lock);
	cancel_delayed_work_sync(&mn_sample_work);
}

int mn_pressure_init(void)
{
	mn_wq = alloc_workqueue("memnotify", WQ_MEM_RECLAIM | WQ_HIGHPRI, 0);
	if (!mn_wq)
		return -ENOMEM;
	INIT_WORK(&mn_shrink_work, mn_shrink_fn);
	INIT_DELAYED_WORK(&mn_sample_work, mn_sample_fn);
	return 0;
}

/* After the shrinker is gone: nothing can queue mn_shrink_work any more. */
void mn_pressure_exit(void)
{
	cancel_delayed_work_sync(&mn_sample_work);
	cancel_work_sync(&mn_shrink_work);
	destroy_workqueue(mn_wq);
}
