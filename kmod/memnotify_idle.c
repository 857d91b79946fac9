// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify idle tracking.
 *
 * Every subscriber has an idle target, a thread group: the opener's by
 * default, or one named by pidfd with MEMNOTIFY_IOC_SET_IDLE (the caller
 * must be allowed to read it, see mn_may_read_task()).  The target is
 * fixed when set, so an fd inherited by a child or passed with SCM_RIGHTS
 * keeps reporting on it.
 *
 * While the mask holds IDLE or ACTIVE, a deferrable delayed work item on
 * the power-efficient workqueue samples the target's CPU time
 * MN_IDLE_SLOTS times per idle period (a sample due while its CPU sleeps
 * waits for that CPU's next wakeup).  Each run compares the newest sample
 * with the newest one that is at least one window old:
 *
 *	usage = (cpu_now - cpu_then) / (now - then)	(parts per million)
 *
 * The group becomes IDLE when usage drops below the threshold (one IDLE
 * record per stretch of idleness) and ACTIVE when it reaches the threshold
 * again.  The window is the idle period plus twice the CPU budget the
 * threshold allows in a period (capped at period / 8): a group that was
 * busy until time t0 may show usage below the threshold as soon as less
 * than a budget's worth of its busy time is inside the window, and the
 * extension moves that moment to no earlier than t0 + period.  IDLE thus
 * arrives between period and period + 2 * budget + period / MN_IDLE_SLOTS
 * (plus jiffy rounding, workqueue latency and the deferral) after the
 * group goes quiet; with the defaults (1 s, 1%) that is 1000..1051 ms.  No
 * sample is taken while IDLE and ACTIVE are masked off.
 *
 * Exit: while the mask holds IDLE, ACTIVE or EXITED, idle_exit_wait sits
 * in the target pid's wait_pidfd queue, which the kernel wakes when the
 * thread group has exited (as it wakes pidfd pollers).  That wakeup runs
 * in the exiting task under tasklist_lock, so it only queues
 * idle_exit_work; the work, or a sample that finds the group gone, notes
 * the exit once per target: the MN_IDLE_EXITED bit, one EXITED record, a
 * wakeup with EPOLLHUP, and no more samples.
 *
 * CPU time: thread_group_cputime() is not exported to modules, so the sum
 * is done here the same way: the runtime of exited threads accumulated in
 * signal->sum_sched_runtime plus se.sum_exec_runtime of every live thread,
 * under RCU, first without a lock and, if signal->stats_lock changed
 * meanwhile (a thread exiting moves its runtime from one to the other),
 * again with the lock held, so an exit never tears the sum.  See
 * mn_thread_runtime() for the reads of the 64-bit runtimes themselves.
 *
 * Locking: idle_work and idle_exit_work touch only the idle_* fields and
 * post records; they are started and stopped (synchronously) with
 * sub->cfg_lock held and never take that lock themselves.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/coredump.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seqlock.h>
#include <linux/workqueue.h>

#include "memnotify.h"
#include "memnotify_compat.h"

#define MN_RING MN_IDLE_RING

/* Events about the idle target: with any of them, its exit is watched. */
#define MN_IDLE_TARGET_EVENTS	(MEMNOTIFY_EVENT_IDLE | \
				 MEMNOTIFY_EVENT_ACTIVE | \
				 MEMNOTIFY_EVENT_EXITED)
#define MN_IDLE_SAMPLE_EVENTS	(MEMNOTIFY_EVENT_IDLE | MEMNOTIFY_EVENT_ACTIVE)

static struct pid *mn_idle_target(const struct mn_sub *sub)
{
	return sub->idle_pid ? sub->idle_pid : sub->tgid;
}

#if BITS_PER_LONG == 64 || !defined(CONFIG_SMP)
/* A 64-bit load is single-copy atomic; on UP the target is not running. */
static bool mn_thread_runtime(struct task_struct *t, u64 *ns)
{
	*ns = READ_ONCE(t->se.sum_exec_runtime);
	return true;
}
#else
/*
 * 32-bit SMP: the scheduler updates se.sum_exec_runtime as two words under
 * the runqueue lock, which modules cannot take (the kernel's own
 * read_sum_exec_runtime() takes it).  The value only changes while the
 * thread is on a CPU, and a run ends by counting the switch (nvcsw or
 * nivcsw) before on_cpu is cleared with release semantics, so a value read
 * between two checks that both found the thread off CPU and the same
 * switch count is whole.  A thread on a CPU cannot be read: the sample is
 * skipped rather than risk a torn value.
 */
static bool mn_thread_runtime(struct task_struct *t, u64 *ns)
{
	unsigned long switches = READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw);

	smp_rmb();	/* switch count before on_cpu */
	if (READ_ONCE(t->on_cpu))
		return false;
	smp_rmb();	/* on_cpu before the runtime */
	*ns = t->se.sum_exec_runtime;
	smp_rmb();	/* the runtime before on_cpu and the count again */
	if (READ_ONCE(t->on_cpu))
		return false;
	smp_rmb();	/* on_cpu before the count, which precedes it on switch */
	return switches == READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw);
}
#endif

/*
 * CPU time of the thread group @pid leads.  Return: 0, -ESRCH if the group
 * is gone, -EAGAIN if a runtime could not be read whole (32-bit only).
 */
static int mn_group_cputime(struct pid *pid, u64 *cpu_ns)
{
	struct task_struct *task, *t;
	struct signal_struct *sig;
	int seq, next = 0, err;
	unsigned long flags;
	u64 sum, ns;

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_TGID);
	if (!task) {
		rcu_read_unlock();
		return -ESRCH;
	}
	sig = task->signal;
	do {
		seq = next;	/* even: lockless pass; odd: with the lock */
		flags = read_seqbegin_or_lock_irqsave(&sig->stats_lock, &seq);
		err = 0;
		sum = sig->sum_sched_runtime;
		for_each_thread(task, t) {
			if (!mn_thread_runtime(t, &ns)) {
				err = -EAGAIN;
				break;
			}
			sum += ns;
		}
		next = 1;
	} while (need_seqretry(&sig->stats_lock, seq));
	done_seqretry_irqrestore(&sig->stats_lock, seq, flags);
	rcu_read_unlock();
	*cpu_ns = sum;
	return err;
}

/* Every thread of the group has exited (the leader a zombie or reaped). */
static bool mn_group_exited(struct pid *pid)
{
	struct task_struct *task;
	bool exited;

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_PID);
	exited = !task ||
		 (READ_ONCE(task->exit_state) && thread_group_empty(task));
	rcu_read_unlock();
	return exited;
}

/*
 * The target has exited: once per target, queue EXITED (if wanted) and
 * wake pollers, who now see EPOLLHUP (mn_idle_poll()).
 */
static void mn_idle_note_exit(struct mn_sub *sub)
{
	struct memnotify_event ev;

	if (test_and_set_bit(MN_IDLE_EXITED, &sub->idle_exited))
		return;
	mn_event_init(&ev, MEMNOTIFY_EVENT_EXITED, MEMNOTIFY_LEVEL_NONE,
		      MEMNOTIFY_SOURCE_IDLE);
	mn_sub_post(sub, &ev);
	wake_up_poll(&sub->wqh, EPOLLHUP);
}

static unsigned long mn_idle_tick(const struct mn_sub *sub)
{
	return max(usecs_to_jiffies(sub->idle_period_ms * USEC_PER_MSEC /
				    MN_IDLE_SLOTS), 1UL);
}

static void mn_idle_report(struct mn_sub *sub, u32 type, u64 usage_ppm)
{
	struct memnotify_event ev;

	/* a sample taken as the group exited: EXITED says more */
	if (test_bit(MN_IDLE_EXITED, &sub->idle_exited))
		return;

	mn_event_init(&ev, type, MEMNOTIFY_LEVEL_NONE, MEMNOTIFY_SOURCE_IDLE);
	ev.cpu_ppm = usage_ppm;
	mn_stat_event(&ev);
	mn_sub_post(sub, &ev);
}

static void mn_idle_fn(struct work_struct *work)
{
	struct mn_sub *sub = container_of(to_delayed_work(work), struct mn_sub,
					  idle_work);
	u64 period = (u64)sub->idle_period_ms * NSEC_PER_MSEC;
	struct pid *pid = mn_idle_target(sub);
	struct mn_idle_sample *s, *old = NULL;
	u64 now, cpu, usage, window;
	unsigned int i;
	int err;

	window = div_u64(period * sub->idle_threshold_ppm, 1000000 / 2);
	window = period + min(window, period / 8);

	err = mn_group_exited(pid) ? -ESRCH : mn_group_cputime(pid, &cpu);
	if (err == -ESRCH) {
		mn_idle_note_exit(sub);
		return;		/* no more samples */
	}
	if (err)
		goto next;	/* skipped, see mn_thread_runtime() */
	now = ktime_get_ns();

	for (i = 0; i < sub->idle_nr; i++) {
		s = &sub->idle_ring[(sub->idle_pos + MN_RING - 1 - i) % MN_RING];
		if (now - s->time_ns >= window) {
			old = s;
			break;
		}
	}
	if (old && now > old->time_ns) {
		usage = mul_u64_u64_div_u64(cpu - old->cpu_ns, 1000000,
					    now - old->time_ns);
		if (!sub->idle_state_idle && usage < sub->idle_threshold_ppm) {
			sub->idle_state_idle = true;
			mn_idle_report(sub, MEMNOTIFY_EVENT_IDLE, usage);
		} else if (sub->idle_state_idle &&
			   usage >= sub->idle_threshold_ppm) {
			sub->idle_state_idle = false;
			mn_idle_report(sub, MEMNOTIFY_EVENT_ACTIVE, usage);
		}
	}

	s = &sub->idle_ring[sub->idle_pos];
	s->time_ns = now;
	s->cpu_ns = cpu;
	sub->idle_pos = (sub->idle_pos + 1) % MN_RING;
	if (sub->idle_nr < MN_RING)
		sub->idle_nr++;
next:
	queue_delayed_work(system_power_efficient_wq, &sub->idle_work,
			   mn_idle_tick(sub));
}

/* The target pid's wait_pidfd woke: in the exiting task, tasklist_lock held. */
static int mn_idle_exit_wake(struct wait_queue_entry *wait, unsigned int mode,
			     int sync, void *key)
{
	struct mn_sub *sub = container_of(wait, struct mn_sub, idle_exit_wait);

	queue_work(system_power_efficient_wq, &sub->idle_exit_work);
	return 0;
}

static void mn_idle_exit_fn(struct work_struct *work)
{
	struct mn_sub *sub = container_of(work, struct mn_sub, idle_exit_work);

	/* wait_pidfd also wakes for a ptraced leader whose threads live on */
	if (mn_group_exited(mn_idle_target(sub)))
		mn_idle_note_exit(sub);
}

static void mn_idle_watch_exit(struct mn_sub *sub)
{
	struct pid *pid = mn_idle_target(sub);

	lockdep_assert_held(&sub->cfg_lock);
	if (sub->idle_exit_watched)
		return;
	add_wait_queue(&pid->wait_pidfd, &sub->idle_exit_wait);
	sub->idle_exit_watched = true;
	/*
	 * An exit before the entry was queued woke nobody.  The waker sets
	 * exit_state before it takes the queue's lock, so either it finds
	 * our entry or we see its exit_state here.
	 */
	if (mn_group_exited(pid))
		mn_idle_note_exit(sub);
}

static void mn_idle_unwatch_exit(struct mn_sub *sub)
{
	lockdep_assert_held(&sub->cfg_lock);
	if (!sub->idle_exit_watched)
		return;
	remove_wait_queue(&mn_idle_target(sub)->wait_pidfd,
			  &sub->idle_exit_wait);
	cancel_work_sync(&sub->idle_exit_work);
	sub->idle_exit_watched = false;
}

static void mn_idle_stop_sampling(struct mn_sub *sub)
{
	lockdep_assert_held(&sub->cfg_lock);
	if (!sub->idle_running)
		return;
	cancel_delayed_work_sync(&sub->idle_work);
	sub->idle_running = false;
}

/*
 * May the caller read @task?  ptrace_may_access() is not exported to
 * modules; this decides as it does for PTRACE_MODE_READ_REALCREDS, without
 * the security modules' hook (security_ptrace_access_check() is not
 * exported either):
 *  - a thread of the caller's own group may always be read;
 *  - otherwise the caller's real uid and gid must equal every uid and gid
 *    of the target (real, effective, saved), or the caller needs
 *    CAP_SYS_PTRACE in the target's user namespace;
 *  - and a target whose memory is not dumpable (after a setuid, or by
 *    prctl) also needs CAP_SYS_PTRACE in that memory's user namespace.
 * task_lock() keeps task->mm from changing (exec) meanwhile.
 */
static bool mn_may_read_task(struct task_struct *task)
{
	const struct cred *cred = current_cred(), *tcred;
	struct mm_struct *mm;
	bool ok;

	if (same_thread_group(task, current))
		return true;
	task_lock(task);
	rcu_read_lock();
	tcred = __task_cred(task);
	ok = (uid_eq(cred->uid, tcred->uid) && uid_eq(cred->uid, tcred->euid) &&
	      uid_eq(cred->uid, tcred->suid) && gid_eq(cred->gid, tcred->gid) &&
	      gid_eq(cred->gid, tcred->egid) && gid_eq(cred->gid, tcred->sgid)) ||
	     ns_capable(tcred->user_ns, CAP_SYS_PTRACE);
	rcu_read_unlock();
	/* dumpability after the credentials (commit_creds() writes them so) */
	smp_rmb();
	mm = task->mm;
	if (ok && mm && get_dumpable(mm) != SUID_DUMP_USER)
		ok = ns_capable(mm->user_ns, CAP_SYS_PTRACE);
	task_unlock(task);
	return ok;
}

/*
 * The thread group of the process @pidfd refers to, with a reference, or
 * ERR_PTR(-EBADF) (not an open pidfd), -ESRCH (already reaped) or -EPERM.
 */
static struct pid *mn_idle_pidfd_target(int pidfd)
{
	struct task_struct *task = NULL;
	struct file *file;
	struct pid *pid;

	file = fget(pidfd);
	if (!file)
		return ERR_PTR(-EBADF);
	pid = mn_pidfd_pid(file);
	if (!IS_ERR(pid))
		task = get_pid_task(pid, PIDTYPE_PID);
	fput(file);
	if (IS_ERR(pid))
		return pid;
	if (!task)
		return ERR_PTR(-ESRCH);
	if (mn_may_read_task(task)) {
		pid = get_task_pid(task, PIDTYPE_TGID);
		if (!pid)
			pid = ERR_PTR(-ESRCH);
	} else {
		pid = ERR_PTR(-EPERM);
	}
	put_task_struct(task);
	return pid;
}

void mn_idle_init_sub(struct mn_sub *sub)
{
	INIT_DEFERRABLE_WORK(&sub->idle_work, mn_idle_fn);
	INIT_WORK(&sub->idle_exit_work, mn_idle_exit_fn);
	init_waitqueue_func_entry(&sub->idle_exit_wait, mn_idle_exit_wake);
	sub->idle_period_ms = 1000;
	sub->idle_threshold_ppm = 10000;
}

/* The subscriber is being freed (mn_idle_stop() ran if it was started). */
void mn_idle_free(struct mn_sub *sub)
{
	put_pid(sub->idle_pid);
}

/* Start or stop sampling and the exit watch to match the mask. */
void mn_idle_update(struct mn_sub *sub)
{
	u32 mask = READ_ONCE(sub->mask);

	lockdep_assert_held(&sub->cfg_lock);
	if (mask & MN_IDLE_TARGET_EVENTS)
		mn_idle_watch_exit(sub);
	else
		mn_idle_unwatch_exit(sub);
	if (!(mask & MN_IDLE_SAMPLE_EVENTS)) {
		mn_idle_stop_sampling(sub);
	} else if (!sub->idle_running &&
		   !test_bit(MN_IDLE_EXITED, &sub->idle_exited)) {
		sub->idle_nr = 0;
		sub->idle_pos = 0;
		sub->idle_state_idle = false;
		sub->idle_running = true;
		queue_delayed_work(system_power_efficient_wq, &sub->idle_work,
				   0);
	}
}

/* Stop sampling and watching; mn_idle_update() starts them again. */
void mn_idle_stop(struct mn_sub *sub)
{
	mn_idle_stop_sampling(sub);
	mn_idle_unwatch_exit(sub);
}

/* MEMNOTIFY_IOC_SET_IDLE (the structure copied in, any size). */
int mn_idle_set(struct mn_sub *sub, const struct memnotify_idle *idle)
{
	const u32 both = MEMNOTIFY_IDLE_TARGET_PIDFD | MEMNOTIFY_IDLE_KEEP_TARGET;
	bool keep = idle->flags & MEMNOTIFY_IDLE_KEEP_TARGET;
	bool by_pidfd = idle->flags & MEMNOTIFY_IDLE_TARGET_PIDFD;
	struct pid *target = NULL;

	if (idle->period_ms < MEMNOTIFY_IDLE_PERIOD_MIN_MS ||
	    idle->period_ms > MEMNOTIFY_IDLE_PERIOD_MAX_MS ||
	    !idle->threshold_ppm || idle->threshold_ppm > 1000000 ||
	    (idle->flags & ~both) || (idle->flags & both) == both ||
	    (!by_pidfd && idle->pidfd))
		return -EINVAL;
	/* Short periods cost CPU time that nobody is charged for. */
	if (idle->period_ms < MEMNOTIFY_IDLE_PERIOD_MIN_UNPRIV_MS &&
	    !capable(CAP_SYS_RESOURCE))
		return -EPERM;
	if (by_pidfd) {
		target = mn_idle_pidfd_target(idle->pidfd);
		if (IS_ERR(target))
			return PTR_ERR(target);
	}

	mutex_lock(&sub->cfg_lock);
	mn_idle_stop(sub);
	sub->idle_period_ms = idle->period_ms;
	sub->idle_threshold_ppm = idle->threshold_ppm;
	if (!keep) {
		swap(sub->idle_pid, target);	/* target: the old one now */
		clear_bit(MN_IDLE_EXITED, &sub->idle_exited);
	}
	mn_idle_update(sub);
	mutex_unlock(&sub->cfg_lock);
	put_pid(target);
	return 0;
}

/* MEMNOTIFY_IOC_GET_IDLE: written back by SET, it keeps the target. */
void mn_idle_get(struct mn_sub *sub, struct memnotify_idle *idle)
{
	memset(idle, 0, sizeof(*idle));
	mutex_lock(&sub->cfg_lock);
	idle->period_ms = sub->idle_period_ms;
	idle->threshold_ppm = sub->idle_threshold_ppm;
	mutex_unlock(&sub->cfg_lock);
	idle->flags = MEMNOTIFY_IDLE_KEEP_TARGET;
}

/* EPOLLHUP once the target exited, while its events are wanted. */
__poll_t mn_idle_poll(struct mn_sub *sub)
{
	if (test_bit(MN_IDLE_EXITED, &sub->idle_exited) &&
	    (READ_ONCE(sub->mask) & MN_IDLE_TARGET_EVENTS))
		return EPOLLHUP;
	return 0;
}
