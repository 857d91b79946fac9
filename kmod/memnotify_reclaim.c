// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify reclaim protocol: claims and the userspace shrinker.
 *
 * A subscriber claims, with MEMNOTIFY_IOC_SET_CACHE, how much
 * free-but-resident memory it holds and could release on a RECLAIM
 * request.  Claims are kept in pages (the byte count rounded down) in
 * sub->claim, an atomic; their sum is the cache_pages gauge, also atomic.
 * Every change to a claim changes the sum by the same amount, so the sum
 * is exact whenever no change is in flight.
 *
 * Claims are bounded by reality: a claim is clamped to the resident
 * anonymous pages (MM_ANONPAGES) of the process that opened the file,
 *  - when set: to what that process holds minus what its other open files
 *    of /dev/memnotify already claim (lowering those first if together
 *    they exceed what it holds now), so one process cannot claim its
 *    memory once per file;
 *  - when scanned: to what it holds now (a process that freed memory, or
 *    exited, can no longer attract requests).
 * Shared memory (MM_SHMEMPAGES) does not count: a process cannot give it
 * back on its own, since other mappings or the page cache keep it.
 * The mm counters are approximate: before 6.2 each thread caches up to 64
 * page events before adding them to the mm, from 6.2 on they are percpu
 * counters read without summing, off by up to percpu_counter_batch per
 * CPU.  So that an honest claim of exactly what is held is not cut, the
 * clamp allows max(64, percpu_counter_batch) pages per online CPU above
 * the counter (the claim_slack_pages gauge); a liar gains at most that.
 *
 * The shrinker:
 *  - count_objects() is cheap and quiet: it hands the call to
 *    mn_pressure_shrinker_call() (a lockless gate check that may queue a
 *    work item) and returns the sum of claims, at most total RAM.  No lock,
 *    no walk of the subscribers, no record is queued from it.
 *  - seeks is DEFAULT_SEEKS: vmscan asks for (claims >> priority) * 2 per
 *    pass, i.e. the claims are treated like any other cache and trimmed in
 *    step with the reclaim priority (a request for all of them only at the
 *    lowest priorities or from drop_caches), instead of half of them on
 *    every call whatever the priority.  The pages cost a fault and zeroing
 *    to recreate, about what the objects of a typical cache cost.
 *  - batch is max(128, totalram / 128) pages (128 is vmscan's default).  vmscan asks for at
 *    most twice what count_objects() returned, and that is at most total
 *    RAM, so one do_shrink_slab() makes at most 2 * 128 + 1 = 257 calls of
 *    scan_objects(), whatever userspace claims.
 *  - scan_objects() makes one pass over the subscribers, starting at a
 *    cursor that moves on by one each call so that rounding favours nobody,
 *    and asks each for its share of nr_to_scan in proportion to its clamped
 *    claim, taking the pages from the claim with cmpxchg (two reclaimers
 *    never take the same page) and adding them, in bytes, to the
 *    subscriber's pending-reclaim counter, both under that subscriber's
 *    wqh.lock (a spinlock held for a few instructions; SET_CACHE's
 *    compare-and-set holds it too).  One call therefore costs
 *    O(subscribers), one pass costs O(257 * subscribers).
 *  - It returns the number of pages it asked for.  vmscan does not count a
 *    shrinker's return value as reclaimed memory (nr_reclaimed is credited
 *    only from reclaim_state, i.e. slab pages actually freed); the value
 *    feeds the shrink_slab tracepoints and drop_caches, which repeats
 *    while shrinkers report progress, so drop_caches turns every claim
 *    into requests.  When nothing was asked it returns SHRINK_STOP.
 *    Userspace frees asynchronously; the shrinker never waits for it.
 *  - It is not SHRINKER_NUMA_AWARE: a claim is the size of a process's free
 *    cache, and which nodes its pages sit on is unknown without walking
 *    its page tables; a NUMA-aware count would have to invent a split.
 *    vmscan calls it with nid 0 from the reclaim of every node, and one
 *    deferred count is shared by all nodes.
 */
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/percpu_counter.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>

#include "memnotify.h"
#include "memnotify_compat.h"

#define MN_BATCH_MIN	128	/* vmscan's SHRINK_BATCH */

static struct shrinker *mn_shrinker;
static atomic_t mn_scan_cursor = ATOMIC_INIT(0);

static unsigned long mn_claims_total(void)
{
	long v = atomic_long_read(&mn_gauges[MN_GAUGE_CACHE_PAGES]);

	return v > 0 ? v : 0;
}

static unsigned long mn_claim_slack;	/* pages, see above */

/* What a subscriber's process can claim: its resident anonymous pages. */
static unsigned long mn_resident_anon(struct mn_sub *sub)
{
	if (!sub->mm || !atomic_read(&sub->mm->mm_users))
		return 0;	/* none, or the process is gone */
	return get_mm_counter(sub->mm, MM_ANONPAGES) + mn_claim_slack;
}

/* Replace a claim; keeps the sum exact. */
static void mn_claim_store(struct mn_sub *sub, unsigned long pages)
{
	long old = atomic_long_xchg(&sub->claim, pages);

	atomic_long_add((long)pages - old, &mn_gauges[MN_GAUGE_CACHE_PAGES]);
}

/*
 * Lower a claim to at most @to pages; keeps the sum exact.  Retries while
 * a concurrent scan changes the claim, so that on return the claim is at
 * most @to (only mn_claim_store() raises a claim, and its callers hold
 * mn_subs_lock or own the subscriber).  Returns true if it lowered it.
 */
static bool mn_claim_cap(struct mn_sub *sub, unsigned long to)
{
	long have = atomic_long_read(&sub->claim);

	do {
		if (have <= (long)to)
			return false;
	} while (!atomic_long_try_cmpxchg(&sub->claim, &have, to));
	atomic_long_sub(have - to, &mn_gauges[MN_GAUGE_CACHE_PAGES]);
	return true;
}

/* Take up to @want pages from a claim; returns the pages taken. */
static unsigned long mn_claim_take(struct mn_sub *sub, unsigned long want)
{
	long have = atomic_long_read(&sub->claim), take;

	do {
		if (have <= 0)
			return 0;
		take = min_t(long, have, want);
	} while (!atomic_long_try_cmpxchg(&sub->claim, &have, have - take));
	atomic_long_sub(take, &mn_gauges[MN_GAUGE_CACHE_PAGES]);
	return take;
}

/**
 * mn_claim_set - MEMNOTIFY_IOC_SET_CACHE
 * @sub: the subscriber
 * @bytes: the claim; more than total RAM is refused with -EINVAL
 * @request_seq: the request_seq of the last RECLAIM record the caller read
 *
 * Clamps the claim to the opener's resident anonymous memory not claimed
 * through its other files (see above); the clamped value is what
 * mn_claim_get() returns.  The other files' claims are lowered first if
 * together they exceed what the process holds now, so after every set the
 * claims of one process add up to at most what it holds.
 *
 * The claim is stored only if no request was made since @request_seq
 * (-EAGAIN otherwise), in the critical section in which the shrinker takes
 * from claims, so a report never counts memory already requested.
 */
int mn_claim_set(struct mn_sub *sub, u64 bytes, u64 request_seq)
{
	unsigned long pages, budget;
	struct mn_sub *s;
	int ret = 0;

	if (bytes > (u64)totalram_pages() << PAGE_SHIFT)
		return -EINVAL;
	pages = bytes >> PAGE_SHIFT;

	/* mn_subs_lock keeps two files of one process from both claiming. */
	mutex_lock(&mn_subs_lock);
	budget = mn_resident_anon(sub);
	list_for_each_entry(s, &mn_subs, node) {
		if (s == sub || !sub->mm || s->mm != sub->mm)
			continue;
		if (mn_claim_cap(s, budget))
			mn_stat_inc(MN_STAT_CLAIMS_CLAMPED);
		/* A racing scan can only lower it further. */
		budget -= min_t(unsigned long, budget,
				max(atomic_long_read(&s->claim), 0L));
	}
	if (pages > budget) {
		pages = budget;
		mn_stat_inc(MN_STAT_CLAIMS_CLAMPED);
	}
	spin_lock_irq(&sub->wqh.lock);
	if (sub->rq.seq != request_seq)
		ret = -EAGAIN;
	else
		mn_claim_store(sub, pages);
	spin_unlock_irq(&sub->wqh.lock);
	mutex_unlock(&mn_subs_lock);
	return ret;
}

u64 mn_claim_get(struct mn_sub *sub)
{
	return (u64)max(atomic_long_read(&sub->claim), 0L) << PAGE_SHIFT;
}

/* release(), or RECLAIM masked off: the claim is gone. */
void mn_claim_drop(struct mn_sub *sub)
{
	mn_claim_store(sub, 0);
}

static unsigned long mn_count_objects(struct shrinker *s,
				      struct shrink_control *sc)
{
	mn_stat_inc(MN_STAT_SHRINKER_COUNT);
	if (!list_empty(&mn_subs))
		mn_pressure_shrinker_call();
	/* Claims are clamped each, but many add up past RAM. */
	return min(mn_claims_total(), totalram_pages());
}

/* A subscriber's claim, clamped now to what its process holds. */
static unsigned long mn_claim_clamped(struct mn_sub *sub)
{
	unsigned long have = max(atomic_long_read(&sub->claim), 0L);
	unsigned long anon;

	if (!have)
		return 0;
	anon = mn_resident_anon(sub);
	if (have > anon) {
		if (mn_claim_cap(sub, anon))
			mn_stat_inc(MN_STAT_CLAIMS_CLAMPED);
		have = anon;
	}
	return have;
}

/*
 * The ask ledger: what a subscriber was asked for recently and how much
 * resident anonymous memory its process had then, so that the OOM path
 * (memnotify_oomwait.c) can tell whether asked memory is still to come
 * back.  An ask more than MN_ASK_RECENT after the previous one starts a new
 * ledger.  Concurrent asks may race on the start; the ledger only chooses
 * whom the OOM path waits for (within its bound), never what is credited.
 */
#define MN_ASK_RECENT	(2 * HZ)

static void mn_ask_note(struct mn_sub *sub, unsigned long pages)
{
	unsigned long now = jiffies;

	if (!atomic_long_read(&sub->ask_pages) ||
	    time_after(now, READ_ONCE(sub->ask_jiffies) + MN_ASK_RECENT)) {
		WRITE_ONCE(sub->ask_anon, sub->mm && atomic_read(&sub->mm->mm_users) ?
			   get_mm_counter(sub->mm, MM_ANONPAGES) : 0);
		atomic_long_set(&sub->ask_pages, 0);
	}
	WRITE_ONCE(sub->ask_jiffies, now);
	atomic_long_add(pages, &sub->ask_pages);
}

/**
 * mn_ask_outstanding - pages asked recently and not seen given back
 * @sub: the subscriber
 * @anon: its process's resident anonymous pages now
 *
 * What was asked within the last MN_ASK_RECENT, less how far the process's
 * resident anonymous memory has fallen since the first of those asks.
 */
unsigned long mn_ask_outstanding(struct mn_sub *sub, unsigned long anon)
{
	long asked = atomic_long_read(&sub->ask_pages);
	unsigned long base = READ_ONCE(sub->ask_anon);
	unsigned long fell = base > anon ? base - anon : 0;

	if (asked <= 0 ||
	    time_after(jiffies, READ_ONCE(sub->ask_jiffies) + MN_ASK_RECENT))
		return 0;
	return (unsigned long)asked > fell ? asked - fell : 0;
}

/*
 * Take up to @want pages from a claim and add them to the subscriber's
 * pending counter, in one critical section of its wqh.lock, which
 * SET_CACHE's compare-and-set also holds.  Returns the pages asked.
 */
static unsigned long mn_ask(struct mn_sub *sub, unsigned long want, u32 source)
{
	unsigned long ask = 0, flags;

	spin_lock_irqsave(&sub->wqh.lock, flags);
	/* RECLAIM masked off meanwhile: the claim is gone, nobody is asked. */
	if (READ_ONCE(sub->mask) & MEMNOTIFY_EVENT_RECLAIM)
		ask = mn_claim_take(sub, want);
	if (ask)
		mn_sub_request_locked(sub, (u64)ask << PAGE_SHIFT, source);
	spin_unlock_irqrestore(&sub->wqh.lock, flags);
	if (!ask)
		return 0;
	mn_ask_note(sub, ask);
	mn_stat_add(MN_STAT_RECLAIM_PAGES, ask);
	return ask;
}

/*
 * Ask one subscriber for its share of @nr: its clamped claim over @total.
 * Returns the pages asked.
 */
static unsigned long mn_scan_one(struct mn_sub *sub, unsigned long nr,
				 unsigned long total, unsigned long left)
{
	unsigned long have = mn_claim_clamped(sub), ask;

	if (!have)
		return 0;
	ask = div64_u64((u64)nr * have + total - 1, total);
	return mn_ask(sub, min3(ask, have, left), MEMNOTIFY_SOURCE_SHRINKER);
}

/**
 * mn_claim_request_all - ask a subscriber for all of its claim
 * @sub: the subscriber (under RCU or otherwise kept alive by the caller)
 * @source: MEMNOTIFY_SOURCE_* the request is reported with
 *
 * The claim is clamped to the process's resident anonymous pages first.
 * Never sleeps or allocates (the OOM notifier calls it).
 * Return: the pages asked for, 0 if none (no claim, or RECLAIM masked off).
 */
unsigned long mn_claim_request_all(struct mn_sub *sub, u32 source)
{
	unsigned long have = mn_claim_clamped(sub);

	return have ? mn_ask(sub, have, source) : 0;
}

static unsigned long mn_scan_objects(struct shrinker *s,
				     struct shrink_control *sc)
{
	unsigned long nr, total, asked = 0, visits = 0;
	u64 t0 = ktime_get_ns();
	struct mn_sub *sub;
	long subs;
	int i = 0, start;

	mn_stat_inc(MN_STAT_SHRINKER_SCAN);
	total = mn_claims_total();
	nr = min(sc->nr_to_scan, total);
	subs = atomic_long_read(&mn_gauges[MN_GAUGE_SUBSCRIBERS]);
	start = subs > 0 ? (unsigned int)atomic_inc_return(&mn_scan_cursor) % subs : 0;

	/* One pass: from the cursor to the end, then from the head. */
	rcu_read_lock();
	list_for_each_entry_rcu(sub, &mn_subs, node) {
		if (i++ < start || asked >= nr)
			continue;
		visits++;
		asked += mn_scan_one(sub, nr, total, nr - asked);
	}
	i = 0;
	list_for_each_entry_rcu(sub, &mn_subs, node) {
		if (i++ >= start || asked >= nr)
			break;
		visits++;
		asked += mn_scan_one(sub, nr, total, nr - asked);
	}
	rcu_read_unlock();

	mn_stat_add(MN_STAT_SHRINKER_SCAN_VISITS, visits);
	mn_stat_add(MN_STAT_SHRINKER_SCAN_NS, ktime_get_ns() - t0);
	return asked ? asked : SHRINK_STOP;
}

static const struct mn_shrinker_ops mn_shrinker_ops = {
	.count = mn_count_objects,
	.scan = mn_scan_objects,
};

int mn_reclaim_init(void)
{
	long batch = max_t(long, MN_BATCH_MIN, totalram_pages() / 128);

	mn_claim_slack = max(64, percpu_counter_batch) * num_online_cpus();
	atomic_long_set(&mn_gauges[MN_GAUGE_CLAIM_SLACK_PAGES], mn_claim_slack);
	atomic_long_set(&mn_gauges[MN_GAUGE_SHRINKER_BATCH], batch);
	mn_shrinker = mn_shrinker_create(&mn_shrinker_ops, "memnotify", batch);
	return PTR_ERR_OR_ZERO(mn_shrinker);
}

void mn_reclaim_exit(void)
{
	mn_shrinker_destroy(mn_shrinker);
}
