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
 * Both register with seeks = DEFAULT_SEEKS, the caller's batch (see
 * memnotify_reclaim.c for why), SHRINKER_MEMCG_AWARE | SHRINKER_NUMA_AWARE,
 * and initialise the caller's memcg-aware list_lru bound to the shrinker
 * (what list_lru_init_memcg() does, but with the caller's lockdep class
 * for its locks instead of the one all list_lrus without a key share), so
 * that adding the first object to a cgroup's list on a node sets that
 * cgroup's bit for the shrinker on that node: the only way a module gets
 * its shrinker called for limit reclaim.  The list_lru needs the
 * shrinker's id.  From 6.7 on shrinker_alloc() assigns it and the list_lru
 * is initialised before shrinker_register(); before 6.7 only registration
 * assigns it (prealloc_shrinker() is not exported), so the shrinker is
 * registered first and its callbacks may run before the list_lru is
 * initialised: the caller must not touch the list_lru from them until
 * mn_shrinker_create() has returned.  The kernel drops
 * SHRINKER_MEMCG_AWARE itself when the memory controller is disabled
 * (cgroup_disable=memory) or absent (CONFIG_MEMCG=n); the list_lru then
 * keeps one list per node and every call has sc->memcg == NULL.
 *
 * list_lru_add() and list_lru_del() took (lru, item) and derived the node
 * and cgroup from the object before 6.8; from 6.8 on they take the node
 * and cgroup explicitly and list_lru_add_obj()/list_lru_del_obj() derive
 * them.  The change is detected by MAX_PAGE_ORDER, the new name 6.8 gave
 * MAX_ORDER, as the list_lru header has no marker of its own.
 * mn_lru_add() and mn_lru_del() always derive them: an object is on
 * the list of the node its memory is on and of the cgroup it is charged
 * to.
 *
 * mn_memcg_id() and mn_memcg_usage() give a memory cgroup's id (its
 * cgroup's inode number, never reused) and usage in pages, 0 and ULONG_MAX
 * for no cgroup or the root (whose usage is not counted in cgroup v2).
 *
 * The new shrinker API is detected by SHRINKER_ALLOCATED, which appeared with
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
#include <linux/list_lru.h>
#include <linux/memcontrol.h>
#include <linux/mmzone.h>
#include <linux/mount.h>
#include <linux/pid.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <uapi/linux/magic.h>

#define MN_SHRINKER_FLAGS	(SHRINKER_MEMCG_AWARE | SHRINKER_NUMA_AWARE)

struct mn_shrinker_ops {
	unsigned long (*count)(struct shrinker *s, struct shrink_control *sc);
	unsigned long (*scan)(struct shrinker *s, struct shrink_control *sc);
};

#ifdef SHRINKER_ALLOCATED

static inline struct shrinker *
mn_shrinker_create(const struct mn_shrinker_ops *ops, const char *name,
		   long batch, struct list_lru *lru,
		   struct lock_class_key *key)
{
	struct shrinker *s = shrinker_alloc(MN_SHRINKER_FLAGS, "%s", name);

	if (!s)
		return ERR_PTR(-ENOMEM);
	if (__list_lru_init(lru, true, key, s)) {
		shrinker_free(s);
		return ERR_PTR(-ENOMEM);
	}
	s->count_objects = ops->count;
	s->scan_objects = ops->scan;
	s->seeks = DEFAULT_SEEKS;
	s->batch = batch;
	shrinker_register(s);
	return s;
}

static inline void mn_shrinker_destroy(struct shrinker *s, struct list_lru *lru)
{
	shrinker_free(s);
	list_lru_destroy(lru);
}

#else /* !SHRINKER_ALLOCATED: before 6.7 */

static inline struct shrinker *
mn_shrinker_create(const struct mn_shrinker_ops *ops, const char *name,
		   long batch, struct list_lru *lru,
		   struct lock_class_key *key)
{
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);
	int err;

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = ops->count;
	s->scan_objects = ops->scan;
	s->seeks = DEFAULT_SEEKS;
	s->batch = batch;
	s->flags = MN_SHRINKER_FLAGS;
	err = register_shrinker(s, "%s", name);
	if (err) {
		kfree(s);
		return ERR_PTR(err);
	}
	err = __list_lru_init(lru, true, key, s);
	if (err) {
		unregister_shrinker(s);
		kfree(s);
		return ERR_PTR(err);
	}
	return s;
}

static inline void mn_shrinker_destroy(struct shrinker *s, struct list_lru *lru)
{
	unregister_shrinker(s);
	kfree(s);
	list_lru_destroy(lru);
}

#endif /* SHRINKER_ALLOCATED */

/* 6.8 renamed MAX_ORDER to MAX_PAGE_ORDER; there is no list_lru marker. */
#ifdef MAX_PAGE_ORDER
static inline bool mn_lru_add(struct list_lru *lru, struct list_head *item)
{
	return list_lru_add_obj(lru, item);
}

static inline bool mn_lru_del(struct list_lru *lru, struct list_head *item)
{
	return list_lru_del_obj(lru, item);
}
#else
static inline bool mn_lru_add(struct list_lru *lru, struct list_head *item)
{
	return list_lru_add(lru, item);
}

static inline bool mn_lru_del(struct list_lru *lru, struct list_head *item)
{
	return list_lru_del(lru, item);
}
#endif

#ifdef CONFIG_MEMCG
static inline u64 mn_memcg_id(struct mem_cgroup *memcg)
{
	return memcg && parent_mem_cgroup(memcg) ? cgroup_id(memcg->css.cgroup) : 0;
}

static inline unsigned long mn_memcg_usage(struct mem_cgroup *memcg)
{
	if (!memcg || !parent_mem_cgroup(memcg))
		return ULONG_MAX;
	return page_counter_read(&memcg->memory);
}
#else
static inline u64 mn_memcg_id(struct mem_cgroup *memcg)
{
	return 0;
}

static inline unsigned long mn_memcg_usage(struct mem_cgroup *memcg)
{
	return ULONG_MAX;
}
#endif

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
