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
 * Claims are also clamped to the usage of the claimant's memory cgroup
 * (memory.current, which counts its descendants too): when set, to the
 * usage of the cgroup the opener's process is in; when scanned, to the
 * usage of the cgroup whose reclaim asks.  The root cgroup has no usage
 * in cgroup v2 and sets no bound.
 *
 * Claim objects and cgroups.  A subscriber with a claim owns one claim
 * object (struct mn_claim_obj, sub->cobj), allocated with
 * kmem_cache_alloc_lru(GFP_KERNEL_ACCOUNT) while the opener's cgroup is
 * the active memcg, so it is charged to that cgroup, and put on mn_lru, a
 * memcg-aware list_lru: the object sits on the list of that cgroup and of
 * the node its memory is on (the node the claimant ran on when it first
 * claimed).  The first object on a (cgroup, node) list sets that cgroup's
 * shrinker bit on that node, so the shrinker is called for reclaim in that
 * cgroup and its ancestors: limit reclaim of a cgroup (memory.max,
 * memory.high, memory.reclaim) reaches the claims charged to it and its
 * descendants and no others; global reclaim and drop_caches visit every
 * cgroup and so reach every claim.  When a cgroup is removed the kernel
 * moves its objects to its parent's list.
 *  - The object is homed when a SET_CACHE stores a claim: if the opener's
 *    process has moved to another cgroup since the object was allocated,
 *    a new object charged to the new cgroup replaces it (cgroup v2 does not
 *    move charges, so memory the process faulted in before the move stays
 *    charged to the old cgroup; the claim follows the process).  It stays
 *    on its list, claim 0 or not, until release() or a re-homing.
 *  - count_objects() returns SHRINK_EMPTY only for an empty list, so vmscan
 *    clears a cgroup's shrinker bit only when the list is empty, and the
 *    list_lru's own rule (adding to an empty list sets the bit) keeps every
 *    object with a claim reachable.
 *  - With the memory controller disabled (cgroup_disable=memory) or absent
 *    (CONFIG_MEMCG=n) the kernel drops SHRINKER_MEMCG_AWARE, objects are
 *    charged nowhere and there is one list per node, walked with
 *    sc->memcg == NULL.
 *
 * NUMA: the shrinker is SHRINKER_NUMA_AWARE and a claim counts on the node
 * of its object.  Which nodes a process's free cache sits on is unknown
 * without walking its page tables; under the default local allocation
 * policy it is mostly the node the process runs on, which is where its
 * object was allocated.  Reclaim on another node does not ask it.
 *
 * The shrinker, called for one (cgroup, node) list at a time:
 *  - count_objects() is cheap and quiet: for global reclaim (the root
 *    cgroup, or none) it hands the call to mn_pressure_shrinker_call() (a
 *    lockless gate check that may queue a work item); limit reclaim never
 *    calls it with the root, so it raises no PRESSURE record.  It returns
 *    the sum of the claims on the list, at most the cgroup's usage and
 *    total RAM, from one walk of that list under the list's lock (LRU_SKIP
 *    for every object: reading an atomic each).  The list holds at most one
 *    object per open file of /dev/memnotify, so the walk is bounded by the
 *    admission caps (max_subscribers, max_subscribers_per_user), like a
 *    scan pass; no record is queued from it.
 *  - seeks is DEFAULT_SEEKS: vmscan asks for (claims >> priority) * 2 per
 *    pass, i.e. the claims are treated like any other cache and trimmed in
 *    step with the reclaim priority (a request for all of them only at the
 *    lowest priorities or from drop_caches), instead of half of them on
 *    every call whatever the priority.  The pages cost a fault and zeroing
 *    to recreate, about what the objects of a typical cache cost.
 *  - batch is max(128, totalram / 128) pages (128 is vmscan's default).  vmscan asks for at
 *    most twice what count_objects() returned, and that is at most total
 *    RAM, so one do_shrink_slab() makes at most 2 * 128 + 1 = 257 calls of
 *    scan_objects() for a (cgroup, node), whatever userspace claims.
 *  - scan_objects() sums the list's claims in one walk, then makes one
 *    pass over the list with list_lru_walk_one(), asking each subscriber
 *    for its share of nr_to_scan in proportion to its clamped claim,
 *    taking the pages from the claim with cmpxchg (two reclaimers never
 *    take the same page) and adding them, in bytes, to the subscriber's
 *    pending-reclaim counter, both under that subscriber's wqh.lock (a
 *    spinlock held for a few instructions; SET_CACHE's compare-and-set
 *    holds it too).  The first object of each pass goes to the tail
 *    (LRU_ROTATE), a cursor that moves on by one each call so that rounding
 *    favours nobody.  One call costs O(objects on the list), one pass
 *    O(257 * objects on the list).
 *  - It returns the number of pages it asked for.  vmscan does not count a
 *    shrinker's return value as reclaimed memory (nr_reclaimed is credited
 *    only from reclaim_state, i.e. slab pages actually freed); the value
 *    feeds the shrink_slab tracepoints and drop_caches, which repeats
 *    while shrinkers report progress, so drop_caches turns every claim
 *    into requests.  When nothing was asked it returns SHRINK_STOP.
 *    Userspace frees asynchronously; the shrinker never waits for it.
 *
 * Locking:
 *  - sub->cobj is set and replaced under mn_subs_lock (SET_CACHE), and
 *    taken at release(), when no ioctl of the file can run.  Objects are
 *    allocated before and freed after mn_subs_lock is held (nothing
 *    allocates or frees under it); mn_lru_add()/mn_lru_del() may be called
 *    under it.  Order: mn_subs_lock -> list lock -> sub->wqh.lock.
 *  - An object's list linkage is under its list's lock (the list_lru's
 *    per-node spinlock); the walk callbacks run under it, take only a
 *    subscriber's wqh.lock, never sleep, allocate or drop the list lock.
 *  - Lifetime: release() zeroes the claim, deletes the object from its list
 *    (which waits for a walk holding the list lock) and frees it; the
 *    subscriber itself is freed an RCU grace period later still.  So a walk
 *    only ever sees objects whose subscriber is alive.
 */
#include <linux/ktime.h>
#include <linux/list_lru.h>
#include <linux/lockdep.h>
#include <linux/math64.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/percpu_counter.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

#include "memnotify.h"
#include "memnotify_compat.h"

#define MN_BATCH_MIN	128	/* vmscan's SHRINK_BATCH */

/**
 * struct mn_claim_obj - a subscriber's claim on mn_lru (see above)
 * @lru:	entry in its (cgroup, node) list, under that list's lock
 * @sub:	the subscriber, alive while the object is on a list
 * @memcg_id:	id of the cgroup it was charged to (mn_memcg_id())
 */
struct mn_claim_obj {
	struct list_head lru;
	struct mn_sub *sub;
	u64 memcg_id;
};

static struct shrinker *mn_shrinker;
static struct kmem_cache *mn_claim_cache;
static struct list_lru mn_lru;
static struct lock_class_key mn_lru_key;	/* its own class for lockdep */
static bool mn_lru_ready;	/* mn_lru initialised (see memnotify_compat.h) */

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

	lockdep_assert_held(&sub->wqh.lock);
	do {
		if (have <= 0)
			return 0;
		take = min_t(long, have, want);
	} while (!atomic_long_try_cmpxchg(&sub->claim, &have, have - take));
	atomic_long_sub(take, &mn_gauges[MN_GAUGE_CACHE_PAGES]);
	return take;
}

/*
 * A claim object for @sub charged to @memcg (NULL: the caller's), or NULL
 * if out of memory.  Called without mn_subs_lock.
 */
static struct mn_claim_obj *mn_claim_obj_alloc(struct mn_sub *sub,
					       struct mem_cgroup *memcg, u64 id)
{
	struct mem_cgroup *prev = set_active_memcg(memcg);
	struct mn_claim_obj *obj;

	obj = kmem_cache_alloc_lru(mn_claim_cache, &mn_lru, GFP_KERNEL_ACCOUNT);
	set_active_memcg(prev);
	if (!obj)
		return NULL;
	INIT_LIST_HEAD(&obj->lru);
	obj->sub = sub;
	obj->memcg_id = id;
	return obj;
}

static void mn_claim_obj_free(struct mn_claim_obj *obj)
{
	if (!obj)
		return;
	mn_lru_del(&mn_lru, &obj->lru);
	kmem_cache_free(mn_claim_cache, obj);
}

/*
 * Home @sub's claim in the cgroup @id: install @spare (allocated for that
 * cgroup) unless the current object is charged there already.  Returns the
 * object the caller frees after dropping mn_subs_lock: the replaced one,
 * taken off its list, or @spare if unused.
 */
static struct mn_claim_obj *mn_claim_home(struct mn_sub *sub,
					  struct mn_claim_obj *spare, u64 id)
{
	struct mn_claim_obj *old = sub->cobj;

	lockdep_assert_held(&mn_subs_lock);
	if (!spare || (old && old->memcg_id == id))
		return spare;
	if (old)
		mn_lru_del(&mn_lru, &old->lru);
	sub->cobj = spare;
	WRITE_ONCE(sub->claim_memcg_id, id);
	return old;
}

/**
 * mn_claim_set - MEMNOTIFY_IOC_SET_CACHE
 * @sub: the subscriber
 * @bytes: the claim; more than total RAM is refused with -EINVAL
 * @request_seq: the request_seq of the last RECLAIM record the caller read
 *
 * Clamps the claim to the opener's resident anonymous memory not claimed
 * through its other files and to the usage of the opener's memory cgroup
 * (see above); the clamped value is what mn_claim_get() returns.  The other
 * files' claims are lowered first if together they exceed what the process
 * holds now, so after every set the claims of one process add up to at
 * most what it holds.  A claim is homed in the opener's cgroup (its claim
 * object charged there and on that cgroup's list); -ENOMEM if the object
 * cannot be allocated.
 *
 * The claim is stored only if no request was made since @request_seq
 * (-EAGAIN otherwise), in the critical section in which the shrinker takes
 * from claims, so a report never counts memory already requested.
 */
int mn_claim_set(struct mn_sub *sub, u64 bytes, u64 request_seq)
{
	struct mn_claim_obj *spare = NULL;
	struct mem_cgroup *memcg = NULL;
	unsigned long pages, budget, usage;
	struct mn_sub *s;
	int ret = 0;
	u64 id;

	if (bytes > (u64)totalram_pages() << PAGE_SHIFT)
		return -EINVAL;
	pages = bytes >> PAGE_SHIFT;

	if (sub->mm)
		memcg = get_mem_cgroup_from_mm(sub->mm);
	id = mn_memcg_id(memcg);
	usage = mn_memcg_usage(memcg);
	/* A hint only: mn_claim_home() decides under mn_subs_lock. */
	if (pages && (!READ_ONCE(sub->cobj) ||
		      READ_ONCE(sub->claim_memcg_id) != id)) {
		spare = mn_claim_obj_alloc(sub, memcg, id);
		if (!spare)
			ret = -ENOMEM;
	}
	mem_cgroup_put(memcg);
	if (ret)
		return ret;

	/* mn_subs_lock keeps two files of one process from both claiming. */
	mutex_lock(&mn_subs_lock);
	spare = mn_claim_home(sub, spare, id);
	budget = min(mn_resident_anon(sub), usage);
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
	/* After the store: a scan that took the claim to 0 meanwhile is fine. */
	if (!ret && pages && sub->cobj)
		mn_lru_add(&mn_lru, &sub->cobj->lru);
	mutex_unlock(&mn_subs_lock);
	mn_claim_obj_free(spare);
	return ret;
}

u64 mn_claim_get(struct mn_sub *sub)
{
	return (u64)max(atomic_long_read(&sub->claim), 0L) << PAGE_SHIFT;
}

/* RECLAIM masked off: the claim is gone (its object stays until release). */
void mn_claim_drop(struct mn_sub *sub)
{
	mn_claim_store(sub, 0);
}

/*
 * release(): the claim and its object are gone.  No ioctl of the file can
 * run any more, so sub->cobj needs no lock; deleting the object from its
 * list waits for a walk that holds the list's lock.
 */
void mn_claim_release(struct mn_sub *sub)
{
	mn_claim_store(sub, 0);
	mn_claim_obj_free(sub->cobj);
	sub->cobj = NULL;
}

/*
 * A subscriber's claim, clamped now to what its process holds and to
 * @usage, the usage of the cgroup whose reclaim asks (ULONG_MAX: none).
 */
static unsigned long mn_claim_clamped(struct mn_sub *sub, unsigned long usage)
{
	unsigned long have = max(atomic_long_read(&sub->claim), 0L);
	unsigned long bound;

	if (!have)
		return 0;
	bound = min(mn_resident_anon(sub), usage);
	if (have > bound) {
		if (mn_claim_cap(sub, bound))
			mn_stat_inc(MN_STAT_CLAIMS_CLAMPED);
		have = bound;
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

/* One walk of a (cgroup, node) list; see mn_count_objects(), mn_scan_objects(). */
struct mn_walk {
	unsigned long total;	/* claims on the list, pages */
	unsigned long usage;	/* the cgroup's usage, ULONG_MAX: none */
	unsigned long nr;	/* pages to ask for */
	unsigned long asked;	/* pages asked for */
	unsigned long seen;	/* objects seen */
	unsigned long visits;	/* subscribers asked */
};

static struct mn_claim_obj *mn_claim_obj_of(struct list_head *item)
{
	return container_of(item, struct mn_claim_obj, lru);
}

static enum lru_status mn_walk_sum(struct list_head *item,
				   struct list_lru_one *list,
				   spinlock_t *lock, void *arg)
{
	struct mn_walk *w = arg;

	lockdep_assert_held(lock);
	w->total += max(atomic_long_read(&mn_claim_obj_of(item)->sub->claim), 0L);
	return LRU_SKIP;
}

/*
 * Ask one subscriber for its share of w->nr: its clamped claim over
 * w->total, at most what is left to ask.  The first object of a pass goes
 * to the tail, so that the next pass starts one further on.
 */
static enum lru_status mn_walk_ask(struct list_head *item,
				   struct list_lru_one *list,
				   spinlock_t *lock, void *arg)
{
	struct mn_sub *sub = mn_claim_obj_of(item)->sub;
	struct mn_walk *w = arg;
	bool first = !w->seen++;
	unsigned long have, ask;

	lockdep_assert_held(lock);
	if (w->asked >= w->nr || !w->total)
		return first ? LRU_ROTATE : LRU_SKIP;
	have = mn_claim_clamped(sub, w->usage);
	if (have) {
		w->visits++;
		ask = div64_u64((u64)w->nr * have + w->total - 1, w->total);
		w->asked += mn_ask(sub, min3(ask, have, w->nr - w->asked),
				   MEMNOTIFY_SOURCE_SHRINKER);
	}
	return first ? LRU_ROTATE : LRU_SKIP;
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
	unsigned long have = mn_claim_clamped(sub, ULONG_MAX);

	return have ? mn_ask(sub, have, source) : 0;
}

/* The root cgroup, or none: global reclaim or drop_caches. */
static bool mn_global_reclaim(struct shrink_control *sc)
{
	return !sc->memcg || !parent_mem_cgroup(sc->memcg);
}

/* Sum the claims on sc's (cgroup, node) list; false if it is empty. */
static bool mn_list_sum(struct shrink_control *sc, struct mn_walk *w)
{
	unsigned long n;

	/* Pairs with the release in mn_reclaim_init(): mn_lru is set up. */
	if (!smp_load_acquire(&mn_lru_ready))
		return false;
	n = list_lru_shrink_count(&mn_lru, sc);
	if (!n)
		return false;
	list_lru_walk_one(&mn_lru, sc->nid, sc->memcg, mn_walk_sum, w, &n);
	return true;
}

static unsigned long mn_count_objects(struct shrinker *s,
				      struct shrink_control *sc)
{
	struct mn_walk w = { 0 };

	mn_stat_inc(MN_STAT_SHRINKER_COUNT);
	if (mn_global_reclaim(sc) && !list_empty(&mn_subs))
		mn_pressure_shrinker_call();
	/* Only an empty list may clear the cgroup's shrinker bit. */
	if (!mn_list_sum(sc, &w))
		return SHRINK_EMPTY;
	/* Claims are clamped each, but many add up past RAM. */
	return min3(w.total, mn_memcg_usage(sc->memcg), totalram_pages());
}

static unsigned long mn_scan_objects(struct shrinker *s,
				     struct shrink_control *sc)
{
	struct mn_walk w = { .usage = mn_memcg_usage(sc->memcg) };
	u64 t0 = ktime_get_ns();
	unsigned long n;

	mn_stat_inc(MN_STAT_SHRINKER_SCAN);
	if (mn_list_sum(sc, &w)) {
		w.nr = min(sc->nr_to_scan, w.total);
		n = list_lru_shrink_count(&mn_lru, sc);
		list_lru_walk_one(&mn_lru, sc->nid, sc->memcg, mn_walk_ask,
				  &w, &n);
	}
	mn_stat_add(MN_STAT_SHRINKER_SCAN_VISITS, w.visits);
	mn_stat_add(MN_STAT_SHRINKER_SCAN_NS, ktime_get_ns() - t0);
	return w.asked ? w.asked : SHRINK_STOP;
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
	mn_claim_cache = kmem_cache_create("memnotify_claim",
					   sizeof(struct mn_claim_obj), 0, 0,
					   NULL);
	if (!mn_claim_cache)
		return -ENOMEM;
	mn_shrinker = mn_shrinker_create(&mn_shrinker_ops, "memnotify", batch,
					 &mn_lru, &mn_lru_key);
	if (IS_ERR(mn_shrinker)) {
		kmem_cache_destroy(mn_claim_cache);
		return PTR_ERR(mn_shrinker);
	}
	/* Pairs with the acquire in mn_list_sum(): mn_lru is set up. */
	smp_store_release(&mn_lru_ready, true);
	return 0;
}

/* Every file is released: no object is left on mn_lru. */
void mn_reclaim_exit(void)
{
	mn_shrinker_destroy(mn_shrinker, &mn_lru);
	kmem_cache_destroy(mn_claim_cache);
}
