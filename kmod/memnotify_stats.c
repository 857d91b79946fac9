// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify statistics: read-only files in /sys/module/memnotify/stats/,
 * one decimal counter per file.  Counters only grow, except subscribers,
 * cache_pages and memory_bytes, which are current values.
 *
 *  pressure_low, pressure_medium, pressure_critical
 *			PRESSURE events raised, per level (one per event,
 *			whatever the number of subscribers)
 *  reclaim		RECLAIM requests made (one per subscriber asked)
 *  idle, active	IDLE / ACTIVE events raised
 *  delivered		records queued to subscribers
 *  coalesced		events merged into a record not read yet
 *  dropped		records lost to queue overflow, all subscribers
 *  rate_limited	pressure events suppressed by rate_limit_ms
 *  shrinker_count	calls of the shrinker's count_objects
 *  shrinker_scan	calls of the shrinker's scan_objects
 *  reclaim_pages	pages requested from subscribers in total
 *  oom			OOM notifier calls
 *  threshold		upward crossings of an available-memory threshold
 *  injected		MEMNOTIFY_IOC_INJECT calls that succeeded
 *  opens		successful open()s
 *  subscribers		open files now
 *  subscribers_peak	most open files at once
 *  cache_pages		userspace cache currently reported, in pages
 *  memory_bytes	memory the open files hold (subscriber structures
 *			and their queues), in bytes
 */
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/sysfs.h>

#include "memnotify.h"

atomic64_t mn_stats[MN_STAT_NR];

enum {
	MN_VAL_SUBSCRIBERS = MN_STAT_NR,
	MN_VAL_SUBSCRIBERS_PEAK,
	MN_VAL_CACHE_PAGES,
	MN_VAL_MEMORY_BYTES,
};

/*
 * The group lives on the module's kobject, whose sysfs_ops call
 * module_attribute methods, so the attributes must be module_attributes.
 */
struct mn_stat_attr {
	struct module_attribute attr;
	int idx;
};

static ssize_t mn_stat_show(struct module_attribute *attr,
			    struct module_kobject *mk, char *buf)
{
	struct mn_stat_attr *a = container_of(attr, struct mn_stat_attr, attr);
	u64 v;

	switch (a->idx) {
	case MN_VAL_SUBSCRIBERS:
		v = atomic_read(&mn_nr_subs);
		break;
	case MN_VAL_SUBSCRIBERS_PEAK:
		v = atomic_read(&mn_max_subs_seen);
		break;
	case MN_VAL_CACHE_PAGES:
		v = READ_ONCE(mn_cache_pages);
		break;
	case MN_VAL_MEMORY_BYTES:
		v = atomic_long_read(&mn_sub_bytes);
		break;
	default:
		v = atomic64_read(&mn_stats[a->idx]);
		break;
	}
	return sysfs_emit(buf, "%llu\n", v);
}

#define MN_ATTR(_name, _idx)						\
	static struct mn_stat_attr mn_attr_##_name = {			\
		.attr = __ATTR(_name, 0444, mn_stat_show, NULL),	\
		.idx = _idx,						\
	}

MN_ATTR(pressure_low, MN_STAT_PRESSURE_LOW);
MN_ATTR(pressure_medium, MN_STAT_PRESSURE_MEDIUM);
MN_ATTR(pressure_critical, MN_STAT_PRESSURE_CRITICAL);
MN_ATTR(reclaim, MN_STAT_RECLAIM);
MN_ATTR(idle, MN_STAT_IDLE);
MN_ATTR(active, MN_STAT_ACTIVE);
MN_ATTR(delivered, MN_STAT_DELIVERED);
MN_ATTR(coalesced, MN_STAT_COALESCED);
MN_ATTR(dropped, MN_STAT_DROPPED);
MN_ATTR(rate_limited, MN_STAT_RATE_LIMITED);
MN_ATTR(shrinker_count, MN_STAT_SHRINKER_COUNT);
MN_ATTR(shrinker_scan, MN_STAT_SHRINKER_SCAN);
MN_ATTR(reclaim_pages, MN_STAT_RECLAIM_PAGES);
MN_ATTR(oom, MN_STAT_OOM);
MN_ATTR(threshold, MN_STAT_THRESHOLD);
MN_ATTR(injected, MN_STAT_INJECTED);
MN_ATTR(opens, MN_STAT_OPENS);
MN_ATTR(subscribers, MN_VAL_SUBSCRIBERS);
MN_ATTR(subscribers_peak, MN_VAL_SUBSCRIBERS_PEAK);
MN_ATTR(cache_pages, MN_VAL_CACHE_PAGES);
MN_ATTR(memory_bytes, MN_VAL_MEMORY_BYTES);

static struct attribute *mn_stat_attrs[] = {
	&mn_attr_pressure_low.attr.attr,
	&mn_attr_pressure_medium.attr.attr,
	&mn_attr_pressure_critical.attr.attr,
	&mn_attr_reclaim.attr.attr,
	&mn_attr_idle.attr.attr,
	&mn_attr_active.attr.attr,
	&mn_attr_delivered.attr.attr,
	&mn_attr_coalesced.attr.attr,
	&mn_attr_dropped.attr.attr,
	&mn_attr_rate_limited.attr.attr,
	&mn_attr_shrinker_count.attr.attr,
	&mn_attr_shrinker_scan.attr.attr,
	&mn_attr_reclaim_pages.attr.attr,
	&mn_attr_oom.attr.attr,
	&mn_attr_threshold.attr.attr,
	&mn_attr_injected.attr.attr,
	&mn_attr_opens.attr.attr,
	&mn_attr_subscribers.attr.attr,
	&mn_attr_subscribers_peak.attr.attr,
	&mn_attr_cache_pages.attr.attr,
	&mn_attr_memory_bytes.attr.attr,
	NULL
};

static const struct attribute_group mn_stat_group = {
	.name = "stats",
	.attrs = mn_stat_attrs,
};

int mn_stats_init(void)
{
	return sysfs_create_group(&THIS_MODULE->mkobj.kobj, &mn_stat_group);
}

void mn_stats_exit(void)
{
	sysfs_remove_group(&THIS_MODULE->mkobj.kobj, &mn_stat_group);
}
