// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify: memory-pressure, reclaim and idle notifications for userspace
 * through the character device /dev/memnotify.  See
 * include/uapi/linux/memnotify.h for the ABI.
 *
 * memnotify.h lists the files and which may call which;
 * memnotify_compat.h hides the shrinker API change of 6.7.
 */
#include <linux/module.h>

#include "memnotify.h"

static int __init memnotify_init(void)
{
	int err;

	err = mn_pressure_init();
	if (err)
		return err;
	err = mn_reclaim_init();	/* its shrinker hands calls to pressure */
	if (err)
		goto err_pressure;
	err = mn_stats_init();
	if (err)
		goto err_reclaim;
	err = mn_oomwait_init();
	if (err)
		goto err_stats;
	err = mn_dev_init();
	if (err)
		goto err_oomwait;
	return 0;

err_oomwait:
	mn_oomwait_exit();
err_stats:
	mn_stats_exit();
err_reclaim:
	mn_reclaim_exit();
err_pressure:
	mn_pressure_exit();
	return err;
}

static void __exit memnotify_exit(void)
{
	mn_dev_exit();		/* frees the last subscribers */
	mn_oomwait_exit();
	mn_stats_exit();
	mn_reclaim_exit();
	mn_pressure_exit();
}

module_init(memnotify_init);
module_exit(memnotify_exit);
MODULE_DESCRIPTION("Memory-pressure, reclaim and idle notifications via /dev/memnotify");
MODULE_LICENSE("GPL");
