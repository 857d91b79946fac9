// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify: the /dev/memnotify misc device, per-open subscriber queues,
 * read/poll/ioctl and event delivery.
 *
 * Each open file is a subscriber (struct mn_sub) with a ring of qlen
 * preallocated records, so delivering an event never allocates.  Like
 * fs/eventfd.c, the wait queue lock protects the ring: producers take it
 * with interrupts disabled, queue or coalesce a record and wake readers
 * while still holding it (wake_up_locked_poll()).
 *
 * Producers (shrinker, OOM notifier, sampling work, idle work, INJECT) walk
 * mn_subs under RCU.  open() and release() change the list under
 * mn_subs_lock and release() frees the subscriber with kfree_rcu(), so a
 * producer that still sees a released subscriber only queues into memory
 * that nobody reads any more.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/vmstat.h>

#include "memnotify.h"

static unsigned int queue_len = 64;

static int mn_qlen_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, MN_QUEUE_LEN_MIN,
				     MN_QUEUE_LEN_MAX);
}

static const struct kernel_param_ops mn_qlen_ops = {
	.set = mn_qlen_set,
	.get = param_get_uint,
};

module_param_cb(queue_len, &mn_qlen_ops, &queue_len, 0644);
MODULE_PARM_DESC(queue_len,
		 "Records queued per open file, 4..1024 (default 64); applies to later open()s");

static unsigned int max_subscribers = 1024;

static int mn_maxsubs_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 65536);
}

static const struct kernel_param_ops mn_maxsubs_ops = {
	.set = mn_maxsubs_set,
	.get = param_get_uint,
};

module_param_cb(max_subscribers, &mn_maxsubs_ops, &max_subscribers, 0644);
MODULE_PARM_DESC(max_subscribers,
		 "Open files allowed at once, 1..65536 (default 1024); more fail with EMFILE");

static unsigned int max_per_user = 256;

module_param_cb(max_subscribers_per_user, &mn_maxsubs_ops, &max_per_user, 0644);
MODULE_PARM_DESC(max_subscribers_per_user,
		 "Open files one user may hold at once, 1..65536 (default 256; CAP_SYS_RESOURCE exempt); more fail with EMFILE");

LIST_HEAD(mn_subs);
static DEFINE_MUTEX(mn_subs_lock);	/* writers of mn_subs */
atomic_t mn_nr_subs = ATOMIC_INIT(0);
atomic_t mn_max_subs_seen = ATOMIC_INIT(0);
atomic_long_t mn_sub_bytes = ATOMIC_LONG_INIT(0);

static bool mn_is_crit(const struct memnotify_event *ev)
{
	return ev->type == MEMNOTIFY_EVENT_PRESSURE &&
	       ev->level == MEMNOTIFY_LEVEL_CRITICAL;
}

/* Fill the system-wide memory figures of a record. */
void mn_fill_meminfo(struct memnotify_event *ev)
{
	long avail = si_mem_available();

	ev->free_pages = global_zone_page_state(NR_FREE_PAGES);
	ev->avail_pages = avail > 0 ? avail : 0;
}

/* Count a raised event once, whatever the number of subscribers. */
void mn_stat_event(const struct memnotify_event *ev)
{
	switch (ev->type) {
	case MEMNOTIFY_EVENT_PRESSURE:
		mn_stat_inc(MN_STAT_PRESSURE_LOW + ev->level -
			    MEMNOTIFY_LEVEL_LOW);
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

/* Make room: drop the oldest non-critical record, else the oldest. */
static void mn_ring_drop(struct mn_sub *sub)
{
	unsigned int victim = 0, i;

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

static void mn_ring_pop(struct mn_sub *sub, struct memnotify_event *ev)
{
	*ev = *mn_ring_at(sub, 0);
	sub->head = (sub->head + 1) % sub->qlen;
	sub->count--;
	if (mn_is_crit(ev))
		sub->nr_crit--;
	ev->dropped = sub->dropped;
}

/* Give back a record that could not be copied to userspace. */
static void mn_ring_push_front(struct mn_sub *sub,
			       const struct memnotify_event *ev)
{
	if (sub->count == sub->qlen) {
		sub->dropped++;
		mn_stat_inc(MN_STAT_DROPPED);
		return;
	}
	sub->head = (sub->head + sub->qlen - 1) % sub->qlen;
	sub->count++;
	*mn_ring_at(sub, 0) = *ev;
	if (mn_is_crit(ev))
		sub->nr_crit++;
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
	memset(ev, 0, sizeof(*ev));
	ev->timestamp_ns = ktime_get_ns();
	ev->type = type;
	ev->level = level;
	ev->source = source;
	mn_fill_meminfo(ev);
}

/* Subscribers of @uid; called with mn_subs_lock held (open is not a hot
 * path, and the list is at most max_subscribers long).
 */
static unsigned int mn_user_subs(kuid_t uid)
{
	unsigned int n = 0;
	struct mn_sub *sub;

	list_for_each_entry(sub, &mn_subs, node)
		n += uid_eq(sub->uid, uid);
	return n;
}

/* Admit a new subscriber under the global and per-user caps. */
static int mn_admit(struct mn_sub *sub)
{
	int n;

	lockdep_assert_held(&mn_subs_lock);
	if (atomic_read(&mn_nr_subs) >= READ_ONCE(max_subscribers))
		return -EMFILE;
	if (!capable(CAP_SYS_RESOURCE) &&
	    mn_user_subs(sub->uid) >= READ_ONCE(max_per_user))
		return -EMFILE;
	n = atomic_inc_return(&mn_nr_subs);
	if (n > atomic_read(&mn_max_subs_seen))
		atomic_set(&mn_max_subs_seen, n);
	list_add_tail_rcu(&sub->node, &mn_subs);
	return 0;
}

/*
 * Each open file costs one allocation of mn_sub_size() bytes (the struct
 * and its ring), charged to the opener's memory cgroup; mn_sub_bytes sums
 * them for the memory_bytes statistic.
 */
static size_t mn_sub_size(struct mn_sub *sub, unsigned int qlen)
{
	size_t size = struct_size(sub, ring, qlen);

	return is_vmalloc_addr(sub) ? PAGE_ALIGN(size) : kmalloc_size_roundup(size);
}

static int mn_open(struct inode *inode, struct file *file)
{
	unsigned int qlen = READ_ONCE(queue_len);
	struct mn_sub *sub;
	int err;

	sub = kvzalloc(struct_size(sub, ring, qlen), GFP_KERNEL_ACCOUNT);
	if (!sub)
		return -ENOMEM;
	sub->qlen = qlen;
	sub->uid = current_euid();
	init_waitqueue_head(&sub->wqh);
	mutex_init(&sub->cfg_lock);
	mutex_init(&sub->read_lock);
	sub->mask = MEMNOTIFY_MASK_DEFAULT;
	sub->tgid = get_task_pid(current, PIDTYPE_TGID);
	mn_idle_init_sub(sub);

	mutex_lock(&mn_subs_lock);
	err = mn_admit(sub);
	mutex_unlock(&mn_subs_lock);
	if (err) {
		put_pid(sub->tgid);
		kvfree(sub);
		return err;
	}

	atomic_long_add(mn_sub_size(sub, qlen), &mn_sub_bytes);
	mn_stat_inc(MN_STAT_OPENS);
	file->private_data = sub;
	return stream_open(inode, file);
}

static int mn_release(struct inode *inode, struct file *file)
{
	struct mn_sub *sub = file->private_data;

	mutex_lock(&mn_subs_lock);
	list_del_rcu(&sub->node);
	atomic_dec(&mn_nr_subs);
	mutex_unlock(&mn_subs_lock);

	mutex_lock(&sub->cfg_lock);
	mn_idle_stop(sub);
	mutex_unlock(&sub->cfg_lock);
	mn_sub_drop_cache(sub);
	put_pid(sub->tgid);
	mutex_destroy(&sub->cfg_lock);
	mutex_destroy(&sub->read_lock);
	atomic_long_sub(mn_sub_size(sub, sub->qlen), &mn_sub_bytes);
	kvfree_rcu(sub, rcu);
	return 0;
}

static ssize_t mn_read(struct file *file, char __user *buf, size_t count,
		       loff_t *ppos)
{
	struct mn_sub *sub = file->private_data;
	struct memnotify_event ev;
	ssize_t ret = -EAGAIN;
	size_t done = 0;

	if (count < sizeof(ev))
		return -EINVAL;
	if (mutex_lock_interruptible(&sub->read_lock))
		return -ERESTARTSYS;

	while (count - done >= sizeof(ev)) {
		spin_lock_irq(&sub->wqh.lock);
		if (!sub->count) {
			if (done || (file->f_flags & O_NONBLOCK)) {
				spin_unlock_irq(&sub->wqh.lock);
				break;
			}
			ret = wait_event_interruptible_locked_irq(sub->wqh,
								  sub->count);
			if (ret) {
				spin_unlock_irq(&sub->wqh.lock);
				break;
			}
		}
		mn_ring_pop(sub, &ev);
		spin_unlock_irq(&sub->wqh.lock);

		if (copy_to_user(buf + done, &ev, sizeof(ev))) {
			spin_lock_irq(&sub->wqh.lock);
			mn_ring_push_front(sub, &ev);
			wake_up_locked_poll(&sub->wqh, EPOLLIN | EPOLLRDNORM);
			spin_unlock_irq(&sub->wqh.lock);
			ret = -EFAULT;
			break;
		}
		done += sizeof(ev);
	}
	mutex_unlock(&sub->read_lock);
	return done ? done : ret;
}

static ssize_t mn_write(struct file *file, const char __user *buf,
			size_t count, loff_t *ppos)
{
	return -EINVAL;
}

static __poll_t mn_poll(struct file *file, poll_table *wait)
{
	struct mn_sub *sub = file->private_data;
	__poll_t events = 0;

	poll_wait(file, &sub->wqh, wait);
	spin_lock_irq(&sub->wqh.lock);
	if (sub->count)
		events |= EPOLLIN | EPOLLRDNORM;
	if (sub->nr_crit)
		events |= EPOLLPRI;
	spin_unlock_irq(&sub->wqh.lock);
	return events;
}

static int mn_ioctl_inject(struct mn_sub *sub, void __user *uarg)
{
	struct memnotify_inject in;
	struct memnotify_event ev;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&in, uarg, sizeof(in)))
		return -EFAULT;
	if (in.reserved || (in.flags & ~MEMNOTIFY_INJECT_ALL) ||
	    hweight32(in.type) != 1 || (in.type & ~MEMNOTIFY_EVENT_ALL))
		return -EINVAL;
	if (in.type == MEMNOTIFY_EVENT_PRESSURE) {
		if (in.level < MEMNOTIFY_LEVEL_LOW ||
		    in.level > MEMNOTIFY_LEVEL_CRITICAL)
			return -EINVAL;
	} else if (in.level != MEMNOTIFY_LEVEL_NONE) {
		return -EINVAL;
	}
	if (in.reclaim_pages && in.type != MEMNOTIFY_EVENT_RECLAIM)
		return -EINVAL;
	if (in.reclaim_pages > totalram_pages())
		return -EINVAL;

	mn_event_init(&ev, in.type, in.level, MEMNOTIFY_SOURCE_INJECT);
	ev.reclaim_pages = in.reclaim_pages;
	mn_stat_inc(MN_STAT_INJECTED);
	if (in.flags & MEMNOTIFY_INJECT_ALL) {
		mn_broadcast(&ev);
	} else {
		mn_stat_event(&ev);
		mn_sub_post(sub, &ev);
	}
	return 0;
}

static int mn_ioctl_set_mask(struct mn_sub *sub, u32 __user *uarg)
{
	u32 mask;

	if (get_user(mask, uarg))
		return -EFAULT;
	if (mask & ~MEMNOTIFY_EVENT_ALL)
		return -EINVAL;
	mutex_lock(&sub->cfg_lock);
	WRITE_ONCE(sub->mask, mask);
	/* Without RECLAIM nobody would act on requests: stop counting. */
	if (!(mask & MEMNOTIFY_EVENT_RECLAIM))
		mn_sub_set_cache(sub, 0);
	mn_idle_update(sub);
	mutex_unlock(&sub->cfg_lock);
	return 0;
}

static int mn_ioctl_set_idle(struct mn_sub *sub, void __user *uarg)
{
	struct memnotify_idle idle;

	if (copy_from_user(&idle, uarg, sizeof(idle)))
		return -EFAULT;
	if (idle.period_ms < MEMNOTIFY_IDLE_PERIOD_MIN_MS ||
	    idle.period_ms > MEMNOTIFY_IDLE_PERIOD_MAX_MS ||
	    !idle.threshold_ppm || idle.threshold_ppm > 1000000)
		return -EINVAL;
	mutex_lock(&sub->cfg_lock);
	mn_idle_stop(sub);
	sub->idle_period_ms = idle.period_ms;
	sub->idle_threshold_ppm = idle.threshold_ppm;
	mn_idle_update(sub);
	mutex_unlock(&sub->cfg_lock);
	return 0;
}

static int mn_ioctl_set_cache(struct mn_sub *sub, u64 __user *uarg)
{
	u64 bytes;
	int ret;

	if (get_user(bytes, uarg))
		return -EFAULT;
	mutex_lock(&sub->cfg_lock);
	if (!(sub->mask & MEMNOTIFY_EVENT_RECLAIM))
		ret = -EINVAL;
	else
		ret = mn_sub_set_cache(sub, bytes);
	mutex_unlock(&sub->cfg_lock);
	return ret;
}

static long mn_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mn_sub *sub = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case MEMNOTIFY_IOC_GET_VERSION: {
		struct memnotify_version v = {
			.abi_version = MEMNOTIFY_ABI_VERSION,
			.record_size = sizeof(struct memnotify_event),
			.event_mask = MEMNOTIFY_EVENT_ALL,
		};

		return copy_to_user(uarg, &v, sizeof(v)) ? -EFAULT : 0;
	}
	case MEMNOTIFY_IOC_SET_MASK:
		return mn_ioctl_set_mask(sub, uarg);
	case MEMNOTIFY_IOC_GET_MASK:
		return put_user(READ_ONCE(sub->mask), (u32 __user *)uarg);
	case MEMNOTIFY_IOC_SET_IDLE:
		return mn_ioctl_set_idle(sub, uarg);
	case MEMNOTIFY_IOC_GET_IDLE: {
		struct memnotify_idle idle;

		mutex_lock(&sub->cfg_lock);
		idle.period_ms = sub->idle_period_ms;
		idle.threshold_ppm = sub->idle_threshold_ppm;
		mutex_unlock(&sub->cfg_lock);
		return copy_to_user(uarg, &idle, sizeof(idle)) ? -EFAULT : 0;
	}
	case MEMNOTIFY_IOC_SET_CACHE:
		return mn_ioctl_set_cache(sub, uarg);
	case MEMNOTIFY_IOC_GET_CACHE:
		return put_user(mn_sub_get_cache(sub), (u64 __user *)uarg);
	case MEMNOTIFY_IOC_INJECT:
		return mn_ioctl_inject(sub, uarg);
	case MEMNOTIFY_IOC_SET_THRESHOLDS: {
		struct memnotify_thresholds t;

		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		if (copy_from_user(&t, uarg, sizeof(t)))
			return -EFAULT;
		return mn_set_thresholds(&t);
	}
	case MEMNOTIFY_IOC_GET_THRESHOLDS: {
		struct memnotify_thresholds t;

		mn_get_thresholds(&t);
		return copy_to_user(uarg, &t, sizeof(t)) ? -EFAULT : 0;
	}
	}
	return -ENOTTY;
}

static const struct file_operations mn_fops = {
	.owner = THIS_MODULE,
	.open = mn_open,
	.release = mn_release,
	.read = mn_read,
	.write = mn_write,
	.poll = mn_poll,
	.unlocked_ioctl = mn_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice mn_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "memnotify",
	.fops = &mn_fops,
	.mode = 0666,
};

int mn_dev_init(void)
{
	return misc_register(&mn_misc);
}

void mn_dev_exit(void)
{
	misc_deregister(&mn_misc);
}
