// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify: the /dev/memnotify misc device: open, release, read, poll
 * and ioctl.  Admission is memnotify_admit.c's, queues memnotify_queue.c's,
 * claims memnotify_reclaim.c's.
 *
 * mmap() maps the subscriber's state page read-only (see the uapi header).
 * The vma holds the file, so release() runs only after the last munmap()
 * and the page, freed with the subscriber, outlives every mapping.
 *
 * release() takes the subscriber off mn_subs and frees it from a work item
 * queued one RCU grace period later (queue_rcu_work()), so producers that
 * walk the list under RCU, the shrinker included, never see freed memory,
 * and the opener's mm (pinned with mmgrab() for the claim clamp) is dropped
 * in process context.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "memnotify.h"

static struct workqueue_struct *mn_free_wq;

/*
 * Each open file costs one allocation of mn_sub_size() bytes (the struct
 * and its ring), charged to the opener's memory cgroup; the memory_bytes
 * gauge sums them.
 */
static size_t mn_sub_size(struct mn_sub *sub, unsigned int qlen)
{
	size_t size = struct_size(sub, ring, qlen);

	return is_vmalloc_addr(sub) ? PAGE_ALIGN(size) : kmalloc_size_roundup(size);
}

static void mn_sub_free(struct mn_sub *sub)
{
	if (sub->state_page)
		free_page((unsigned long)sub->state_page);
	if (sub->mm)
		mmdrop(sub->mm);
	mn_idle_free(sub);
	put_pid(sub->tgid);
	mutex_destroy(&sub->cfg_lock);
	mutex_destroy(&sub->read_lock);
	kvfree(sub);
}

static void mn_sub_free_fn(struct work_struct *work)
{
	mn_sub_free(container_of(to_rcu_work(work), struct mn_sub, free_work));
}

static int mn_open(struct inode *inode, struct file *file)
{
	unsigned int qlen = mn_param(MN_PARAM_QUEUE_LEN);
	struct mn_sub *sub;
	int err;

	sub = kvzalloc(struct_size(sub, ring, qlen), GFP_KERNEL_ACCOUNT);
	if (!sub)
		return -ENOMEM;
	sub->qlen = qlen;
	init_waitqueue_head(&sub->wqh);
	mutex_init(&sub->cfg_lock);
	mutex_init(&sub->read_lock);
	INIT_RCU_WORK(&sub->free_work, mn_sub_free_fn);
	sub->mask = MEMNOTIFY_MASK_DEFAULT;
	sub->tgid = get_task_pid(current, PIDTYPE_TGID);
	if (current->mm) {
		sub->mm = current->mm;
		mmgrab(sub->mm);
	}
	mn_idle_init_sub(sub);

	err = mn_admit(sub, file->f_cred);
	if (err) {
		mn_sub_free(sub);
		return err;
	}

	atomic_long_add(mn_sub_size(sub, qlen),
			&mn_gauges[MN_GAUGE_MEMORY_BYTES]);
	mn_stat_inc(MN_STAT_OPENS);
	file->private_data = sub;
	return stream_open(inode, file);
}

static int mn_release(struct inode *inode, struct file *file)
{
	struct mn_sub *sub = file->private_data;

	mn_leave(sub, file->f_cred);
	mutex_lock(&sub->cfg_lock);
	mn_idle_stop(sub);
	mutex_unlock(&sub->cfg_lock);
	mn_claim_release(sub);
	atomic_long_sub(mn_sub_size(sub, sub->qlen),
			&mn_gauges[MN_GAUGE_MEMORY_BYTES]);
	if (sub->state_page)
		atomic_long_sub(PAGE_SIZE, &mn_gauges[MN_GAUGE_MEMORY_BYTES]);
	queue_rcu_work(mn_free_wq, &sub->free_work);
	return 0;
}

static ssize_t mn_read(struct file *file, char __user *buf, size_t count,
		       loff_t *ppos)
{
	bool nonblock = file->f_flags & O_NONBLOCK;
	struct mn_sub *sub = file->private_data;
	struct memnotify_event ev;
	size_t done = 0;
	int ret = 0;

	if (count < sizeof(ev))
		return -EINVAL;
	if (nonblock) {
		if (!mutex_trylock(&sub->read_lock))
			return -EAGAIN;
	} else if (mutex_lock_interruptible(&sub->read_lock)) {
		return -ERESTARTSYS;
	}

	while (count - done >= sizeof(ev)) {
		/* Only the first record is waited for. */
		ret = mn_queue_pop(sub, &ev, nonblock || done);
		if (ret)
			break;
		if (copy_to_user(buf + done, &ev, sizeof(ev))) {
			mn_queue_unpop(sub, &ev);
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

/* mprotect() may not make the state page writable. */
static int mn_vm_mprotect(struct vm_area_struct *vma, unsigned long start,
			  unsigned long end, unsigned long newflags)
{
	return newflags & VM_WRITE ? -EACCES : 0;
}

static const struct vm_operations_struct mn_vm_ops = {
	.mprotect = mn_vm_mprotect,
};

/*
 * The state page: one page at offset 0, never writable.  It is allocated
 * on the first mmap(); a mapping grown by mremap() gets SIGBUS past it
 * (there is no fault handler).
 */
static int mn_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mn_sub *sub = file->private_data;
	struct memnotify_state_page *page, *p;

	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != PAGE_SIZE)
		return -EINVAL;
	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	p = mn_sub_state_page(sub, NULL);
	if (!p) {
		page = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
		if (!page)
			return -ENOMEM;
		p = mn_sub_state_page(sub, page);
		if (p != page)
			free_page((unsigned long)page);
		else
			atomic_long_add(PAGE_SIZE,
					&mn_gauges[MN_GAUGE_MEMORY_BYTES]);
	}
	vma->vm_ops = &mn_vm_ops;
	return vm_insert_page(vma, vma->vm_start, virt_to_page(p));
}

static __poll_t mn_poll(struct file *file, poll_table *wait)
{
	struct mn_sub *sub = file->private_data;

	poll_wait(file, &sub->wqh, wait);
	return mn_queue_poll(sub) | mn_idle_poll(sub);
}

/*
 * Structure arguments may grow (see the uapi header).  @usize is the size
 * the caller compiled in (_IOC_SIZE of its command): smaller than ours is
 * an older or broken caller (-EINVAL); larger is a newer one, accepted when
 * the tail we do not know is zero (else -E2BIG) and cleared on output.
 */
static int mn_copy_in(void *karg, size_t ksize, const void __user *uarg,
		      size_t usize)
{
	if (usize < ksize)
		return -EINVAL;
	return copy_struct_from_user(karg, ksize, uarg, usize);
}

static int mn_copy_out(void __user *uarg, size_t usize, const void *karg,
		       size_t ksize)
{
	if (usize < ksize)
		return -EINVAL;
	if (copy_to_user(uarg, karg, ksize))
		return -EFAULT;
	if (usize > ksize && clear_user(uarg + ksize, usize - ksize))
		return -EFAULT;
	return 0;
}

static int mn_ioctl_inject(struct mn_sub *sub, void __user *uarg,
			   size_t usize)
{
	u64 ram = (u64)totalram_pages() << PAGE_SHIFT;
	struct memnotify_inject in;
	struct memnotify_event ev;
	struct mn_sub *s;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = mn_copy_in(&in, sizeof(in), uarg, usize);
	if (err)
		return err;
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
	if (in.type == MEMNOTIFY_EVENT_RECLAIM ?
	    !in.reclaim_bytes || in.reclaim_bytes > ram : in.reclaim_bytes)
		return -EINVAL;

	mn_stat_inc(MN_STAT_INJECTED);
	if (in.type == MEMNOTIFY_EVENT_RECLAIM) {
		if (!(in.flags & MEMNOTIFY_INJECT_ALL)) {
			mn_sub_request(sub, in.reclaim_bytes,
				       MEMNOTIFY_SOURCE_INJECT);
			return 0;
		}
		rcu_read_lock();
		list_for_each_entry_rcu(s, &mn_subs, node)
			mn_sub_request(s, in.reclaim_bytes,
				       MEMNOTIFY_SOURCE_INJECT);
		rcu_read_unlock();
		return 0;
	}
	mn_event_init(&ev, in.type, in.level, MEMNOTIFY_SOURCE_INJECT);
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
	if (!(mask & MEMNOTIFY_EVENT_RECLAIM)) {
		mn_claim_drop(sub);
		mn_sub_reclaim_off(sub);
	}
	mn_idle_update(sub);
	mutex_unlock(&sub->cfg_lock);
	return 0;
}

/*
 * struct memnotify_idle grew within ABI version 2: its first size
 * (MEMNOTIFY_IDLE_SIZE_VER0: period and threshold) is accepted too: the
 * zeros after it mean the opener as the target.  Other sizes are mn_copy_in()'s.
 */
static int mn_ioctl_set_idle(struct mn_sub *sub, void __user *uarg,
			     size_t usize)
{
	struct memnotify_idle idle = {};
	int err;

	BUILD_BUG_ON(offsetof(struct memnotify_idle, pidfd) !=
		     MEMNOTIFY_IDLE_SIZE_VER0);
	if (usize == MEMNOTIFY_IDLE_SIZE_VER0) {
		if (copy_from_user(&idle, uarg, MEMNOTIFY_IDLE_SIZE_VER0))
			return -EFAULT;
	} else {
		err = mn_copy_in(&idle, sizeof(idle), uarg, usize);
		if (err)
			return err;
	}
	return mn_idle_set(sub, &idle);
}

static int mn_ioctl_get_idle(struct mn_sub *sub, void __user *uarg,
			     size_t usize)
{
	struct memnotify_idle idle;

	mn_idle_get(sub, &idle);
	if (usize == MEMNOTIFY_IDLE_SIZE_VER0)
		return copy_to_user(uarg, &idle, usize) ? -EFAULT : 0;
	return mn_copy_out(uarg, usize, &idle, sizeof(idle));
}

static int mn_ioctl_set_cache(struct mn_sub *sub, void __user *uarg,
			      size_t usize)
{
	struct memnotify_cache c;
	int ret;

	ret = mn_copy_in(&c, sizeof(c), uarg, usize);
	if (ret)
		return ret;
	mutex_lock(&sub->cfg_lock);
	if (!(sub->mask & MEMNOTIFY_EVENT_RECLAIM))
		ret = -EINVAL;
	else
		ret = mn_claim_set(sub, c.bytes, c.request_seq);
	mutex_unlock(&sub->cfg_lock);
	return ret;
}

static int mn_ioctl_released(struct mn_sub *sub, void __user *uarg,
			     size_t usize)
{
	struct memnotify_released r;
	int err;

	err = mn_copy_in(&r, sizeof(r), uarg, usize);
	if (err)
		return err;
	if (r.reserved || r.bytes > (u64)totalram_pages() << PAGE_SHIFT)
		return -EINVAL;
	mn_sub_released(sub, r.bytes);
	return 0;
}

static int mn_ioctl_get_state(struct mn_sub *sub, void __user *uarg,
			      size_t usize)
{
	struct memnotify_state st;

	mn_sub_state(sub, &st);
	st.claim_bytes = mn_claim_get(sub);
	return mn_copy_out(uarg, usize, &st, sizeof(st));
}

static int mn_ioctl_thresholds(unsigned int cmd, void __user *uarg,
			       size_t usize)
{
	struct memnotify_thresholds t;
	int err;

	if (_IOC_DIR(cmd) == _IOC_READ) {
		mn_get_thresholds(&t);
		return mn_copy_out(uarg, usize, &t, sizeof(t));
	}
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = mn_copy_in(&t, sizeof(t), uarg, usize);
	return err ? err : mn_set_thresholds(&t);
}

/* A command without its size field: structure sizes are checked apart. */
#define MN_CMD(cmd)	((cmd) & ~IOCSIZE_MASK)

static long mn_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mn_sub *sub = file->private_data;
	void __user *uarg = (void __user *)arg;
	size_t usize = _IOC_SIZE(cmd);

	switch (MN_CMD(cmd)) {
	case MN_CMD(MEMNOTIFY_IOC_GET_VERSION): {
		struct memnotify_version v = {
			.abi_version = MEMNOTIFY_ABI_VERSION,
			.record_size = sizeof(struct memnotify_event),
			.event_mask = MEMNOTIFY_EVENT_ALL,
		};

		return mn_copy_out(uarg, usize, &v, sizeof(v));
	}
	case MN_CMD(MEMNOTIFY_IOC_SET_MASK):
		if (cmd != MEMNOTIFY_IOC_SET_MASK)
			return -ENOTTY;	/* scalars never grow */
		return mn_ioctl_set_mask(sub, uarg);
	case MN_CMD(MEMNOTIFY_IOC_GET_MASK):
		if (cmd != MEMNOTIFY_IOC_GET_MASK)
			return -ENOTTY;
		return put_user(READ_ONCE(sub->mask), (u32 __user *)uarg);
	case MN_CMD(MEMNOTIFY_IOC_SET_IDLE):
		return mn_ioctl_set_idle(sub, uarg, usize);
	case MN_CMD(MEMNOTIFY_IOC_GET_IDLE):
		return mn_ioctl_get_idle(sub, uarg, usize);
	case MN_CMD(MEMNOTIFY_IOC_SET_CACHE):
		return mn_ioctl_set_cache(sub, uarg, usize);
	case MN_CMD(MEMNOTIFY_IOC_RELEASED):
		return mn_ioctl_released(sub, uarg, usize);
	case MN_CMD(MEMNOTIFY_IOC_INJECT):
		return mn_ioctl_inject(sub, uarg, usize);
	case MN_CMD(MEMNOTIFY_IOC_SET_THRESHOLDS):
	case MN_CMD(MEMNOTIFY_IOC_GET_THRESHOLDS):
		return mn_ioctl_thresholds(cmd, uarg, usize);
	case MN_CMD(MEMNOTIFY_IOC_GET_STATE):
		return mn_ioctl_get_state(sub, uarg, usize);
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
	.mmap = mn_mmap,
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
	int err;

	mn_free_wq = alloc_workqueue("memnotify_free", 0, 0);
	if (!mn_free_wq)
		return -ENOMEM;
	err = misc_register(&mn_misc);
	if (err)
		destroy_workqueue(mn_free_wq);
	return err;
}

/* No file is open any more (the fops hold a module reference). */
void mn_dev_exit(void)
{
	misc_deregister(&mn_misc);
	rcu_barrier();			/* every release's free_work is queued */
	destroy_workqueue(mn_free_wq);	/* ... and has run */
}
