/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memnotify compatibility helpers.
 *
 * The shrinker API changed in 6.7: before it, callers embed a struct
 * shrinker and call register_shrinker(shrinker, fmt, ...) and
 * unregister_shrinker(); from 6.7 on, shrinkers are allocated by
 * shrinker_alloc(), published by shrinker_register() and released (after an
 * RCU grace period) by shrinker_free().  mn_shrinker_create() and
 * mn_shrinker_destroy() hide the difference: both return/take a pointer the
 * caller owns, and no callback runs after mn_shrinker_destroy() returns.
 *
 * Both register with seeks = DEFAULT_SEEKS and the caller's batch (see
 * memnotify_reclaim.c for why).
 *
 * The new API is detected by SHRINKER_ALLOCATED, which appeared with
 * shrinker_alloc() in 6.7, rather than by version number, so backports of
 * the new API are handled too.
 *
 * pidfd_pid() and pidfd_get_pid() are not exported to modules, nor are the
 * pidfd file operations they compare with.  mn_pidfd_pid() recognises a
 * pidfd by its filesystem instead: with pidfs (6.9 on) a pidfd is a file of
 * pidfs (PID_FS_MAGIC) whose inode's i_private is the pid; without it, a
 * pidfd is the anonymous-inode file that kernel/fork.c names "[pidfd]" (no
 * other file of the anonymous-inode filesystem has that name) with the pid
 * in private_data.  Either way the file holds a reference to the pid for as
 * long as the caller holds the file.
 */
#ifndef _MEMNOTIFY_COMPAT_H
#define _MEMNOTIFY_COMPAT_H

#include <linux/dcache.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/pid.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <uapi/linux/magic.h>

struct mn_shrinker_ops {
	unsigned long (*count)(struct shrinker *s, struct shrink_control *sc);
	unsigned long (*scan)(struct shrinker *s, struct shrink_control *sc);
};

#ifdef SHRINKER_ALLOCATED

static inline struct shrinker *
mn_shrinker_create(const struct mn_shrinker_ops *ops, const char *name,
		   long batch)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = ops->count;
	s->scan_objects = ops->scan;
	s->seeks = DEFAULT_SEEKS;
	s->batch = batch;
	shrinker_register(s);
	return s;
}

static inline void mn_shrinker_destroy(struct shrinker *s)
{
	shrinker_free(s);
}

#else /* !SHRINKER_ALLOCATED: before 6.7 */

static inline struct shrinker *
mn_shrinker_create(const struct mn_shrinker_ops *ops, const char *name,
		   long batch)
{
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);
	int err;

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = ops->count;
	s->scan_objects = ops->scan;
	s->seeks = DEFAULT_SEEKS;
	s->batch = batch;
	err = register_shrinker(s, "%s", name);
	if (err) {
		kfree(s);
		return ERR_PTR(err);
	}
	return s;
}

static inline void mn_shrinker_destroy(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(s);
}

#endif /* SHRINKER_ALLOCATED */

static inline struct pid *mn_pidfd_pid(const struct file *file)
{
#ifdef PID_FS_MAGIC
	if (file_inode(file)->i_sb->s_magic == PID_FS_MAGIC)
		return file_inode(file)->i_private;
#endif
	if (file->f_path.mnt->mnt_sb->s_magic == ANON_INODE_FS_MAGIC &&
	    !strcmp(file->f_path.dentry->d_name.name, "[pidfd]"))
		return file->private_data;
	return ERR_PTR(-EBADF);
}

#endif /* _MEMNOTIFY_COMPAT_H */
