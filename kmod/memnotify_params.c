// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify module parameters: the one table of defaults and ranges, and
 * their registration.  All are unsigned ints writable at run time (0644);
 * a value outside a parameter's range is refused with EINVAL and the old
 * value stays.  Writes are serialised by the module's kernel_param_lock,
 * so a range bounded by another parameter is checked against its current
 * value; readers that need both clamp again (memnotify_admit.c).
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "memnotify.h"

struct mn_param mn_params[MN_PARAM_NR] = {
	[MN_PARAM_QUEUE_LEN] = { .val = 64, .min = MN_QUEUE_LEN_MIN, .max = MN_QUEUE_LEN_MAX },
	[MN_PARAM_MAX_SUBSCRIBERS] = { .val = 1024, .min = 1, .max = 65536 },
	[MN_PARAM_MAX_SUBSCRIBERS_PER_USER] = { .val = 256, .min = 1, .max = 65536 },
	[MN_PARAM_RESERVED_SUBSCRIBERS] = { .val = 16, .min = 0, .max = 65536,
		.le = &mn_params[MN_PARAM_MAX_SUBSCRIBERS] },
	[MN_PARAM_LOW_PERMILLE] = { .val = 100, .min = 0, .max = 1000 },
	[MN_PARAM_MEDIUM_PERMILLE] = { .val = 50, .min = 0, .max = 1000 },
	[MN_PARAM_CRITICAL_PERMILLE] = { .val = 20, .min = 0, .max = 1000 },
	[MN_PARAM_RATE_LIMIT_MS] = { .val = 100, .min = 0, .max = 60000 },
	[MN_PARAM_SAMPLE_MS] = { .val = 1000, .min = 10, .max = 60000 },
};

static int mn_param_set(const char *val, const struct kernel_param *kp)
{
	struct mn_param *p = kp->arg;
	unsigned int v;
	int err;

	err = kstrtouint(val, 0, &v);
	if (err)
		return err;
	if (v < p->min || v > p->max || (p->le && v > READ_ONCE(p->le->val)))
		return -EINVAL;
	WRITE_ONCE(p->val, v);
	return 0;
}

static int mn_param_get(char *buf, const struct kernel_param *kp)
{
	const struct mn_param *p = kp->arg;

	return sysfs_emit(buf, "%u\n", READ_ONCE(p->val));
}

static const struct kernel_param_ops mn_param_ops = {
	.set = mn_param_set,
	.get = mn_param_get,
};

module_param_cb(queue_len, &mn_param_ops,
		&mn_params[MN_PARAM_QUEUE_LEN], 0644);
MODULE_PARM_DESC(queue_len,
		 "Records queued per open file, 4..1024 (default 64); applies to later open()s");
module_param_cb(max_subscribers, &mn_param_ops,
		&mn_params[MN_PARAM_MAX_SUBSCRIBERS], 0644);
MODULE_PARM_DESC(max_subscribers,
		 "Open files allowed at once, 1..65536 (default 1024); more fail with EMFILE");
module_param_cb(max_subscribers_per_user, &mn_param_ops,
		&mn_params[MN_PARAM_MAX_SUBSCRIBERS_PER_USER], 0644);
MODULE_PARM_DESC(max_subscribers_per_user,
		 "Open files charged to one user at once, 1..65536 (default 256; a user is charged for its own and its user namespaces' files; CAP_SYS_RESOURCE exempt); more fail with EMFILE");
module_param_cb(reserved_subscribers, &mn_param_ops,
		&mn_params[MN_PARAM_RESERVED_SUBSCRIBERS], 0644);
MODULE_PARM_DESC(reserved_subscribers,
		 "Of max_subscribers, open files only CAP_SYS_RESOURCE may take, 0..max_subscribers (default 16)");
module_param_cb(low_permille, &mn_param_ops,
		&mn_params[MN_PARAM_LOW_PERMILLE], 0644);
MODULE_PARM_DESC(low_permille,
		 "PRESSURE LOW when MemAvailable < this many thousandths of RAM (default 100, 0 = off)");
module_param_cb(medium_permille, &mn_param_ops,
		&mn_params[MN_PARAM_MEDIUM_PERMILLE], 0644);
MODULE_PARM_DESC(medium_permille,
		 "PRESSURE MEDIUM when MemAvailable < this many thousandths of RAM (default 50, 0 = off)");
module_param_cb(critical_permille, &mn_param_ops,
		&mn_params[MN_PARAM_CRITICAL_PERMILLE], 0644);
MODULE_PARM_DESC(critical_permille,
		 "PRESSURE CRITICAL when MemAvailable < this many thousandths of RAM (default 20, 0 = off)");
module_param_cb(rate_limit_ms, &mn_param_ops,
		&mn_params[MN_PARAM_RATE_LIMIT_MS], 0644);
MODULE_PARM_DESC(rate_limit_ms,
		 "Minimum interval between PRESSURE events of one level, 0..60000 ms (default 100)");
module_param_cb(sample_ms, &mn_param_ops,
		&mn_params[MN_PARAM_SAMPLE_MS], 0644);
MODULE_PARM_DESC(sample_ms,
		 "Available-memory sampling interval, 10..60000 ms (default 1000; a tenth near the low threshold)");
