// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify queues: the list of subscribers, each subscriber's ring of
 * records, and posting (with coalescing) and broadcasting records.  Every
 * event source (pressure, reclaim, idle, INJECT) only calls this file.
 *
 * Each open file is a subscriber (struct mn_sub) with a ring of qlen
 * preallocated records, so delivering an event never allocates, and a
 * pending-reclaim counter (sub->rq).  RECLAIM requests never go into the
 * ring: they add to the counter, and read() turns the counter into one
 * RECLAIM record, so no overflow can drop a request and no request is read
 * twice.  Like fs/eventfd.c, the wait queue lock protects the ring and the
 * counter: producers take it with interrupts disabled, queue, coalesce or
 * count and wake readers while still holding it (wake_up_locked_poll()).
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

/*
 * Count a raised event once, whatever the number of subscribers (RECLAIM
 * requests are counted per subscriber by mn_sub_request_locked()).
 */
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

/*
 * Make room: drop the oldest record that is not CRITICAL, else the oldest.
 * RECLAIM requests are not in the ring, so none is ever dropped.
 */
static void mn_ring_drop(struct mn_sub *sub)
{
	unsigned int victim = 0, i;

	lockdep_assert_held(&sub->wqh.lock);
	for (i = 0; i < sub->count; i++) {
		if (!mn_is_crit(mn_ring_at(sub, i))) {
			victim = i;
			break;
		}
	}
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
 * A PRESSURE record still queued absorbs a new one of the same source and
 * at most the same level; it takes the new one's time and memory figures,
 * so a reader never acts on stale ones.  Injected pressure is never
 * coalesced (tests use it to fill queues).
 */
static bool mn_coalesce(struct mn_sub *sub, const struct memnotify_event *ev)
{
	struct memnotify_event *q;
	unsigned int i;

	lockdep_assert_held(&sub->wqh.lock);
	if (ev->type != MEMNOTIFY_EVENT_PRESSURE ||
	    ev->source == MEMNOTIFY_SOURCE_INJECT)
		return false;

	for (i = 0; i < sub->count; i++) {
		q = mn_ring_at(sub, i);
		if (q->type != ev->type || q->source != ev->source ||
		    q->level < ev->level)
			continue;
		q->timestamp_ns = ev->timestamp_ns;
		q->free_bytes = ev->free_bytes;
		q->avail_bytes = ev->avail_bytes;
		q->flags |= MEMNOTIFY_RECORD_COALESCED;
		return true;
	}
	return false;
}

/*
 * The fd's state changed: move the generation on by 2 and, if the state
 * page is mapped, rewrite it the way a seqcount writer would (generation
 * odd, fields, generation even), so a reader that sees the same even
 * generation before and after reading the fields has a consistent copy.
 * The writers are serialised by wqh.lock.
 */
static void mn_state_publish(struct mn_sub *sub)
{
	struct memnotify_state_page *p = sub->state_page;

	lockdep_assert_held(&sub->wqh.lock);
	sub->gen += 2;
	if (!p)
		return;
	WRITE_ONCE(p->generation, sub->gen - 1);
	smp_wmb();	/* generation odd before the fields change */
	WRITE_ONCE(p->level, sub->level);
	WRITE_ONCE(p->level_ns, sub->level_ns);
	WRITE_ONCE(p->pending_bytes, sub->rq.pending);
	WRITE_ONCE(p->request_seq, sub->rq.seq);
	smp_wmb();	/* fields written before the generation is even */
	WRITE_ONCE(p->generation, sub->gen);
}

/**
 * mn_sub_state_page - give a subscriber its state page
 * @sub: the subscriber
 * @page: a zeroed page, or NULL to only return the one installed
 *
 * Return: the installed page (the first one offered); the caller frees
 * @page if it was not installed.
 */
struct memnotify_state_page *
mn_sub_state_page(struct mn_sub *sub, struct memnotify_state_page *page)
{
	struct memnotify_state_page *p;

	spin_lock_irq(&sub->wqh.lock);
	if (!sub->state_page && page) {
		page->size = sizeof(*page);
		page->version = MEMNOTIFY_ABI_VERSION;
		sub->state_page = page;
		mn_state_publish(sub);
	}
	p = sub->state_page;
	spin_unlock_irq(&sub->wqh.lock);
	return p;
}

static void mn_note_level(struct mn_sub *sub, const struct memnotify_event *ev)
{
	lockdep_assert_held(&sub->wqh.lock);
	if (ev->type == MEMNOTIFY_EVENT_PRESSURE) {
		sub->level = ev->level;
		sub->level_ns = ev->timestamp_ns;
	}
	mn_state_publish(sub);
}

/**
 * mn_sub_post - queue a record for one subscriber
 * @sub: the subscriber
 * @ev: fully initialised PRESSURE, IDLE or ACTIVE record; seq and dropped
 *	are filled in here (RECLAIM requests go through mn_sub_request())
 *
 * Never sleeps or allocates; callable from the shrinker and the OOM
 * notifier.  Return: true if @sub wants this type of event.
 */
bool mn_sub_post(struct mn_sub *sub, const struct memnotify_event *ev)
{
	__poll_t events = EPOLLIN | EPOLLRDNORM;
	struct memnotify_event *q;
	unsigned long flags;

	if (WARN_ON_ONCE(ev->type == MEMNOTIFY_EVENT_RECLAIM))
		return false;
	if (!(READ_ONCE(sub->mask) & ev->type))
		return false;

	spin_lock_irqsave(&sub->wqh.lock, flags);
	mn_note_level(sub, ev);
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

/**
 * mn_sub_request_locked - add a reclaim request to a subscriber's counter
 * @sub: the subscriber, its wqh.lock held and RECLAIM in its mask
 * @bytes: bytes asked for, non-zero
 * @source: MEMNOTIFY_SOURCE_SHRINKER or MEMNOTIFY_SOURCE_INJECT
 *
 * Never sleeps or allocates.  The caller takes the bytes from the claim in
 * the same critical section (see memnotify_reclaim.c).
 */
void mn_sub_request_locked(struct mn_sub *sub, u64 bytes, u32 source)
{
	struct mn_reclaim_acct *rq = &sub->rq;
	u64 now = ktime_get_ns();

	lockdep_assert_held(&sub->wqh.lock);
	rq->pending += bytes;
	rq->requested += bytes;
	rq->seq++;
	rq->source = source;
	rq->last_ns = now;
	if (!rq->first_ns)
		rq->first_ns = now;
	mn_state_publish(sub);
	mn_stat_add(MN_STAT_REQUESTED_BYTES, bytes);
	mn_stat_inc(MN_STAT_RECLAIM);
	wake_up_locked_poll(&sub->wqh, EPOLLIN | EPOLLRDNORM);
}

/* Like mn_sub_request_locked(), taking the lock; false if RECLAIM is masked. */
bool mn_sub_request(struct mn_sub *sub, u64 bytes, u32 source)
{
	unsigned long flags;
	bool wanted;

	spin_lock_irqsave(&sub->wqh.lock, flags);
	wanted = READ_ONCE(sub->mask) & MEMNOTIFY_EVENT_RECLAIM;
	if (wanted && bytes)
		mn_sub_request_locked(sub, bytes, source);
	spin_unlock_irqrestore(&sub->wqh.lock, flags);
	return wanted;
}

/* RECLAIM was masked off (mask already stored): nobody acts on requests. */
void mn_sub_reclaim_off(struct mn_sub *sub)
{
	spin_lock_irq(&sub->wqh.lock);
	sub->rq.pending = 0;
	sub->rq.first_ns = 0;
	mn_state_publish(sub);
	spin_unlock_irq(&sub->wqh.lock);
}

static unsigned int mn_latency_bucket(u64 ns)
{
	unsigned int b = 0;
	u64 limit = NSEC_PER_MSEC;

	while (b < MEMNOTIFY_LATENCY_BUCKETS - 1 && ns >= limit) {
		b++;
		limit *= 10;
	}
	return b;
}

/**
 * mn_sub_released - MEMNOTIFY_IOC_RELEASED
 * @sub: the subscriber
 * @bytes: bytes the subscriber gave back
 *
 * The latency is measured from the oldest request read and not answered
 * yet; a release with no such request is counted in bytes and releases but
 * not in the histogram.
 */
void mn_sub_released(struct mn_sub *sub, u64 bytes)
{
	struct mn_reclaim_acct *rq = &sub->rq;
	unsigned int b;

	spin_lock_irq(&sub->wqh.lock);
	rq->released += bytes;
	rq->releases++;
	if (rq->unanswered_ns) {
		b = mn_latency_bucket(ktime_get_ns() - rq->unanswered_ns);
		rq->latency[b]++;
		rq->unanswered_ns = 0;
		mn_stat_inc(MN_STAT_RELEASE_LAT_0 + b);
	}
	spin_unlock_irq(&sub->wqh.lock);
	mn_stat_add(MN_STAT_RELEASED_BYTES, bytes);
	mn_stat_inc(MN_STAT_RELEASES);
}

/* MEMNOTIFY_IOC_GET_STATE, all but the claim (memnotify_reclaim.c's). */
void mn_sub_state(struct mn_sub *sub, struct memnotify_state *st)
{
	const struct mn_reclaim_acct *rq = &sub->rq;

	memset(st, 0, sizeof(*st));
	spin_lock_irq(&sub->wqh.lock);
	st->level = sub->level;
	st->level_ns = sub->level_ns;
	st->generation = sub->gen;
	st->pending_bytes = rq->pending;
	st->request_seq = rq->seq;
	st->requested_bytes = rq->requested;
	st->released_bytes = rq->released;
	st->releases = rq->releases;
	memcpy(st->latency, rq->latency, sizeof(st->latency));
	spin_unlock_irq(&sub->wqh.lock);
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

/* Size, version and the system's memory figures now. */
static void mn_event_fill(struct memnotify_event *ev)
{
	long avail = si_mem_available();

	ev->size = sizeof(*ev);
	ev->version = MEMNOTIFY_ABI_VERSION;
	ev->free_bytes = (u64)global_zone_page_state(NR_FREE_PAGES) << PAGE_SHIFT;
	ev->avail_bytes = avail > 0 ? (u64)avail << PAGE_SHIFT : 0;
}

/* A record with everything but the type-specific fields filled in. */
void mn_event_init(struct memnotify_event *ev, u32 type, u32 level,
		   u32 source)
{
	memset(ev, 0, sizeof(*ev));
	ev->timestamp_ns = ktime_get_ns();
	ev->type = type;
	ev->level = level;
	ev->source = source;
	mn_event_fill(ev);
}

/* Something to read: a queued record or pending reclaim. */
static bool mn_readable(struct mn_sub *sub)
{
	lockdep_assert_held(&sub->wqh.lock);
	return sub->count || sub->rq.pending;
}

/*
 * Turn the pending counter into a RECLAIM record's request fields and zero
 * it; the read requests now wait for MEMNOTIFY_IOC_RELEASED.
 */
static void mn_take_pending(struct mn_sub *sub, struct memnotify_event *ev)
{
	struct mn_reclaim_acct *rq = &sub->rq;

	lockdep_assert_held(&sub->wqh.lock);
	memset(ev, 0, sizeof(*ev));
	ev->type = MEMNOTIFY_EVENT_RECLAIM;
	ev->level = MEMNOTIFY_LEVEL_NONE;
	ev->source = rq->source;
	ev->timestamp_ns = rq->last_ns;
	ev->reclaim_bytes = rq->pending;
	ev->request_seq = rq->seq;
	ev->seq = ++sub->seq;
	if (!rq->unanswered_ns)
		rq->unanswered_ns = rq->first_ns;
	rq->pending = 0;
	rq->first_ns = 0;
	mn_state_publish(sub);
}

/**
 * mn_queue_pop - take the oldest record of a subscriber
 * @sub: the subscriber; the caller holds sub->read_lock
 * @ev: receives the record, its dropped field set to the fd's total
 * @nonblock: return -EAGAIN instead of waiting for a record
 *
 * Pending reclaim comes first, as one RECLAIM record carrying all of it.
 *
 * Return: 0, -EAGAIN, or -ERESTARTSYS when a signal interrupted the wait.
 */
int mn_queue_pop(struct mn_sub *sub, struct memnotify_event *ev,
		 bool nonblock)
{
	int ret;

	lockdep_assert_held(&sub->read_lock);
	spin_lock_irq(&sub->wqh.lock);
	if (!mn_readable(sub)) {
		ret = nonblock ? -EAGAIN :
		      wait_event_interruptible_locked_irq(sub->wqh,
							  mn_readable(sub));
		if (ret) {
			spin_unlock_irq(&sub->wqh.lock);
			return ret;
		}
	}
	if (sub->rq.pending) {
		mn_take_pending(sub, ev);
		ev->dropped = sub->dropped;
		spin_unlock_irq(&sub->wqh.lock);
		mn_event_fill(ev);	/* the figures are now's */
		return 0;
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
 * record goes back into the pending counter (nothing is lost, and requests
 * made meanwhile stay counted once); anything else is lost if the ring
 * filled up meanwhile.
 */
void mn_queue_unpop(struct mn_sub *sub, const struct memnotify_event *ev)
{
	struct mn_reclaim_acct *rq = &sub->rq;

	lockdep_assert_held(&sub->read_lock);
	spin_lock_irq(&sub->wqh.lock);
	if (ev->type == MEMNOTIFY_EVENT_RECLAIM) {
		rq->pending += ev->reclaim_bytes;
		if (rq->unanswered_ns &&
		    (!rq->first_ns || rq->unanswered_ns < rq->first_ns))
			rq->first_ns = rq->unanswered_ns;
		rq->unanswered_ns = 0;
		mn_state_publish(sub);
	} else if (sub->count == sub->qlen) {
		sub->dropped++;
		mn_stat_inc(MN_STAT_DROPPED);
	} else {
		sub->head = (sub->head + sub->qlen - 1) % sub->qlen;
		sub->count++;
		*mn_ring_at(sub, 0) = *ev;
		if (mn_is_crit(ev))
			sub->nr_crit++;
	}
	wake_up_locked_poll(&sub->wqh, EPOLLIN | EPOLLRDNORM);
	spin_unlock_irq(&sub->wqh.lock);
}

/*
 * poll() mask: EPOLLIN while records wait or reclaim is pending, EPOLLPRI
 * while a CRITICAL record waits.
 */
__poll_t mn_queue_poll(struct mn_sub *sub)
{
	__poll_t events = 0;

	spin_lock_irq(&sub->wqh.lock);
	if (mn_readable(sub))
		events |= EPOLLIN | EPOLLRDNORM;
	if (sub->nr_crit)
		events |= EPOLLPRI;
	spin_unlock_irq(&sub->wqh.lock);
	return events;
}
