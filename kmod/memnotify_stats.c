// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify statistics: read-only files in /sys/module/memnotify/stats/,
 * one decimal number per file, named by the tables below (which say what
 * each one counts).
 *
 * Counters are per-CPU u64s bumped with this_cpu_inc() (no shared cache
 * line in the shrinker) and summed over the possible CPUs when read; a sum
 * read while CPUs are counting is a snapshot, not an atomic one.  Gauges
 * are atomic current values that their owners keep up to date.
 */
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/sysfs.h>

#include "memnotify.h"

DEFINE_PER_CPU(struct mn_counters, mn_counters);
atomic_long_t mn_gauges[MN_GAUGE_NR];

/* Counters: file name, then what it counts. */
static const char * const mn_counter_names[MN_STAT_NR] = {
	/* PRESSURE LOW events raised (one per event, whatever the number of subscribers) */
	[MN_STAT_PRESSURE_LOW] = "pressure_low",
	/* PRESSURE MEDIUM events raised */
	[MN_STAT_PRESSURE_MEDIUM] = "pressure_medium",
	/* PRESSURE CRITICAL events raised */
	[MN_STAT_PRESSURE_CRITICAL] = "pressure_critical",
	/* RECLAIM requests made (one per subscriber asked, shrinker and INJECT) */
	[MN_STAT_RECLAIM] = "reclaim",
	/* IDLE events raised */
	[MN_STAT_IDLE] = "idle",
	/* ACTIVE events raised */
	[MN_STAT_ACTIVE] = "active",
	/* records queued to subscribers */
	[MN_STAT_DELIVERED] = "delivered",
	/* events merged into a record not read yet */
	[MN_STAT_COALESCED] = "coalesced",
	/* records lost to queue overflow, all subscribers */
	[MN_STAT_DROPPED] = "dropped",
	/* pressure events suppressed by rate_limit_ms */
	[MN_STAT_RATE_LIMITED] = "rate_limited",
	/* calls of the shrinker's count_objects */
	[MN_STAT_SHRINKER_COUNT] = "shrinker_count",
	/* calls of the shrinker's scan_objects */
	[MN_STAT_SHRINKER_SCAN] = "shrinker_scan",
	/* subscribers visited by scan_objects (at most one pass each call) */
	[MN_STAT_SHRINKER_SCAN_VISITS] = "shrinker_scan_visits",
	/* nanoseconds spent in scan_objects */
	[MN_STAT_SHRINKER_SCAN_NS] = "shrinker_scan_ns",
	/* shrinker calls handed to the pressure work item */
	[MN_STAT_SHRINKER_HANDOFFS] = "shrinker_handoffs",
	/* pages requested from subscribers in total */
	[MN_STAT_RECLAIM_PAGES] = "reclaim_pages",
	/* claims lowered to the claimant's resident anonymous memory */
	[MN_STAT_CLAIMS_CLAMPED] = "claims_clamped",
	/* OOM notifier calls (global OOM path entered; not sysrq-f) */
	[MN_STAT_OOM] = "oom",
	/* OOM notifier calls that waited for asked cache to come back */
	[MN_STAT_OOM_WAITS] = "oom_waits",
	/* nanoseconds spent in those waits */
	[MN_STAT_OOM_WAIT_NS] = "oom_wait_ns",
	/* those waits that ended at their bound, not all asked back */
	[MN_STAT_OOM_WAIT_TIMEOUTS] = "oom_wait_timeouts",
	/* pages the asked processes gave back during those waits (their
	 * resident anonymous memory fell), reported to the OOM killer as freed
	 */
	[MN_STAT_OOM_FREED_PAGES] = "oom_freed_pages",
	/* OOM notifier calls that reported pages freed, so the allocation
	 * retried instead of the OOM killer choosing a victim
	 */
	[MN_STAT_OOM_AVERTED] = "oom_averted",
	/* upward crossings of an available-memory threshold */
	[MN_STAT_THRESHOLD] = "threshold",
	/* runs of the available-memory sampler (only while a file is open) */
	[MN_STAT_SAMPLES] = "samples",
	/* MEMNOTIFY_IOC_INJECT calls that succeeded */
	[MN_STAT_INJECTED] = "injected",
	/* successful open()s */
	[MN_STAT_OPENS] = "opens",
	/* bytes requested from subscribers (shrinker and INJECT) */
	[MN_STAT_REQUESTED_BYTES] = "requested_bytes",
	/* bytes subscribers reported released (MEMNOTIFY_IOC_RELEASED) */
	[MN_STAT_RELEASED_BYTES] = "released_bytes",
	/* MEMNOTIFY_IOC_RELEASED calls */
	[MN_STAT_RELEASES] = "releases",
	/* releases less than 1 ms after the request they answer */
	[MN_STAT_RELEASE_LAT_0] = "release_latency_lt_1ms",
	/* ... 1 to 10 ms after the request */
	[MN_STAT_RELEASE_LAT_0 + 1] = "release_latency_lt_10ms",
	/* ... 10 to 100 ms after */
	[MN_STAT_RELEASE_LAT_0 + 2] = "release_latency_lt_100ms",
	/* ... 100 ms to 1 s after */
	[MN_STAT_RELEASE_LAT_0 + 3] = "release_latency_lt_1s",
	/* ... 1 s or more after */
	[MN_STAT_RELEASE_LAT_0 + 4] = "release_latency_ge_1s",
};

/* Gauges: file name, then what it shows. */
static const char * const mn_gauge_names[MN_GAUGE_NR] = {
	/* open files now */
	[MN_GAUGE_SUBSCRIBERS] = "subscribers",
	/* most open files at once */
	[MN_GAUGE_SUBSCRIBERS_PEAK] = "subscribers_peak",
	/* sum of the subscribers' claims (clamped), in pages */
	[MN_GAUGE_CACHE_PAGES] = "cache_pages",
	/* the shrinker's batch: pages per scan_objects call */
	[MN_GAUGE_SHRINKER_BATCH] = "shrinker_batch",
	/* pages a claim may exceed the claimant's counted anonymous memory */
	[MN_GAUGE_CLAIM_SLACK_PAGES] = "claim_slack_pages",
	/* memory the open files hold (subscriber structures and their queues), in bytes */
	[MN_GAUGE_MEMORY_BYTES] = "memory_bytes",
	/* users with open files charged to them (memnotify_admit.c) */
	[MN_GAUGE_USERS] = "users",
};

/*
 * The group lives on the module's kobject, whose sysfs_ops call
 * module_attribute methods, so the attributes must be module_attributes.
 * Attribute i < MN_STAT_NR is counter i, the others gauge i - MN_STAT_NR.
 */
struct mn_stat_attr {
	struct module_attribute attr;
	unsigned int idx;
};

#define MN_NR_ATTRS (MN_STAT_NR + MN_GAUGE_NR)

static struct mn_stat_attr mn_stat_attrs[MN_NR_ATTRS];
static struct attribute *mn_stat_attr_ptrs[MN_NR_ATTRS + 1];

static u64 mn_counter_sum(unsigned int s)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu(mn_counters, cpu).v[s]);
	return sum;
}

static ssize_t mn_stat_show(struct module_attribute *attr,
			    struct module_kobject *mk, char *buf)
{
	struct mn_stat_attr *a = container_of(attr, struct mn_stat_attr, attr);
	u64 v;

	if (a->idx < MN_STAT_NR)
		v = mn_counter_sum(a->idx);
	else
		v = max(atomic_long_read(&mn_gauges[a->idx - MN_STAT_NR]), 0L);
	return sysfs_emit(buf, "%llu\n", v);
}

static const struct attribute_group mn_stat_group = {
	.name = "stats",
	.attrs = mn_stat_attr_ptrs,
};

int mn_stats_init(void)
{
	struct mn_stat_attr *a;
	unsigned int i;

	for (i = 0; i < MN_NR_ATTRS; i++) {
		a = &mn_stat_attrs[i];
		sysfs_attr_init(&a->attr.attr);
		a->attr.attr.name = i < MN_STAT_NR ? mn_counter_names[i] :
				    mn_gauge_names[i - MN_STAT_NR];
		a->attr.attr.mode = 0444;
		a->attr.show = mn_stat_show;
		a->idx = i;
		mn_stat_attr_ptrs[i] = &a->attr.attr;
	}
	return sysfs_create_group(&THIS_MODULE->mkobj.kobj, &mn_stat_group);
}

void mn_stats_exit(void)
{
	sysfs_remove_group(&THIS_MODULE->mkobj.kobj, &mn_stat_group);
}
