// SPDX-License-Identifier: GPL-2.0
/*
 * memnotify: memory-pressure, reclaim and idle notifications for userspace
 * through the character device /dev/memnotify.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

static const struct file_operations memnotify_fops = {
	.owner = THIS_MODULE,
};

static struct miscdevice memnotify_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "memnotify",
	.fops = &memnotify_fops,
	.mode = 0666,
};

static int __init memnotify_init(void)
{
	return misc_register(&memnotify_dev);
}

static void __exit memnotify_exit(void)
{
	misc_deregister(&memnotify_dev);
}

module_init(memnotify_init);
module_exit(memnotify_exit);
MODULE_DESCRIPTION("Memory-pressure, reclaim and idle notifications via /dev/memnotify");
MODULE_LICENSE("GPL");
