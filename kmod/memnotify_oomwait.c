// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify OOM source: the OOM notifier, and a bounded wait in it for
 * reported cache to come back before the OOM killer picks a victim.
 *
 * Why a wait.  Without swap, at the default vm.watermark_scale_factor,
 * kswapd wakes only about 1 MB (in a 256 MB machine) above the point
 * where direct reclaim fails and the OOM killer runs; an allocation burst
 * crosses that in milliseconds, before a subscriber has run.  Predicting
 * exhaustion earlier only moves the race.  The OOM notifier is the one
 * hook that runs after reclaim has failed and before a victim is chosen:
 * out_of_memory() calls it under oom_lock, and a non-zero freed count
 * makes it return true, so the allocation retries instead of killing.
 *
 * What the notifier does, in the allocating task, under oom_lock:
 *  1. If the OOM killer was invoked by sysrq-f, nothing: that is not
 *     memory pressure, and out_of_memory() ignores freed for it anyway.
 *     The notifier is not given the oom_control (sysrq marks it with
 *     order == -1 in 6.1 and 6.12), so sysrq is recognised by the work
 *     item it runs from (moom_callback, on a workqueue).
 *  2. A CRITICAL PRESSURE record with source OOM to every subscriber.  It
 *     says the OOM path was entered; a kill may not follow (a retry may
 *     succeed, an OOM victim may already be exiting, a GFP_NOFS
 *     allocation never kills).
 *  3. Every subscriber with a claim, except those of the allocating
 *     process itself, is asked for all of its claim (RECLAIM, source OOM):
 *     at this point the alternative is a kill.  Claims are taken when
 *     asked, so a subscriber is asked again only after it reports a cache
 *     again, and a claim is clamped to the process's resident anonymous
 *     memory first.
 *  4. It waits, killable, at most MN_OOMWAIT_MS in total, polling every
 *     MN_OOMWAIT_POLL_MS, until the asked processes' resident anonymous
 *     pages (MM_ANONPAGES) have fallen by what is outstanding: what was
 *     just asked, plus what the shrinker asked in the last two seconds
 *     and has not come back yet (the ask ledger of memnotify_reclaim.c).
 *     The shrinker usually takes the claims moments before reclaim fails,
 *     so without the ledger there would be nothing left to ask or wait
 *     for by the time the notifier runs.  The counters are approximate
 *     (see memnotify_reclaim.c), so the wait ends once the fall is within
 *     their slack (the claim_slack_pages gauge) of what is outstanding.
 *     The fall, not the subscriber's word, is added to freed.  A process
 *     that frees nothing therefore cannot stop a kill, only delay it by
 *     the bound, and cannot make out_of_memory() loop without memory
 *     really coming back.
 *  5. Repeats are bounded: a process that was waited for and freed
 *     nothing is not waited for again while its resident anonymous memory
 *     has not fallen below what it was at the end of that wait (the
 *     fruitless set below keeps its mm pinned with mmgrab() to compare).
 *     So with no new progress every OOM costs at most one wait per newly
 *     asked process, and with progress each retry was paid for by pages
 *     really given back.
 *
 * Not done, and why:
 *  - memcg OOM does not call the notifier (out_of_memory() skips it for
 *    memcg OOM), so a cgroup's OOM gets neither the record nor the wait.
 *  - The notifier cannot see the gfp mask, so a GFP_NOFS allocation (which
 *    the OOM killer then refuses to act for) also posts and may wait.
 *  - A subscriber that must allocate memory to release cannot make
 *    progress while the allocating task holds oom_lock: its own
 *    allocation retries until the wait ends.  munmap() may allocate (maple
 *    tree nodes from 6.1 on, a VMA split); madvise(MADV_DONTNEED)
 *    allocates nothing and is what a subscriber should release with.
 *  - MADV_FREE does not lower MM_ANONPAGES, so pages given back that way
 *    are not credited here (reclaim, which ran before the OOM path, could
 *    already take them).
 *  - Pages shared copy-on-write with another process after fork() count
 *    in both processes' MM_ANONPAGES: one of them dropping such pages
 *    lowers its counter, and is credited, though no page is freed until
 *    the other drops them too.  The allocation then retries once more
 *    than memory warranted; each page can be dropped only once, and
 *    having it again costs an allocation.
 *
 * Cost: nothing until the OOM path is entered; then one walk of the
 * subscribers under RCU, and a sleep of at most MN_OOMWAIT_MS while
 * holding oom_lock, during which other allocators that reach the OOM path
 * sleep and retry as they do whenever oom_lock is held.  The notifier
 * never allocates: its state is static and protected by mn_ow_lock (never
 * contended in practice: out_of_memory() runs under oom_lock, which is not
 * exported to modules, so the notifier takes its own lock to say so).
 */
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/oom.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "memnotify.h"

#define MN_OOMWAIT_MS		200	/* bound of one wait */
#define MN_OOMWAIT_POLL_MS	4	/* how often the wait looks */
#define MN_OOMWAIT_MMS		32	/* processes tracked per wait */

/**
 * struct mn_oomwait_mm - a process asked in the OOM path
 * @mm:		its address space, pinned with mmgrab()
 * @anon:	its MM_ANONPAGES when asked (or, in the fruitless set, at the
 *		end of the wait in which it freed nothing)
 * @asked:	pages asked of it in this wait
 */
struct mn_oomwait_mm {
	struct mm_struct *mm;
	unsigned long anon;
	unsigned long asked;
};

static DEFINE_MUTEX(mn_ow_lock);	/* protects all below */
static struct mn_oomwait_mm mn_ow_asked[MN_OOMWAIT_MMS];
static unsigned int mn_ow_nr_asked;
static struct mn_oomwait_mm mn_ow_fruitless[MN_OOMWAIT_MMS];
static unsigned int mn_ow_nr_fruitless;

/*
 * Resident anonymous pages of a pinned mm.  Also read after the process
 * exited: exit_mmap() lowers the counter as it really frees the pages.
 */
static unsigned long mn_ow_anon(struct mm_struct *mm)
{
	return get_mm_counter(mm, MM_ANONPAGES);
}

/* sysrq-f runs out_of_memory() from moom_callback on a workqueue. */
static bool mn_oom_is_sysrq(void)
{
	struct work_struct *work;
	char name[16];

	if (!(current->flags & PF_WQ_WORKER))
		return false;
	work = current_work();
	if (!work)
		return false;
	snprintf(name, sizeof(name), "%ps", work->func);
	return !strcmp(name, "moom_callback");
}

static struct mn_oomwait_mm *mn_ow_find(struct mn_oomwait_mm *set,
					unsigned int nr, struct mm_struct *mm)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (set[i].mm == mm)
			return &set[i];
	return NULL;
}

/*
 * Whether to wait for @mm: not if it freed nothing in an earlier wait and
 * has not freed anything since.
 */
static bool mn_ow_worth_waiting(struct mm_struct *mm, unsigned long anon)
{
	struct mn_oomwait_mm *f = mn_ow_find(mn_ow_fruitless,
					     mn_ow_nr_fruitless, mm);

	return !f || anon < f->anon;
}

/*
 * Ask every claimant but the allocating process for all of its claim, and
 * note whom to wait for and how much: what it was just asked plus what it
 * was asked recently (by the shrinker, moments before reclaim failed) and
 * has not given back yet.
 */
static void mn_ow_ask(void)
{
	struct mn_oomwait_mm *w;
	unsigned long want, anon;
	struct mn_sub *sub;

	lockdep_assert_held(&mn_ow_lock);
	mn_ow_nr_asked = 0;
	rcu_read_lock();
	list_for_each_entry_rcu(sub, &mn_subs, node) {
		if (!sub->mm || sub->mm == current->mm)
			continue;
		anon = mn_ow_anon(sub->mm);
		if (atomic_long_read(&sub->claim) > 0)
			mn_claim_request_all(sub, MEMNOTIFY_SOURCE_OOM);
		want = mn_ask_outstanding(sub, anon);
		if (!want || !mn_ow_worth_waiting(sub->mm, anon))
			continue;
		w = mn_ow_find(mn_ow_asked, mn_ow_nr_asked, sub->mm);
		if (!w) {
			if (mn_ow_nr_asked == MN_OOMWAIT_MMS)
				continue;	/* asked, not waited for */
			w = &mn_ow_asked[mn_ow_nr_asked++];
			/* Freed one grace period after release: still here. */
			mmgrab(sub->mm);
			w->mm = sub->mm;
			w->anon = anon;
			w->asked = 0;
		}
		w->asked += want;
	}
	rcu_read_unlock();
}

/* Pages the asked processes gave back so far, at most what was asked. */
static unsigned long mn_ow_freed(void)
{
	unsigned long freed = 0, now;
	unsigned int i;

	for (i = 0; i < mn_ow_nr_asked; i++) {
		now = mn_ow_anon(mn_ow_asked[i].mm);
		if (now < mn_ow_asked[i].anon)
			freed += min(mn_ow_asked[i].anon - now,
				     mn_ow_asked[i].asked);
	}
	return freed;
}

static unsigned long mn_ow_wait(void)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(MN_OOMWAIT_MS);
	unsigned long want = 0, freed, slack;
	u64 t0 = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < mn_ow_nr_asked; i++)
		want += mn_ow_asked[i].asked;
	/* The counters may lag by their slack: do not wait for that. */
	slack = atomic_long_read(&mn_gauges[MN_GAUGE_CLAIM_SLACK_PAGES]);
	want = want > slack ? want - slack : 1;
	mn_stat_inc(MN_STAT_OOM_WAITS);
	for (;;) {
		freed = mn_ow_freed();
		if (freed >= want || fatal_signal_pending(current))
			break;
		if (time_after_eq(jiffies, deadline)) {
			mn_stat_inc(MN_STAT_OOM_WAIT_TIMEOUTS);
			break;
		}
		schedule_timeout_killable(msecs_to_jiffies(MN_OOMWAIT_POLL_MS));
	}
	mn_stat_add(MN_STAT_OOM_WAIT_NS, ktime_get_ns() - t0);
	mn_stat_add(MN_STAT_OOM_FREED_PAGES, freed);
	return freed;
}

/* Forget the fruitless set; drop its pins. */
static void mn_ow_fruitless_clear(void)
{
	lockdep_assert_held(&mn_ow_lock);
	while (mn_ow_nr_fruitless)
		mmdrop(mn_ow_fruitless[--mn_ow_nr_fruitless].mm);
}

/* Remove entry @i of the fruitless set and drop its pin. */
static void mn_ow_fruitless_del(unsigned int i)
{
	mmdrop(mn_ow_fruitless[i].mm);
	mn_ow_fruitless[i] = mn_ow_fruitless[--mn_ow_nr_fruitless];
}

/*
 * After a wait: a process waited for that gave nothing back joins the
 * fruitless set (keeping its pin, and replacing an older entry of its
 * own); one that gave something back leaves it.  Processes not waited for
 * this time keep their entries.  The set is full only with MN_OOMWAIT_MMS
 * processes that all lie; then an older entry makes room.
 */
static void mn_ow_settle(void)
{
	struct mn_oomwait_mm *w, *f;
	unsigned int i;

	lockdep_assert_held(&mn_ow_lock);
	for (i = 0; i < mn_ow_nr_asked; i++) {
		w = &mn_ow_asked[i];
		f = mn_ow_find(mn_ow_fruitless, mn_ow_nr_fruitless, w->mm);
		if (f)
			mn_ow_fruitless_del(f - mn_ow_fruitless);
		if (!atomic_read(&w->mm->mm_users) ||
		    mn_ow_anon(w->mm) < w->anon) {
			mmdrop(w->mm);
			continue;
		}
		if (mn_ow_nr_fruitless == MN_OOMWAIT_MMS)
			mn_ow_fruitless_del(0);
		mn_ow_fruitless[mn_ow_nr_fruitless++] = *w;
	}
	mn_ow_nr_asked = 0;
}

static int mn_oom_notify(struct notifier_block *nb, unsigned long unused,
			 void *parm)
{
	unsigned long *freed = parm, got, waited;
	struct memnotify_event ev;
	long free0, rose;

	if (mn_oom_is_sysrq())
		return NOTIFY_OK;
	mn_stat_inc(MN_STAT_OOM);
	if (list_empty(&mn_subs))
		return NOTIFY_OK;
	mn_event_init(&ev, MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_CRITICAL,
		      MEMNOTIFY_SOURCE_OOM);
	mn_broadcast(&ev);

	free0 = global_zone_page_state(NR_FREE_PAGES);
	mutex_lock(&mn_ow_lock);
	mn_ow_ask();
	waited = mn_ow_nr_asked;
	got = waited ? mn_ow_wait() : 0;
	mn_ow_settle();
	mutex_unlock(&mn_ow_lock);
	/*
	 * The wait delayed the OOM killer's choice: pages others freed
	 * meanwhile (a victim of an earlier kill finishing its exit) make the
	 * allocation retry, as they would have had the killer seen them.
	 */
	rose = (long)global_zone_page_state(NR_FREE_PAGES) - free0;
	if (waited && !got && rose > 0)
		got = rose;
	if (got) {
		mn_stat_inc(MN_STAT_OOM_AVERTED);
		*freed += got;
	}
	return NOTIFY_OK;
}

static struct notifier_block mn_oom_nb = {
	.notifier_call = mn_oom_notify,
};

int mn_oomwait_init(void)
{
	return register_oom_notifier(&mn_oom_nb);
}

/* Unregistering waits for a running notifier; then the state is ours. */
void mn_oomwait_exit(void)
{
	unregister_oom_notifier(&mn_oom_nb);
	mutex_lock(&mn_ow_lock);
	mn_ow_fruitless_clear();
	mutex_unlock(&mn_ow_lock);
}
