// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify idle tracking.
 *
 * A subscriber whose mask contains IDLE or ACTIVE gets a delayed work item
 * that samples the CPU time of the thread group that opened the file,
 * MN_IDLE_SLOTS times per idle period.  Each run compares the newest sample
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
 * (plus jiffy rounding and workqueue latency) after the group goes quiet;
 * with the defaults (1 s, 1%) that is 1000..1051 ms.  No sample is taken
 * while IDLE and ACTIVE are masked off, and tracking stops when the thread
 * group has exited.
 *
 * thread_group_cputime() is not exported to modules, so the sum is done
 * here the same way: the runtime of exited threads accumulated in
 * signal->sum_sched_runtime plus se.sum_exec_runtime of every live thread,
 * read under RCU and retried while signal->stats_lock changes (a thread
 * exiting moves its runtime from one to the other).
 *
 * idle_work touches only the idle_* fields; it is started and stopped
 * (cancel_delayed_work_sync()) with sub->cfg_lock held and never takes
 * that lock itself.
 */
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seqlock.h>
#include <linux/workqueue.h>

#include "memnotify.h"

#define MN_RING MN_IDLE_RING

static bool mn_group_cputime(struct pid *pid, u64 *cpu_ns)
{
	struct task_struct *task, *t;
	struct signal_struct *sig;
	unsigned int seq, tries = 0;
	bool found = false;
	u64 sum;

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_TGID);
	if (task) {
		sig = task->signal;
		do {
			seq = read_seqbegin(&sig->stats_lock);
			sum = READ_ONCE(sig->sum_sched_runtime);
			for_each_thread(task, t)
				sum += READ_ONCE(t->se.sum_exec_runtime);
		} while (read_seqretry(&sig->stats_lock, seq) && ++tries < 8);
		*cpu_ns = sum;
		found = true;
	}
	rcu_read_unlock();
	return found;
}

static unsigned long mn_idle_tick(const struct mn_sub *sub)
{
	return max(usecs_to_jiffies(sub->idle_period_ms * USEC_PER_MSEC /
				    MN_IDLE_SLOTS), 1UL);
}

static void mn_idle_report(struct mn_sub *sub, u32 type, u64 usage_ppm)
{
	struct memnotify_event ev;

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
	struct mn_idle_sample *s, *old = NULL;
	u64 now, cpu, usage, window;
	unsigned int i;

	window = div_u64(period * sub->idle_threshold_ppm, 1000000 / 2);
	window = period + min(window, period / 8);

	if (!mn_group_cputime(sub->tgid, &cpu))
		return;		/* the thread group is gone: stop */
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

	queue_delayed_work(system_wq, &sub->idle_work, mn_idle_tick(sub));
}

void mn_idle_init_sub(struct mn_sub *sub)
{
	INIT_DELAYED_WORK(&sub->idle_work, mn_idle_fn);
	sub->idle_period_ms = 1000;
	sub->idle_threshold_ppm = 10000;
}

/* Start or stop sampling to match the mask.  Called under sub->cfg_lock. */
void mn_idle_update(struct mn_sub *sub)
{
	bool want = READ_ONCE(sub->mask) &
		    (MEMNOTIFY_EVENT_IDLE | MEMNOTIFY_EVENT_ACTIVE);

	if (want && !sub->idle_running) {
		sub->idle_nr = 0;
		sub->idle_pos = 0;
		sub->idle_state_idle = false;
		sub->idle_running = true;
		queue_delayed_work(system_wq, &sub->idle_work, 0);
	} else if (!want) {
		mn_idle_stop(sub);
	}
}

/* Called under sub->cfg_lock. */
void mn_idle_stop(struct mn_sub *sub)
{
	if (!sub->idle_running)
		return;
	cancel_delayed_work_sync(&sub->idle_work);
	sub->idle_running = false;
}
