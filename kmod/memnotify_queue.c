// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify queues: the list of subscribers, each subscriber's ring of
 * records, and posting (with coalescing) and broadcasting records.  Every
 * event source (pressure, reclaim, idle, INJECT) only calls this file.
 *
 * Each open file is a subscriber (struct mn_sub) with a ring of qlen
 * preallocated records, so delivering an event never allocates.  Like
 * fs/eventfd.c, the wait queue lock protects the ring: producers take it
 * with interrupts disabled, queue or coalesce a record and wake readers
 * while still holding it (wake_up_locked_poll()).
 *
 * Producers walk mn_subs under RCU.  open() and release() change the list
 * under mn_subs_lock, and release() frees the subscriber only after an RCU
 * grace period, so a producer that still sees a released subscriber only
 * queues into memory that nobody reads any more.
 */
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/vmstat.h>

#include "memnotify.h"

LIST_HEAD(mn_subs);
DEFINE_MUTEX(mn_subs_lock);	/* writers of mn_subs, claim setters */

static bool mn_is_crit(const struct memnotify_event *ev)
{
	return ev->type == MEMNOTIFY_EVENT_PRESSURE &&
	       ev->level == MEMNOTIFY_LEVEL_CRITICAL;
}

/* Count a raised event once, whatever the number of subscribers. */
void mn_stat_event(const struct memnotify_event *ev)
{
	switch (ev->type) {
	case MEMNOTIFY_EVENT_PRESSURE:
		if (ev->level == MEMNOTIFY_LEVEL_LOW)
			mn_stat_inc(MN_STAT_PRESSURE_LOW);
		else if (ev->level == MEMNOTIFY_LEVEL_MEDIUM)
			mn_stat_inc(MN_STAT_PRESSURE_MEDIUM);
		else
			mn_stat_inc(MN_STAT_PRESSURE_CRITICAL);
		break;
	case MEMNOTIFY_EVENT_RECLAIM:
		mn_stat_inc(MN_STAT_RECLAIM);
		break;
	case MEMNOTIFY_EVENT_IDLE:
		mn_stat_inc(MN_STAT_IDLE);
		break;
	case MEMNOTIFY_EVENT_ACTIVE:
		mn_stat_inc(MN_STAT_ACTIVE);
		break;
	}
}

/* Ring helpers; all called with sub->wqh.lock held. */
static struct memnotify_event *mn_ring_at(struct mn_sub *sub, unsigned int i)
{
	return &sub->ring[(sub->head + i) % sub->qlen];
}

static bool mn_is_reclaim(const struct memnotify_event *ev)
{
	return ev->type == MEMNOTIFY_EVENT_RECLAIM;
}

/*
 * Make room: drop the oldest record that is neither CRITICAL nor RECLAIM,
 * else the oldest that is not RECLAIM.  A RECLAIM record is never dropped:
 * the pages it asks for were already taken from the claim, so losing it
 * would lose the request.  There is at most one RECLAIM record (they
 * coalesce; a record put back after a failed copy is merged too) and a ring
 * holds at least MN_QUEUE_LEN_MIN > 1 records, so a victim always exists.
 */
static void mn_ring_drop(struct mn_sub *sub)
{
	unsigned int victim = sub->count, i;
	struct memnotify_event *q;

	lockdep_assert_held(&sub->wqh.lock);
	for (i = 0; i < sub->count; i++) {
		q = mn_ring_at(sub, i);
		if (mn_is_reclaim(q))
			continue;
		if (!mn_is_crit(q)) {
			victim = i;
			break;
		}
		if (victim == sub->count)
			victim = i;
	}
	if (WARN_ON_ONCE(victim == sub->count))
		return;
	if (mn_is_crit(mn_ring_at(sub, victim)))
		sub->nr_crit--;
	for (i = victim; i > 0; i--)
		*mn_ring_at(sub, i) = *mn_ring_at(sub, i - 1);
	sub->head = (sub->head + 1) % sub->qlen;
	sub->count--;
	sub->dropped++;
	mn_stat_inc(MN_STAT_DROPPED);
}

/*
 * A record still queued absorbs a new one of the same kind: RECLAIM
 * requests add up, and a PRESSURE record of the same source and at least the
 * same level makes the new one redundant.  Injected pressure is never
 * coalesced (tests use it to fill queues).
 */
static bool mn_coalesce(struct mn_sub *sub, const struct memnotify_event *ev)
{
	struct memnotify_event *q;
	unsigned int i;

	lockdep_assert_held(&sub->wqh.lock);
	if (ev->type != MEMNOTIFY_EVENT_RECLAIM &&
	    (ev->type != MEMNOTIFY_EVENT_PRESSURE ||
	     ev->source == MEMNOTIFY_SOURCE_INJECT))
		return false;

	for (i = 0; i < sub->count; i++) {
		q = mn_ring_at(sub, i);
		if (q->type != ev->type)
			continue;
		if (ev->type == MEMNOTIFY_EVENT_RECLAIM) {
			q->reclaim_pages += ev->reclaim_pages;
			q->free_pages = ev->free_pages;
			q->avail_pages = ev->avail_pages;
			return true;
		}
		if (q->source == ev->source && q->level >= ev->level)
			return true;
	}
	return false;
}

/**
 * mn_sub_post - queue a record for one subscriber
 * @sub: the subscriber
 * @ev: fully initialised record; seq and dropped are filled in here
 *
 * Never sleeps or allocates; callable from the shrinker and the OOM
 * notifier.  Return: true if @sub wants this type of event.
 */
bool mn_sub_post(struct mn_sub *sub, const struct memnotify_event *ev)
{
	__poll_t events = EPOLLIN | EPOLLRDNORM;
	struct memnotify_event *q;
	unsigned long flags;

	if (!(READ_ONCE(sub->mask) & ev->type))
		return false;

	spin_lock_irqsave(&sub->wqh.lock, flags);
	if (mn_coalesce(sub, ev)) {
		spin_unlock_irqrestore(&sub->wqh.lock, flags);
		mn_stat_inc(MN_STAT_COALESCED);
		return true;
	}
	if (sub->count == sub->qlen)
		mn_ring_drop(sub);
	q = mn_ring_at(sub, sub->count);
	*q = *ev;
	q->seq = ++sub->seq;
	q->dropped = 0;
	sub->count++;
	if (mn_is_crit(q)) {
		sub->nr_crit++;
		events |= EPOLLPRI;
	}
	wake_up_locked_poll(&sub->wqh, events);
	spin_unlock_irqrestore(&sub->wqh.lock, flags);
	mn_stat_inc(MN_STAT_DELIVERED);
	return true;
}

/* Deliver a record to every subscriber that wants it. */
void mn_broadcast(const struct memnotify_event *ev)
{
	struct mn_sub *sub;

	mn_stat_event(ev);
	rcu_read_lock();
	list_for_each_entry_rcu(sub, &mn_subs, node)
		mn_sub_post(sub, ev);
	rcu_read_unlock();
}

/* A record with everything but the type-specific fields filled in. */
void mn_event_init(struct memnotify_event *ev, u32 type, u32 level,
		   u32 source)
{
	long avail = si_mem_available();

	memset(ev, 0, sizeof(*ev));
	ev->timestamp_ns = ktime_get_ns();
	ev->type = type;
	ev->level = level;
	ev->source = source;
	ev->free_pages = global_zone_page_state(NR_FREE_PAGES);
	ev->avail_pages = avail > 0 ? avail : 0;
}

/**
 * mn_queue_pop - take the oldest record of a subscriber
 * @sub: the subscriber; the caller holds sub->read_lock
 * @ev: receives the record, its dropped field set to the fd's total
 * @nonblock: return -EAGAIN instead of waiting for a record
 *
 * Return: 0, -EAGAIN, or -ERESTARTSYS when a signal interrupted the wait.
 */
int mn_queue_pop(struct mn_sub *sub, struct memnotify_event *ev,
		 bool nonblock)
{
	int ret;

	lockdep_assert_held(&sub->read_lock);
	spin_lock_irq(&sub->wqh.lock);
	if (!sub->count) {
		ret = nonblock ? -EAGAIN :
		      wait_event_interruptible_locked_irq(sub->wqh, sub->count);
		if (ret) {
			spin_unlock_irq(&sub->wqh.lock);
			return ret;
		}
	}
	*ev = *mn_ring_at(sub, 0);
	sub->head = (sub->head + 1) % sub->qlen;
	sub->count--;
	if (mn_is_crit(ev))
		sub->nr_crit--;
	ev->dropped = sub->dropped;
	spin_unlock_irq(&sub->wqh.lock);
	return 0;
}

/*
 * Give back a record that could not be copied to userspace.  A RECLAIM
 * record merges into one queued meanwhile, or makes room; anything else is
 * lost if the ring filled up meanwhile.
 */
void mn_queue_unpop(struct mn_sub *sub, const struct memnotify_event *ev)
{
	lockdep_assert_held(&sub->read_lock);
	spin_lock_irq(&sub->wqh.lock);
	if (mn_is_reclaim(ev) && mn_coalesce(sub, ev)) {
		/* merged into the queued RECLAIM record */
	} else if (sub->count == sub->qlen && !mn_is_reclaim(ev)) {
		sub->dropped++;
		mn_stat_inc(MN_STAT_DROPPED);
	} else {
		if (sub->count == sub->qlen)
			mn_ring_drop(sub);
		sub->head = (sub->head + sub->qlen - 1) % sub->qlen;
		sub->count++;
		*mn_ring_at(sub, 0) = *ev;
		if (mn_is_crit(ev))
			sub->nr_crit++;
	}
	wake_up_locked_poll(&sub->wqh, EPOLLIN | EPOLLRDNORM);
	spin_unlock_irq(&sub->wqh.lock);
}

/* poll() mask of the queue: EPOLLIN while records wait, EPOLLPRI for CRITICAL. */
__poll_t mn_queue_poll(struct mn_sub *sub)
{
	__poll_t events = 0;

	spin_lock_irq(&sub->wqh.lock);
	if (sub->count)
		events |= EPOLLIN | EPOLLRDNORM;
	if (sub->nr_crit)
		events |= EPOLLPRI;
	spin_unlock_irq(&sub->wqh.lock);
	return events;
}
